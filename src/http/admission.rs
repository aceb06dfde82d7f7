//! Admission control: a bounded number of expensive requests worked on at once, per class
//! (SAML and CLI sign-ins; OIDC callbacks; credential and console issues), a short bounded wait for a slot, and past that an
//! immediate 503 with `Retry-After`. Overload is then answered quickly instead of growing a
//! queue, the memory of every request in it, and everyone's latency.
//!
//! Why our own middleware: actix-web's `max_connections` and `backlog` bound connections, not
//! work (a kept-alive idle browser counts the same as a sign-in being verified), and past them
//! the kernel queues or drops connections, so the client sees a timeout, not an answer; payload
//! limits bound one request's size, not how many are held at once. tower's `ConcurrencyLimit`
//! and `LoadShed` do not fit actix's service trait. What is left is a semaphore per class.
//!
//! A slot is taken before the request body is read, so the bodies held at once are bounded by
//! the slots, and the body must then arrive within `admission.body_timeout_ms`, so a client that
//! sends slowly cannot keep a slot. A shed request is answered before any work: no database,
//! no audit row (the pending login it carries stays usable, so trying again works). It counts in
//! `roleport_requests_shed_total{reason="overload"|"overload_queue"}` and is logged in aggregate:
//! the first shed request of a route in a log window at once, with its reference, the rest as
//! one count when the window ends.

use super::AppState;
use super::errors::{AppError, Format, Kind};
use super::rate_limit::client_key;
use super::request_meta::RequestMeta;
use crate::audit::new_reference;
use crate::configuration::AdmissionSettings;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, ResponseError};
use futures_util::Stream;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which slots a route's requests take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Sign-in work: SAML verification, pending logins, CLI tokens.
    SignIn,
    /// The OIDC callback: mostly waiting on the provider's token endpoint.
    OidcCallback,
    /// Credential, console and SAML-POST issues: rules re-check, STS, audit row.
    Issue,
}

/// The guarded routes: method, matched route pattern, class. What the profile of the server
/// under load shows as costly (verification, key operations, the database, STS); pages that
/// only read (the picker, static files, health) are not guarded.
pub const GUARDED: [(Method, &str, Class); 10] = [
    (Method::POST, "/saml/acs", Class::SignIn),
    (Method::GET, "/oidc/callback", Class::OidcCallback),
    (Method::GET, "/login/{idp}", Class::SignIn),
    (Method::POST, "/oauth/token", Class::SignIn),
    (Method::POST, "/oauth/device_authorization", Class::SignIn),
    (Method::POST, "/api/v1/credentials", Class::Issue),
    (Method::POST, "/api/v1/console", Class::Issue),
    (Method::POST, "/roles/{grant}/console", Class::Issue),
    (Method::POST, "/roles/{grant}/credentials", Class::Issue),
    (Method::POST, "/roles/{grant}/saml-post", Class::Issue),
];

/// Why a request was shed; also the metric's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shed {
    /// No slot came free within `max_wait_ms` (or waiting is off).
    Busy,
    /// `max_waiting` requests were already waiting.
    QueueFull,
}

impl Shed {
    pub fn label(self) -> &'static str {
        match self {
            Self::Busy => "overload",
            Self::QueueFull => "overload_queue",
        }
    }
}

/// The slots of one class.
pub struct Gate {
    /// `None`: no bound (dev_mode only, for measuring).
    slots: Option<Arc<Semaphore>>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// What an admitted request holds until its handler has answered.
pub struct Admitted {
    _slot: Option<OwnedSemaphorePermit>,
}

/// Takes one off the waiting count when the wait ends, however it ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub fn new(slots: usize, max_waiting: usize) -> Self {
        Self {
            slots: (slots > 0).then(|| Arc::new(Semaphore::new(slots))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// A slot at once if one is free; else a wait of at most `max_wait` if fewer than
    /// `max_waiting` already wait; else shed.
    pub async fn enter(&self, max_wait: Duration) -> Result<Admitted, Shed> {
        let Some(slots) = &self.slots else {
            return Ok(Admitted { _slot: None });
        };
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            return Ok(Admitted { _slot: Some(slot) });
        }
        if max_wait.is_zero() {
            return Err(Shed::Busy);
        }
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        if before >= self.max_waiting {
            return Err(Shed::QueueFull);
        }
        match tokio::time::timeout(max_wait, slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(Admitted { _slot: Some(slot) }),
            // The semaphore is never closed; a closed one would mean shutting down.
            Ok(Err(_)) | Err(_) => Err(Shed::Busy),
        }
    }

    /// Slots free now (`None`: unbounded), for tests and the log.
    pub fn available(&self) -> Option<usize> {
        self.slots.as_ref().map(|s| s.available_permits())
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// The gates, the timings and the shed-log of one process.
pub struct Admission {
    sign_in: Gate,
    oidc_callback: Gate,
    issue: Gate,
    max_wait: Duration,
    retry_after: u64,
    body_timeout: Duration,
    log: ShedLog,
    window: Duration,
}

impl Admission {
    pub fn new(settings: &AdmissionSettings, log_window: Duration) -> Self {
        Self {
            sign_in: Gate::new(settings.sign_in_in_flight, settings.max_waiting),
            oidc_callback: Gate::new(settings.oidc_callback_in_flight, settings.max_waiting),
            issue: Gate::new(settings.issue_in_flight, settings.max_waiting),
            max_wait: Duration::from_millis(settings.max_wait_ms),
            retry_after: settings.retry_after_seconds.max(1),
            body_timeout: Duration::from_millis(settings.body_timeout_ms),
            log: ShedLog::default(),
            window: log_window.max(Duration::from_secs(1)),
        }
    }

    pub fn gate(&self, class: Class) -> &Gate {
        match class {
            Class::SignIn => &self.sign_in,
            Class::OidcCallback => &self.oidc_callback,
            Class::Issue => &self.issue,
        }
    }
}

/// Runs for the life of the server: ends one shed-log window per tick.
pub async fn maintain(state: web::Data<AppState>) {
    loop {
        tokio::time::sleep(state.admission.window).await;
        state.admission.log.flush();
    }
}

/// The guarded route `req` is for, and its class.
fn classify(req: &ServiceRequest) -> Option<(&'static str, Class)> {
    let pattern = req.match_pattern()?;
    GUARDED
        .iter()
        .find(|(method, route, _)| req.method() == method && *route == pattern)
        .map(|(_, route, class)| (*route, *class))
}

/// The middleware. Sits inside the rate limits (a request refused for its rate takes no slot
/// and no place in the wait) and outside the handlers and their error pages.
pub async fn admit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(state), Some((route, class))) = (state, classify(&req)) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let admission = &state.admission;
    let admitted = match admission.gate(class).enter(admission.max_wait).await {
        Ok(admitted) => admitted,
        Err(shed) => return Ok(refuse(req, &state, route, shed)),
    };
    if has_body(&req) {
        let payload = req.take_payload();
        req.set_payload(Payload::Stream {
            payload: Box::pin(BodyDeadline::new(payload, admission.body_timeout)),
        });
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    drop(admitted);
    // A 503 from the handler (the pool timed out, the database is down) tells the client when
    // to try again, as the shed answer does.
    if res.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE
        && !res.headers().contains_key(header::RETRY_AFTER)
    {
        res.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(admission.retry_after),
        );
    }
    Ok(res)
}

fn has_body(req: &ServiceRequest) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The 503 of a shed request: the problem JSON for API callers, the error page for browsers,
/// with a reference and `Retry-After`.
fn refuse(
    req: ServiceRequest,
    state: &AppState,
    route: &'static str,
    shed: Shed,
) -> ServiceResponse<BoxBody> {
    let reference = new_reference();
    let admission = &state.admission;
    state
        .metrics
        .shed
        .with_label_values(&[route, shed.label()])
        .inc();
    admission.log.note(route, shed, &reference, || {
        client_key(&RequestMeta::of(req.request()))
    });
    let json = route.starts_with("/api/") || route.starts_with("/oauth/");
    let error = AppError::new(
        Kind::Unavailable,
        if json { Format::Json } else { Format::Html },
        reference,
        if json {
            "Roleport is at capacity. Retry after the number of seconds in Retry-After."
        } else {
            "Roleport is very busy right now. Please try again in a moment."
        },
    )
    .retry_after(admission.retry_after);
    req.into_response(error.error_response())
}

/// Shed requests in the current log window, per route and reason: a handful of entries at
/// most (routes × reasons), whatever the flood.
#[derive(Default)]
struct ShedLog {
    windows: Mutex<HashMap<(&'static str, Shed), ShedWindow>>,
}

struct ShedWindow {
    first_reference: String,
    shed: u64,
}

impl ShedLog {
    fn note(
        &self,
        route: &'static str,
        shed: Shed,
        reference: &str,
        client: impl FnOnce() -> String,
    ) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        match windows.get_mut(&(route, shed)) {
            Some(w) => w.shed += 1,
            None => {
                tracing::warn!(
                    reference,
                    route,
                    reason = shed.label(),
                    client = %client(),
                    "overload: answering 503 (further requests shed on this route are counted until the log window ends)"
                );
                windows.insert(
                    (route, shed),
                    ShedWindow {
                        first_reference: reference.to_string(),
                        shed: 1,
                    },
                );
            }
        }
    }

    fn flush(&self) {
        let drained: Vec<_> = match self.windows.lock() {
            Ok(mut w) => w.drain().collect(),
            Err(_) => return,
        };
        for ((route, shed), w) in drained {
            if w.shed > 1 {
                tracing::warn!(
                    route,
                    reason = shed.label(),
                    shed = w.shed,
                    first_reference = %w.first_reference,
                    "overload: requests answered 503 in the last log window"
                );
            }
        }
    }
}

/// The request body, failing with a timeout once `timeout` has passed since admission.
struct BodyDeadline {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl BodyDeadline {
    fn new(inner: Payload, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            done: false,
        }
    }
}

impl Stream for BodyDeadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time (admission.body_timeout_ms)",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_full_gate_lets_a_bounded_number_wait_and_sheds_the_rest() {
        let gate = Gate::new(1, 1);
        let held = gate.enter(Duration::ZERO).await.unwrap();
        assert_eq!(gate.available(), Some(0));
        // No waiting allowed: shed at once.
        assert_eq!(gate.enter(Duration::ZERO).await.err(), Some(Shed::Busy));
        // One may wait; while it does, a second is shed for the full queue.
        let waiter = gate.enter(Duration::from_secs(60));
        tokio::pin!(waiter);
        assert!(waiter.as_mut().now_or_never().is_none());
        assert_eq!(
            gate.enter(Duration::from_secs(60)).await.err(),
            Some(Shed::QueueFull)
        );
        // The slot is handed to the waiter when it is given back.
        drop(held);
        let admitted = waiter.await.unwrap();
        assert_eq!(gate.available(), Some(0));
        drop(admitted);
        assert_eq!(gate.available(), Some(1));
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_wait_ends_in_busy_when_no_slot_comes_free() {
        let gate = Gate::new(1, 10);
        let _held = gate.enter(Duration::ZERO).await.unwrap();
        assert_eq!(
            gate.enter(Duration::from_millis(10)).await.err(),
            Some(Shed::Busy)
        );
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn an_unbounded_gate_admits_everyone() {
        let gate = Gate::new(0, 0);
        let held: Vec<_> =
            futures_util::future::join_all((0..100).map(|_| gate.enter(Duration::ZERO))).await;
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(gate.available(), None);
    }

    #[test]
    fn the_shed_log_keeps_one_entry_per_route_and_reason() {
        let log = ShedLog::default();
        for i in 0..1000 {
            log.note("/saml/acs", Shed::Busy, &format!("R{i}"), || {
                "192.0.2.1".into()
            });
        }
        log.note("/saml/acs", Shed::QueueFull, "Q", || "192.0.2.1".into());
        {
            let w = log.windows.lock().unwrap();
            assert_eq!(w.len(), 2);
            let busy = &w[&("/saml/acs", Shed::Busy)];
            assert_eq!((busy.shed, busy.first_reference.as_str()), (1000, "R0"));
        }
        log.flush();
        assert!(log.windows.lock().unwrap().is_empty());
    }

    #[test]
    fn every_guarded_route_is_registered() {
        let app_routes = include_str!("routes/acs.rs").to_string()
            + include_str!("routes/oidc.rs")
            + include_str!("routes/login.rs")
            + include_str!("routes/cli_oauth.rs")
            + include_str!("routes/credentials.rs")
            + include_str!("routes/credentials_page.rs");
        for (_, route, _) in GUARDED {
            assert!(
                app_routes.contains(&format!("\"{route}\"")),
                "{route} is not a route any more"
            );
        }
    }
}
