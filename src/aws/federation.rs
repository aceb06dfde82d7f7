//! The console federation endpoint: `getSigninToken` over HTTPS, answered with a token that the
//! browser then presents at `Action=login`.

use crate::protocol::aws::{
    MAX_SIGNIN_RESPONSE_BYTES, SigninToken, SigninTokenRequest, parse_signin_token_response,
};
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FederationError {
    #[error("the AWS sign-in endpoint could not be reached")]
    Unreachable,
    #[error("the AWS sign-in endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the AWS sign-in endpoint's answer was not understood: {0}")]
    BadAnswer(String),
}

impl FederationError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable => "federation_unreachable",
            Self::Status(_) => "federation_status",
            Self::BadAnswer(_) => "federation_bad_answer",
        }
    }
}

pub async fn signin_token(
    client: &reqwest::Client,
    request: SigninTokenRequest,
) -> Result<SigninToken, FederationError> {
    let response = client
        .get(request.into_url())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|_| FederationError::Unreachable)?;
    if !response.status().is_success() {
        return Err(FederationError::Status(response.status().as_u16()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|_| FederationError::Unreachable)?;
    if body.len() > MAX_SIGNIN_RESPONSE_BYTES {
        return Err(FederationError::BadAnswer("answer too large".into()));
    }
    let text =
        std::str::from_utf8(&body).map_err(|_| FederationError::BadAnswer("not UTF-8".into()))?;
    parse_signin_token_response(text).map_err(|e| FederationError::BadAnswer(e.to_string()))
}
