//! What the chain's MACs cover. Every field is length-prefixed and each kind of MAC starts with its
//! own domain tag, so no two different rows or checkpoints can produce the same bytes.

use super::canonical::canonical_json;
use chrono::{DateTime, SecondsFormat, Utc};

/// The link before the first row and the "previous checkpoint" of the first checkpoint.
pub const GENESIS: [u8; 32] = [0u8; 32];

const ROW_TAG: &[u8] = b"roleport-audit-row-v1";
const CHECKPOINT_TAG: &[u8] = b"roleport-audit-checkpoint-v1";

struct Material(Vec<u8>);

impl Material {
    fn new(tag: &[u8]) -> Self {
        let mut m = Self(Vec::with_capacity(512));
        m.bytes(tag);
        m
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        // Postgres rows cannot hold 4 GiB in one field; the prefix is exact for what it can hold.
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(b);
        self
    }
    fn int(&mut self, i: i64) -> &mut Self {
        self.0.extend_from_slice(&i.to_be_bytes());
        self
    }
    fn time(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.bytes(t.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes())
    }
}

/// The event as the MAC sees it: the RFC 8785 form of the stored JSON, so JSONB's own key order
/// and spacing never matter. Text that is not JSON serde can read (a number beyond a double's
/// range, written into the table by hand) is covered as Postgres printed it, so such a row can
/// still be sealed and checked instead of stalling the chain.
pub fn canonical_event(stored_text: &str) -> CanonicalEvent {
    match serde_json::from_str::<serde_json::Value>(stored_text) {
        Ok(value) => CanonicalEvent::Json(canonical_json(&value)),
        Err(_) => CanonicalEvent::Raw(stored_text.to_string()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalEvent {
    Json(String),
    Raw(String),
}

/// One sealed row, as its MAC covers it.
pub struct RowLink<'a> {
    pub pos: i64,
    pub prev: &'a [u8],
    pub key_id: &'a str,
    pub seq: i64,
    pub ref_id: &'a str,
    pub at: DateTime<Utc>,
    pub sealed_at: DateTime<Utc>,
    pub event: &'a CanonicalEvent,
}

impl RowLink<'_> {
    pub fn material(&self) -> Vec<u8> {
        let mut m = Material::new(ROW_TAG);
        m.int(self.pos)
            .bytes(self.prev)
            .bytes(self.key_id.as_bytes())
            .int(self.seq)
            .bytes(self.ref_id.as_bytes())
            .time(self.at)
            .time(self.sealed_at);
        match self.event {
            CanonicalEvent::Json(text) => m.bytes(b"jcs").bytes(text.as_bytes()),
            CanonicalEvent::Raw(text) => m.bytes(b"raw").bytes(text.as_bytes()),
        };
        m.0
    }
}

/// A checkpoint: the chain's head at a moment, linked to the checkpoint before it.
pub struct CheckpointLink<'a> {
    pub n: i64,
    pub pos: i64,
    pub head_mac: &'a [u8],
    pub at: DateTime<Utc>,
    pub key_id: &'a str,
    pub prev_mac: &'a [u8],
}

impl CheckpointLink<'_> {
    pub fn material(&self) -> Vec<u8> {
        let mut m = Material::new(CHECKPOINT_TAG);
        m.int(self.n)
            .int(self.pos)
            .bytes(self.head_mac)
            .time(self.at)
            .bytes(self.key_id.as_bytes())
            .bytes(self.prev_mac);
        m.0
    }
}

/// The unkeyed SHA-256 link of rows written before the keyed chain (migration 0011). Those rows
/// are sealed like any other; this older link is still checked so earlier tampering shows.
pub fn legacy_hash(
    prev: &[u8],
    seq: i64,
    ref_id: &str,
    at: DateTime<Utc>,
    event: &serde_json::Value,
) -> Vec<u8> {
    let mut material = Vec::with_capacity(256);
    material.extend_from_slice(prev);
    material.extend_from_slice(&seq.to_be_bytes());
    material.extend_from_slice(ref_id.as_bytes());
    material.push(0);
    material.extend_from_slice(at.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
    material.push(0);
    material.extend_from_slice(event.to_string().as_bytes());
    openssl::sha::sha256(&material).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::keys::AuditKeys;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
    }

    fn row(event: &CanonicalEvent) -> RowLink<'_> {
        RowLink {
            pos: 7,
            prev: &[1u8; 32],
            key_id: "k1",
            seq: 9,
            ref_id: "ABC",
            at: at(0),
            sealed_at: at(1),
            event,
        }
    }

    #[test]
    fn the_event_is_covered_in_canonical_form() {
        let a = canonical_event(
            r#"{"subject": "alice", "groups": ["x"], "details": {"b": 1, "a": 2}}"#,
        );
        let b = canonical_event(r#"{"details":{"a":2,"b":1},"groups":["x"],"subject":"alice"}"#);
        assert_eq!(a, b);
        assert_eq!(row(&a).material(), row(&b).material());
        let c = canonical_event(r#"{"details":{"a":2,"b":1},"groups":["x"],"subject":"mallory"}"#);
        assert_ne!(row(&a).material(), row(&c).material());
        // Not readable as a double: covered as stored, distinct from any JSON form.
        assert!(matches!(
            canonical_event(r#"{"n": 1e400}"#),
            CanonicalEvent::Raw(_)
        ));
    }

    #[test]
    fn every_field_changes_the_row_material() {
        let e = canonical_event(r#"{"a":1}"#);
        let base = row(&e).material();
        let variants = [
            RowLink { pos: 8, ..row(&e) },
            RowLink {
                prev: &[2u8; 32],
                ..row(&e)
            },
            RowLink {
                key_id: "k2",
                ..row(&e)
            },
            RowLink { seq: 10, ..row(&e) },
            RowLink {
                ref_id: "ABD",
                ..row(&e)
            },
            RowLink {
                at: at(5),
                ..row(&e)
            },
            RowLink {
                sealed_at: at(5),
                ..row(&e)
            },
        ];
        for v in variants {
            assert_ne!(v.material(), base);
        }
        // Field boundaries are fixed by length prefixes: moving a byte between fields differs.
        let shifted = RowLink {
            key_id: "k1A",
            ref_id: "BC",
            ..row(&e)
        };
        assert_ne!(shifted.material(), base);
    }

    #[test]
    fn checkpoint_material_covers_its_predecessor_and_differs_from_rows() {
        let cp = |prev: &'static [u8]| CheckpointLink {
            n: 1,
            pos: 7,
            head_mac: &[3u8; 32],
            at: at(2),
            key_id: "k1",
            prev_mac: prev,
        };
        assert_ne!(cp(&GENESIS).material(), cp(&[4u8; 32]).material());
        let keys = AuditKeys::parse("k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let e = canonical_event("{}");
        let row_mac = keys.signing().mac(&row(&e).material()).unwrap();
        let cp_mac = keys.signing().mac(&cp(&GENESIS).material()).unwrap();
        assert_ne!(row_mac, cp_mac);
        assert_eq!(row_mac.len(), 32);
    }

    #[test]
    fn legacy_links_are_computed_as_before() {
        // The same bytes the pre-0011 chain hashed: prev ‖ seq ‖ ref NUL time NUL json.
        let event = serde_json::json!({"b": 1, "a": 2});
        let h = legacy_hash(&GENESIS, 1, "R", at(0), &event);
        let mut m = GENESIS.to_vec();
        m.extend_from_slice(&1i64.to_be_bytes());
        m.extend_from_slice(b"R\x002027-01-15T08:00:00.000000Z\x00{\"a\":2,\"b\":1}");
        assert_eq!(h, openssl::sha::sha256(&m).to_vec());
    }
}
