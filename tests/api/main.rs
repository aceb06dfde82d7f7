//! The one integration test binary. Each test spawns Roleport in-process on port 0 with a fresh
//! database; the peers (OpenLDAP + SimpleSAMLphp) are started by `deploy/test.sh`.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod abuse;
mod ad_directory;
mod ad_groups;
mod admin;
mod admin_browser;
mod admin_forms;
mod attacks;
mod audit;
mod aws_broker;
mod aws_failures;
mod aws_fidelity;
mod aws_harness;
mod aws_keys;
mod aws_modes;
mod aws_oidc;
mod aws_register;
mod aws_registration;
mod aws_rotation;
mod aws_support;
mod browser;
mod browser_pages;
mod browser_portal;
mod cli;
mod cli_e2e;
mod cli_oauth;
mod credentials_once;
mod deploy_manifests;
mod e2e_oidc;
mod e2e_saml;
mod error_pages;
mod fleet;
mod forge;
mod fuzz;
mod hardening;
mod identity_values;
mod idp_scope;
mod load_harness;
mod oidc_attacks;
mod overload;
mod picker_rules;
mod portal;
mod production;
mod refusals;
mod sealing;
mod secrets_leak;
mod service;
mod sign_in_commit;
mod signed_tree;
mod tls_proxy;
