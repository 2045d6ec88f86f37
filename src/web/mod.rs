//! The browser shell: drives the core's token manager ([`Manager`]: the sans-IO session and,
//! across tabs, the coordinator, composed in `core::manager`, as the npm package's engine drives
//! it) with the wall clock, one timer, wake-up events, the channel and HTTP, and wraps `fetch`.
//! Works in a window and in a worker (it binds the global scope), and in any JS host with
//! `fetch` and `setTimeout`.
//!
//! [`TokenManager`] is the Rust API (futures are `'static`, so they can be spawned or turned
//! into promises).
//!
//! Custody: token response bodies are parsed by the browser's `JSON.parse`; the access token
//! is copied into wasm memory exactly once, straight into a [`Secret`] (zeroized on drop), and
//! `Authorization` values are assembled in JS. After [`TokenManager::logout`] or drop, no copy
//! remains in wasm memory (the browser tests scan it). With [`Custody::Worker`] (cargo feature
//! `worker-custody`) no token enters this wasm memory at all: the session runs in the npm
//! package's worker, and [`TokenManager`] forwards to it (see `custody.rs`).

mod config;
mod custody;
pub(crate) mod dpop;
mod fetch;
#[cfg(feature = "gloo")]
mod gloo;
mod http;
mod oauth;
mod origin;
mod refresh;
mod requests;
mod shell;
mod state;
pub mod tabs;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "worker-custody")]
use std::cell::Cell;
use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Date, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget};

pub use self::config::{Config, Error, RefreshTokenMode, RetryOn401};
pub use self::custody::Custody;
pub use self::origin::origin_allowed;
pub use self::state::Subscription;
pub use crate::core::oauth::{ClientConfig as OAuthConfig, LoginOptions};
pub use crate::core::secret::Secret;
pub use crate::core::session::{
    Event, ExpiredRequests, ExpirySource, LogoutReason, RefreshFailure, RefreshPolicy,
    SessionState, TokenOrigin,
};
pub use web_sys::RequestCredentials;

use crate::core::claims::Claims;
use crate::core::manager::{Manager, Shell, Source, Timer};
use crate::core::session::{
    check_request_timeout, grant, Generation, PolicyError, RequestDecision, RequestFailure,
    POLICY_OPTIONS,
};
use crate::core::tabs::{Envelope, LockTicket, TokenShare};

use self::refresh::*;
use self::shell::*;
use self::state::failure_name;
#[cfg(feature = "worker-custody")]
use self::state::worker_events;

/// Whether the global scope is a browser window or worker (not Node or another JS host).
fn in_browser() -> bool {
    let global = js_sys::global();
    global_get(&global, "document").is_some() || global_get(&global, "importScripts").is_some()
}

fn now() -> u64 {
    let ms = Date::now();
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

fn global_get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// The base for relative URLs: `document.baseURI` in a window, `self.location.href` in a worker.
pub(crate) fn base_url() -> Option<String> {
    let global = js_sys::global();
    global_get(&global, "document")
        .and_then(|doc| global_get(&doc, "baseURI"))
        .or_else(|| global_get(&global, "location").and_then(|loc| global_get(&loc, "href")))
        .and_then(|v| v.as_string())
}

fn page_origin() -> Option<String> {
    global_get(&js_sys::global(), "location")
        .and_then(|loc| global_get(&loc, "origin"))
        .and_then(|v| v.as_string())
        .filter(|o| o != "null")
}

/// `document.cookie`, for the session hint (`None` where there is none: a worker, Node).
fn document_cookie() -> Option<String> {
    global_get(&js_sys::global(), "document")
        .and_then(|doc| global_get(&doc, "cookie"))
        .and_then(|cookie| cookie.as_string())
}

/// Resolves an endpoint against the page and requires https (or loopback http).
fn endpoint(name: &str, url: &str) -> Result<String, Error> {
    let parsed = origin::parse(url, base_url().as_deref()).ok_or_else(|| {
        Error::new(
            "ERR_INVALID_OPTIONS",
            format!(
                "{name} {} is not a valid URL",
                crate::core::error::Quoted(url)
            ),
        )
    })?;
    if !origin::secure_enough(&parsed) {
        return Err(Error::new(
            "ERR_INVALID_OPTIONS",
            format!("{name} must be https (plain http only for loopback hosts)"),
        ));
    }
    Ok(parsed.href())
}

/// 64 random bits from `Math.random` (seeds and tab ids: unpredictability is not needed).
pub(crate) fn random_u64() -> u64 {
    let word = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (word() << 32) | word()
}

/// The token manager: memory-only custody, silent single-flight refresh, `fetch` wrapping.
/// Dropping it wipes the tokens, cancels the timer and listeners, and fails waiting requests
/// (in worker custody: stops the worker).
pub struct TokenManager {
    /// In worker custody: closed, holding only the resolved config and the subscribers.
    shared: Shared,
    /// The worker holding the session ([`Custody::Worker`]).
    remote: Option<custody::Remote>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager").finish_non_exhaustive()
    }
}

impl TokenManager {
    /// Validates `config` (URLs resolved against the page; https or loopback http only;
    /// allowed origins normalised) and installs the wake-up listeners. With
    /// [`Custody::Worker`], starts the worker instead (see [`Custody`] for what it needs).
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), tokenwarden::web::Error> {
    /// use tokenwarden::web::{Config, Custody, TokenManager};
    /// let mut config = Config::new("/auth/refresh");
    /// config.login_url = Some("/auth/login".into());
    /// // The npm package's web/ directory, served by the app at /tokenwarden/.
    /// config.custody = Custody::Worker { package_url: "/tokenwarden/".into() };
    /// let manager = TokenManager::new(config)?;
    /// # Ok(()) }
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        match config.custody.clone() {
            Custody::Page => Self::in_page(config),
            #[cfg(feature = "worker-custody")]
            Custody::Worker { package_url } => Self::in_worker(config, &package_url),
            // Refused before anything is built: no worker code is linked without the feature.
            #[cfg(not(feature = "worker-custody"))]
            Custody::Worker { .. } => Err(custody::Remote::refused()),
        }
    }

    /// Worker custody: the same validation as page custody, with the same errors, by a page
    /// manager without cross-tab coordination that is closed at once (it never holds a token;
    /// it keeps the resolved config and this object's subscribers); then the worker.
    #[cfg(feature = "worker-custody")]
    fn in_worker(config: Config, package_url: &str) -> Result<Self, Error> {
        let cross_tab = config.cross_tab;
        let validated = Self::in_page(Config {
            cross_tab: false,
            custody: Custody::Page,
            ..config
        })?;
        let shared = validated.shared.clone();
        drop(validated);
        let mut resolved = shared.borrow().config.clone();
        resolved.cross_tab = cross_tab;
        let remote = custody::Remote::start(&resolved, package_url, worker_events(&shared))?;
        Ok(Self {
            shared,
            remote: Some(remote),
        })
    }

    /// A call to the worker in worker custody (`None` in page custody).
    fn in_worker_call(
        &self,
        op: &'static str,
        first: JsValue,
        second: JsValue,
    ) -> Option<impl std::future::Future<Output = Result<JsValue, Error>>> {
        self.remote
            .as_ref()
            .map(|remote| remote.call(op, first, second))
    }

    /// A getter's value in worker custody: the worker's last snapshot (`None` in page custody).
    fn snapshot(&self, key: &str) -> Option<JsValue> {
        self.remote
            .as_ref()
            .map(|remote| remote.snap(key))
            .map(|value| {
                if value.is_undefined() {
                    JsValue::NULL
                } else {
                    value
                }
            })
    }

    fn snapshot_ms(&self, key: &str) -> Option<Option<f64>> {
        self.snapshot(key)
            .map(|value| value.as_f64().filter(|ms| ms.is_finite()))
    }

    fn in_page(mut config: Config) -> Result<Self, Error> {
        if config.dpop && !cfg!(feature = "dpop") {
            // Without the feature no key exists: `Authorization: DPoP` would go without a proof.
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                "the dpop option needs the build with DPoP (cargo feature dpop)",
            ));
        }
        let oauth = oauth::configure(&mut config)?;
        config.refresh_url = endpoint("refreshUrl", &config.refresh_url)?;
        config.login_url = config
            .login_url
            .map(|url| endpoint("loginUrl", &url))
            .transpose()?;
        config.logout_url = config
            .logout_url
            .map(|url| endpoint("logoutUrl", &url))
            .transpose()?;
        config.allowed_origins = if config.allowed_origins.is_empty() {
            // The page's own origin, when a token may travel there at all (https or loopback):
            // only such origins are kept, so a match on the origin alone decides.
            page_origin()
                .filter(|origin| {
                    origin::parse(origin, None).is_some_and(|u| origin::secure_enough(&u))
                })
                .into_iter()
                .collect()
        } else {
            config
                .allowed_origins
                .iter()
                .map(|o| origin::normalize_origin(o))
                .collect::<Result<_, _>>()?
        };
        if config
            .session_hint
            .as_deref()
            .is_some_and(|name| !crate::core::manager::session_hint_name_ok(name))
        {
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                "option \"sessionHint\" must be a cookie name",
            ));
        }
        config
            .policy
            .check()
            .and_then(|()| check_request_timeout(u64::from(config.request_timeout_ms)))
            .map_err(config::policy_error)?;
        let fetch = http::CapturedFetch::capture()
            .ok_or_else(|| Error::new("ERR_FETCH", "this environment has no global fetch"))?;
        let memory = config.refresh_token == RefreshTokenMode::Memory;
        let use_dpop = config.dpop;
        // One construction: the channel's and the listeners' handlers hold a weak handle of the
        // state they are part of (they run later, on events, never during construction).
        let shared = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
            let (tabs, coordination) = match tabs::Tabs::install(&config, weak.clone()) {
                Some((tabs, coordination)) => (Some(tabs), Some(coordination)),
                None => (None, None),
            };
            RefCell::new(Inner {
                manager: Manager::new(config.policy.clone(), random_u64(), memory, coordination),
                config,
                claims: None,
                alarm: Alarm::default(),
                listeners: Some(Listeners::install(weak.clone())),
                tabs,
                subscribers: Vec::new(),
                next_subscriber: 0,
                waiters: Vec::new(),
                refresh_calls: Vec::new(),
                last_failure: None,
                bearer: BearerCache {
                    dpop: use_dpop,
                    ..BearerCache::default()
                },
                closed: false,
                fetch,
                oauth,
                dpop: dpop::DpopState::default(),
            })
        });
        Ok(Self {
            shared,
            remote: None,
        })
    }

    /// Logs in with credentials of any type serialising to a JSON object (e.g. a
    /// `#[derive(Serialize)]` struct); otherwise as [`login`](Self::login).
    ///
    /// ```no_run
    /// # async fn demo(manager: &tokenwarden::web::TokenManager) -> Result<(), tokenwarden::web::Error> {
    /// #[derive(serde::Serialize)]
    /// struct Credentials<'a> { username: &'a str, password: &'a str }
    /// manager.login_with(&Credentials { username: "demo", password: "demo-password" }).await?;
    /// # Ok(()) }
    /// ```
    pub fn login_with<C: serde::Serialize + ?Sized>(
        &self,
        credentials: &C,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        // The JSON text (it holds a password) is wiped once JS has parsed it.
        let value = serde_json::to_string(credentials)
            .map(zeroize::Zeroizing::new)
            .ok()
            .and_then(|text| js_sys::JSON::parse(&text).ok())
            .unwrap_or(JsValue::UNDEFINED);
        self.login(value)
    }

    /// Logs in: `POST`s `credentials` (a JS object, sent as JSON) to the login endpoint and
    /// installs the tokens. Errors: `ERR_LOGIN_FAILED` (with the status if the server
    /// answered), `ERR_INVALID_OPTIONS` (no `login_url`, or credentials that are not an object).
    pub fn login(
        &self,
        credentials: JsValue,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("login", credentials.clone(), JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                return call.await.map(drop);
            }
            let (call, memory, use_dpop) = {
                let inner = shared.borrow();
                if inner.closed {
                    return Err(Error::closed());
                }
                let url = inner.config.login_url.clone().ok_or_else(|| {
                    Error::new("ERR_INVALID_OPTIONS", "login() needs the loginUrl option")
                })?;
                let memory = inner.config.refresh_token == RefreshTokenMode::Memory;
                (inner.auth_call(url, None, None), memory, inner.config.dpop)
            };
            if !credentials.is_object() {
                return Err(Error::new(
                    "ERR_INVALID_OPTIONS",
                    "login credentials must be an object",
                ));
            }
            let controller = AbortController::new().map_err(Error::native)?;
            // A new session, a new key: created here, kept only if the login succeeds.
            // (`#[cfg]`: without the feature no key generation is linked.)
            #[cfg(feature = "dpop")]
            let key = match use_dpop {
                true => Some(dpop::DpopKey::generate().await?),
                false => None,
            };
            #[cfg(not(feature = "dpop"))]
            let key: Option<dpop::DpopKey> = {
                let _ = use_dpop;
                None
            };
            let call = http::AuthCall {
                json_body: Some(credentials),
                ..call
            };
            let reply = dpop::send_token_request(&shared, call, key.as_ref(), &controller)
                .await
                .map_err(|e| {
                    let why = match e {
                        http::CallError::Timeout => "timed out",
                        http::CallError::TooLarge => "returned an oversized body",
                        _ => "could not reach the server",
                    };
                    Error::new("ERR_LOGIN_FAILED", format!("login {why}"))
                })?;
            if !(200..300).contains(&reply.status) {
                let detail = http::error_code(&reply)
                    .map(|code| format!(" ({})", code.chars().take(64).collect::<String>()))
                    .unwrap_or_default();
                return Err(Error::new(
                    "ERR_LOGIN_FAILED",
                    format!("login failed with status {}{detail}", reply.status),
                )
                .with_status(reply.status));
            }
            let parsed = http::parse_grant(&reply, memory, use_dpop).ok_or_else(|| {
                Error::new(
                    "ERR_LOGIN_FAILED",
                    "the login response is not a valid token response",
                )
                .with_status(reply.status)
            })?;
            if let Some(key) = key {
                shared.borrow_mut().dpop.key = Some(key);
            }
            install_tokens(&shared, parsed, TokenOrigin::Login);
            Ok(())
        }
    }

    /// Hands over tokens obtained elsewhere. A refresh token is accepted in memory mode only.
    pub fn set_tokens(
        &self,
        access_token: Secret,
        refresh_token: Option<Secret>,
        expires_in: Option<i64>,
    ) -> Result<(), Error> {
        {
            let inner = self.shared.borrow();
            if inner.closed && self.remote.is_none() {
                return Err(Error::closed());
            }
            if refresh_token.is_some() && inner.config.refresh_token != RefreshTokenMode::Memory {
                return Err(Error::new(
                    "ERR_INVALID_OPTIONS",
                    "refreshToken can be set only with the refreshToken: \"memory\" option",
                ));
            }
        }
        let lengths_ok = std::iter::once(&access_token)
            .chain(refresh_token.as_ref())
            .all(|token| grant::token_length_ok(token.len()));
        if !lengths_ok {
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                grant::GrantError::TokenLength.message(),
            ));
        }
        if let Some(seconds) = expires_in {
            grant::expires_in(seconds as f64)
                .map_err(|e| Error::new("ERR_INVALID_OPTIONS", e.message()))?;
        }
        if let Some(remote) = &self.remote {
            // Checked here as the worker checks them; the worker installs them in call order.
            let tokens = Object::new();
            let put = |key: &str, value: JsValue| {
                let _ = Reflect::set(&tokens, &JsValue::from_str(key), &value);
            };
            put("accessToken", JsValue::from_str(access_token.expose()));
            if let Some(token) = &refresh_token {
                put("refreshToken", JsValue::from_str(token.expose()));
            }
            if let Some(seconds) = expires_in {
                put("expiresIn", JsValue::from(seconds as f64));
            }
            let call = remote.call("setTokens", tokens.into(), JsValue::UNDEFINED);
            spawn_local(async move {
                let _ = call.await;
            });
            return Ok(());
        }
        install_tokens(
            &self.shared,
            http::grant_from(access_token, refresh_token, expires_in, None),
            TokenOrigin::SetTokens,
        );
        Ok(())
    }

    /// Restores a cookie-mode session after a reload with a silent refresh. Resolves to whether
    /// a token is now held (no error for "no session": that is `false`). With
    /// [`Config::session_hint`], a page without the hint cookie sends no refresh request.
    pub fn start(&self) -> impl std::future::Future<Output = bool> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("start", JsValue::UNDEFINED, JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                return call.await.is_ok_and(|held| held.as_bool() == Some(true));
            }
            if tabs::hand_over(&shared).await {
                return true;
            }
            let cookies = document_cookie();
            let wait = drive(&shared, |inner, out| {
                let hint = inner.config.session_hint.clone();
                let asked = inner
                    .manager
                    .restore(hint.as_deref(), cookies.as_deref(), now(), out);
                asked.then(|| waiter(inner))
            });
            let Some(wait) = wait else { return false };
            if let Some(wait) = wait {
                let _ = wait.await;
            }
            let inner = shared.borrow();
            !inner.closed && inner.manager.session().generation().is_some()
        }
    }

    /// Refreshes now (joining a refresh in flight; a backoff in progress is not cut short).
    /// Errors: `ERR_REFRESH_FAILED` (transient; the manager keeps retrying), `ERR_LOGGED_OUT`.
    pub fn refresh(&self) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("refresh", JsValue::UNDEFINED, JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                return call.await.map(drop);
            }
            let wait = drive(&shared, |inner, out| {
                inner.manager.request_refresh(now(), out);
                waiter(inner)
            })
            .ok_or_else(Error::closed)?;
            let why = wait
                .await
                .map(|v| Wake::from_js(&v))
                .unwrap_or(Wake::Closed);
            match why {
                Wake::Refreshed | Wake::Tokens => Ok(()),
                Wake::RefreshFailed => {
                    let failure = shared.borrow().last_failure;
                    Err(Error::new(
                        "ERR_REFRESH_FAILED",
                        format!("refresh failed ({}); retrying", failure_name(failure)),
                    ))
                }
                Wake::LoggedOut => Err(Error::new("ERR_LOGGED_OUT", "the session ended")),
                Wake::Closed => Err(Error::closed()),
            }
        }
    }

    /// Ends the session: wipes the tokens at once (even if the logout call fails), fails waiting
    /// requests with `ERR_LOGGED_OUT`, then asks the server to revoke them.
    pub fn logout(&self) -> impl std::future::Future<Output = ()> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("logout", JsValue::UNDEFINED, JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                let _ = call.await;
                return;
            }
            let call = drive(&shared, |inner, out| {
                let credentials = inner.manager.logout(now(), out);
                inner.claims = None;
                inner.bearer.clear();
                // A DPoP-bound token goes to the logout URL as `DPoP` with a proof of the
                // session's key (the server requires one): key and nonce captured before the
                // logout forgets them.
                let dpop_key = inner.dpop.key.take();
                let dpop_nonce = inner
                    .config
                    .logout_url
                    .as_deref()
                    .and_then(|url| inner.dpop.nonce_for(url));
                inner.dpop.clear();
                if cfg!(feature = "oauth") && inner.oauth.is_some() {
                    // OAuth profile: RFC 7009 revocation at the provider.
                    let revoke: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> =
                        Box::pin(oauth::revoke(&shared, inner, credentials));
                    Some(revoke)
                } else {
                    let c = &inner.config;
                    c.logout_url.clone().map(|url| {
                        // The access token goes only to an allowed origin, like any request.
                        let access = credentials
                            .access_token
                            .as_ref()
                            .filter(|_| origin::origin_allowed(&url, None, &c.allowed_origins));
                        let bearer = access.map(|token| match dpop_key {
                            Some(_) => http::authorization("DPoP ", token),
                            None => http::bearer(token),
                        });
                        // `ath` is hashed from a copy that is zeroized once hashed.
                        let ath_input = access.filter(|_| dpop_key.is_some()).map(|token| {
                            zeroize::Zeroizing::new(token.expose().as_bytes().to_vec())
                        });
                        let body = match (&credentials.refresh_token, c.refresh_token) {
                            (Some(token), RefreshTokenMode::Memory) => {
                                Some(JsValue::from(refresh_token_body(token)))
                            }
                            _ => None,
                        };
                        let mut call = inner.auth_call(url, body, bearer);
                        let send: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> =
                            Box::pin(async move {
                                if let (Some(key), Some(token)) = (dpop_key, ath_input) {
                                    call.dpop =
                                        logout_proof(&key, &call.url, &token, dpop_nonce).await;
                                }
                                if let Ok(controller) = AbortController::new() {
                                    let _ = call.send(&controller).await;
                                }
                            });
                        send
                    })
                }
                // `credentials` is dropped here: both secrets are zeroized.
            });
            let Some(call) = call else { return };
            let waiters = std::mem::take(&mut shared.borrow_mut().waiters);
            wake_all(waiters, Wake::LoggedOut);
            if let Some(call) = call {
                call.await;
            }
        }
    }
}

impl Drop for TokenManager {
    fn drop(&mut self) {
        if let Some(remote) = &self.remote {
            remote.free();
        }
        let waiters = {
            let Ok(mut inner) = self.shared.try_borrow_mut() else {
                return;
            };
            inner.closed = true;
            inner.alarm.disarm();
            inner.listeners = None;
            inner.tabs = None;
            for (_, controller) in inner.refresh_calls.drain(..) {
                controller.abort();
            }
            drop(inner.manager.logout(now(), &mut Outbox::default()));
            inner.subscribers.clear();
            inner.claims = None;
            inner.bearer.clear();
            inner.oauth = None;
            std::mem::take(&mut inner.waiters)
        };
        wake_all(waiters, Wake::Closed);
    }
}
