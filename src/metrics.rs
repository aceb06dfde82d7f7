//! Prometheus metrics, exposed at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub sign_ins: IntCounterVec,
    pub rejections: IntCounterVec,
    pub http_duration: HistogramVec,
    pub acs_verify_duration: HistogramVec,
    /// Requests answered 429/503 before any work: rate limits, pending-login caps, a full
    /// verification pool.
    pub shed: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("roleport".into()), None)?;
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "sign_ins_total",
                "Sign-ins by identity provider and outcome",
            ),
            &["idp", "outcome"],
        )?;
        let rejections = IntCounterVec::new(
            Opts::new("sign_in_rejections_total", "Refused sign-ins by reason"),
            &["idp", "reason"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["route", "method", "status"],
        )?;
        let acs_verify_duration = HistogramVec::new(
            HistogramOpts::new(
                "saml_verify_duration_seconds",
                "SAML response verification time",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            ]),
            &["idp"],
        )?;
        let shed = IntCounterVec::new(
            Opts::new(
                "requests_shed_total",
                "Sign-in requests refused before any work, by route and limit",
            ),
            &["route", "reason"],
        )?;
        registry.register(Box::new(shed.clone()))?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(rejections.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(acs_verify_duration.clone()))?;
        Ok(Self {
            registry,
            sign_ins,
            rejections,
            http_duration,
            acs_verify_duration,
            shed,
        })
    }

    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
