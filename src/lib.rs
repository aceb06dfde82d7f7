//! Roleport: an SSO gateway into AWS.
//!
//! `protocol` holds the pure cores (no actix, sqlx or AWS SDK); everything with I/O wraps them.

pub mod admin;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod configuration;
pub mod db;
pub mod domain;
pub mod healthcheck;
pub mod http;
pub mod key_lines;
pub mod metrics;
pub mod protocol;
pub mod sealing;
pub mod service;
pub mod startup;
pub mod telemetry;
pub mod upstream;
