//! Where a refused sign-in is recorded, for the tests: a verified identity gets a full audit row;
//! anything else a counter in `refused_sign_ins` (whose `last_reference` is the page's
//! reference when the test made the last refusal of that bucket). Both have the precise reason
//! in the log line that carries the reference, which these tests read from captured logs.

use crate::helpers::TestApp;
use roleport::db::refusals::Bucket;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex, Once};
use tracing_subscriber::fmt::MakeWriter;

static LOGS: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(Arc::default);

#[derive(Clone)]
struct Capture;

struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter
    }
}

/// Sends Roleport's log lines (JSON, as in production) into memory for this test process.
pub fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
            .with_writer(Capture)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Every captured log line (parsed) whose `reference` (or `first_reference`) is `reference`.
pub fn log_lines(reference: &str) -> Vec<Value> {
    let logs = LOGS.lock().unwrap().clone();
    String::from_utf8_lossy(&logs)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["reference"] == reference || v["first_reference"] == reference)
        .collect()
}

/// All captured lines with this `message`.
pub fn log_messages(message: &str) -> Vec<Value> {
    let logs = LOGS.lock().unwrap().clone();
    String::from_utf8_lossy(&logs)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

/// The "sign-in refused" line for `reference`.
pub fn refusal_line(reference: &str) -> Value {
    let lines = log_lines(reference);
    lines
        .into_iter()
        .find(|l| l["message"] == "sign-in refused")
        .unwrap_or_else(|| panic!("no `sign-in refused` log line for reference {reference}"))
}

pub async fn audit_row(app: &TestApp, reference: &str) -> Option<Value> {
    sqlx::query_scalar::<_, Value>("SELECT event FROM audit_events WHERE ref_id = $1")
        .bind(reference)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

pub async fn counter(app: &TestApp, reference: &str) -> Option<Bucket> {
    roleport::db::refusals::by_reference(&app.pool, reference)
        .await
        .unwrap()
}

/// Sum of the counters for `reason` (any minute, IdP and client).
pub async fn counted(app: &TestApp, reason: &str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(
        "SELECT sum(count)::bigint FROM refused_sign_ins WHERE reason = $1",
    )
    .bind(reason)
    .fetch_one(&app.pool)
    .await
    .unwrap()
    .unwrap_or(0)
}

/// A refusal with no verified identity: no audit row, a counter under exactly `code` holding
/// this reference, and the log line with the reference and the precise reason. Returns the
/// record in the audit row's shape (`reason` = `code: detail` from the log line).
pub async fn assert_counted(app: &TestApp, reference: &str, code: &str) -> Value {
    assert_eq!(
        audit_row(app, reference).await,
        None,
        "an unverified refusal ({code}) must not write an audit row"
    );
    let bucket = counter(app, reference)
        .await
        .unwrap_or_else(|| panic!("no refusal counter for reference {reference} ({code})"));
    assert_eq!(bucket.reason, code, "counter reason");
    assert!(bucket.count >= 1);
    let line = refusal_line(reference);
    assert_eq!(line["reason"], code, "log line reason: {line}");
    assert_eq!(line["verified"], false, "{line}");
    json!({
        "kind": "sign_in",
        "outcome": "rejected",
        "reason": format!("{code}: {}", line["detail"].as_str().unwrap_or_default()),
        "idp": bucket.idp,
        "client": bucket.client,
    })
}

/// A refusal of a verified identity: a full audit row under the reference, reason `code: …`.
pub async fn assert_audited(app: &TestApp, reference: &str, code: &str) -> Value {
    let row = audit_row(app, reference)
        .await
        .unwrap_or_else(|| panic!("no audit row for reference {reference} ({code})"));
    assert_eq!(row["kind"], "sign_in");
    assert_eq!(row["outcome"], "rejected", "{row}");
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("{code}: ")),
        "expected reason `{code}`, got `{reason}`"
    );
    assert!(
        counter(app, reference).await.is_none(),
        "a verified refusal is not only counted"
    );
    row
}

/// Reason codes under which Roleport refuses a verified identity (including a SAML response
/// that verified but arrived in another browser): these keep full audit rows. Everything else
/// is only counted. Identity-value refusals (SAML `no_subject`, OIDC `claims.*`) belong here;
/// add new ones.
pub fn is_verified_refusal(code: &str) -> bool {
    const VERIFIED: [&str; 6] = [
        "identity_value_refused",
        "replay",
        "pending_login_gone",
        "in_response_to_other_browser",
        "no_subject",
        "id_token.nonce_replayed",
    ];
    VERIFIED.contains(&code) || code.starts_with("claims.") || code.starts_with("userinfo.")
}

/// The record the refusal under `reference` must have, checked for exactly `code`.
pub async fn assert_recorded(app: &TestApp, reference: &str, code: &str) -> Value {
    if is_verified_refusal(code) {
        assert_audited(app, reference, code).await
    } else {
        assert_counted(app, reference, code).await
    }
}
