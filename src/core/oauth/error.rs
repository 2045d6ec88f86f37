//! Errors of the OAuth 2.0 / OpenID Connect profile, each with a stable code.
//!
//! Messages are lowercase and never contain a token, code, verifier or state value. Text chosen
//! by the provider (`error_description`) is quoted with control characters neutralised.

use crate::prelude::*;

use core::fmt;

use crate::core::error::{cat, decimal, quoted};

/// Which provider endpoint answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The authorization endpoint, through the redirect back to the app (RFC 6749 §4.1.2.1).
    Authorization,
    /// The token endpoint (RFC 6749 §5.2).
    Token,
    /// The revocation endpoint (RFC 7009 §2.2.1).
    Revocation,
}

impl Endpoint {
    /// `authorization`, `token` or `revocation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::Token => "token",
            Self::Revocation => "revocation",
        }
    }
}

/// The `error` value of an OAuth error response, typed where a specification names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// `access_denied`: the user or the provider refused (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// `login_required` (OIDC Core §3.1.2.6): `prompt=none` and the user is not signed in.
    LoginRequired,
    /// `consent_required` (OIDC Core §3.1.2.6).
    ConsentRequired,
    /// `interaction_required` (OIDC Core §3.1.2.6).
    InteractionRequired,
    /// `account_selection_required` (OIDC Core §3.1.2.6).
    AccountSelectionRequired,
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client` (token endpoint).
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is invalid, expired, revoked or reused. At the
    /// token endpoint during a refresh it ends the session.
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `unsupported_token_type` (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8707): the requested resource is unknown or not allowed.
    InvalidTarget,
    /// `server_error` (transient).
    ServerError,
    /// `temporarily_unavailable` (transient).
    TemporarilyUnavailable,
    /// `use_dpop_nonce` (RFC 9449 §8): retry once with the nonce the provider sent.
    UseDpopNonce,
    /// Any other `error` value (kept, truncated to 64 characters).
    Other(String),
}

impl ProviderErrorKind {
    /// Reads an `error` value.
    pub fn parse(error: &str) -> Self {
        match error {
            "access_denied" => Self::AccessDenied,
            "login_required" => Self::LoginRequired,
            "consent_required" => Self::ConsentRequired,
            "interaction_required" => Self::InteractionRequired,
            "account_selection_required" => Self::AccountSelectionRequired,
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "use_dpop_nonce" => Self::UseDpopNonce,
            other => Self::Other(truncate(other, 64)),
        }
    }

    /// The stable code of this kind of provider error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AccessDenied => "ERR_OAUTH_ACCESS_DENIED",
            Self::LoginRequired => "ERR_OAUTH_LOGIN_REQUIRED",
            Self::ConsentRequired => "ERR_OAUTH_CONSENT_REQUIRED",
            Self::InteractionRequired => "ERR_OAUTH_INTERACTION_REQUIRED",
            Self::AccountSelectionRequired => "ERR_OAUTH_ACCOUNT_SELECTION_REQUIRED",
            Self::InvalidRequest => "ERR_OAUTH_INVALID_REQUEST",
            Self::InvalidClient => "ERR_OAUTH_INVALID_CLIENT",
            Self::InvalidGrant => "ERR_OAUTH_INVALID_GRANT",
            Self::UnauthorizedClient => "ERR_OAUTH_UNAUTHORIZED_CLIENT",
            Self::UnsupportedGrantType => "ERR_OAUTH_UNSUPPORTED_GRANT_TYPE",
            Self::UnsupportedResponseType => "ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE",
            Self::UnsupportedTokenType => "ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE",
            Self::InvalidScope => "ERR_OAUTH_INVALID_SCOPE",
            Self::InvalidTarget => "ERR_OAUTH_INVALID_TARGET",
            Self::ServerError => "ERR_OAUTH_SERVER_ERROR",
            Self::TemporarilyUnavailable => "ERR_OAUTH_TEMPORARILY_UNAVAILABLE",
            Self::UseDpopNonce => "ERR_OAUTH_USE_DPOP_NONCE",
            Self::Other(_) => "ERR_OAUTH_PROVIDER_ERROR",
        }
    }

    /// The `error` value as the provider spelled it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::Other(other) => other,
        }
    }
}

/// An error response from the provider: `error`, `error_description`, `error_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// The endpoint that answered.
    pub endpoint: Endpoint,
    /// `error`.
    pub kind: ProviderErrorKind,
    /// `error_description` (provider text for developers, truncated to 256 characters).
    pub description: Option<String>,
    /// `error_uri` (truncated to 256 characters).
    pub uri: Option<String>,
    /// The HTTP status, for token and revocation endpoint errors.
    pub status: Option<u16>,
}

/// Why an OAuth step was refused. Match on variants in Rust; use [`OAuthError::code`] in JS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthError {
    /// The client configuration is unusable (issuer, client id, redirect URI, parameters).
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// The provider metadata document is malformed or lacks a required member.
    InvalidMetadata {
        /// What is wrong.
        reason: &'static str,
    },
    /// The metadata's `issuer` is not exactly the configured issuer (OIDC Discovery §4.3,
    /// RFC 8414 §3.3).
    IssuerMismatch,
    /// An endpoint is neither `https` nor `http` on a loopback host.
    InsecureEndpoint {
        /// The metadata member (`token_endpoint`, ...), or `issuer`, `redirect_uri`.
        member: &'static str,
    },
    /// The provider lists PKCE methods and `S256` is not one of them.
    PkceNotSupported,
    /// The provider offers no endpoint for this operation (`revocation_endpoint`,
    /// `end_session_endpoint`).
    EndpointNotOffered {
        /// The missing metadata member.
        member: &'static str,
    },
    /// A callback arrived but no login transaction is pending (never started, already used,
    /// or cleared): a replayed or foreign callback.
    NoTransaction,
    /// The stored transaction is malformed (it is discarded).
    InvalidTransaction {
        /// What is wrong.
        reason: &'static str,
    },
    /// The login transaction is older than [`TRANSACTION_TTL_SECS`](super::TRANSACTION_TTL_SECS).
    TransactionExpired,
    /// The callback URL is not the redirect URI of the pending transaction, or a response
    /// parameter is malformed or repeated.
    InvalidCallback {
        /// What is wrong.
        reason: &'static str,
    },
    /// The callback's `state` is missing or differs from the transaction's.
    StateMismatch,
    /// The provider advertises RFC 9207 and the callback has no `iss`.
    IssMissing,
    /// The callback's `iss` is not the provider's issuer (a mix-up attack, RFC 9207).
    IssMismatch,
    /// The callback has no `code` (and no `error`).
    CodeMissing,
    /// The provider answered with an OAuth error.
    Provider(ProviderError),
    /// The token or revocation endpoint answered with a status and a body that is not an
    /// OAuth error (e.g. a 502 page).
    Http {
        /// The endpoint.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
    },
    /// A 2xx token response that cannot be used (not JSON, no `access_token`, bad types).
    InvalidTokenResponse {
        /// What is wrong.
        reason: &'static str,
    },
    /// `token_type` is neither `Bearer` nor `DPoP`.
    UnsupportedTokenType,
    /// The token response has no `id_token` though `openid` was requested.
    IdTokenMissing,
    /// A required ID-token claim is absent.
    IdTokenClaimMissing {
        /// The claim.
        claim: &'static str,
    },
    /// The ID token's `iss` is not the issuer.
    IdTokenIssuerMismatch,
    /// The ID token's `aud` does not contain the client id.
    IdTokenAudienceMismatch,
    /// The ID token's `azp` is not the client id, or is missing with several audiences.
    IdTokenAzpMismatch,
    /// The ID token's `nonce` is missing or differs from the transaction's.
    NonceMismatch,
    /// The ID token's `sub` differs from the session's (on refresh, OIDC Core §12.2).
    IdTokenSubjectMismatch,
    /// The ID token has expired.
    IdTokenExpired,
    /// The ID token's `iat` is in the future or too far in the past.
    IdTokenIatOutOfRange,
    /// `max_age` was requested and `auth_time` is too old.
    AuthTimeTooOld,
    /// A login option out of its range (`maxAge`, `timeoutInSeconds`): refused as the
    /// manager's other options are (`ERR_INVALID_OPTIONS`).
    OptionOutOfRange {
        /// The option's name (the npm package's).
        option: &'static str,
        /// Its smallest value.
        min: u64,
        /// Its largest value.
        max: u64,
    },
}

impl OAuthError {
    /// A stable code for programs (and the `code` of the JS `Error`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidConfig { .. } => "ERR_OAUTH_INVALID_CONFIG",
            Self::OptionOutOfRange { .. } => "ERR_INVALID_OPTIONS",
            Self::InvalidMetadata { .. } => "ERR_OAUTH_INVALID_METADATA",
            Self::IssuerMismatch => "ERR_OAUTH_ISSUER_MISMATCH",
            Self::InsecureEndpoint { .. } => "ERR_OAUTH_INSECURE_ENDPOINT",
            Self::PkceNotSupported => "ERR_OAUTH_PKCE_NOT_SUPPORTED",
            Self::EndpointNotOffered { .. } => "ERR_OAUTH_ENDPOINT_NOT_OFFERED",
            Self::NoTransaction => "ERR_OAUTH_NO_TRANSACTION",
            Self::InvalidTransaction { .. } => "ERR_OAUTH_INVALID_TRANSACTION",
            Self::TransactionExpired => "ERR_OAUTH_TRANSACTION_EXPIRED",
            Self::InvalidCallback { .. } => "ERR_OAUTH_INVALID_CALLBACK",
            Self::StateMismatch => "ERR_OAUTH_STATE_MISMATCH",
            Self::IssMissing => "ERR_OAUTH_ISS_MISSING",
            Self::IssMismatch => "ERR_OAUTH_ISS_MISMATCH",
            Self::CodeMissing => "ERR_OAUTH_CODE_MISSING",
            Self::Provider(err) => err.kind.code(),
            Self::Http { .. } => "ERR_OAUTH_HTTP",
            Self::InvalidTokenResponse { .. } => "ERR_OAUTH_INVALID_TOKEN_RESPONSE",
            Self::UnsupportedTokenType => "ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE",
            Self::IdTokenMissing => "ERR_OAUTH_ID_TOKEN_MISSING",
            Self::IdTokenClaimMissing { .. } => "ERR_OAUTH_ID_TOKEN_CLAIM_MISSING",
            Self::IdTokenIssuerMismatch => "ERR_OAUTH_ID_TOKEN_ISSUER_MISMATCH",
            Self::IdTokenAudienceMismatch => "ERR_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH",
            Self::IdTokenAzpMismatch => "ERR_OAUTH_ID_TOKEN_AZP_MISMATCH",
            Self::NonceMismatch => "ERR_OAUTH_NONCE_MISMATCH",
            Self::IdTokenSubjectMismatch => "ERR_OAUTH_ID_TOKEN_SUBJECT_MISMATCH",
            Self::IdTokenExpired => "ERR_OAUTH_ID_TOKEN_EXPIRED",
            Self::IdTokenIatOutOfRange => "ERR_OAUTH_ID_TOKEN_IAT",
            Self::AuthTimeTooOld => "ERR_OAUTH_AUTH_TIME",
        }
    }

    /// The provider error, when the provider answered with one.
    pub fn provider(&self) -> Option<&ProviderError> {
        match self {
            Self::Provider(err) => Some(err),
            _ => None,
        }
    }

    /// Whether this error from the token endpoint ends the session: `invalid_grant` (the refresh
    /// token is expired, revoked or was reused) or `invalid_client` / a 401 (the client is no
    /// longer allowed). Other errors keep the session and its tokens.
    pub fn ends_session(&self) -> bool {
        match self {
            Self::Provider(err) => {
                err.endpoint == Endpoint::Token
                    && (matches!(
                        err.kind,
                        ProviderErrorKind::InvalidGrant | ProviderErrorKind::InvalidClient
                    ) || err.status == Some(401))
            }
            Self::Http { endpoint, status } => *endpoint == Endpoint::Token && *status == 401,
            _ => false,
        }
    }

    /// Whether retrying later may succeed: network-level statuses (5xx, 429), `server_error`,
    /// `temporarily_unavailable`, and a malformed 2xx response.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { status, .. } => *status >= 500 || *status == 429,
            Self::Provider(err) => matches!(
                err.kind,
                ProviderErrorKind::ServerError | ProviderErrorKind::TemporarilyUnavailable
            ),
            Self::InvalidTokenResponse { .. } => true,
            _ => false,
        }
    }
}

impl OAuthError {
    /// The message of the error (its `Display`), built without `core::fmt` so that the npm
    /// package's wasm links no formatting machinery (`to_string()` would).
    pub fn message(&self) -> String {
        let text = match self {
            Self::InvalidConfig { reason } => {
                return cat(&["invalid oauth configuration: ", reason])
            }
            Self::OptionOutOfRange { option, min, max } => {
                return cat(&[
                    "option \"",
                    option,
                    "\" must be a number from ",
                    &decimal(*min),
                    " to ",
                    &decimal(*max),
                ])
            }
            Self::InvalidMetadata { reason } => {
                return cat(&["invalid provider metadata: ", reason])
            }
            Self::IssuerMismatch => {
                "the provider metadata names another issuer than the configured one"
            }
            Self::InsecureEndpoint { member } => return cat(&[
                member,
                " must use https (http only on a loopback host), without credentials or fragment",
            ]),
            Self::PkceNotSupported => "the provider does not support PKCE with S256",
            Self::EndpointNotOffered { member } => {
                return cat(&["the provider metadata has no ", member])
            }
            Self::NoTransaction => {
                "no login is pending for this callback (already handled, expired or never started)"
            }
            Self::InvalidTransaction { reason } => {
                return cat(&["the stored login transaction is invalid: ", reason])
            }
            Self::TransactionExpired => "the login transaction has expired",
            Self::InvalidCallback { reason } => return cat(&["invalid callback: ", reason]),
            Self::StateMismatch => "the callback's state does not match the pending login",
            Self::IssMissing => "the callback has no iss parameter (RFC 9207)",
            Self::IssMismatch => "the callback's iss is not the provider's issuer (RFC 9207)",
            Self::CodeMissing => "the callback has no authorization code",
            Self::Provider(err) => {
                let mut out = cat(&[
                    "the ",
                    err.endpoint.as_str(),
                    " endpoint answered ",
                    &quoted(err.kind.as_str()),
                ]);
                if let Some(description) = &err.description {
                    out.push_str(": ");
                    out.push_str(&quoted(description));
                }
                return out;
            }
            Self::Http { endpoint, status } => {
                return cat(&[
                    "the ",
                    endpoint.as_str(),
                    " endpoint answered HTTP ",
                    &decimal(u64::from(*status)),
                ])
            }
            Self::InvalidTokenResponse { reason } => {
                return cat(&["invalid token response: ", reason])
            }
            Self::UnsupportedTokenType => {
                "the token response's token_type is neither Bearer nor DPoP"
            }
            Self::IdTokenMissing => "the token response has no id_token",
            Self::IdTokenClaimMissing { claim } => {
                return cat(&["the id token has no ", &quoted(claim), " claim"])
            }
            Self::IdTokenIssuerMismatch => "unexpected id token \"iss\"",
            Self::IdTokenAudienceMismatch => {
                "the id token's \"aud\" does not contain the client id"
            }
            Self::IdTokenAzpMismatch => "the id token's \"azp\" is not the client id",
            Self::NonceMismatch => "the id token's \"nonce\" does not match",
            Self::IdTokenSubjectMismatch => "the id token's \"sub\" differs from the session's",
            Self::IdTokenExpired => "the id token has expired",
            Self::IdTokenIatOutOfRange => "the id token's \"iat\" is in the future or too old",
            Self::AuthTimeTooOld => "the id token's \"auth_time\" exceeds max_age",
        };
        text.to_owned()
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for OAuthError {}

/// Keeps at most `max` characters of provider text.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn messages_built_without_fmt_keep_their_texts() {
        let provider = OAuthError::Provider(ProviderError {
            endpoint: Endpoint::Token,
            kind: ProviderErrorKind::parse("invalid_grant"),
            description: Some("line\nbreak \"quoted\"".into()),
            uri: None,
            status: Some(400),
        });
        assert_eq!(
            provider.to_string(),
            "the token endpoint answered \"invalid_grant\": \"line\u{fffd}break \"quoted\"\""
        );
        let http = OAuthError::Http {
            endpoint: Endpoint::Revocation,
            status: 503,
        };
        assert_eq!(http.message(), "the revocation endpoint answered HTTP 503");
        assert_eq!(
            OAuthError::IdTokenClaimMissing { claim: "sub" }.message(),
            "the id token has no \"sub\" claim"
        );
        assert_eq!(
            OAuthError::InsecureEndpoint {
                member: "token_endpoint"
            }
            .message(),
            "token_endpoint must use https (http only on a loopback host), without credentials or fragment"
        );
        assert_eq!(
            OAuthError::InvalidConfig { reason: "x" }.message(),
            "invalid oauth configuration: x"
        );
    }
}
