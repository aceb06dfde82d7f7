//! `roleport audit verify`: walks the chain and its checkpoints and names the first broken row.
//!
//! Detected: an edited row (its MAC), a row deleted from the middle (a gap in positions), a deleted
//! tail (a checkpoint or `--expect` names a position beyond the head, or a different MAC there),
//! a deleted tail together with its checkpoints (a row sealed longer than the staleness bound ago
//! that no checkpoint covers, or `--expect` from the shipped log), a chain recomputed without the
//! key (plain SHA-256, another key, an unknown key id), and edited, removed or forged checkpoints.

use super::keys::AuditKeys;
use super::mac::{CanonicalEvent, CheckpointLink, GENESIS, RowLink, canonical_event, legacy_hash};
use crate::db::audit::{self as store, Checkpoint, StoredRow};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    Intact {
        rows: i64,
        checkpoints: i64,
        /// Committed rows not yet sealed (none right after a seal).
        unsealed: i64,
    },
    /// `pos` is the chain position of the first row found broken (or where rows are missing).
    Broken { pos: i64, why: String },
}

/// A checkpoint known from elsewhere (the log): `<pos>:<hex head MAC>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub pos: i64,
    pub mac: Vec<u8>,
}

impl std::str::FromStr for Expected {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (pos, mac) = s
            .split_once(':')
            .ok_or_else(|| format!("{s}: expected <pos>:<head MAC in hex>"))?;
        let pos: i64 = pos
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{s}: the position must be a positive number"))?;
        let mac = hex::decode(mac).map_err(|_| format!("{s}: the MAC must be hex"))?;
        Ok(Self { pos, mac })
    }
}

pub struct VerifyOptions {
    pub now: DateTime<Utc>,
    /// A row sealed longer ago than this must be covered by a checkpoint; `None` skips the check.
    pub max_checkpoint_age: Option<chrono::Duration>,
    pub expect: Vec<Expected>,
}

const PAGE: i64 = 1000;

fn broken(pos: i64, why: impl Into<String>) -> ChainStatus {
    ChainStatus::Broken {
        pos,
        why: why.into(),
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn verify(
    pool: &PgPool,
    keys: &AuditKeys,
    options: &VerifyOptions,
) -> Result<ChainStatus, sqlx::Error> {
    let checkpoints = store::checkpoints(pool).await?;
    // A bad checkpoint is reported unless a row before it is already broken: the first broken
    // row is what the operator needs.
    let bad_checkpoint = check_checkpoints(keys, &checkpoints);
    let first_broken = |status: ChainStatus| match (&bad_checkpoint, &status) {
        (Some(ChainStatus::Broken { pos: c, .. }), ChainStatus::Broken { pos: r, .. }) if c < r => {
            bad_checkpoint.clone().unwrap_or(status)
        }
        _ => status,
    };
    // What each position must hold, from the (intact) checkpoints and from the caller.
    let mut named: BTreeMap<i64, (String, Vec<u8>)> = BTreeMap::new();
    if bad_checkpoint.is_none() {
        for cp in &checkpoints {
            named
                .entry(cp.pos)
                .or_insert_with(|| (format!("checkpoint #{}", cp.n), cp.head_mac.clone()));
        }
    }
    for e in &options.expect {
        named.insert(e.pos, ("the expected checkpoint".into(), e.mac.clone()));
    }
    let newest = checkpoints.last();
    let first_uncovered = newest.map_or(1, |cp| cp.pos + 1);
    let mut uncovered_sealed_at = None;

    let mut walk = Walk::default();
    loop {
        let rows = store::sealed_page(pool, walk.head, PAGE).await?;
        let page_len = rows.len();
        for row in &rows {
            if let Some(status) = walk.step(keys, row) {
                return Ok(first_broken(status));
            }
            if let Some((source, mac)) = named.get(&walk.head)
                && *mac != walk.prev
            {
                return Ok(first_broken(broken(
                    walk.head,
                    format!(
                        "{source} names another MAC for this row: the chain was rewritten from here, or cut and grown again"
                    ),
                )));
            }
            if walk.head == first_uncovered {
                uncovered_sealed_at = row.sealed_at;
            }
        }
        if i64::try_from(page_len).unwrap_or(0) < PAGE {
            break;
        }
    }
    if let Some(status) = bad_checkpoint {
        return Ok(status);
    }
    let head = walk.head;
    if let Some((&pos, (source, _))) = named.range(head + 1..).next_back() {
        return Ok(broken(
            head + 1,
            format!(
                "rows {} to {pos} are missing: {source} names row {pos} but the chain ends at row {head} (a deleted tail)",
                head + 1
            ),
        ));
    }
    if let (Some(max_age), Some(sealed_at)) = (options.max_checkpoint_age, uncovered_sealed_at)
        && options.now - sealed_at > max_age
    {
        let after = newest.map_or_else(
            || "there is no checkpoint at all".to_string(),
            |cp| {
                format!(
                    "the newest is #{} at row {} from {}",
                    cp.n,
                    cp.pos,
                    time(cp.at)
                )
            },
        );
        return Ok(broken(
            first_uncovered,
            format!(
                "row {first_uncovered} was sealed at {} and no checkpoint covers it ({after}): \
                     newer checkpoints were deleted, probably with the tail of the chain, or no \
                     Roleport process has run since; compare with the last checkpoint in the log \
                     (--expect <pos>:<mac>)",
                time(sealed_at)
            ),
        ));
    }
    Ok(ChainStatus::Intact {
        rows: head,
        checkpoints: i64::try_from(checkpoints.len()).unwrap_or(i64::MAX),
        unsealed: store::unsealed_count(pool).await?,
    })
}

/// The checkpoints among themselves: numbered from 1 without gaps, each MACed with a known key
/// over the one before it, positions never going back.
fn check_checkpoints(keys: &AuditKeys, checkpoints: &[Checkpoint]) -> Option<ChainStatus> {
    let mut prev_mac = GENESIS.to_vec();
    let mut prev_pos = 0;
    for (i, cp) in checkpoints.iter().enumerate() {
        let n = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if cp.n != n {
            return Some(broken(
                cp.pos,
                format!("checkpoint #{n} is missing (found #{} next)", cp.n),
            ));
        }
        let Some(key) = keys.get(&cp.key_id) else {
            return Some(broken(
                cp.pos,
                format!(
                    "checkpoint #{n} is signed with key `{}`, which is not configured",
                    cp.key_id
                ),
            ));
        };
        let material = CheckpointLink {
            n: cp.n,
            pos: cp.pos,
            head_mac: &cp.head_mac,
            at: cp.at,
            key_id: &cp.key_id,
            prev_mac: &cp.prev_mac,
        }
        .material();
        if cp.prev_mac != prev_mac || !key.verifies(&material, &cp.mac).unwrap_or(false) {
            return Some(broken(
                cp.pos,
                format!(
                    "checkpoint #{n} does not match its MAC or its predecessor (forged or edited)"
                ),
            ));
        }
        if cp.pos < prev_pos {
            return Some(broken(
                cp.pos,
                format!("checkpoint #{n} names an earlier row than the checkpoint before it"),
            ));
        }
        prev_mac = cp.mac.clone();
        prev_pos = cp.pos;
    }
    None
}

/// The walk along the chain in position order.
struct Walk {
    head: i64,
    prev: Vec<u8>,
    /// Rows from before the keyed chain come first and keep their SHA-256 link too.
    legacy_open: bool,
    legacy_prev: Vec<u8>,
    legacy_seq: i64,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            head: 0,
            prev: GENESIS.to_vec(),
            legacy_open: true,
            legacy_prev: GENESIS.to_vec(),
            legacy_seq: 1,
        }
    }
}

impl Walk {
    fn step(&mut self, keys: &AuditKeys, row: &StoredRow) -> Option<ChainStatus> {
        let expected = self.head + 1;
        let pos = row.pos.unwrap_or(0);
        if pos != expected {
            return Some(broken(pos, format!("row {expected} is missing")));
        }
        let (Some(key_id), Some(sealed_at), Some(mac)) = (&row.key_id, row.sealed_at, &row.mac)
        else {
            return Some(broken(pos, "the row has a position but no seal"));
        };
        if let Some(status) = self.step_legacy(row, pos) {
            return Some(status);
        }
        let Some(key) = keys.get(key_id) else {
            return Some(broken(
                pos,
                format!("the row is sealed with key `{key_id}`, which is not configured"),
            ));
        };
        let event = canonical_event(&row.event);
        let material = RowLink {
            pos,
            prev: &self.prev,
            key_id,
            seq: row.seq,
            ref_id: &row.ref_id,
            at: row.at,
            sealed_at,
            event: &event,
        }
        .material();
        if !key.verifies(&material, mac).unwrap_or(false) {
            return Some(broken(
                pos,
                format!(
                    "the row (seq {}, reference {}) does not match its MAC: edited, or the chain was recomputed without the key",
                    row.seq, row.ref_id
                ),
            ));
        }
        self.head = pos;
        self.prev = mac.clone();
        None
    }

    fn step_legacy(&mut self, row: &StoredRow, pos: i64) -> Option<ChainStatus> {
        let (Some(prev_hash), Some(hash)) = (&row.prev_hash, &row.hash) else {
            self.legacy_open = false;
            return None;
        };
        if !self.legacy_open {
            return Some(broken(
                pos,
                "a row with the pre-0011 link comes after keyed rows",
            ));
        }
        let event = match canonical_event(&row.event) {
            CanonicalEvent::Json(_) => serde_json::from_str(&row.event).ok(),
            CanonicalEvent::Raw(_) => None,
        };
        let ok = row.seq == self.legacy_seq
            && *prev_hash == self.legacy_prev
            && event
                .is_some_and(|e| legacy_hash(prev_hash, row.seq, &row.ref_id, row.at, &e) == *hash);
        if !ok {
            return Some(broken(
                pos,
                "the row does not match its pre-0011 SHA-256 link (changed before the upgrade)",
            ));
        }
        self.legacy_prev = hash.clone();
        self.legacy_seq += 1;
        None
    }
}
