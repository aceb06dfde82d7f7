//! AWS rules and formats, enforced before anything is sent to AWS. Pure: no I/O, time is a
//! parameter.
//!
//! The STS emulator used in tests (moto) checks almost nothing (design.md §3), so this module
//! carries AWS's documented rules itself: per-partition endpoints and SAML identifiers, session
//! names and source identity, session length, session tags, the SAML Response Roleport signs
//! as the IdP AWS trusts (broker mode), console federation URLs, credential formats for a
//! terminal, and web-identity / GetFederationToken input checks. Every refusal is an
//! [`AwsRuleError`] whose message names the rule broken.

mod broker_request;
mod console;
mod credential_formats;
mod credentials;
mod duration;
mod endpoints;
mod error;
mod idp_metadata;
mod names;
pub mod registration;
pub mod rotation;
mod saml_broker;
mod session_name;
mod source_identity;
mod sts_rules;
mod tags;
mod web_identity;

pub use broker_request::{
    MAX_ASSERTION_VALIDITY_SECONDS, NOT_BEFORE_SKEW_SECONDS, SamlBrokerRequest,
};
pub use console::{
    CONSOLE_SESSION_MAX_SECONDS, CONSOLE_SESSION_MIN_SECONDS, MAX_SIGNIN_RESPONSE_BYTES,
    MAX_SIGNIN_TOKEN_CHARS, SIGNIN_TOKEN_LIFETIME_SECONDS, SigninResponseError, SigninToken,
    SigninTokenRequest, console_destination, login_url, parse_signin_token_response,
    signin_token_url,
};
pub use credential_formats::{
    CredentialFormatError, DEFAULT_PROFILE_NAME, MAX_PROFILE_NAME_CHARS, credential_process_json,
    credentials_file_profile, credentials_file_region, powershell, powershell_quote,
    powershell_region, sanitize_profile_name, shell_exports, shell_quote, shell_region,
};
pub use credentials::{CredentialKind, TemporaryCredentials};
pub use duration::{
    DEFAULT_SESSION_SECONDS, DurationBound, DurationRequest, FEDERATION_TOKEN_MAX_SECONDS,
    FEDERATION_TOKEN_MIN_SECONDS, FederationDurationRequest, MAX_SESSION_SECONDS,
    MIN_ROLE_MAX_SESSION_SECONDS, MIN_SESSION_SECONDS, ROLE_CHAINING_MAX_SECONDS, SessionDuration,
    federation_token_duration, session_duration,
};
pub use endpoints::{
    EndpointOverrides, PartitionEndpoints, iam_signing_region, is_aws_saml_recipient, is_region,
    saml_audience,
};
pub use error::AwsRuleError;
pub use idp_metadata::idp_metadata;
pub use names::{HASH_HEX_CHARS, IDP_SEPARATOR, scoped_identity};
pub use saml_broker::{
    AWS_SAML_ATTRIBUTE_PREFIX, BrokerError, BrokerSigningKey, SignedSamlResponse,
    build_signed_response,
};
pub use session_name::{FederationTokenName, RoleSessionName};
pub use source_identity::SourceIdentity;
pub use sts_rules::{
    JwtAlgorithm, MAX_MANAGED_POLICY_ARNS, MAX_SESSION_POLICY_CHARS, MAX_WEB_IDENTITY_TOKEN_CHARS,
    check_federation_policies, check_policy_arns, check_web_identity_token, pack_inline_policy,
};
pub use tags::{MAX_SESSION_TAGS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, SessionTags};
pub use web_identity::{
    AWS_SOURCE_IDENTITY_CLAIM, AWS_TAGS_CLAIM, MAX_MINTED_TOKEN_SECONDS, MintError,
    WebIdentityClaims, jwks_document, mint_web_identity_token, rsa_jwk,
};
