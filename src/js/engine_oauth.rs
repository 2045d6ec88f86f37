//! The OAuth 2.0 / OpenID Connect profile of the npm package's `TokenManager`, as synchronous
//! calls for its JS side (`oauth.js`): every request is built and every answer checked by
//! [`crate::core::oauth`] here, exactly as the Rust shell (`web::oauth`) does; `oauth.js` only
//! fetches, keeps the login transaction in `sessionStorage`, asks the platform for random bytes,
//! SHA-256 and the one `crypto.subtle.verify` of the ID token, and navigates.
//!
//! State: the client, the provider's checked metadata (once), the ID token of this tab's login
//! (the logout hint), and, during one callback, the code exchange and the token response until
//! the ID token is verified and the grant handed to the session.

use crate::prelude::*;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::convert::{js_error, jwt_error};
use crate::core::error::{cat, decimal};
use crate::core::jwk::{JwkSet, KeyOptions};
use crate::core::oauth::{
    api_refresh_request, authorization_request_with_challenge, check_endpoint, code_verifier_of,
    discovery_urls, end_session_url, id_token_algorithms, is_callback_response_param,
    parse_token_response, popup_timeout_ms, refresh_request, revocation_request,
    transaction_storage_key, ClientConfig, CodeExchange, FormRequest, IdTokenCheck, IdTokenClaims,
    LoginOptions, LoginRandomness, OAuthError, ProviderMetadata, TokenResponse, TokenType,
    TokenTypeHint, Transaction, POPUP_POLL_MS,
};
use crate::core::secret::Secret;
use crate::core::session::RefreshFailure;
use crate::core::verify::{Verified, Verifier};

fn oauth_error(error: &OAuthError) -> JsValue {
    js_error(error.code(), &error.message())
}

fn secs(now_ms: f64) -> i64 {
    crate::core::time::unix_secs(ms(now_ms))
}

/// A clock reading from JS: `as` saturates (`NaN` and negatives 0).
fn ms(now_ms: f64) -> u64 {
    now_ms as u64
}

fn array(items: &[JsValue]) -> Array {
    items.iter().collect()
}

/// `[url, body]` of a form POST; the body (a code, verifier or token) goes from its `Secret`
/// into a JS string.
fn form(request: &FormRequest) -> Array {
    array(&[
        JsValue::from_str(&request.url),
        JsValue::from_str(request.body.expose()),
    ])
}

fn token(value: &Option<Secret>) -> JsValue {
    value
        .as_ref()
        .map_or(JsValue::UNDEFINED, |t| JsValue::from_str(t.expose()))
}

/// A login in progress between the token endpoint's answer and the installed grant.
struct Login {
    response: TokenResponse,
    check: Option<IdTokenCheck>,
    /// The core's verdict on the ID token's claims, once its signature is checked.
    verified: Option<Result<Verified, crate::core::error::JwtError>>,
}

/// The OAuth profile of one `TokenManager`.
#[wasm_bindgen(skip_typescript)]
pub struct OAuthEngine {
    client: ClientConfig,
    /// `popupRedirectUri`: the redirect URI of `loginWithPopup`, if set.
    popup: Option<String>,
    dpop: bool,
    metadata: Option<ProviderMetadata>,
    /// The ID token of this tab's login: the `id_token_hint` of the logout redirect.
    id_token: Option<Secret>,
    exchange: Option<CodeExchange>,
    login: Option<Login>,
    /// A refresh answer whose ID token is being verified (nothing of it is installed before).
    refresh: Option<Login>,
}

#[wasm_bindgen]
impl OAuthEngine {
    /// The `oauth` option, read by the driver: `config` holds issuer, client id, redirect URI,
    /// scope, audience, post-logout redirect URI, popup redirect URI and the scopes of the APIs
    /// of `resources` (added to every login's), in that order, each a
    /// string or `undefined` (one array: a shorter constructor in the module and the glue).
    /// Throws `ERR_OAUTH_*` when the core refuses it.
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: Vec<JsValue>,
        resource: Vec<String>,
        dpop: bool,
    ) -> Result<OAuthEngine, JsValue> {
        let text = |i: usize| config.get(i).and_then(JsValue::as_string);
        let mut client = ClientConfig::new(
            text(0).unwrap_or_default(),
            text(1).unwrap_or_default(),
            text(2).unwrap_or_default(),
        );
        if let Some(scope) = text(3) {
            client.scope = scope;
        }
        client.audience = text(4);
        client.resource = resource;
        client.post_logout_redirect_uri = text(5);
        let popup_redirect_uri = text(6);
        client.api_scope = text(7);
        client.check().map_err(|e| oauth_error(&e))?;
        if let Some(uri) = &popup_redirect_uri {
            check_endpoint(uri, "redirect_uri").map_err(|e| oauth_error(&e))?;
        }
        Ok(OAuthEngine {
            client,
            popup: popup_redirect_uri,
            dpop,
            metadata: None,
            id_token: None,
            exchange: None,
            login: None,
            refresh: None,
        })
    }

    /// One reading or step without arguments, by `code` (one export for all: each export has a
    /// cost of its own in the module and in its glue):
    /// - 0: the `sessionStorage` key of this client's login transaction;
    /// - 1: whether the metadata is known (fetched and checked);
    /// - 2: the two discovery URLs, OpenID Connect Discovery then RFC 8414;
    /// - 3: the session's ID token, for a sibling tab adopting the session with its tokens
    ///   (copied from its `Secret` into a JS string: no second copy in wasm memory), or
    ///   `undefined`;
    /// - 4: forgets the ID token (logout before the metadata is known) and any refresh answer
    ///   still being verified;
    /// - 5: the provider's logout address (`end_session_endpoint` with `id_token_hint`,
    ///   `client_id` and `post_logout_redirect_uri`), taking the ID token hint out of memory;
    /// - 6: adopts a sibling's ID token `arg` with its tokens (the logout hint, sent only to
    ///   the provider, and the reference of the next refreshed ID token); anything but a
    ///   string means none;
    /// - 7: the verified answer's tokens `[access, refresh, expiresIn]` (`arg` true: the
    ///   refresh's, else the login's), its ID token kept as the session's.
    pub fn get(&mut self, code: u32, arg: JsValue) -> Result<JsValue, JsValue> {
        let fail = |e: OAuthError| oauth_error(&e);
        Ok(match code {
            0 => transaction_storage_key(&self.client.client_id).into(),
            1 => self.metadata.is_some().into(),
            2 => {
                let urls = discovery_urls(&self.client.issuer).map_err(fail)?;
                array(&[JsValue::from_str(&urls[0]), JsValue::from_str(&urls[1])]).into()
            }
            3 => token(&self.id_token),
            4 => {
                self.id_token = None;
                self.refresh = None;
                JsValue::UNDEFINED
            }
            6 => {
                self.id_token = arg.as_string().map(Secret::new);
                JsValue::UNDEFINED
            }
            7 => {
                let login = self.pending(arg.is_truthy()).take().ok_or_else(no_login)?;
                if login.check.is_some() {
                    return Err(no_login());
                }
                if let Some(id_token) = &login.response.id_token {
                    self.id_token = Some(Secret::from(id_token.expose()));
                }
                grant_of(&login.response).into()
            }
            _ => {
                let hint = self.id_token.take();
                end_session_url(
                    self.known()?,
                    &self.client.client_id,
                    hint.as_ref(),
                    self.client.post_logout_redirect_uri.as_deref(),
                    None,
                )
                .map_err(fail)?
                .into()
            }
        })
    }

    /// Whether a stored transaction is unusable (expired or malformed): it is deleted.
    pub fn stale(&self, stored: &str, now: f64) -> bool {
        Transaction::from_storage(Some(stored), ms(now)).is_err()
    }

    /// The discovery answer (the second URL's when the first answered an error status).
    pub fn metadata(&mut self, status: u16, text: &str) -> Result<(), JsValue> {
        if !(200..300).contains(&status) {
            return Err(oauth_error(&OAuthError::InvalidMetadata {
                reason: "the discovery documents answered with an error status",
            }));
        }
        let metadata =
            ProviderMetadata::parse(text, &self.client.issuer).map_err(|e| oauth_error(&e))?;
        self.metadata.get_or_insert(metadata);
        Ok(())
    }

    fn known(&self) -> Result<&ProviderMetadata, JsValue> {
        self.metadata.as_ref().ok_or_else(|| {
            oauth_error(&OAuthError::InvalidMetadata {
                reason: "the discovery documents answered with an error status",
            })
        })
    }

    /// The PKCE code verifier of 96 random bytes (`crypto.getRandomValues`), for the S256
    /// challenge the driver asks `crypto.subtle.digest` for.
    pub fn verifier(&self, random: &[u8]) -> Result<String, JsValue> {
        Ok(code_verifier_of(&randomness(random)?).expose().to_owned())
    }

    /// The authorization request: `[url, transaction]`, the transaction (state, nonce, verifier)
    /// to store in `sessionStorage` before navigating. `digest` is SHA-256 of the verifier;
    /// `extra` holds the `extraParams` as name, value, name, value... `login`: the login's
    /// scope, prompt and login hint (each a string or `undefined`), `maxAge` (seconds) and, with
    /// `popup`, `timeoutInSeconds` (each a number or `undefined`), their ranges checked by the
    /// core (`ERR_INVALID_OPTIONS`). With `popup` (`loginWithPopup`) the transaction is kept in
    /// the caller's memory instead, the redirect URI is `popupRedirectUri` when set, and the
    /// answer is `[url, transaction, wait, poll]`: how long to wait for the provider's answer
    /// and how often to look whether the manager was freed meanwhile (ms).
    pub fn authorize(
        &self,
        random: &[u8],
        digest: &[u8],
        login: Vec<JsValue>,
        extra: Vec<String>,
        now: f64,
        popup: bool,
    ) -> Result<Array, JsValue> {
        let fail = |e: OAuthError| oauth_error(&e);
        let metadata = self.known()?;
        let text = |i: usize| login.get(i).and_then(JsValue::as_string);
        let number = |i: usize| login.get(i).and_then(JsValue::as_f64);
        let options = LoginOptions {
            scope: text(0),
            prompt: text(1),
            login_hint: text(2),
            max_age: number(3)
                .map(LoginOptions::max_age_of)
                .transpose()
                .map_err(fail)?,
            extra: extra
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect(),
            // A popup login answers at `popupRedirectUri` when there is one.
            redirect_uri: self.popup.clone().filter(|_| popup),
        };
        let wait = popup
            .then(|| popup_timeout_ms(number(4)))
            .transpose()
            .map_err(fail)?;
        let challenge = crate::core::b64::encode(digest);
        let request = authorization_request_with_challenge(
            metadata,
            &self.client,
            &options,
            &randomness(random)?,
            &challenge,
            ms(now),
        )
        .map_err(fail)?;
        let out = array(&[
            JsValue::from_str(&request.url),
            JsValue::from_str(request.transaction.to_storage().expose()),
        ]);
        if let Some(wait) = wait {
            out.push(&(wait as f64).into());
            out.push(&(POPUP_POLL_MS as f64).into());
        }
        Ok(out)
    }

    /// The callback `url` against the `stored` transaction (taken from `sessionStorage`):
    /// `[0, tokenUrl, body]` the code exchange to send; `[1, error, transaction]` not the answer
    /// to the pending login (store the transaction back); `[2, error]` refused, clean the
    /// address bar; `[3, error]` no usable transaction.
    /// `query`: the URL's query decoded by the platform (`URLSearchParams` of the part between
    /// the first `?` and the first `#`), names and values alternating.
    pub fn callback(
        &mut self,
        url: &str,
        query: Vec<String>,
        stored: Option<String>,
        now: f64,
    ) -> Array {
        let stored = stored.map(Secret::new);
        let failed = |kind: u32, error: &OAuthError| array(&[kind.into(), oauth_error(error)]);
        let transaction =
            match Transaction::from_storage(stored.as_ref().map(Secret::expose), ms(now)) {
                Ok(transaction) => transaction,
                Err(error) => return failed(3, &error),
            };
        let Some(metadata) = self.metadata.as_ref() else {
            return failed(3, &OAuthError::NoTransaction);
        };
        match transaction.complete_decoded(url, pairs(&query), metadata, ms(now)) {
            Ok(exchange) => {
                let request = form(&exchange.token_request(metadata));
                request.unshift(&0.into());
                self.exchange = Some(exchange);
                self.login = None;
                request
            }
            Err(refused) => match refused.transaction {
                Some(pending) => {
                    let out = failed(1, &refused.error);
                    out.push(&JsValue::from_str(pending.to_storage().expose()));
                    out
                }
                None => failed(2, &refused.error),
            },
        }
    }

    /// Whether the address bar loses the query parameter `name` after a callback (one of the
    /// authorization response's); oauth.js rewrites the query with `URLSearchParams`.
    #[wasm_bindgen(js_name = responseParam)]
    pub fn response_param(name: &str) -> bool {
        is_callback_response_param(name)
    }

    /// The token endpoint's answer to the code exchange: the `jwks_uri` to fetch when an ID
    /// token must be verified, else `null` (call [`OAuthEngine::grant`]).
    pub fn exchanged(&mut self, status: u16, text: &str) -> Result<JsValue, JsValue> {
        let exchange = self
            .exchange
            .take()
            .ok_or_else(|| oauth_error(&OAuthError::NoTransaction))?;
        let metadata = self.known()?;
        let response = self.token_response(status, text)?;
        let check = match (&response.id_token, exchange.expects_id_token()) {
            (Some(_), _) => Some(IdTokenCheck::for_login(metadata, &exchange)),
            (None, true) => return Err(oauth_error(&OAuthError::IdTokenMissing)),
            (None, false) => None,
        };
        let jwks = match &check {
            Some(_) => JsValue::from_str(
                ProviderMetadata::require(&metadata.jwks_uri, "jwks_uri")
                    .map_err(|e| oauth_error(&e))?,
            ),
            None => JsValue::NULL,
        };
        self.login = Some(Login {
            response,
            check,
            verified: None,
        });
        Ok(jwks)
    }

    /// The provider's JWKS answer: the ID token's signature check up to the WebCrypto call,
    /// `[key, params, signature, message]` (`key` a `CryptoKey`, a `Promise` of one, or `null`
    /// when the signature is already checked). Then [`OAuthEngine::verified`].
    /// `refresh`: the ID token of a refresh answer ([`OAuthEngine::refreshed`]), else the login's.
    #[wasm_bindgen(js_name = idToken)]
    pub fn id_token(
        &mut self,
        status: u16,
        text: &str,
        now: f64,
        refresh: bool,
    ) -> Result<Array, JsValue> {
        if !(200..300).contains(&status) {
            return Err(js_error(
                "ERR_JWKS_INVALID",
                &cat(&["the provider's jwks_uri answered ", &decimal(status.into())]),
            ));
        }
        let metadata = self.metadata.as_ref().ok_or_else(no_login)?;
        let login = match refresh {
            true => &mut self.refresh,
            false => &mut self.login,
        }
        .as_mut()
        .ok_or_else(no_login)?;
        let (Some(check), Some(token)) = (&login.check, &login.response.id_token) else {
            return Err(no_login());
        };
        let keys = JwkSet::from_json(text, &KeyOptions::default()).map_err(|e| jwt_error(&e))?;
        // The core checks `exp` and `iat` again in `verified`, with the OpenID rules.
        let verifier = Verifier::builder()
            .algorithms(id_token_algorithms(metadata))
            .leeway_secs(check.leeway_secs)
            .build();
        #[cfg(not(feature = "portable"))]
        {
            let keys = crate::webcrypto::WebCryptoKeySet::new(keys).map_err(|e| jwt_error(&e))?;
            let prepared = keys
                .prepare(&verifier, token.expose(), secs(now))
                .map_err(|e| jwt_error(&e))?;
            login.verified = Some(prepared.outcome);
            Ok(array(&[
                prepared.key,
                prepared.params.into(),
                prepared.signature.into(),
                prepared.message.into(),
            ]))
        }
        #[cfg(feature = "portable")]
        {
            login.verified = Some(verifier.verify(token.expose(), &keys, secs(now)));
            Ok(array(&[JsValue::NULL]))
        }
    }

    /// WebCrypto's answer (`valid`; `refused`: it refused the key), then the ID token's claims
    /// checked by the core (issuer, audience, `azp`, nonce, `exp`, `iat`, `auth_time`).
    pub fn verified(
        &mut self,
        valid: bool,
        refused: bool,
        now: f64,
        refresh: bool,
    ) -> Result<(), JsValue> {
        use crate::core::error::JwtError;
        let login = self.pending(refresh).as_mut().ok_or_else(no_login)?;
        let outcome = login.verified.take().ok_or_else(no_login)?;
        let check = login.check.as_ref().ok_or_else(no_login)?;
        if refused {
            return Err(jwt_error(&JwtError::InvalidKey {
                reason: "WebCrypto refused the key",
            }));
        }
        if !valid {
            return Err(jwt_error(&JwtError::SignatureInvalid));
        }
        let verified = outcome.map_err(|e| jwt_error(&e))?;
        // (A login's check has no `original`: validate_refresh is then validate.)
        check
            .validate_refresh(&IdTokenClaims::from_claims(&verified.claims), secs(now))
            .map_err(|e| oauth_error(&e))?;
        login.check = None;
        Ok(())
    }

    /// The `refresh_token` grant's `[url, body]` for `refresh_token` (from the session); with
    /// `api` (`resources`: `["resource" | "audience", its value, its scope or ""]`) the grant
    /// of that API's token.
    #[wasm_bindgen(js_name = refreshRequest)]
    pub fn refresh_request(
        &self,
        refresh_token: String,
        api: Vec<String>,
    ) -> Result<Array, JsValue> {
        let token = Secret::new(refresh_token);
        let (metadata, client) = (self.known()?, &self.client.client_id);
        Ok(form(&match api.as_slice() {
            [param, value, scope] => {
                let scope = Some(scope.as_str()).filter(|s| !s.is_empty());
                api_refresh_request(metadata, client, &token, param, value, scope)
            }
            _ => refresh_request(metadata, client, &token, None),
        }))
    }

    /// The token endpoint's answer to a refresh: `[0, access, refresh, expiresIn]`, or
    /// `[1, kind, status, undefined, undefined, error]` for `Engine#refreshFailed` (`error`:
    /// the provider's, typed, when it answered one; the core's
    /// classification: `invalid_grant` ends the session, the rest back off), or `[2, jwksUri]`
    /// when it carries an ID token: verified as at login and against the session's (OIDC Core
    /// §12.2) with `idToken`, `verified` and `grant` (all with `refresh`) before anything of
    /// the answer is installed; a failure there is a malformed answer (kind 4).
    /// (`Retry-After` is the manager's: `Engine#refreshFailed`.)
    pub fn refreshed(&mut self, status: u16, text: &str) -> Array {
        self.refresh = None;
        let mut provider = JsValue::UNDEFINED;
        let failure = match parse_token_response(status, text) {
            Ok(response) if response.token_type == self.expected_type() => {
                let session = self.id_token.as_ref();
                let session = session.and_then(|t| IdTokenClaims::of_token(t.expose()));
                let check = self.metadata.as_ref().and_then(|metadata| {
                    let check = IdTokenCheck::of_refresh(
                        metadata,
                        &self.client.client_id,
                        session,
                        &response,
                    )?;
                    Some((check, metadata.jwks_uri.clone()))
                });
                match check {
                    None => {
                        let out = grant_of(&response);
                        out.unshift(&0.into());
                        return out;
                    }
                    Some((check, Some(jwks))) => {
                        self.refresh = Some(Login {
                            response,
                            check: Some(check),
                            verified: None,
                        });
                        return array(&[2.into(), JsValue::from_str(&jwks)]);
                    }
                    Some((_, None)) => RefreshFailure::Malformed,
                }
            }
            Ok(_) => RefreshFailure::Malformed,
            Err(error) => {
                // The provider's error too (`resources`: why an API has no token).
                provider = oauth_error(&error);
                error.refresh_failure(None)
            }
        };
        let (kind, status) = match failure {
            RefreshFailure::InvalidGrant => (3, 0),
            RefreshFailure::TooManyRequests { .. } => (2, 429),
            RefreshFailure::Server { status, .. } => (2, status),
            _ => (4, 0),
        };
        array(&[
            1.into(),
            kind.into(),
            status.into(),
            JsValue::UNDEFINED,
            JsValue::UNDEFINED,
            provider,
        ])
    }

    /// Logout: forgets the ID token; the RFC 7009 revocation `[url, body]` of the refresh token
    /// (or, without one, the access token), or `undefined` when there is nothing to revoke.
    pub fn revocation(&mut self, access: Option<String>, refresh: Option<String>) -> JsValue {
        self.id_token = None;
        let (token, hint) = match (refresh, access) {
            (Some(refresh), _) => (refresh, TokenTypeHint::RefreshToken),
            (None, Some(access)) => (access, TokenTypeHint::AccessToken),
            (None, None) => return JsValue::UNDEFINED,
        };
        let token = Secret::new(token);
        let Some(metadata) = self.metadata.as_ref() else {
            return JsValue::UNDEFINED;
        };
        revocation_request(metadata, &self.client.client_id, &token, hint)
            .map_or(JsValue::UNDEFINED, |request| form(&request).into())
    }
}

impl OAuthEngine {
    fn pending(&mut self, refresh: bool) -> &mut Option<Login> {
        match refresh {
            true => &mut self.refresh,
            false => &mut self.login,
        }
    }

    /// `DPoP` with the `dpop` option (a provider answering `Bearer` then ignored the proof),
    /// else `Bearer`.
    fn expected_type(&self) -> TokenType {
        match self.dpop {
            true => TokenType::DPoP,
            false => TokenType::Bearer,
        }
    }

    fn token_response(&self, status: u16, text: &str) -> Result<TokenResponse, JsValue> {
        let response = parse_token_response(status, text).map_err(|e| oauth_error(&e))?;
        if response.token_type != self.expected_type() {
            return Err(oauth_error(&OAuthError::UnsupportedTokenType));
        }
        Ok(response)
    }
}

fn no_login() -> JsValue {
    oauth_error(&OAuthError::NoTransaction)
}

fn randomness(random: &[u8]) -> Result<LoginRandomness, JsValue> {
    let bytes: &[u8; 96] = random
        .try_into()
        .map_err(|_| js_error("ERR_OAUTH_NO_CRYPTO", "crypto.getRandomValues failed"))?;
    Ok(LoginRandomness::from_bytes(bytes))
}

/// `[accessToken, refreshToken, expiresIn]` of a token response, for `Engine#install` and
/// `Engine#refreshOk` (which check and keep them).
fn grant_of(response: &TokenResponse) -> Array {
    array(&[
        JsValue::from_str(response.access_token.expose()),
        token(&response.refresh_token),
        response.expires_in.map_or(f64::NAN, |s| s as f64).into(),
    ])
}

/// Name-value pairs from the platform's decoding of a query, flattened (`[name, value, ...]`).
fn pairs(flat: &[String]) -> impl Iterator<Item = (&str, &str)> {
    flat.chunks_exact(2).filter_map(|pair| match pair {
        [name, value] => Some((name.as_str(), value.as_str())),
        _ => None,
    })
}
