//! Token endpoint requests (authorization code, refresh token), RFC 7009 revocation, and the
//! parsing of their answers into tokens or typed errors (RFC 6749 §5.1, §5.2).

use crate::prelude::*;

use crate::core::json::Value;

use crate::core::oauth::error::{truncate, Endpoint, OAuthError, ProviderError, ProviderErrorKind};
use crate::core::oauth::metadata::ProviderMetadata;
use crate::core::oauth::object::Object;
use crate::core::oauth::transaction::CodeExchange;
use crate::core::oauth::url::form_encode;
use crate::core::secret::Secret;
use crate::core::session::{grant, RefreshFailure, TokenGrant};

/// The `Content-Type` of every request body built here.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Largest token or error response accepted (checked before parsing).
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// A `POST` with a form-encoded body. The body holds a code, verifier or token: it is a
/// [`Secret`], sent with `Content-Type: application/x-www-form-urlencoded`.
#[derive(Debug)]
pub struct FormRequest {
    /// The endpoint.
    pub url: String,
    /// The form-encoded body.
    pub body: Secret,
}

impl CodeExchange {
    /// The token request for this code (RFC 6749 §4.1.3, RFC 7636 §4.5): `grant_type`,
    /// `code`, `redirect_uri`, `client_id`, `code_verifier`.
    pub fn token_request(&self, metadata: &ProviderMetadata) -> FormRequest {
        FormRequest {
            url: metadata.token_endpoint.clone(),
            body: Secret::new(form_encode([
                ("grant_type", "authorization_code"),
                ("code", self.code.expose()),
                ("redirect_uri", &self.redirect_uri),
                ("client_id", &self.client_id),
                ("code_verifier", self.code_verifier.expose()),
            ])),
        }
    }

    /// Whether the token response must carry an ID token (`openid` was requested).
    pub fn expects_id_token(&self) -> bool {
        self.nonce.is_some()
    }
}

/// The refresh request (RFC 6749 §6) of a public client: `grant_type=refresh_token`,
/// `refresh_token`, `client_id`, and `scope` when narrowing it.
pub fn refresh_request(
    metadata: &ProviderMetadata,
    client_id: &str,
    refresh_token: &Secret,
    scope: Option<&str>,
) -> FormRequest {
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        ("client_id", client_id),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    FormRequest {
        url: metadata.token_endpoint.clone(),
        body: Secret::new(form_encode(pairs)),
    }
}

/// `token_type_hint` of a revocation request (RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`: revoking it also ends the grant's access tokens at most providers.
    RefreshToken,
}

/// The revocation request (RFC 7009 §2.1): `token`, `token_type_hint`, `client_id`. Fails with
/// [`OAuthError::EndpointNotOffered`] when the provider has no `revocation_endpoint`.
pub fn revocation_request(
    metadata: &ProviderMetadata,
    client_id: &str,
    token: &Secret,
    hint: TokenTypeHint,
) -> Result<FormRequest, OAuthError> {
    let url = ProviderMetadata::require(&metadata.revocation_endpoint, "revocation_endpoint")?;
    let hint = match hint {
        TokenTypeHint::AccessToken => "access_token",
        TokenTypeHint::RefreshToken => "refresh_token",
    };
    Ok(FormRequest {
        url: url.to_owned(),
        body: Secret::new(form_encode([
            ("token", token.expose()),
            ("token_type_hint", hint),
            ("client_id", client_id),
        ])),
    })
}

/// `token_type` of a token response (compared case-insensitively, RFC 6749 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449): the access token is bound to the client's key.
    DPoP,
}

/// A successful token response. `Debug` redacts the tokens.
#[derive(Debug)]
pub struct TokenResponse {
    /// `access_token`.
    pub access_token: Secret,
    /// `token_type`.
    pub token_type: TokenType,
    /// `expires_in`, seconds.
    pub expires_in: Option<u64>,
    /// `refresh_token`: `None` means keep the previous one (RFC 6749 §6).
    pub refresh_token: Option<Secret>,
    /// `id_token` (not yet verified).
    pub id_token: Option<Secret>,
    /// `scope`: when absent, the requested scope was granted (RFC 6749 §5.1).
    pub scope: Option<String>,
}

impl TokenResponse {
    /// The grant for [`Session`](crate::core::session::Session): a response without a refresh
    /// token leaves the session's current one in place. Fill `exp`/`iat` from the access token
    /// if it is a JWT the app may read.
    pub fn into_grant(self, server_date_ms: Option<u64>) -> TokenGrant {
        let mut grant = TokenGrant::new(self.access_token);
        grant.refresh_token = self.refresh_token;
        // `parse_token_response` kept it within `session::grant::MAX_EXPIRES_IN`.
        grant.expires_in = self.expires_in.and_then(|s| i64::try_from(s).ok());
        grant.server_date_ms = server_date_ms;
        grant
    }
}

/// Reads the token endpoint's answer: a 2xx JSON token response, or an RFC 6749 §5.2 error
/// ([`OAuthError::Provider`]; `invalid_grant` [ends the session](OAuthError::ends_session)), or
/// [`OAuthError::Http`] for a status without an OAuth error body.
///
/// A 2xx body that is not a usable token response is [`OAuthError::InvalidTokenResponse`]
/// (a failed refresh, never a new token).
pub fn parse_token_response(status: u16, body: &str) -> Result<TokenResponse, OAuthError> {
    if !(200..300).contains(&status) {
        return Err(parse_error(Endpoint::Token, status, body));
    }
    let invalid = |reason| OAuthError::InvalidTokenResponse { reason };
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return Err(invalid("larger than 64 KiB"));
    }
    let mut object = Object::parse(body).ok_or(invalid("not a JSON object"))?;
    let wrong_type = |_| invalid("a member has the wrong type");
    // Tokens go into `Secret`s straight from the parsed map, without copies. Their length is
    // the session's rule (`session::grant`), the same for every way a token arrives.
    let mut secret = |name| -> Result<Option<Secret>, OAuthError> {
        match object.string(name).map_err(wrong_type)? {
            Some(t) if t.is_empty() => Ok(None),
            Some(t) if !grant::token_length_ok(t.len()) => {
                Err(invalid(grant::GrantError::TokenLength.message()))
            }
            t => Ok(t.map(Secret::new)),
        }
    };
    let access_token = secret("access_token")?.ok_or(invalid("no access_token"))?;
    let refresh_token = secret("refresh_token")?;
    let id_token = secret("id_token")?;
    let token_type = match object.string("token_type").map_err(wrong_type)?.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("dpop") => TokenType::DPoP,
        Some(_) => return Err(OAuthError::UnsupportedTokenType),
        None => return Err(invalid("no token_type")),
    };
    let expires_in = match object.take("expires_in") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let seconds = match value {
                Value::Number(n) => n.as_u64(),
                // Some providers have sent it as a string of digits; accept exactly that.
                Value::String(s)
                    if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    s.parse().ok()
                }
                _ => None,
            };
            // The session's range (`session::grant`): 0 to 2^31-1 seconds.
            match seconds {
                Some(s) if s <= grant::MAX_EXPIRES_IN as u64 => Some(s),
                _ => return Err(invalid(grant::GrantError::ExpiresIn.message())),
            }
        }
    };
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        refresh_token,
        id_token,
        scope: object.string("scope").map_err(wrong_type)?,
    })
}

/// Reads the revocation endpoint's answer (RFC 7009 §2.2): any 2xx is success (the token is
/// invalid from now on, or already was).
pub fn parse_revocation_response(status: u16, body: &str) -> Result<(), OAuthError> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(parse_error(Endpoint::Revocation, status, body))
    }
}

fn parse_error(endpoint: Endpoint, status: u16, body: &str) -> OAuthError {
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return OAuthError::Http { endpoint, status };
    }
    let Some(mut object) = Object::parse(body) else {
        return OAuthError::Http { endpoint, status };
    };
    match object.string("error") {
        Ok(Some(error)) if !error.is_empty() => OAuthError::Provider(ProviderError {
            endpoint,
            kind: ProviderErrorKind::parse(&error),
            description: object
                .string("error_description")
                .ok()
                .flatten()
                .map(|d| truncate(&d, 256)),
            uri: object
                .string("error_uri")
                .ok()
                .flatten()
                .map(|u| truncate(&u, 256)),
            status: Some(status),
        }),
        _ => OAuthError::Http { endpoint, status },
    }
}

impl OAuthError {
    /// How a failed refresh-token grant is reported to the
    /// [`Session`](crate::core::session::Session): errors that
    /// [end the session](Self::ends_session) are [`RefreshFailure::InvalidGrant`]; 429 and 5xx
    /// (with `Retry-After`, in ms, from the shell) and `server_error` /
    /// `temporarily_unavailable` are retried with backoff; a 2xx answer that is not a token
    /// response is [`RefreshFailure::Malformed`]. Any other OAuth error (e.g. `invalid_scope`)
    /// is also retried with backoff, keeping the current token while it is valid.
    pub fn refresh_failure(&self, retry_after_ms: Option<u64>) -> RefreshFailure {
        if self.ends_session() {
            return RefreshFailure::InvalidGrant;
        }
        let status = match self {
            Self::Http { status, .. } => *status,
            Self::Provider(err) => err.status.unwrap_or(400),
            _ => return RefreshFailure::Malformed,
        };
        if status == 429 {
            RefreshFailure::TooManyRequests { retry_after_ms }
        } else {
            RefreshFailure::Server {
                status,
                retry_after_ms,
            }
        }
    }
}
