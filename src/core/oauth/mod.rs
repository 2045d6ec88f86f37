//! The OAuth 2.0 / OpenID Connect profile, sans-IO: every request the shell sends is built here
//! and every answer it receives is checked here. No clock, no I/O: times are arguments, random
//! bytes come from the caller (`crypto.getRandomValues` in the browser).
//!
//! The flow, with the shell's part in brackets:
//! 1. [`discovery_urls`] → [fetch] → [`ProviderMetadata::parse`] (issuer exact, endpoints
//!    https or loopback http).
//! 2. [`authorization_request`] with [`LoginRandomness`] → [store
//!    [`Transaction::to_storage`] in `sessionStorage` under [`transaction_storage_key`],
//!    navigate to the URL].
//! 3. [take the record] → [`Transaction::from_storage`] → [`Transaction::complete`] with the
//!    callback URL (state, `iss`, `error`, `code`) → [`CodeExchange`].
//! 4. [`CodeExchange::token_request`] → [POST] → [`parse_token_response`] → [verify the ID
//!    token's signature with the verifier and the provider's JWKS] → [`IdTokenCheck::validate`]
//!    → [`TokenResponse::into_grant`] for the [`Session`](crate::core::session::Session).
//! 5. Refresh: [`refresh_request`] → [`parse_token_response`]; an error that
//!    [ends the session](OAuthError::ends_session) (`invalid_grant`) logs out, others are typed.
//! 6. Logout: [`revocation_request`] → [`parse_revocation_response`]; optionally
//!    [`end_session_url`].

mod api;
mod authorize;
mod error;
mod id_token;
mod logout;
mod metadata;
mod object;
mod token;
mod transaction;
mod url;
pub use url::check_endpoint;
#[cfg(feature = "std")]
pub use url::loopback_host;

pub use api::{api_refresh_request, login_scope};
pub use authorize::{
    authorization_request, authorization_request_with_challenge, code_challenge_s256,
    code_verifier_of, popup_timeout_ms, AuthorizationRequest, ClientConfig, LoginOptions,
    LoginRandomness, DEFAULT_SCOPE, MAX_POPUP_TIMEOUT_SECS, POPUP_POLL_MS, POPUP_TIMEOUT_SECS,
};
pub use error::{Endpoint, OAuthError, ProviderError, ProviderErrorKind};
#[cfg(feature = "verify")]
pub use id_token::id_token_algorithms;
pub use id_token::{IdTokenCheck, IdTokenClaims};
pub use logout::end_session_url;
pub use metadata::{discovery_urls, ProviderMetadata, MAX_METADATA_BYTES};
pub use token::{
    parse_revocation_response, parse_token_response, refresh_request, revocation_request,
    FormRequest, TokenResponse, TokenType, TokenTypeHint, FORM_CONTENT_TYPE,
    MAX_TOKEN_RESPONSE_BYTES,
};
pub use transaction::{
    callback_url_cleaned, is_callback_response_param, transaction_storage_key, CallbackError,
    CodeExchange, Transaction, TRANSACTION_TTL_SECS,
};

#[cfg(test)]
mod tests;
