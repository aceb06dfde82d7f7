//! The AWS signing key rotation's steps, around the pure state machine in
//! `crate::protocol::aws::rotation`: generate and seal a key, push the metadata to every account's
//! IAM SAML provider and read it back, switch, retire. One step at a time cluster-wide (an
//! advisory lock held by the step's transaction); each step commits one transition and writes
//! one audit row; a failed step commits nothing and is retried by the next run.

use super::broker::AwsRuntime;
use super::key_gen;
use super::key_ring::{KeySet, RingKey};
use super::registration::{Reach, open_account};
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::configuration::{AwsSettings, RotationSettings};
use crate::db::aws_keys::{self, StoredKey};
use crate::protocol::aws::registration::{
    ExpectedSaml, ProviderCheck, account_needs, certificate_label, check_saml, saml_provider_arn,
};
use crate::protocol::aws::rotation::{
    KeyRecord, Schedule, Step, TransitionError, apply, next_step, published, push_target,
};
use crate::protocol::aws::{BrokerSigningKey, idp_metadata};
use crate::sealing::keys::SealingKeys;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("generating a key: {0}")]
    Generate(#[from] openssl::error::ErrorStack),
    #[error("sealing the key: {0}")]
    Seal(#[from] crate::sealing::id_token::SealError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the rules: {0}")]
    Rules(String),
    #[error(
        "key {0}: its sealed private key does not open (sealing key removed, or the row altered)"
    )]
    DoesNotOpen(String),
    #[error("key {id}: {why}")]
    BadKey { id: String, why: String },
    #[error("key {0} is published but neither in the database nor in aws.signing_keys")]
    Unknown(String),
}

pub fn schedule(settings: &RotationSettings) -> Schedule {
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    Schedule {
        rotate_after: chrono::Duration::days(i64::from(settings.rotate_after_days)),
        overlap: secs(settings.overlap_seconds),
        retire_after: secs(settings.retire_after_seconds),
    }
}

/// What a rotation step needs.
pub struct Rotation<'a> {
    pub pool: &'a PgPool,
    pub aws: &'a AwsRuntime,
    pub sealing: &'a SealingKeys,
    pub settings: &'a AwsSettings,
    pub public_url: &'a str,
}

/// What a step did inside its transaction, for [`Rotation::step`] to commit or roll back.
enum Taken {
    /// The transition is written: commit it.
    Commit {
        step: Step,
        key: String,
        accounts: Vec<String>,
    },
    /// Nothing to write (waiting, or the lock is busy).
    Nothing(StepReport),
    /// An account refused or did not confirm: nothing is committed.
    PushFailed {
        step: Step,
        key: String,
        accounts: Vec<String>,
        failed: Vec<String>,
    },
}

/// How a run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepReport {
    Done {
        step: &'static str,
        key: String,
        accounts: Vec<String>,
    },
    Waiting {
        until: Option<DateTime<Utc>>,
        why: &'static str,
    },
    /// Another process holds the rotation lock.
    Busy,
    Failed {
        step: &'static str,
        key: String,
        why: Vec<String>,
    },
}

impl Rotation<'_> {
    fn file_ids(&self) -> Vec<String> {
        self.aws.file_keys.iter().map(|k| k.id.clone()).collect()
    }

    /// Runs the step due at `now` (`start`: begin a rotation even if none is due).
    pub async fn step(
        &self,
        now: DateTime<Utc>,
        start: bool,
        via: &str,
    ) -> Result<StepReport, RotationError> {
        let mut tx = self.pool.begin().await?;
        let decided = self.decide_and_take(&mut tx, now, start).await;
        // Every exit ends the transaction here, never by drop: a dropped transaction's rollback
        // (and with it the advisory lock's release) runs only when its connection is next used,
        // so the next step, on another connection, would find the lock still held.
        match decided {
            Ok(Taken::Commit {
                step,
                key,
                accounts,
            }) => {
                tx.commit().await?;
                self.audit(now, step.name(), &key, &accounts, None, via)
                    .await;
                if let Err(e) = self.refresh().await {
                    tracing::error!(error = %e, "re-reading the AWS signing keys after a rotation step failed");
                }
                Ok(StepReport::Done {
                    step: step.name(),
                    key,
                    accounts,
                })
            }
            Ok(Taken::Nothing(report)) => {
                tx.rollback().await?;
                Ok(report)
            }
            Ok(Taken::PushFailed {
                step,
                key,
                accounts,
                failed,
            }) => {
                tx.rollback().await?;
                self.audit(now, step.name(), &key, &accounts, Some(&failed), via)
                    .await;
                Ok(StepReport::Failed {
                    step: step.name(),
                    key,
                    why: failed,
                })
            }
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed rotation step failed; the connection is closed with it");
                }
                self.audit(now, "step", "-", &[], Some(&[e.to_string()]), via)
                    .await;
                Err(e)
            }
        }
    }

    /// Inside the step's transaction: takes the lock, decides the step, does its outside work
    /// (generating, pushing to IAM) and writes the transition, without ending the transaction.
    async fn decide_and_take(
        &self,
        tx: &mut sqlx::PgConnection,
        now: DateTime<Utc>,
        start: bool,
    ) -> Result<Taken, RotationError> {
        if !aws_keys::try_lock(tx).await? {
            return Ok(Taken::Nothing(StepReport::Busy));
        }
        let stored = aws_keys::load(&mut *tx).await?;
        let records: Vec<KeyRecord> = stored.iter().map(|s| s.record.clone()).collect();
        let files = self.file_ids();
        let sched = schedule(&self.settings.rotation);
        let step = next_step(&records, &sched, now, start);
        let (key, accounts, new_key) = match &step {
            Step::Wait { until, why } => {
                return Ok(Taken::Nothing(StepReport::Waiting { until: *until, why }));
            }
            Step::Generate => {
                let g = key_gen::generate(now)?;
                let (sealing_id, sealed) = crate::sealing::signing_key::seal(
                    self.sealing,
                    &g.id,
                    &g.certificate_der,
                    &g.private_key_pem,
                )?;
                let id = g.id.clone();
                (
                    id.clone(),
                    Vec::new(),
                    Some(StoredKey {
                        record: KeyRecord::next(&id, now),
                        certificate_der: g.certificate_der,
                        sealed: Some((sealing_id, sealed)),
                    }),
                )
            }
            Step::Trust { key } | Step::Untrust { key } | Step::Switch { key } => {
                // Trust and Untrust push; Switch only confirms that IAM holds what is published.
                let push = !matches!(step, Step::Switch { .. });
                let target = push_target(&records, &files, &step);
                let certificates = self.certificates(&stored, &target)?;
                let results = self.push_everywhere(&certificates, push, now).await?;
                let failed: Vec<String> = results
                    .iter()
                    .filter_map(|(where_, r)| r.as_ref().err().map(|e| format!("{where_}: {e}")))
                    .collect();
                let accounts: Vec<String> = results.into_iter().map(|(w, _)| w).collect();
                if !failed.is_empty() {
                    return Ok(Taken::PushFailed {
                        key: key.clone(),
                        step,
                        accounts,
                        failed,
                    });
                }
                (key.clone(), accounts, None)
            }
        };
        let after = apply(
            &records,
            &files,
            &step,
            new_key.as_ref().map(|k| k.record.id.as_str()),
            now,
            &sched,
            start,
        )?;
        let to_save = self.merge(&stored, new_key, after)?;
        aws_keys::save(tx, &to_save).await?;
        Ok(Taken::Commit {
            step,
            key,
            accounts,
        })
    }

    /// The stored rows after the transition: new records (the generated key, file keys that
    /// start retiring) get their certificate and sealed material.
    fn merge(
        &self,
        stored: &[StoredKey],
        new_key: Option<StoredKey>,
        after: Vec<KeyRecord>,
    ) -> Result<Vec<StoredKey>, RotationError> {
        let mut by_id: BTreeMap<String, StoredKey> = stored
            .iter()
            .map(|s| (s.record.id.clone(), s.clone()))
            .collect();
        if let Some(k) = new_key {
            by_id.insert(k.record.id.clone(), k);
        }
        after
            .into_iter()
            .map(|record| match by_id.remove(&record.id) {
                Some(s) => Ok(StoredKey { record, ..s }),
                None => {
                    let file = self
                        .aws
                        .file_keys
                        .iter()
                        .find(|f| f.id == record.id)
                        .ok_or_else(|| RotationError::Unknown(record.id.clone()))?;
                    Ok(StoredKey {
                        certificate_der: file.saml.certificate_der().to_vec(),
                        sealed: None,
                        record,
                    })
                }
            })
            .collect()
    }

    fn certificates(
        &self,
        stored: &[StoredKey],
        ids: &[String],
    ) -> Result<Vec<Vec<u8>>, RotationError> {
        ids.iter()
            .map(|id| {
                if let Some(f) = self.aws.file_keys.iter().find(|f| &f.id == id) {
                    return Ok(f.saml.certificate_der().to_vec());
                }
                stored
                    .iter()
                    .find(|s| &s.record.id == id)
                    .map(|s| s.certificate_der.clone())
                    .ok_or_else(|| RotationError::Unknown(id.clone()))
            })
            .collect()
    }

    /// For every account of the rules with a SAML provider: (with `push`) UpdateSAMLProvider with
    /// the metadata of `certificates`, then read it back; the provider must hold exactly them.
    async fn push_everywhere(
        &self,
        certificates: &[Vec<u8>],
        push: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Result<(), String>)>, RotationError> {
        let set = crate::db::rules::load(self.pool)
            .await
            .map_err(|e| RotationError::Rules(e.to_string()))?;
        let expected = ExpectedSaml {
            entity_id: self.aws.idp_entity_id.clone(),
            certificates: certificates.to_vec(),
        };
        let document = idp_metadata(
            &self.aws.idp_entity_id,
            certificates,
            &format!("{}/login", self.public_url.trim_end_matches('/')),
        );
        let reach = Reach {
            aws: self.aws,
            settings: &self.settings.registration,
            now,
            timeout: Duration::from_secs(self.settings.sts_timeout_seconds),
        };
        let mut out = Vec::new();
        for needs in account_needs(&set, &self.aws.provider_name) {
            if needs.saml_providers.is_empty() {
                continue;
            }
            let iam = match open_account(&reach, needs.partition, &needs.account_id).await {
                Ok(iam) => iam,
                Err(e) => {
                    out.push((needs.account_id.clone(), Err(e)));
                    continue;
                }
            };
            for name in &needs.saml_providers {
                let arn = saml_provider_arn(needs.partition, &needs.account_id, name);
                let result = async {
                    if push {
                        if iam
                            .saml_metadata(&arn)
                            .await
                            .map_err(|e| e.to_string())?
                            .is_none()
                        {
                            return Err(
                                "not registered (run `roleport aws register --apply`)".to_string()
                            );
                        }
                        iam.update_saml(&arn, &document)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    let held = iam.saml_metadata(&arn).await.map_err(|e| e.to_string())?;
                    match check_saml(&expected, held.as_deref()) {
                        ProviderCheck::Ok => Ok(()),
                        ProviderCheck::Missing => Err("not registered".to_string()),
                        ProviderCheck::Stale(why) => Err(why.join("; ")),
                    }
                }
                .await;
                out.push((format!("{}/{name}", needs.account_id), result));
            }
        }
        Ok(out)
    }

    async fn audit(
        &self,
        now: DateTime<Utc>,
        step: &str,
        key: &str,
        accounts: &[String],
        failed: Option<&[String]>,
        via: &str,
    ) {
        let mut event = AuditEvent::new(
            EventKind::AwsKeyRotation,
            if failed.is_some() {
                Outcome::Rejected
            } else {
                Outcome::Accepted
            },
        );
        event.reason = failed.map(|f| format!("aws_key_rotation_{step}_failed: {}", f.join("; ")));
        event.details = serde_json::json!({
            "step": step,
            "key": key,
            "accounts": accounts,
            "via": via,
        });
        let reference = crate::audit::new_reference();
        if let Err(e) = crate::db::audit::append(self.pool, &reference, now, event).await {
            tracing::error!(error = %e, step, key, "the key rotation's audit row was not written");
        }
        match failed {
            None => tracing::info!(step, key, reference, "AWS key rotation step done"),
            Some(f) => {
                tracing::warn!(step, key, reference, failures = ?f, "AWS key rotation step failed; retried at the next run")
            }
        }
    }

    /// Re-reads the keys and replaces this process's set.
    pub async fn refresh(&self) -> Result<(), RotationError> {
        let set = load_key_set(self.pool, self.sealing, &self.aws.file_keys).await?;
        self.aws.keys.replace(set);
        Ok(())
    }
}

/// The published keys in order (the signer first), opened.
pub async fn load_key_set(
    pool: &PgPool,
    sealing: &SealingKeys,
    file_keys: &[RingKey],
) -> Result<KeySet, RotationError> {
    let stored = aws_keys::load(pool).await?;
    let records: Vec<KeyRecord> = stored.iter().map(|s| s.record.clone()).collect();
    let file_ids: Vec<String> = file_keys.iter().map(|k| k.id.clone()).collect();
    let keys = published(&records, &file_ids)
        .into_iter()
        .map(|id| {
            if let Some(f) = file_keys.iter().find(|f| f.id == id) {
                return Ok(f.clone());
            }
            let s = stored
                .iter()
                .find(|s| s.record.id == id)
                .ok_or_else(|| RotationError::Unknown(id.clone()))?;
            let (sealing_id, sealed) = s
                .sealed
                .as_ref()
                .ok_or_else(|| RotationError::DoesNotOpen(id.clone()))?;
            let pem = crate::sealing::signing_key::open(
                sealing,
                sealing_id,
                &id,
                &s.certificate_der,
                sealed,
            )
            .ok_or_else(|| RotationError::DoesNotOpen(id.clone()))?;
            let bad = |why: String| RotationError::BadKey {
                id: id.clone(),
                why,
            };
            let cert_pem = openssl::x509::X509::from_der(&s.certificate_der)
                .and_then(|c| c.to_pem())
                .map_err(|e| bad(e.to_string()))?;
            let saml =
                BrokerSigningKey::from_pem(&pem, &cert_pem).map_err(|e| bad(e.to_string()))?;
            let private =
                openssl::pkey::PKey::private_key_from_pem(&pem).map_err(|e| bad(e.to_string()))?;
            Ok(RingKey::new(id, saml, Some(private)))
        })
        .collect::<Result<Vec<_>, RotationError>>()?;
    Ok(KeySet { keys })
}

/// One line per key for `roleport aws keys`.
pub async fn describe(
    pool: &PgPool,
    aws: &AwsRuntime,
    settings: &RotationSettings,
    now: DateTime<Utc>,
) -> Result<Vec<String>, RotationError> {
    let stored = aws_keys::load(pool).await?;
    let records: Vec<KeyRecord> = stored.iter().map(|s| s.record.clone()).collect();
    let file_ids: Vec<String> = aws.file_keys.iter().map(|k| k.id.clone()).collect();
    let set = published(&records, &file_ids);
    let at = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let mut lines = vec![
        "key\tstate\tpublished\tcertificate\tcreated\ttrusted\tsigning_from\tretiring_since\tretired"
            .to_string(),
    ];
    for f in &aws.file_keys {
        if !records.iter().any(|r| r.id == f.id) {
            lines.push(format!(
                "{}\t{}\tyes\t{}\t-\t-\t-\t-\t-",
                f.id,
                if set.first() == Some(&f.id) {
                    "file (signing)"
                } else {
                    "file"
                },
                certificate_label(f.saml.certificate_der()),
            ));
        }
    }
    for s in &stored {
        let r = &s.record;
        lines.push(format!(
            "{}\t{}{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.state.as_str(),
            if r.from_file { " (file)" } else { "" },
            if set.contains(&r.id) { "yes" } else { "no" },
            certificate_label(&s.certificate_der),
            at(Some(r.created_at)),
            at(r.trusted_at),
            at(r.signing_from),
            at(r.retiring_since),
            at(r.retired_at),
        ));
    }
    let next = next_step(&records, &schedule(settings), now, false);
    lines.push(match next {
        Step::Wait { until, why } => format!("next step: none until {} ({why})", at(until)),
        other => format!("next step: {} (due now)", other.name()),
    });
    Ok(lines)
}

/// Each replica: re-read the keys every `refresh_seconds`; and look whether a step is due every
/// `check_interval_seconds` (steps that follow each other at once, e.g. generate then trust, run
/// in the same tick).
pub async fn run(state: actix_web::web::Data<crate::http::AppState>) {
    let settings = state.settings.aws.rotation.clone();
    let refresh = Duration::from_secs(settings.refresh_seconds.max(1));
    let check = settings.check_interval_seconds;
    let mut since_check = Duration::ZERO;
    loop {
        tokio::time::sleep(refresh).await;
        let rotation = Rotation {
            pool: &state.pool,
            aws: &state.aws,
            sealing: &state.sealing,
            settings: &state.settings.aws,
            public_url: &state.public_url,
        };
        if let Err(e) = rotation.refresh().await {
            tracing::error!(error = %e, "re-reading the AWS signing keys failed; keeping the previous set");
        }
        since_check += refresh;
        if check == 0 || since_check < Duration::from_secs(check) {
            continue;
        }
        since_check = Duration::ZERO;
        for _ in 0..4 {
            match rotation.step(state.clock.now(), false, "schedule").await {
                Ok(StepReport::Done { .. }) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "AWS key rotation step failed");
                    break;
                }
            }
        }
    }
}
