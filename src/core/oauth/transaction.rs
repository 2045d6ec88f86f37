//! The login transaction: what survives the navigation to the provider and back (the only
//! thing the OAuth profile writes to `sessionStorage`), and the checks of the callback.
//!
//! The shell *takes* the stored record at the callback (reads and deletes it) before calling
//! [`Transaction::complete`], so a replayed callback finds nothing ([`OAuthError::NoTransaction`]).
//! A callback that does not answer this transaction (wrong `state`, wrong `iss`, another URL)
//! hands the transaction back so the shell can store it again: a forged or stale callback
//! cannot cancel the user's real login.

use crate::prelude::*;

use crate::core::json::{Map, Number, Value};

use crate::core::b64;
use crate::core::error::cat;
use crate::core::oauth::error::{truncate, Endpoint, OAuthError, ProviderError, ProviderErrorKind};
use crate::core::oauth::metadata::ProviderMetadata;
use crate::core::oauth::object::{Object, WrongType};
use crate::core::oauth::url::{fragment_of, query_of, without_query};
use crate::core::secret::Secret;

/// How long a login may take, from the redirect to the callback (10 minutes).
pub const TRANSACTION_TTL_SECS: u64 = 600;

/// Largest stored transaction accepted (checked before parsing).
const MAX_STORED_BYTES: usize = 4096;

/// The `sessionStorage` key of the pending login of `client_id`.
pub fn transaction_storage_key(client_id: &str) -> String {
    cat(&["tokenwarden.oauth.tx.", client_id])
}

/// A pending login. `Debug` redacts the code verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The issuer the login was sent to.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// The redirect URI sent with the request (sent again with the code).
    pub redirect_uri: String,
    /// `state` (43 base64url characters).
    pub state: String,
    /// `nonce`, when `openid` was requested.
    pub nonce: Option<String>,
    /// The PKCE code verifier.
    pub code_verifier: Secret,
    /// When the login started (Unix ms).
    pub created_at_ms: u64,
    /// `max_age` requested, if any.
    pub max_age: Option<u64>,
}

/// The version of the stored form; every member is known, nothing else is accepted.
const STORED_VERSION: u8 = 1;

/// What a callback that the provider answered with a code gives: the code and what the code
/// exchange and the ID-token checks need. The transaction is consumed.
#[derive(Debug)]
pub struct CodeExchange {
    /// The authorization code.
    pub code: Secret,
    /// The PKCE verifier to send with it.
    pub code_verifier: Secret,
    /// The redirect URI to send with it.
    pub redirect_uri: String,
    /// The client id.
    pub client_id: String,
    /// The `nonce` the ID token must carry.
    pub nonce: Option<String>,
    /// The `max_age` `auth_time` is checked against.
    pub max_age: Option<u64>,
}

/// A refused callback. `transaction` is `Some` when the callback did not answer this
/// transaction (store it back and keep waiting), `None` when the login is over (the provider
/// answered it with an error or without a code, or it expired).
#[derive(Debug)]
pub struct CallbackError {
    /// Why.
    pub error: OAuthError,
    /// The transaction, still pending, when the callback was not its answer.
    pub transaction: Option<Transaction>,
}

impl Transaction {
    /// The record to write to `sessionStorage` (JSON; it holds the verifier, hence a [`Secret`]).
    pub fn to_storage(&self) -> Secret {
        let text_of = |s: &str| Value::String(s.to_owned());
        let mut stored = Map::new();
        stored.insert(
            "v".into(),
            Value::Number(Number::from_u64(u64::from(STORED_VERSION))),
        );
        stored.insert("iss".into(), text_of(&self.issuer));
        stored.insert("client_id".into(), text_of(&self.client_id));
        stored.insert("redirect_uri".into(), text_of(&self.redirect_uri));
        stored.insert("state".into(), text_of(&self.state));
        stored.insert("code_verifier".into(), text_of(self.code_verifier.expose()));
        let created_at = Number::from_u64(self.created_at_ms);
        stored.insert("created_at".into(), Value::Number(created_at));
        if let Some(nonce) = &self.nonce {
            stored.insert("nonce".into(), text_of(nonce));
        }
        if let Some(max_age) = self.max_age {
            stored.insert("max_age".into(), Value::Number(Number::from_u64(max_age)));
        }
        let mut stored = Value::Object(stored);
        let text = stored.to_json();
        // The tree's copy of the verifier is wiped; the text lives on only inside the Secret.
        if let Value::Object(map) = &mut stored {
            if let Some(Value::String(mut verifier)) = map.remove("code_verifier") {
                zeroize::Zeroize::zeroize(&mut verifier);
            }
        }
        Secret::new(text)
    }

    /// Reads back what [`to_storage`](Self::to_storage) wrote, at `now_ms`: `None` (nothing
    /// stored) is [`OAuthError::NoTransaction`]; anything but the exact format is
    /// [`OAuthError::InvalidTransaction`]; a record older than [`TRANSACTION_TTL_SECS`] is
    /// [`OAuthError::TransactionExpired`]. In every error case, delete the record.
    pub fn from_storage(stored: Option<&str>, now_ms: u64) -> Result<Self, OAuthError> {
        let text = stored.ok_or(OAuthError::NoTransaction)?;
        if text.len() > MAX_STORED_BYTES {
            return Err(OAuthError::InvalidTransaction {
                reason: "larger than 4 KiB",
            });
        }
        let malformed = OAuthError::InvalidTransaction {
            reason: "not the stored format",
        };
        let (version, transaction) = Object::parse(text)
            .and_then(|object| Self::read(object).ok())
            .ok_or(malformed)?;
        if version != u64::from(STORED_VERSION) {
            return Err(OAuthError::InvalidTransaction {
                reason: "unknown version",
            });
        }
        // 32 random bytes in canonical base64url, as `authorization_request` makes them.
        let random_value = |s: &str| s.len() == 43 && b64::decode(s, "state").is_ok();
        if !random_value(&transaction.state)
            || !transaction.nonce.as_deref().is_none_or(random_value)
        {
            return Err(OAuthError::InvalidTransaction {
                reason: "state or nonce is malformed",
            });
        }
        let verifier = transaction.code_verifier.expose();
        // RFC 7636 §4.1: 43 to 128 unreserved characters.
        if !(43..=128).contains(&verifier.len())
            || !verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(OAuthError::InvalidTransaction {
                reason: "code_verifier is malformed",
            });
        }
        if transaction.issuer.is_empty()
            || transaction.client_id.is_empty()
            || transaction.redirect_uri.is_empty()
        {
            return Err(OAuthError::InvalidTransaction {
                reason: "issuer, client_id or redirect_uri is empty",
            });
        }
        transaction.check_age(now_ms)?;
        Ok(transaction)
    }

    fn read(mut object: Object) -> Result<(u64, Self), WrongType> {
        let version = object.unsigned("v")?.ok_or(WrongType)?;
        let mut required = |name| object.string(name)?.ok_or(WrongType);
        let issuer = required("iss")?;
        let client_id = required("client_id")?;
        let redirect_uri = required("redirect_uri")?;
        let state = required("state")?;
        let code_verifier = Secret::new(required("code_verifier")?);
        let transaction = Self {
            issuer,
            client_id,
            redirect_uri,
            state,
            code_verifier,
            nonce: object.string("nonce")?,
            created_at_ms: object.unsigned("created_at")?.ok_or(WrongType)?,
            max_age: object.unsigned("max_age")?,
        };
        if object.has_other_members() {
            return Err(WrongType);
        }
        Ok((version, transaction))
    }

    /// Whether the login has run out of time at `now_ms` (or started in the future: a clock
    /// set back by more than a minute).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.check_age(now_ms).is_err()
    }

    fn check_age(&self, now_ms: u64) -> Result<(), OAuthError> {
        let expires = self
            .created_at_ms
            .saturating_add(TRANSACTION_TTL_SECS * 1000);
        if now_ms >= expires || self.created_at_ms > now_ms.saturating_add(60_000) {
            return Err(OAuthError::TransactionExpired);
        }
        Ok(())
    }

    /// Checks the callback URL against this transaction and the provider, at `now_ms`:
    /// 1. the URL is the transaction's redirect URI, with the response in the query;
    /// 2. no response parameter appears twice (RFC 6749 §3.1);
    /// 3. `state` equals the transaction's;
    /// 4. `iss` equals the issuer, and is required when the provider advertises
    ///    `authorization_response_iss_parameter_supported` (RFC 9207);
    /// 5. `error` becomes [`OAuthError::Provider`] (e.g. `access_denied`, `login_required`);
    /// 6. `code` is present.
    ///
    /// On success the transaction is consumed into a [`CodeExchange`].
    #[allow(clippy::result_large_err)]
    pub fn complete(
        self,
        callback_url: &str,
        metadata: &ProviderMetadata,
        now_ms: u64,
    ) -> Result<CodeExchange, CallbackError> {
        let query = query_of(callback_url).unwrap_or("").as_bytes();
        self.complete_decoded(
            callback_url,
            form_urlencoded::parse(query),
            metadata,
            now_ms,
        )
    }

    /// [`Transaction::complete`] with the query of `callback_url` already decoded by the
    /// platform (`application/x-www-form-urlencoded`, e.g. a browser's `URLSearchParams` of the
    /// part between the first `?` and the first `#`): the name-value pairs in their order.
    /// Every check is the same; the npm package's wasm links no query decoder of its own.
    #[allow(clippy::result_large_err)]
    pub fn complete_decoded<N: AsRef<str>, V: Into<String>>(
        self,
        callback_url: &str,
        query: impl IntoIterator<Item = (N, V)>,
        metadata: &ProviderMetadata,
        now_ms: u64,
    ) -> Result<CodeExchange, CallbackError> {
        let keep = |error, transaction| CallbackError {
            error,
            transaction: Some(transaction),
        };
        let over = |error| CallbackError {
            error,
            transaction: None,
        };
        if let Err(error) = self.check_age(now_ms) {
            return Err(over(error));
        }
        if metadata.issuer != self.issuer {
            return Err(keep(OAuthError::IssuerMismatch, self));
        }
        if without_query(callback_url) != without_query(&self.redirect_uri) {
            let reason = "the URL is not the redirect URI";
            return Err(keep(OAuthError::InvalidCallback { reason }, self));
        }
        let params = match CallbackParams::parse(callback_url, query) {
            Ok(params) => params,
            Err(error) => return Err(keep(error, self)),
        };
        if !params
            .state
            .as_deref()
            .is_some_and(|state| constant_time_eq(state, &self.state))
        {
            return Err(keep(OAuthError::StateMismatch, self));
        }
        // RFC 9207 §2.4: compare `iss` before looking at the rest of the response.
        match params.iss.as_deref() {
            Some(iss) if iss != metadata.issuer => return Err(keep(OAuthError::IssMismatch, self)),
            None if metadata.authorization_response_iss_parameter_supported => {
                return Err(keep(OAuthError::IssMissing, self))
            }
            _ => {}
        }
        if let Some(error) = params.error {
            return Err(over(OAuthError::Provider(ProviderError {
                endpoint: Endpoint::Authorization,
                kind: ProviderErrorKind::parse(&error),
                description: params.error_description,
                uri: params.error_uri,
                status: None,
            })));
        }
        let Some(code) = params.code.filter(|c| !c.is_empty()) else {
            return Err(over(OAuthError::CodeMissing));
        };
        Ok(CodeExchange {
            code: Secret::new(code),
            code_verifier: self.code_verifier,
            redirect_uri: self.redirect_uri,
            client_id: self.client_id,
            nonce: self.nonce,
            max_age: self.max_age,
        })
    }
}

/// The address to show once a callback is handled: `url` without the authorization response
/// parameters (`code`, `state`, `iss`, `error`, `error_description`, `error_uri`,
/// `session_state`), keeping the app's own query parameters and fragment. The shell passes it to
/// `history.replaceState`, so a reload or a shared link never carries the code.
///
/// ```
/// use tokenwarden::core::oauth::callback_url_cleaned;
/// assert_eq!(
///     callback_url_cleaned("https://app.example/cb?tab=2&code=c&state=s&iss=x#top"),
///     "https://app.example/cb?tab=2#top"
/// );
/// assert_eq!(callback_url_cleaned("https://app.example/cb?code=c&state=s"), "https://app.example/cb");
/// ```
pub fn callback_url_cleaned(url: &str) -> String {
    let Some(query) = query_of(url) else {
        return url.to_owned();
    };
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| !is_callback_response_param(name))
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let base = without_query(url);
    let mut cleaned = crate::core::oauth::url::with_query(
        base,
        kept.iter().map(|(n, v)| (n.as_str(), v.as_str())),
    );
    if let Some(fragment) = fragment_of(url) {
        cleaned.push('#');
        cleaned.push_str(fragment);
    }
    cleaned
}

/// Whether [`callback_url_cleaned`] removes a query parameter named `name`: one of the
/// authorization response's (`code`, `state`, `iss`, `error`, `error_description`, `error_uri`,
/// `session_state`). The npm package asks this and lets the platform (`URLSearchParams`) decode
/// and encode the rest.
pub fn is_callback_response_param(name: &str) -> bool {
    [
        "code",
        "state",
        "iss",
        "error",
        "error_description",
        "error_uri",
        "session_state",
    ]
    .contains(&name)
}

/// The authorization response parameters of a callback URL.
#[derive(Default)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

impl CallbackParams {
    /// `query`: the decoded pairs of `url`'s query.
    fn parse<N: AsRef<str>, V: Into<String>>(
        url: &str,
        query: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, OAuthError> {
        let in_fragment = fragment_of(url).is_some_and(|f| {
            f.split('&')
                .any(|p| p.starts_with("code=") || p.starts_with("state="))
        });
        if in_fragment {
            return Err(OAuthError::InvalidCallback {
                reason: "the response is in the fragment; use response_mode=query",
            });
        }
        let mut params = Self::default();
        for (name, value) in query {
            let slot = match name.as_ref() {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "iss" => &mut params.iss,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                "error_uri" => &mut params.error_uri,
                _ => continue,
            };
            if slot.is_some() {
                return Err(OAuthError::InvalidCallback {
                    reason: "a response parameter appears more than once",
                });
            }
            *slot = Some(value.into());
        }
        params.error_description = params.error_description.map(|d| truncate(&d, 256));
        params.error_uri = params.error_uri.map(|u| truncate(&u, 256));
        Ok(params)
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
