//! The AWS signing key rotation as a state machine over the key records kept in Postgres. Pure:
//! `now` and the schedule are parameters; generating keys, pushing metadata to IAM and storing
//! the records are the caller's (`crate::aws::rotation`).
//!
//! A key goes `next` → `current` → `retiring` → `retired`:
//! - **Generate**: a new `next` key is stored; from then on every replica publishes it (metadata
//!   and JWKS) at its next refresh, but none signs with it.
//! - **Trust**: the published set (with the next key) is pushed to every account's IAM SAML
//!   provider and read back; only when every account holds it is the key `trusted`.
//! - **Switch**: once every account has held it for the overlap (counted from Trust), the next
//!   key becomes `current` (it signs); the old current key, or the file keys it replaces, becomes
//!   `retiring`.
//! - **Untrust**: once a retiring key has been retiring for `retire_after` (what it signed has
//!   expired), the set without it is pushed to every account and read back; then it is
//!   `retired` and no longer published.
//!
//! Each step is one committed transition, so a replica dying between steps loses nothing: the
//! next run reads the records and takes the step that is due. A key that an account does not
//! hold never signs: Switch needs Trust, and Trust needs every account.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    Next,
    Current,
    Retiring,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "next" => Self::Next,
            "current" => Self::Current,
            "retiring" => Self::Retiring,
            "retired" => Self::Retired,
            _ => return None,
        })
    }
}

/// One key as the rotation tracks it. File keys (`aws.signing_keys`) get a record only when a
/// rotated key replaces them (they then retire like any other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub state: KeyState,
    pub from_file: bool,
    pub created_at: DateTime<Utc>,
    /// Every account's IAM confirmed it holds the key.
    pub trusted_at: Option<DateTime<Utc>>,
    pub signing_from: Option<DateTime<Utc>>,
    pub retiring_since: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    /// A key just generated: published, not yet trusted, not signing.
    pub fn next(id: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: id.to_string(),
            state: KeyState::Next,
            from_file: false,
            created_at: now,
            trusted_at: None,
            signing_from: None,
            retiring_since: None,
            retired_at: None,
        }
    }
}

/// The configured timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub rotate_after: Duration,
    pub overlap: Duration,
    pub retire_after: Duration,
}

/// The step due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Generate,
    Trust {
        key: String,
    },
    Switch {
        key: String,
    },
    Untrust {
        key: String,
    },
    /// Nothing is due before `until` (`None`: nothing is scheduled).
    Wait {
        until: Option<DateTime<Utc>>,
        why: &'static str,
    },
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Trust { .. } => "trust",
            Self::Switch { .. } => "switch",
            Self::Untrust { .. } => "untrust",
            Self::Wait { .. } => "wait",
        }
    }
}

fn in_state(records: &[KeyRecord], state: KeyState) -> impl Iterator<Item = &KeyRecord> {
    records.iter().filter(move |r| r.state == state)
}

/// The step due at `now`. `start` begins a rotation even before `rotate_after` (an operator's
/// `roleport aws keys rotate --start`); it never skips Trust, the overlap or the retirement.
pub fn next_step(
    records: &[KeyRecord],
    schedule: &Schedule,
    now: DateTime<Utc>,
    start: bool,
) -> Step {
    let retiring: Vec<&KeyRecord> = in_state(records, KeyState::Retiring).collect();
    if let Some(due) = retiring.iter().find(|r| {
        r.retiring_since
            .is_some_and(|t| t + schedule.retire_after <= now)
    }) {
        return Step::Untrust {
            key: due.id.clone(),
        };
    }
    if let Some(next) = in_state(records, KeyState::Next).next() {
        if next.trusted_at.is_none() {
            return Step::Trust {
                key: next.id.clone(),
            };
        }
        // Counted from the confirmation, which comes after publication: by then every account
        // holds the key, and every replica's JWKS has served it for at least the overlap.
        let at = next.trusted_at.unwrap_or(next.created_at) + schedule.overlap;
        if at <= now {
            return Step::Switch {
                key: next.id.clone(),
            };
        }
        return Step::Wait {
            until: Some(at),
            why: "the next key is trusted; it signs once every account has held it for the overlap",
        };
    }
    if !retiring.is_empty() {
        return Step::Wait {
            until: retiring
                .iter()
                .filter_map(|r| r.retiring_since)
                .map(|t| t + schedule.retire_after)
                .min(),
            why: "an old key is still retiring",
        };
    }
    let due = in_state(records, KeyState::Current)
        .next()
        .and_then(|c| c.signing_from)
        .map(|t| t + schedule.rotate_after);
    match due {
        Some(at) if at > now && !start => Step::Wait {
            until: Some(at),
            why: "the current key is not due for rotation",
        },
        // No rotated key signs yet (file keys or none): the first rotation starts now.
        _ => Step::Generate,
    }
}

/// The ids published now, the signer first: the current key (else the file keys not retired),
/// then the other file keys not retired, the next key, the retiring keys.
pub fn published(records: &[KeyRecord], file_keys: &[String]) -> Vec<String> {
    let mut out: Vec<String> = in_state(records, KeyState::Current)
        .map(|r| r.id.clone())
        .collect();
    for f in file_keys {
        let retired = records
            .iter()
            .any(|r| &r.id == f && r.state == KeyState::Retired);
        if !retired && !out.contains(f) {
            out.push(f.clone());
        }
    }
    for state in [KeyState::Next, KeyState::Retiring] {
        for r in in_state(records, state) {
            if !out.contains(&r.id) {
                out.push(r.id.clone());
            }
        }
    }
    out
}

/// What IAM must hold once `step` is done: for Untrust the set without that key, otherwise
/// everything published.
pub fn push_target(records: &[KeyRecord], file_keys: &[String], step: &Step) -> Vec<String> {
    let mut set = published(records, file_keys);
    if let Step::Untrust { key } = step {
        set.retain(|k| k != key);
    }
    set
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the step {0} is not due: the records changed since it was decided")]
    NotDue(&'static str),
}

/// The records after `step` completed at `now` (Generate: `new_key` is the stored key's id).
/// Refuses a step that is not the one due, so a stale decision cannot commit.
pub fn apply(
    records: &[KeyRecord],
    file_keys: &[String],
    step: &Step,
    new_key: Option<&str>,
    now: DateTime<Utc>,
    schedule: &Schedule,
    start: bool,
) -> Result<Vec<KeyRecord>, TransitionError> {
    if next_step(records, schedule, now, start) != *step {
        return Err(TransitionError::NotDue(step.name()));
    }
    let mut out = records.to_vec();
    match step {
        Step::Generate => {
            let id = new_key.ok_or(TransitionError::NotDue("generate"))?;
            out.push(KeyRecord::next(id, now));
        }
        Step::Trust { key } => {
            for r in out.iter_mut().filter(|r| &r.id == key) {
                r.trusted_at = Some(now);
            }
        }
        Step::Switch { key } => {
            let replaced_files = !out.iter().any(|r| r.state == KeyState::Current);
            for r in out.iter_mut() {
                if &r.id == key {
                    r.state = KeyState::Current;
                    r.signing_from = Some(now);
                } else if r.state == KeyState::Current {
                    r.state = KeyState::Retiring;
                    r.retiring_since = Some(now);
                }
            }
            if replaced_files {
                for f in file_keys {
                    if !out.iter().any(|r| &r.id == f) {
                        out.push(KeyRecord {
                            id: f.clone(),
                            state: KeyState::Retiring,
                            from_file: true,
                            created_at: now,
                            trusted_at: None,
                            signing_from: None,
                            retiring_since: Some(now),
                            retired_at: None,
                        });
                    }
                }
            }
        }
        Step::Untrust { key } => {
            for r in out.iter_mut().filter(|r| &r.id == key) {
                r.state = KeyState::Retired;
                r.retired_at = Some(now);
            }
        }
        Step::Wait { .. } => {}
    }
    Ok(out)
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
