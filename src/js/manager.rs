//! The `TokenManager` class of the npm package: option parsing and conversion over
//! [`crate::web::TokenManager`], nothing else.

use js_sys::{Function, JsString, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{
    get, invalid_options, js_error, opt_bool, opt_number, opt_string, opt_strings, options_object,
};
use crate::core::secret::Secret;
use crate::core::session::{grant, Event, ExpirySource, RefreshFailure, TokenOrigin};
use crate::web::{self, Config, RefreshTokenMode, RequestCredentials, RetryOn401};

const OPTIONS: &[&str] = &[
    "loginUrl",
    "refreshUrl",
    "logoutUrl",
    "refreshToken",
    "allowedOrigins",
    "credentials",
    "retryOn401",
    "exposeToken",
    "requestTimeoutMs",
    "refreshLeadFraction",
    "minRefreshLeadMs",
    "maxRefreshLeadMs",
    "refreshJitterFraction",
    "minRefreshIntervalMs",
    "backoffInitialMs",
    "backoffMaxMs",
    "backoffJitterFraction",
    "expiredRequests",
    "crossTab",
    "shareTokens",
    "channelName",
    "sessionHint",
    "oauth",
    "dpop",
];

const OAUTH_OPTIONS: &[&str] = &[
    "issuer",
    "clientId",
    "redirectUri",
    "scope",
    "audience",
    "resource",
    "postLogoutRedirectUri",
];

#[cfg(feature = "oauth")]
const LOGIN_OPTIONS: &[&str] = &["scope", "prompt", "loginHint", "maxAge", "extraParams"];

/// The `oauth` option: the provider and the public client.
fn parse_oauth(value: &JsValue) -> Result<Option<web::OAuthConfig>, JsValue> {
    let Some(object) = options_object(value, OAUTH_OPTIONS, "the oauth option")? else {
        return Ok(None);
    };
    let required = |key: &str| {
        opt_string(&object, key)?
            .ok_or_else(|| invalid_options(&format!("oauth.{key} is required")))
    };
    let mut client = web::OAuthConfig::new(
        required("issuer")?,
        required("clientId")?,
        required("redirectUri")?,
    );
    if let Some(scope) = opt_string(&object, "scope")? {
        client.scope = scope;
    }
    client.audience = opt_string(&object, "audience")?;
    client.resource = opt_strings(&object, "resource")?;
    client.post_logout_redirect_uri = opt_string(&object, "postLogoutRedirectUri")?;
    Ok(Some(client))
}

/// The options of `loginWithRedirect`.
#[cfg(feature = "oauth")]
fn parse_login_options(value: &JsValue) -> Result<web::LoginOptions, JsValue> {
    let mut options = web::LoginOptions::default();
    let Some(object) = options_object(value, LOGIN_OPTIONS, "loginWithRedirect options")? else {
        return Ok(options);
    };
    options.scope = opt_string(&object, "scope")?;
    options.prompt = opt_string(&object, "prompt")?;
    options.login_hint = opt_string(&object, "loginHint")?;
    options.max_age = opt_number(&object, "maxAge", 0.0, MAX_MS / 1000.0)?.map(|s| s as u64);
    let extra = get(&object, "extraParams");
    if !extra.is_undefined() {
        if !extra.is_object() || js_sys::Array::is_array(&extra) {
            return Err(invalid_options("extraParams must be an object of strings"));
        }
        for entry in Object::entries(extra.unchecked_ref()).iter() {
            let pair: js_sys::Array = entry.unchecked_into();
            let value = pair
                .get(1)
                .as_string()
                .ok_or_else(|| invalid_options("extraParams values must be strings"))?;
            options
                .extra
                .push((pair.get(0).as_string().unwrap_or_default(), value));
        }
    }
    Ok(options)
}

const EVENTS: &[&str] = &[
    "change",
    "refreshed",
    "refreshFailed",
    "expired",
    "loggedOut",
];

/// Ten years in ms: the upper bound of every duration option.
const MAX_MS: f64 = 315_360_000_000.0;

fn to_js_error(error: web::Error) -> JsValue {
    if let Some(cause) = error.cause() {
        // A native fetch/Request failure is rethrown as is (a TypeError), like `fetch` does.
        return cause.clone();
    }
    let value = js_error(error.code(), error.message());
    if let Some(status) = error.status() {
        let _ = Reflect::set(&value, &JsValue::from_str("status"), &JsValue::from(status));
    }
    value
}

fn choice<'a>(object: &Object, key: &str, allowed: &[&'a str]) -> Result<Option<&'a str>, JsValue> {
    match opt_string(object, key)? {
        None => Ok(None),
        Some(value) => allowed
            .iter()
            .find(|a| **a == value)
            .map(|a| Some(*a))
            .ok_or_else(|| {
                invalid_options(&format!(
                    "option {} must be one of {}",
                    crate::core::error::Quoted(key),
                    allowed.join(", ")
                ))
            }),
    }
}

fn ms(object: &Object, key: &str, target: &mut u64) -> Result<(), JsValue> {
    if let Some(value) = opt_number(object, key, 0.0, MAX_MS)? {
        *target = value as u64;
    }
    Ok(())
}

fn fraction(object: &Object, key: &str, target: &mut f64) -> Result<(), JsValue> {
    if let Some(value) = opt_number(object, key, 0.0, 1.0)? {
        *target = value;
    }
    Ok(())
}

fn parse_options(value: &JsValue) -> Result<(Config, bool), JsValue> {
    let object = options_object(value, OPTIONS, "TokenManager options")?
        .ok_or_else(|| invalid_options("TokenManager options must include refreshUrl or oauth"))?;
    // The OAuth profile verifies ID tokens: a build without the `oauth` feature (which needs
    // verification) does not offer it and links none of it.
    let oauth = match cfg!(feature = "oauth") {
        true => parse_oauth(&get(&object, "oauth"))?,
        false if get(&object, "oauth").is_undefined() => None,
        false => {
            return Err(invalid_options(
                "option \"oauth\" needs the build with the OAuth profile (cargo feature oauth)",
            ))
        }
    };
    let refresh_url = opt_string(&object, "refreshUrl")?;
    let mut config =
        match (oauth, refresh_url) {
            (Some(client), None) => Config::oauth(client),
            (None, Some(refresh_url)) => Config::new(refresh_url),
            (Some(_), Some(_)) => return Err(invalid_options(
                "option \"oauth\" replaces refreshUrl (the provider's token endpoint refreshes)",
            )),
            (None, None) => {
                return Err(invalid_options(
                    "option \"refreshUrl\" (or \"oauth\") is required",
                ))
            }
        };
    config.login_url = opt_string(&object, "loginUrl")?;
    config.logout_url = opt_string(&object, "logoutUrl")?;
    config.refresh_token = match choice(&object, "refreshToken", &["cookie", "memory"])? {
        Some("memory") => RefreshTokenMode::Memory,
        _ => RefreshTokenMode::Cookie,
    };
    if !get(&object, "allowedOrigins").is_undefined() {
        config.allowed_origins = opt_strings(&object, "allowedOrigins")?;
        if config.allowed_origins.is_empty() {
            return Err(invalid_options(
                "option \"allowedOrigins\" must not be empty",
            ));
        }
    }
    config.credentials = match choice(&object, "credentials", &["include", "same-origin", "omit"])?
    {
        Some("same-origin") => RequestCredentials::SameOrigin,
        Some("omit") => RequestCredentials::Omit,
        _ => RequestCredentials::Include,
    };
    config.retry_on_401 = match choice(&object, "retryOn401", &["invalid_token", "any"])? {
        Some("any") => RetryOn401::Any,
        _ => RetryOn401::InvalidToken,
    };
    if let Some(timeout) = opt_number(&object, "requestTimeoutMs", 1.0, f64::from(i32::MAX))? {
        config.request_timeout_ms = timeout as u32;
    }
    let policy = &mut config.policy;
    fraction(&object, "refreshLeadFraction", &mut policy.lead_fraction)?;
    ms(&object, "minRefreshLeadMs", &mut policy.min_lead_ms)?;
    ms(&object, "maxRefreshLeadMs", &mut policy.max_lead_ms)?;
    fraction(
        &object,
        "refreshJitterFraction",
        &mut policy.lead_jitter_fraction,
    )?;
    ms(
        &object,
        "minRefreshIntervalMs",
        &mut policy.min_refresh_interval_ms,
    )?;
    ms(&object, "backoffInitialMs", &mut policy.backoff_initial_ms)?;
    ms(&object, "backoffMaxMs", &mut policy.backoff_max_ms)?;
    fraction(
        &object,
        "backoffJitterFraction",
        &mut policy.backoff_jitter_fraction,
    )?;
    if policy.min_lead_ms > policy.max_lead_ms {
        return Err(invalid_options(
            "minRefreshLeadMs must not exceed maxRefreshLeadMs",
        ));
    }
    policy.expired_requests = match choice(&object, "expiredRequests", &["wait", "fail"])? {
        Some("fail") => web::ExpiredRequests::Fail,
        _ => web::ExpiredRequests::Wait,
    };
    let expose = opt_bool(&object, "exposeToken")?.unwrap_or(false);
    config.cross_tab = opt_bool(&object, "crossTab")?.unwrap_or(true);
    config.share_tokens = opt_bool(&object, "shareTokens")?.unwrap_or(true);
    config.channel_name = opt_string(&object, "channelName")?;
    config.session_hint = opt_string(&object, "sessionHint")?;
    config.dpop = opt_bool(&object, "dpop")?.unwrap_or(false);
    if config.session_hint.as_deref().is_some_and(|name| {
        name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"=;,".contains(&b))
    }) {
        return Err(invalid_options(
            "option \"sessionHint\" must be a cookie name",
        ));
    }
    Ok((config, expose))
}

/// The JS event an [`Event`] is delivered as (`None`: not one the JS API reports).
fn event_name(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::Changed(_) => "change",
        // A token another tab obtained is a refresh of this session too (`source` tells); a
        // login or `setTokens` is reported by its own promise or call.
        Event::Installed { origin, .. } if !origin.starts_session() => "refreshed",
        Event::RefreshFailed { .. } => "refreshFailed",
        Event::Expired => "expired",
        Event::LoggedOut { .. } => "loggedOut",
        _ => return None,
    })
}

fn event_payload(event: &Event) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &JsValue::from_str(key), &value);
    };
    set(
        "type",
        JsValue::from_str(event_name(event).unwrap_or_default()),
    );
    match event {
        Event::Changed(state) => set("state", JsValue::from_str(state.as_str())),
        Event::Installed { origin, .. } => set(
            "source",
            JsValue::from_str(match origin {
                TokenOrigin::Sibling => "otherTab",
                _ => "self",
            }),
        ),
        Event::RefreshFailed {
            failure,
            retry_at,
            token_expires_first,
        } => {
            let (reason, status) = match failure {
                RefreshFailure::Network => ("network", None),
                RefreshFailure::Timeout => ("timeout", None),
                RefreshFailure::Server { status, .. } => ("server_error", Some(*status)),
                RefreshFailure::TooManyRequests { .. } => ("too_many_requests", Some(429)),
                RefreshFailure::InvalidGrant => ("invalid_grant", None),
                RefreshFailure::Malformed => ("malformed", None),
            };
            set("reason", JsValue::from_str(reason));
            set("status", status.map_or(JsValue::NULL, JsValue::from));
            set("retryAt", JsValue::from(*retry_at as f64));
            set("tokenExpiresFirst", JsValue::from(*token_expires_first));
        }
        Event::LoggedOut { reason } => set("reason", JsValue::from_str(reason.as_str())),
        _ => {}
    }
    object.into()
}

/// Reports a listener's exception without disturbing the manager (`reportError` if present).
fn report(error: JsValue) {
    let global = js_sys::global();
    if let Ok(report) = Reflect::get(&global, &JsValue::from_str("reportError")) {
        if let Some(report) = report.dyn_ref::<Function>() {
            let _ = report.call1(&JsValue::UNDEFINED, &error);
        }
    }
}

impl TokenManager {
    /// `logout()` without options (for Rust callers of the JS class, such as the browser tests).
    pub fn logout(&self) -> Promise {
        self.logout_with(JsValue::UNDEFINED)
    }
}

/// Access-token manager: memory-only custody, silent refresh, `fetch` with the bearer token.
#[wasm_bindgen(js_name = TokenManager)]
pub struct TokenManager {
    inner: web::TokenManager,
    expose_token: bool,
}

#[wasm_bindgen(js_class = TokenManager)]
impl TokenManager {
    /// Validates the options; throws `ERR_INVALID_OPTIONS` on unknown or invalid ones.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<TokenManager, JsValue> {
        let (config, expose_token) = parse_options(&options)?;
        let inner = web::TokenManager::new(config).map_err(to_js_error)?;
        Ok(Self {
            inner,
            expose_token,
        })
    }

    /// `POST`s the credentials to `loginUrl` and installs the tokens.
    pub fn login(&self, credentials: JsValue) -> Promise {
        let login = self.inner.login(credentials);
        future_to_promise(async move {
            login.await.map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Installs tokens obtained elsewhere: `{accessToken, refreshToken?, expiresIn?}`.
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&self, tokens: JsValue) -> Result<(), JsValue> {
        let object = options_object(
            &tokens,
            &["accessToken", "refreshToken", "expiresIn"],
            "setTokens",
        )?
        .ok_or_else(|| invalid_options("setTokens needs {accessToken}"))?;
        let secret = |key: &str| -> Result<Option<Secret>, JsValue> {
            let value = get(&object, key);
            if value.is_undefined() {
                return Ok(None);
            }
            let text: &JsString = value
                .dyn_ref()
                .ok_or_else(|| invalid_options(&format!("{key} must be a string")))?;
            // Length checked before the value is copied into wasm memory.
            if !grant::token_length_ok(text.length() as usize) {
                return Err(invalid_options(&format!(
                    "{key}: {}",
                    grant::GrantError::TokenLength.message()
                )));
            }
            Ok(Some(Secret::new(text.into())))
        };
        let expires_in = match get(&object, "expiresIn").as_f64() {
            None if get(&object, "expiresIn").is_undefined() => None,
            None => return Err(invalid_options("expiresIn must be a number")),
            Some(n) => Some(grant::expires_in(n).map_err(|e| invalid_options(e.message()))?),
        };
        let access =
            secret("accessToken")?.ok_or_else(|| invalid_options("accessToken is required"))?;
        let refresh = secret("refreshToken")?;
        self.inner
            .set_tokens(access, refresh, expires_in)
            .map_err(to_js_error)
    }

    /// Restores a cookie-mode session with a silent refresh; resolves to whether a token is held.
    pub fn start(&self) -> Promise {
        let start = self.inner.start();
        future_to_promise(async move { Ok(JsValue::from(start.await)) })
    }

    /// OAuth profile: navigates to the provider to log in (authorization code with PKCE).
    #[cfg(feature = "oauth")]
    #[wasm_bindgen(js_name = loginWithRedirect)]
    pub fn login_with_redirect(&self, options: JsValue) -> Promise {
        let options = match parse_login_options(&options) {
            Ok(options) => options,
            Err(error) => return Promise::reject(&error),
        };
        let login = self.inner.login_with_redirect(options);
        future_to_promise(async move {
            login.await.map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// OAuth profile: completes the login at the redirect URI (`url` defaults to
    /// `location.href`).
    #[cfg(feature = "oauth")]
    #[wasm_bindgen(js_name = handleRedirectCallback)]
    pub fn handle_redirect_callback(&self, url: Option<String>) -> Promise {
        let callback = self.inner.handle_redirect_callback(url);
        future_to_promise(async move {
            callback.await.map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Refreshes now; rejects with `ERR_REFRESH_FAILED` or `ERR_LOGGED_OUT`.
    pub fn refresh(&self) -> Promise {
        let refresh = self.inner.refresh();
        future_to_promise(async move {
            refresh.await.map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Wipes the tokens, then asks the server to revoke them; always resolves. In the OAuth
    /// profile, `{endSession: true}` then navigates to the provider's logout page.
    #[wasm_bindgen(js_name = logout)]
    pub fn logout_with(&self, options: JsValue) -> Promise {
        let end_session = match options_object(&options, &["endSession"], "logout options")
            .and_then(|o| o.map_or(Ok(None), |o| opt_bool(&o, "endSession")))
        {
            Ok(end_session) => end_session.unwrap_or(false),
            Err(error) => return Promise::reject(&error),
        };
        if cfg!(feature = "oauth") && end_session {
            let logout = self.inner.logout_and_end_session();
            return future_to_promise(async move {
                logout.await.map_err(to_js_error)?;
                Ok(JsValue::UNDEFINED)
            });
        }
        let logout = self.inner.logout();
        future_to_promise(async move {
            logout.await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `fetch`, with `Authorization: Bearer` for allowed origins.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let fetch = self.inner.fetch_js(input, init);
        future_to_promise(async move { fetch.await.map(JsValue::from).map_err(to_js_error) })
    }

    /// The package's `fetch` wrapper (`driver.js`), fast path: `null` (send untouched), the
    /// `Authorization` value, or `undefined` (call the full `fetch`). `url` is canonical.
    #[wasm_bindgen(js_name = __headerFor, skip_typescript)]
    pub fn header_for(&self, url: &str) -> JsValue {
        self.inner.header_for(url)
    }

    /// The package's `fetch` wrapper: a fast-path request sent with `header` got a 401.
    #[wasm_bindgen(js_name = __after401, skip_typescript)]
    pub fn after_401(
        &self,
        response: web_sys::Response,
        header: JsString,
        input: JsValue,
        init: JsValue,
    ) -> Promise {
        let retry = self.inner.after_unauthorized(response, header, input, init);
        future_to_promise(async move { retry.await.map(JsValue::from).map_err(to_js_error) })
    }

    /// The package's `fetch` wrapper: the `fetch` captured at construction.
    #[wasm_bindgen(js_name = __fetchFunction, skip_typescript)]
    pub fn fetch_function(&self) -> Function {
        self.inner.captured_fetch()
    }

    /// The access token (only with `exposeToken: true`), after the same gate as `fetch`.
    #[wasm_bindgen(js_name = getAccessToken)]
    pub fn get_access_token(&self) -> Promise {
        if !self.expose_token {
            let error = js_error(
                "ERR_TOKEN_NOT_EXPOSED",
                "the access token is readable only with the exposeToken: true option",
            );
            return Promise::reject(&error);
        }
        let token = self.inner.access_token_js();
        future_to_promise(async move { token.await.map_err(to_js_error) })
    }

    /// `"anonymous" | "authenticated" | "refreshing" | "expired"`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.inner.state().as_str().to_owned()
    }

    /// The current token's decoded (unverified) claims, or `null`.
    #[wasm_bindgen(getter)]
    pub fn claims(&self) -> JsValue {
        self.inner.claims_js()
    }

    /// With `dpop: true`, the RFC 7638 thumbprint of the session's DPoP key (the `cnf.jkt` of
    /// its tokens), or `null` when there is no key (before login, after logout).
    #[wasm_bindgen(getter, js_name = dpopJkt)]
    pub fn dpop_jkt(&self) -> JsValue {
        self.inner
            .dpop_jkt()
            .map_or(JsValue::NULL, |jkt| JsValue::from_str(&jkt))
    }

    /// Expiry of the current token, ms since the epoch (local clock), or `null`.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> JsValue {
        self.inner
            .expires_at()
            .map_or(JsValue::NULL, |ms| JsValue::from(ms as f64))
    }

    /// Server clock minus local clock in ms, or `null`.
    #[wasm_bindgen(getter, js_name = clockOffsetMs)]
    pub fn clock_offset_ms(&self) -> JsValue {
        self.inner
            .clock_offset_ms()
            .map_or(JsValue::NULL, |ms| JsValue::from(ms as f64))
    }

    /// When the session next acts on its own (ms since the epoch), or `null`: for worker
    /// custody's snapshot (the Rust API's `next_refresh_at`), not part of the JS API.
    #[wasm_bindgen(getter, js_name = __nextRefreshAt, skip_typescript)]
    pub fn next_refresh_at(&self) -> JsValue {
        self.inner
            .next_refresh_at()
            .map_or(JsValue::NULL, |ms| JsValue::from(ms as f64))
    }

    /// `"expires_in" | "exp"`, or `null`.
    #[wasm_bindgen(getter, js_name = expirySource)]
    pub fn expiry_source(&self) -> JsValue {
        self.inner.expiry_source().map_or(JsValue::NULL, |source| {
            JsValue::from_str(match source {
                ExpirySource::ExpiresIn => "expires_in",
                ExpirySource::ExpClaim => "exp",
            })
        })
    }

    /// Adds a listener; returns a function that removes it.
    pub fn on(&self, event: &str, listener: JsValue) -> Result<JsValue, JsValue> {
        let Some(name) = EVENTS.iter().find(|e| **e == event).copied() else {
            return Err(invalid_options(&format!(
                "unknown event {}; events: {}",
                crate::core::error::Quoted(event),
                EVENTS.join(", ")
            )));
        };
        let listener: Function = listener
            .dyn_into()
            .map_err(|_| invalid_options("the listener must be a function"))?;
        let id = self.inner.subscribe_id(move |event| {
            if event_name(event) == Some(name) {
                let payload = event_payload(event);
                if let Err(error) = listener.call1(&JsValue::UNDEFINED, &payload) {
                    report(error);
                }
            }
        });
        let unsubscribe = self.inner.unsubscriber(id);
        Ok(Closure::<dyn Fn()>::new(unsubscribe).into_js_value())
    }
}
