//! The OAuth 2.0 / OpenID Connect profile in the browser (option `oauth`): discovery, login by
//! redirect with PKCE, the callback, the `refresh_token` grant, revocation and the logout
//! redirect. Every request is built and every answer checked by [`crate::core::oauth`]; this
//! module only fetches, stores the login transaction in `sessionStorage` (the only thing the
//! manager ever writes to storage), navigates, and asks the platform for random bytes,
//! SHA-256 (`crypto.subtle.digest`) and signature verification (WebCrypto).

use std::rc::Rc;

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::AbortController;

use super::{
    global_get, http, install_tokens, now, refresh_finished, Config, Error, Inner, RefreshFailure,
    RefreshTokenMode, RequestCredentials, Shared,
};
use crate::core::oauth::{
    authorization_request_with_challenge, callback_url_cleaned, code_verifier_of, discovery_urls,
    end_session_url, parse_revocation_response, parse_token_response, refresh_request,
    revocation_request, transaction_storage_key, ClientConfig, IdTokenCheck, LoginOptions,
    LoginRandomness, OAuthError, ProviderMetadata, TokenResponse, TokenType, TokenTypeHint,
    Transaction,
};
use crate::core::secret::Secret;
use crate::core::session::{Credentials, TokenOrigin};

#[wasm_bindgen]
extern "C" {
    /// `Storage` (`sessionStorage`).
    type Storage;
    #[wasm_bindgen(method, catch, js_name = getItem)]
    fn get_item(this: &Storage, key: &str) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setItem)]
    fn set_item(this: &Storage, key: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = removeItem)]
    fn remove_item(this: &Storage, key: &str) -> Result<(), JsValue>;

    /// `Crypto`.
    type Crypto;
    #[wasm_bindgen(method, catch, js_name = getRandomValues)]
    fn get_random_values(this: &Crypto, array: &mut [u8]) -> Result<JsValue, JsValue>;
    /// `SubtleCrypto`.
    type Subtle;
    // WebCrypto copies `data` before returning, so a view into wasm memory is safe.
    #[wasm_bindgen(method, catch)]
    fn digest(this: &Subtle, algorithm: &str, data: &[u8]) -> Result<Promise, JsValue>;
}

/// The profile's state in a manager.
pub(super) struct OAuth {
    client: ClientConfig,
    /// The provider's checked metadata, fetched once.
    metadata: Option<Rc<ProviderMetadata>>,
    /// The ID token of this tab's login: the `id_token_hint` of the logout redirect.
    id_token: Option<Secret>,
}

/// Prepares `config` for the OAuth profile (when it has one): the refresh token lives in
/// memory, auth calls send no cookies, and the cross-tab channel is named after the issuer and
/// client. Deletes a stored login transaction that has expired.
pub(super) fn configure(config: &mut Config) -> Result<Option<OAuth>, Error> {
    let Some(client) = config.oauth.clone() else {
        return Ok(None);
    };
    if !cfg!(feature = "oauth") {
        return Err(Error::new(
            "ERR_INVALID_OPTIONS",
            "the oauth option needs the build with the OAuth profile (cargo feature oauth)",
        ));
    }
    client.check().map_err(|e| oauth_error(&e))?;
    if config.login_url.is_some() || config.logout_url.is_some() {
        return Err(Error::new(
            "ERR_INVALID_OPTIONS",
            "the oauth option replaces loginUrl and logoutUrl",
        ));
    }
    config.refresh_url = client.issuer.clone();
    config.refresh_token = RefreshTokenMode::Memory;
    config.credentials = RequestCredentials::Omit;
    config.session_hint = None;
    config.channel_name = Some(match config.channel_name.take() {
        Some(name) => format!("{}\u{0}{name}", client.client_id),
        None => client.client_id.clone(),
    });
    if let Some(storage) = session_storage() {
        let key = transaction_storage_key(&client.client_id);
        if let Ok(Some(stored)) = storage.get_item(&key) {
            if Transaction::from_storage(Some(&stored), now()).is_err() {
                let _ = storage.remove_item(&key);
            }
        }
    }
    Ok(Some(OAuth {
        client,
        metadata: None,
        id_token: None,
    }))
}

/// A core error as a manager error with the same stable code.
fn oauth_error(error: &OAuthError) -> Error {
    Error::new(error.code(), error.to_string())
}

fn no_profile() -> Error {
    Error::new(
        "ERR_INVALID_OPTIONS",
        "this needs the oauth option (the OAuth 2.0 / OpenID Connect profile)",
    )
}

fn session_storage() -> Option<Storage> {
    global_get(&js_sys::global(), "sessionStorage").map(JsCast::unchecked_into)
}

fn crypto() -> Result<Crypto, Error> {
    global_get(&js_sys::global(), "crypto")
        .map(JsCast::unchecked_into)
        .ok_or_else(|| Error::new("ERR_OAUTH_NO_CRYPTO", "this host has no WebCrypto"))
}

/// `location.href`, or an error outside a window.
fn location_href() -> Option<String> {
    global_get(&js_sys::global(), "location")
        .and_then(|location| global_get(&location, "href"))
        .and_then(|href| href.as_string())
}

/// Calls `target[method](...args)`.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: js_sys::Function =
        Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    function.apply(target, &args.iter().collect())
}

/// The auth call every provider request starts from (timeout, captured `fetch`).
fn base_call(inner: &Inner) -> http::AuthCall {
    inner.auth_call(String::new(), None, None)
}

/// Sends `call` (with a DPoP proof from `key` when there is one) and returns the status,
/// `Date` and body text. The body is copied into wasm memory for the core's parser and wiped
/// when the returned value is dropped.
async fn send(
    call: http::AuthCall,
    key: Option<&super::dpop::DpopKey>,
    shared: &Shared,
) -> Result<(http::Reply, zeroize::Zeroizing<String>), Error> {
    let controller = AbortController::new().map_err(Error::native)?;
    let reply = super::dpop::send_token_request(shared, call, key, &controller);
    let reply = reply.await.map_err(|e| {
        let why = match e {
            http::CallError::Timeout => "timed out",
            http::CallError::TooLarge => "returned an oversized body",
            _ => "could not be reached",
        };
        Error::new("ERR_OAUTH_NETWORK", format!("the provider {why}"))
    })?;
    let text = zeroize::Zeroizing::new(String::from(&reply.body));
    Ok((reply, text))
}

/// The provider's metadata: fetched once (OpenID Connect Discovery, then RFC 8414 when that
/// answers with an error status), checked by the core, cached for the manager's life.
pub(super) async fn metadata(shared: &Shared) -> Result<Rc<ProviderMetadata>, Error> {
    let (issuer, base) = {
        let inner = shared.borrow();
        let oauth = inner.oauth.as_ref().ok_or_else(no_profile)?;
        if let Some(metadata) = &oauth.metadata {
            return Ok(metadata.clone());
        }
        (oauth.client.issuer.clone(), base_call(&inner))
    };
    let urls = discovery_urls(&issuer).map_err(|e| oauth_error(&e))?;
    let (mut reply, mut text) =
        send(http::provider_document_call(base, &urls[0]), None, shared).await?;
    if !(200..300).contains(&reply.status) {
        let base = base_call(&shared.borrow());
        (reply, text) = send(http::provider_document_call(base, &urls[1]), None, shared).await?;
    }
    if !(200..300).contains(&reply.status) {
        return Err(oauth_error(&OAuthError::InvalidMetadata {
            reason: "the discovery documents answered with an error status",
        }));
    }
    let metadata = Rc::new(ProviderMetadata::parse(&text, &issuer).map_err(|e| oauth_error(&e))?);
    if let Some(oauth) = shared.borrow_mut().oauth.as_mut() {
        oauth.metadata.get_or_insert_with(|| metadata.clone());
    }
    Ok(metadata)
}

/// Prepares a login: new state, nonce and PKCE verifier from `crypto.getRandomValues`, the S256
/// challenge from `crypto.subtle.digest`, the transaction written to `sessionStorage`. Returns
/// the URL to navigate to.
pub(super) async fn authorization_url(
    shared: &Shared,
    options: &LoginOptions,
) -> Result<String, Error> {
    let metadata = metadata(shared).await?;
    let crypto = crypto()?;
    let mut bytes = zeroize::Zeroizing::new([0u8; 96]);
    crypto
        .get_random_values(&mut bytes[..])
        .map_err(|_| Error::new("ERR_OAUTH_NO_CRYPTO", "crypto.getRandomValues failed"))?;
    let random = LoginRandomness::from_bytes(&bytes);
    let challenge = {
        let verifier = code_verifier_of(&random);
        let subtle: Subtle = global_get(&crypto, "subtle")
            .map(JsCast::unchecked_into)
            .ok_or_else(|| Error::new("ERR_OAUTH_NO_CRYPTO", "this host has no crypto.subtle"))?;
        let promise = subtle
            .digest("SHA-256", verifier.expose().as_bytes())
            .map_err(|_| Error::new("ERR_OAUTH_NO_CRYPTO", "crypto.subtle.digest failed"))?;
        let digest = JsFuture::from(promise)
            .await
            .map_err(|_| Error::new("ERR_OAUTH_NO_CRYPTO", "crypto.subtle.digest failed"))?;
        crate::core::b64::encode(&js_sys::Uint8Array::new(&digest).to_vec())
    };
    let inner = shared.borrow();
    let oauth = inner.oauth.as_ref().ok_or_else(no_profile)?;
    let request = authorization_request_with_challenge(
        &metadata,
        &oauth.client,
        options,
        &random,
        &challenge,
        now(),
    )
    .map_err(|e| oauth_error(&e))?;
    let storage = session_storage().ok_or_else(|| {
        Error::new(
            "ERR_OAUTH_NO_STORAGE",
            "a redirect login needs sessionStorage to survive the navigation",
        )
    })?;
    storage
        .set_item(
            &transaction_storage_key(&oauth.client.client_id),
            request.transaction.to_storage().expose(),
        )
        .map_err(|_| Error::new("ERR_OAUTH_NO_STORAGE", "sessionStorage refused the login"))?;
    Ok(request.url)
}

/// Navigates the window to `url` (`location.assign`).
pub(super) fn navigate(url: &str) -> Result<(), Error> {
    let location = global_get(&js_sys::global(), "location")
        .ok_or_else(|| Error::new("ERR_OAUTH_NO_WINDOW", "a redirect needs a window"))?;
    call(&location, "assign", &[JsValue::from_str(url)])
        .map(drop)
        .map_err(|_| Error::new("ERR_OAUTH_NO_WINDOW", "the navigation was refused"))
}

/// Handles the provider's redirect back to `url` (default: `location.href`): the transaction is
/// taken from `sessionStorage` and checked with the callback by the core, the code exchanged,
/// the ID token verified, the tokens installed, and the response removed from the address bar.
/// A callback that is not the answer to the pending login (wrong `state` or `iss`) leaves that
/// login pending; every failure leaves the session as it was.
pub(super) async fn handle_callback(shared: &Shared, url: Option<String>) -> Result<(), Error> {
    let current = location_href();
    let url = url
        .or_else(|| current.clone())
        .ok_or_else(|| Error::new("ERR_OAUTH_NO_WINDOW", "no callback URL was given"))?;
    let metadata = metadata(shared).await?;
    let storage = session_storage().ok_or_else(|| oauth_error(&OAuthError::NoTransaction))?;
    let key = {
        let inner = shared.borrow();
        transaction_storage_key(
            &inner
                .oauth
                .as_ref()
                .ok_or_else(no_profile)?
                .client
                .client_id,
        )
    };
    // Taken: a second run of the same callback finds nothing.
    let stored = storage.get_item(&key).ok().flatten().map(Secret::new);
    let _ = storage.remove_item(&key);
    let transaction = Transaction::from_storage(stored.as_ref().map(Secret::expose), now())
        .map_err(|e| oauth_error(&e))?;
    let clean = || {
        if current.as_deref() == Some(url.as_str()) {
            replace_address(&callback_url_cleaned(&url));
        }
    };
    let exchange = match transaction.complete(&url, &metadata, now()) {
        Ok(exchange) => exchange,
        Err(refused) => {
            match refused.transaction {
                Some(pending) => {
                    let _ = storage.set_item(&key, pending.to_storage().expose());
                }
                None => clean(),
            }
            return Err(oauth_error(&refused.error));
        }
    };
    clean();
    let (call, use_dpop) = {
        let inner = shared.borrow();
        let call = http::token_endpoint_call(base_call(&inner), &exchange.token_request(&metadata));
        (call, inner.config.dpop)
    };
    // With DPoP, a new key for the new session, proven on the code exchange (RFC 9449 §10
    // allows it without `dpop_jkt` on the authorization request); kept only if the login
    // succeeds. (`#[cfg]`: without the feature no key generation is linked.)
    #[cfg(feature = "dpop")]
    let dpop_key = match use_dpop {
        true => Some(super::dpop::DpopKey::generate().await?),
        false => None,
    };
    #[cfg(not(feature = "dpop"))]
    let dpop_key: Option<super::dpop::DpopKey> = None;
    let (reply, text) = send(call, dpop_key.as_ref(), shared).await?;
    let response = token_response(reply.status, &text, use_dpop)?;
    drop(text);
    let id_token = match (&response.id_token, exchange.expects_id_token()) {
        (Some(token), _) => {
            let check = IdTokenCheck::for_login(&metadata, &exchange);
            verify_id_token(shared, &metadata, token, &check).await?;
            response.id_token.as_ref().map(|t| Secret::from(t.expose()))
        }
        (None, true) => return Err(oauth_error(&OAuthError::IdTokenMissing)),
        (None, false) => None,
    };
    let parsed = parsed_grant(response, reply.date_ms);
    if shared.borrow().closed {
        return Err(Error::closed());
    }
    {
        let mut inner = shared.borrow_mut();
        if let Some(oauth) = inner.oauth.as_mut() {
            oauth.id_token = id_token;
        }
        if let Some(key) = dpop_key {
            inner.dpop.key = Some(key);
        }
    }
    install_tokens(shared, parsed, TokenOrigin::Login);
    Ok(())
}

/// `history.replaceState(history.state, "", url)`.
fn replace_address(url: &str) {
    if let Some(history) = global_get(&js_sys::global(), "history") {
        let state = global_get(&history, "state").unwrap_or(JsValue::NULL);
        let _ = call(
            &history,
            "replaceState",
            &[state, JsValue::from_str(""), JsValue::from_str(url)],
        );
    }
}

/// The token type the manager sends its access tokens as: `DPoP` with the `dpop` option (a
/// provider answering `Bearer` then ignored the proof, and the manager would present an
/// unbound token as a bound one), else `Bearer`.
fn expected_type(dpop: bool) -> TokenType {
    match dpop {
        true => TokenType::DPoP,
        false => TokenType::Bearer,
    }
}

/// The core's reading of a token endpoint answer, of the expected token type.
fn token_response(status: u16, text: &str, dpop: bool) -> Result<TokenResponse, Error> {
    let response = parse_token_response(status, text).map_err(|e| oauth_error(&e))?;
    if response.token_type != expected_type(dpop) {
        return Err(oauth_error(&OAuthError::UnsupportedTokenType));
    }
    Ok(response)
}

/// The grant for the session, with the access token's claims decoded when it is a JWT.
fn parsed_grant(response: TokenResponse, date_ms: Option<u64>) -> http::Parsed {
    let grant = response.into_grant(date_ms);
    http::grant_from(
        grant.access_token,
        grant.refresh_token,
        grant.expires_in,
        date_ms,
    )
}

/// Verifies the ID token's signature against the provider's `jwks_uri` (fetched for this
/// check), then its claims with `check`.
async fn verify_id_token(
    shared: &Shared,
    metadata: &ProviderMetadata,
    token: &Secret,
    check: &IdTokenCheck,
) -> Result<(), Error> {
    #[cfg(feature = "verify")]
    {
        use crate::core::jwk::{JwkSet, KeyOptions};
        use crate::core::oauth::{id_token_algorithms, IdTokenClaims};
        use crate::core::verify::Verifier;
        let jwks_uri = ProviderMetadata::require(&metadata.jwks_uri, "jwks_uri")
            .map_err(|e| oauth_error(&e))?;
        let call = http::provider_document_call(base_call(&shared.borrow()), jwks_uri);
        let (reply, text) = send(call, None, shared).await?;
        if !(200..300).contains(&reply.status) {
            return Err(Error::new(
                "ERR_JWKS_INVALID",
                format!("the provider's jwks_uri answered {}", reply.status),
            ));
        }
        let jwt_error = |e: crate::core::error::JwtError| Error::new(e.code(), e.to_string());
        let keys = JwkSet::from_json(&text, &KeyOptions::default()).map_err(jwt_error)?;
        // The core checks `exp` and `iat` again below, with the OpenID rules.
        let verifier = Verifier::builder()
            .algorithms(id_token_algorithms(metadata))
            .leeway_secs(check.leeway_secs)
            .build();
        let now_secs = crate::core::time::unix_secs(now());
        #[cfg(not(feature = "portable"))]
        let verified = crate::webcrypto::WebCryptoKeySet::new(keys)
            .map_err(jwt_error)?
            .verify(&verifier, token.expose(), now_secs)
            .await
            .map_err(jwt_error)?;
        #[cfg(feature = "portable")]
        let verified = verifier
            .verify(token.expose(), &keys, now_secs)
            .map_err(jwt_error)?;
        check
            .validate_refresh(&IdTokenClaims::from_claims(&verified.claims), now_secs)
            .map_err(|e| oauth_error(&e))
    }
    #[cfg(not(feature = "verify"))]
    {
        let _ = (shared, metadata, token, check);
        Err(Error::new(
            "ERR_INVALID_OPTIONS",
            "this build cannot verify ID tokens",
        ))
    }
}

/// Performs a refresh with the `refresh_token` grant (the session's refresh token, from wasm
/// memory), then reports exactly one result. Failures are classified by the core
/// ([`OAuthError::refresh_failure`]): `invalid_grant` ends the session, the rest back off.
pub(super) fn start_refresh(
    shared: Shared,
    generation: crate::core::session::Generation,
    controller: AbortController,
    started_at: u64,
) {
    spawn_local(async move {
        let result = refresh_once(&shared, &controller).await;
        refresh_finished(&shared, generation, started_at, result);
    });
}

async fn refresh_once(
    shared: &Shared,
    controller: &AbortController,
) -> Result<http::Parsed, Option<RefreshFailure>> {
    // A provider that cannot be reached for its metadata is a network failure (retried).
    let metadata = metadata(shared)
        .await
        .map_err(|_| Some(RefreshFailure::Network))?;
    let (call, key, dpop) = {
        let inner = shared.borrow();
        let oauth = inner.oauth.as_ref().ok_or(None)?;
        let token = inner
            .manager
            .session()
            .refresh_token()
            .ok_or(Some(RefreshFailure::InvalidGrant))?;
        let request = refresh_request(&metadata, &oauth.client.client_id, token, None);
        let call = http::token_endpoint_call(base_call(&inner), &request);
        (call, inner.dpop.key.clone(), inner.config.dpop)
    };
    // `start_refresh` does not start without the key when DPoP is on.
    let reply = super::dpop::send_token_request(shared, call, key.as_ref(), controller);
    let reply = reply.await.map_err(super::call_failure)?;
    let text = zeroize::Zeroizing::new(String::from(&reply.body));
    let response = match parse_token_response(reply.status, &text) {
        Ok(response) if response.token_type == expected_type(dpop) => response,
        Ok(_) => return Err(Some(RefreshFailure::Malformed)),
        Err(error) => {
            let retry_after = http::retry_after_ms(reply.retry_after.as_deref(), now());
            return Err(Some(error.refresh_failure(retry_after)));
        }
    };
    drop(text);
    // An ID token in the answer is verified as at login and against the session's (OIDC Core
    // §12.2) before anything of the answer is installed; a refused one fails the refresh as
    // malformed (the current token is kept, the refresh retried with backoff).
    let check = {
        let inner = shared.borrow();
        let oauth = inner.oauth.as_ref().ok_or(None)?;
        let original = oauth
            .id_token
            .as_ref()
            .and_then(|t| crate::core::oauth::IdTokenClaims::of_token(t.expose()));
        IdTokenCheck::of_refresh(&metadata, &oauth.client.client_id, original, &response)
    };
    if let (Some(check), Some(id_token)) = (check, &response.id_token) {
        if verify_id_token(shared, &metadata, id_token, &check)
            .await
            .is_err()
        {
            return Err(Some(RefreshFailure::Malformed));
        }
        // The new ID token replaces the logout hint (sent only to the provider that issued it).
        if let Some(oauth) = shared.borrow_mut().oauth.as_mut() {
            oauth.id_token = Some(Secret::from(id_token.expose()));
        }
    }
    Ok(parsed_grant(response, reply.date_ms))
}

/// Logout in the OAuth profile: the session is already wiped (`credentials` were taken from
/// it); this revokes the refresh token (or, without one, the access token) at the provider's
/// RFC 7009 endpoint. Resolves when the provider answered or could not be reached.
pub(super) fn revoke(
    shared: &Shared,
    inner: &mut Inner,
    credentials: Credentials,
) -> impl std::future::Future<Output = ()> {
    let shared = shared.clone();
    let client_id = match inner.oauth.as_mut() {
        Some(oauth) => {
            oauth.id_token = None;
            oauth.client.client_id.clone()
        }
        None => String::new(),
    };
    async move {
        let (token, hint) = match (credentials.refresh_token, credentials.access_token) {
            (Some(refresh), _) => (refresh, TokenTypeHint::RefreshToken),
            (None, Some(access)) => (access, TokenTypeHint::AccessToken),
            (None, None) => return,
        };
        let Ok(metadata) = metadata(&shared).await else {
            return;
        };
        let Ok(request) = revocation_request(&metadata, &client_id, &token, hint) else {
            return;
        };
        drop(token);
        let call = http::revocation_call(base_call(&shared.borrow()), &request);
        drop(request);
        if let Ok((reply, text)) = send(call, None, &shared).await {
            let _ = parse_revocation_response(reply.status, &text);
        }
    }
}

/// The provider's logout address (`end_session_endpoint` with `id_token_hint`, `client_id`
/// and `post_logout_redirect_uri`), taking the ID token hint out of memory.
pub(super) async fn end_session(shared: &Shared) -> Result<String, Error> {
    let metadata = metadata(shared).await?;
    let mut inner = shared.borrow_mut();
    let oauth = inner.oauth.as_mut().ok_or_else(no_profile)?;
    let hint = oauth.id_token.take();
    end_session_url(
        &metadata,
        &oauth.client.client_id,
        hint.as_ref(),
        oauth.client.post_logout_redirect_uri.as_deref(),
        None,
    )
    .map_err(|e| oauth_error(&e))
}

impl super::TokenManager {
    /// OAuth profile: prepares a login (state, nonce and PKCE verifier, stored as the login
    /// transaction in `sessionStorage`) and returns the provider's authorization URL, for an
    /// app that navigates itself. [`login_with_redirect`](Self::login_with_redirect) also
    /// navigates.
    pub fn authorization_url(
        &self,
        options: LoginOptions,
    ) -> impl std::future::Future<Output = Result<String, Error>> {
        let shared = self.shared.clone();
        async move { authorization_url(&shared, &options).await }
    }

    /// OAuth profile: starts a login by redirect (authorization code with PKCE S256). The page
    /// navigates to the provider, which sends the browser back to the redirect URI; there,
    /// call [`handle_redirect_callback`](Self::handle_redirect_callback).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tokenwarden::web::Error> {
    /// use tokenwarden::web::{Config, LoginOptions, OAuthConfig, TokenManager};
    /// let mut client = OAuthConfig::new(
    ///     "https://tenant.example.auth0.com/",
    ///     "my-spa-client-id",
    ///     "https://app.example/callback",
    /// );
    /// client.audience = Some("https://api.example".into());
    /// let manager = TokenManager::new(Config::oauth(client))?;
    /// if !manager.start().await {
    ///     manager.login_with_redirect(LoginOptions::default()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn login_with_redirect(
        &self,
        options: LoginOptions,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        let url = self.authorization_url(options);
        async move { navigate(&url.await?) }
    }

    /// OAuth profile: completes a login at the redirect URI. `url` defaults to
    /// `location.href`. Checks `state` and `iss`, reports the provider's `error` (codes
    /// `ERR_OAUTH_ACCESS_DENIED`, `ERR_OAUTH_LOGIN_REQUIRED`, ...), exchanges the code, verifies
    /// the ID token against the provider's keys, installs the tokens, and removes `code` and
    /// `state` from the address bar. Every error has a stable `ERR_OAUTH_*` (or `ERR_JWT_*`,
    /// `ERR_JWS_*`) code and leaves the session as it was.
    ///
    /// ```no_run
    /// # async fn demo(manager: &tokenwarden::web::TokenManager) -> Result<(), tokenwarden::web::Error> {
    /// manager.handle_redirect_callback(None).await?;
    /// let response = manager.fetch_url("https://api.example/me").await?;
    /// # Ok(()) }
    /// ```
    pub fn handle_redirect_callback(
        &self,
        url: Option<String>,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        async move { handle_callback(&shared, url).await }
    }

    /// OAuth profile: [`logout`](Self::logout) (the refresh token is revoked, RFC 7009), then
    /// navigates to the provider's `end_session_endpoint` with `id_token_hint` and the
    /// configured `post_logout_redirect_uri`, ending the provider's own session too.
    pub fn logout_and_end_session(&self) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        let logout = self.logout();
        async move {
            // The hint is taken before the logout wipes the manager's state.
            let url = end_session(&shared).await;
            logout.await;
            navigate(&url?)
        }
    }
}
