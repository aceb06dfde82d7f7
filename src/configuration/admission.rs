//! `[admission]`: how much expensive work (sign-ins, credential and console issues) one process
//! does at once, and how overload is answered: a short bounded wait for a slot, then 503 with
//! `Retry-After` at once, instead of a queue that grows memory and latency without bound.
//!
//! The defaults come from the load harness (`deploy/load/run.sh`, README "Overload"). On two
//! cores SAML sign-ins reach their highest rate with 4 to 16 in flight (the CPU and Postgres are
//! busy by then); 32 keeps both busy with room for sign-ins that wait on the network (directory
//! lookups). 32 in flight and 32 waiting take 64 concurrent browsers (a few 503s when the
//! machine is busy) and add at most `max_wait_ms` (100 ms) of waiting; past that, overload is
//! answered at once. Smaller bounds lower an admitted sign-in's latency in overload but refuse
//! bursts the server could have absorbed (measured in the README's "Overload"). Under the
//! harness's overload an admitted sign-in holds about 60 KiB (connection buffers, the body and
//! its decoded copies, the handler's state), so the bound is a few MiB; with the largest bodies
//! `saml.max_response_bytes` allows (256 KiB of XML, a form of about 0.5 MiB) it is about 2 MiB
//! each, which is what `MAX_IN_FLIGHT` and the default are weighed against.

use serde::Deserialize;

/// Most requests of one class a process may work on at once (outside dev_mode).
pub const MAX_IN_FLIGHT: usize = 1024;
/// Most requests of one class that may wait for a slot at once.
pub const MAX_WAITING: usize = 4096;
/// The longest wait for a slot: beyond a few seconds it is a queue, not a short wait.
pub const MAX_WAIT_MS: u64 = 5_000;
/// The bounds of the request-body deadline.
pub const BODY_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=60_000;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AdmissionSettings {
    /// Sign-in requests worked on at once: `POST /saml/acs`, `GET /login/{idp}`, the CLI's
    /// `/oauth/token` and `/oauth/device_authorization`. 0 (no bound) only in dev_mode.
    #[serde(default = "default_sign_in_in_flight")]
    pub sign_in_in_flight: usize,
    /// `GET /oidc/callback` requests worked on at once. Each waits on the OpenID provider's
    /// token endpoint (tens to hundreds of milliseconds) and costs little CPU or memory while it
    /// does, so it has its own, larger bound: a slow provider must neither take the SAML
    /// sign-ins' slots nor be held to their number. 0 only in dev_mode.
    #[serde(default = "default_oidc_callback_in_flight")]
    pub oidc_callback_in_flight: usize,
    /// Credential, console and SAML-POST issues worked on at once (they wait on STS, so they
    /// have their own slots and a slow STS cannot take the sign-ins' ones). 0 only in dev_mode.
    #[serde(default = "default_issue_in_flight")]
    pub issue_in_flight: usize,
    /// Requests of one class that may wait for a slot; past this, 503 at once.
    #[serde(default = "default_max_waiting")]
    pub max_waiting: usize,
    /// How long a request waits for a slot before it is answered 503 (0: not at all).
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// `Retry-After` of a 503 for overload.
    #[serde(default = "default_retry_after_seconds")]
    pub retry_after_seconds: u64,
    /// An admitted request's body must have arrived this long after it was admitted, so a
    /// client sending slowly cannot keep a slot.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        Self {
            sign_in_in_flight: default_sign_in_in_flight(),
            oidc_callback_in_flight: default_oidc_callback_in_flight(),
            issue_in_flight: default_issue_in_flight(),
            max_waiting: default_max_waiting(),
            max_wait_ms: default_max_wait_ms(),
            retry_after_seconds: default_retry_after_seconds(),
            body_timeout_ms: default_body_timeout_ms(),
        }
    }
}

impl AdmissionSettings {
    /// A bound of 0 (none) is for measuring in development only; every other value has a cap
    /// above which it would no longer bound anything on this kind of machine.
    pub fn validate(&self, dev_mode: bool) -> Result<(), String> {
        for (name, value) in [
            ("sign_in_in_flight", self.sign_in_in_flight),
            ("oidc_callback_in_flight", self.oidc_callback_in_flight),
            ("issue_in_flight", self.issue_in_flight),
        ] {
            if value == 0 && !dev_mode {
                return Err(format!(
                    "admission.{name} = 0 turns off the bound on concurrent work, so overload \
                     would grow memory and latency instead of being answered 503; it is allowed \
                     only with server.dev_mode. Set 1 to {MAX_IN_FLIGHT} (default {})",
                    match name {
                        "sign_in_in_flight" => default_sign_in_in_flight(),
                        "oidc_callback_in_flight" => default_oidc_callback_in_flight(),
                        _ => default_issue_in_flight(),
                    }
                ));
            }
            if value > MAX_IN_FLIGHT {
                return Err(format!(
                    "admission.{name} is {value}; it must be at most {MAX_IN_FLIGHT} (each admitted \
                     request may hold a body of up to saml.max_response_bytes and its copies)"
                ));
            }
        }
        if self.max_waiting > MAX_WAITING {
            return Err(format!(
                "admission.max_waiting is {}; it must be at most {MAX_WAITING}",
                self.max_waiting
            ));
        }
        if self.max_wait_ms > MAX_WAIT_MS {
            return Err(format!(
                "admission.max_wait_ms is {}; it must be at most {MAX_WAIT_MS}: a longer wait is a \
                 queue that hides overload instead of answering it",
                self.max_wait_ms
            ));
        }
        if !(1..=300).contains(&self.retry_after_seconds) {
            return Err(format!(
                "admission.retry_after_seconds is {}; it must be between 1 and 300",
                self.retry_after_seconds
            ));
        }
        if !BODY_TIMEOUT_MS.contains(&self.body_timeout_ms) {
            return Err(format!(
                "admission.body_timeout_ms is {}; it must be between {} and {}",
                self.body_timeout_ms,
                BODY_TIMEOUT_MS.start(),
                BODY_TIMEOUT_MS.end()
            ));
        }
        Ok(())
    }
}

fn default_sign_in_in_flight() -> usize {
    32
}
fn default_oidc_callback_in_flight() -> usize {
    64
}
fn default_issue_in_flight() -> usize {
    32
}
fn default_max_waiting() -> usize {
    32
}
fn default_max_wait_ms() -> u64 {
    100
}
fn default_retry_after_seconds() -> u64 {
    1
}
fn default_body_timeout_ms() -> u64 {
    10_000
}
