//! Worker custody for the Rust API ([`Custody::Worker`], cargo feature `worker-custody`): the
//! session runs in a dedicated module worker started from the npm package's own `worker.js`,
//! and the page keeps only what events and getters carry. The page's side is the package's
//! `remote.js` (the same code as the JS API's `custody: "worker"`), loaded from where the app
//! serves the package; this module only converts between it and the Rust types.

#[cfg(feature = "worker-custody")]
use std::cell::Cell;

#[cfg(feature = "worker-custody")]
use js_sys::Reflect;
#[cfg(feature = "worker-custody")]
use wasm_bindgen::JsValue;

use super::SessionState;
#[cfg(feature = "worker-custody")]
use super::{Event, LogoutReason, RefreshFailure, TokenOrigin};
#[cfg(feature = "worker-custody")]
use crate::core::session::Generation;

/// Where the tokens live ([`Config::custody`](super::Config::custody)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Custody {
    /// In this realm's wasm memory (default).
    #[default]
    Page,
    /// In a dedicated module worker started from the npm package's `worker.js` (cargo feature
    /// `worker-custody`). `package_url` is where the app serves, same-origin, the package's
    /// `web/` directory (`worker.js`, `remote.js`, `tokenwarden.js`, `tokenwarden_bg.wasm`,
    /// `driver.js`), e.g. `"/tokenwarden/"` (with [`Config::dpop`](super::Config::dpop): the
    /// `tokenwarden/oauth` entry's, `oauth/web/`, where DPoP lives); the package's version must
    /// be the crate's. No token
    /// or refresh token enters the page's wasm memory. Not with
    /// [`Config::oauth`](super::Config::oauth); tokens are never shared on the cross-tab
    /// channel ([`Config::share_tokens`](super::Config::share_tokens) is taken as `false`).
    Worker {
        /// The URL (absolute, or relative to the document) of the package's `web/` directory.
        package_url: String,
    },
}

#[cfg(not(feature = "worker-custody"))]
mod imp {
    use super::super::Error;
    use wasm_bindgen::JsValue;

    /// Without the cargo feature there is no worker: [`super::Custody::Worker`] is refused.
    pub(crate) enum Remote {}

    impl Remote {
        pub(crate) fn refused() -> Error {
            Error::new(
                "ERR_INVALID_OPTIONS",
                "custody Worker needs the build with worker custody (cargo feature worker-custody)",
            )
        }

        pub(crate) fn call(
            &self,
            _: &'static str,
            _: JsValue,
            _: JsValue,
        ) -> std::future::Ready<Result<JsValue, Error>> {
            match *self {}
        }

        pub(crate) fn snap(&self, _: &str) -> JsValue {
            match *self {}
        }

        pub(crate) fn free(&self) {
            match *self {}
        }
    }
}

#[cfg(feature = "worker-custody")]
mod imp {
    use std::cell::RefCell;
    use std::rc::Rc;

    use js_sys::{Array, Function, Object, Promise, Reflect};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::{future_to_promise, JsFuture};

    use super::super::{
        base_url, page_origin, Config, Emitter, Error, RefreshTokenMode, RequestCredentials,
        RetryOn401,
    };
    use crate::core::session::ExpiredRequests;

    #[wasm_bindgen(inline_js = "export function tokenwardenImport(url) { return import(url); }")]
    extern "C" {
        /// `import(url)`: remote.js is loaded from where the app serves the package.
        #[wasm_bindgen(js_name = tokenwardenImport)]
        fn import_module(url: &str) -> Promise;
    }

    /// The page's side of a worker: remote.js's `Remote`, once loaded.
    pub(crate) struct Remote {
        /// Resolves to the `Remote` (rejects with `ERR_WORKER_LOST` if remote.js did not load).
        ready: Promise,
        remote: Rc<RefCell<Option<JsValue>>>,
        /// remote.js's `emit(name, payload)`; kept as long as the `Remote` may call it.
        _emit: Closure<dyn Fn(JsValue, JsValue)>,
    }

    fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
        let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
    }

    /// The worker's options, in the JS API's names (URLs already resolved against the page).
    fn options(config: &Config) -> Object {
        let o = Object::new();
        set(&o, "refreshUrl", config.refresh_url.as_str());
        if let Some(url) = &config.login_url {
            set(&o, "loginUrl", url.as_str());
        }
        if let Some(url) = &config.logout_url {
            set(&o, "logoutUrl", url.as_str());
        }
        let mode = match config.refresh_token {
            RefreshTokenMode::Cookie => "cookie",
            RefreshTokenMode::Memory => "memory",
        };
        set(&o, "refreshToken", mode);
        if !config.allowed_origins.is_empty() {
            let origins: Array = config
                .allowed_origins
                .iter()
                .map(|o| JsValue::from_str(o))
                .collect();
            set(&o, "allowedOrigins", origins);
        }
        let credentials = match config.credentials {
            RequestCredentials::SameOrigin => "same-origin",
            RequestCredentials::Omit => "omit",
            _ => "include",
        };
        set(&o, "credentials", credentials);
        let retry = match config.retry_on_401 {
            RetryOn401::InvalidToken => "invalid_token",
            RetryOn401::Any => "any",
        };
        set(&o, "retryOn401", retry);
        set(&o, "requestTimeoutMs", config.request_timeout_ms);
        let p = &config.policy;
        set(&o, "refreshLeadFraction", p.lead_fraction);
        set(&o, "minRefreshLeadMs", p.min_lead_ms as f64);
        set(&o, "maxRefreshLeadMs", p.max_lead_ms as f64);
        set(&o, "refreshJitterFraction", p.lead_jitter_fraction);
        set(&o, "minRefreshIntervalMs", p.min_refresh_interval_ms as f64);
        set(&o, "backoffInitialMs", p.backoff_initial_ms as f64);
        set(&o, "backoffMaxMs", p.backoff_max_ms as f64);
        set(&o, "backoffJitterFraction", p.backoff_jitter_fraction);
        let expired = match p.expired_requests {
            ExpiredRequests::Fail => "fail",
            _ => "wait",
        };
        set(&o, "expiredRequests", expired);
        set(&o, "crossTab", config.cross_tab);
        // Every page script of the origin can join the channel: tokens never go on it.
        set(&o, "shareTokens", false);
        if let Some(name) = &config.channel_name {
            set(&o, "channelName", name.as_str());
        }
        if let Some(name) = &config.session_hint {
            set(&o, "sessionHint", name.as_str());
        }
        set(&o, "dpop", config.dpop);
        o
    }

    fn lost(message: &str) -> JsValue {
        let error = js_sys::Error::new(message);
        set(&error, "code", "ERR_WORKER_LOST");
        error.into()
    }

    impl Remote {
        /// Loads remote.js from `package_url` and starts the worker with `config` (validated
        /// and resolved by a page-custody [`TokenManager::new`](super::super::TokenManager::new)).
        pub(crate) fn start(
            config: &Config,
            package_url: &str,
            emit: Emitter,
        ) -> Result<Self, Error> {
            let invalid = |why: &str| Error::new("ERR_INVALID_OPTIONS", why.to_owned());
            if config.oauth.is_some() {
                return Err(invalid(
                    "custody Worker is not available with the OAuth profile yet (its redirect login needs the page)",
                ));
            }
            let base = base_url();
            let package = web_sys::Url::new_with_base(package_url, base.as_deref().unwrap_or(""))
                .or_else(|_| web_sys::Url::new(package_url))
                .map_err(|_| invalid("custody Worker's package_url is not a valid URL"))?;
            if page_origin().as_deref() != Some(package.origin().as_str()) {
                return Err(invalid(
                    "custody Worker's package_url must be on the page's origin (module workers are same-origin)",
                ));
            }
            let remote_url = web_sys::Url::new_with_base("remote.js", &package.href())
                .map_err(|_| invalid("custody Worker's package_url is not a valid URL"))?
                .href();
            let emit = Closure::<dyn Fn(JsValue, JsValue)>::new(move |name: JsValue, payload| {
                emit(&name.as_string().unwrap_or_default(), &payload)
            });
            let emit_fn: Function = emit.as_ref().unchecked_ref::<Function>().clone();
            let options = options(config);
            let remote = Rc::new(RefCell::new(None));
            let slot = remote.clone();
            let ready = future_to_promise(async move {
                let loaded = async {
                    let module = JsFuture::from(import_module(&remote_url)).await?;
                    let class: Function =
                        Reflect::get(&module, &JsValue::from_str("Remote"))?.dyn_into()?;
                    Reflect::construct(&class, &Array::of2(&options, &emit_fn))
                };
                match loaded.await {
                    Ok(object) => {
                        *slot.borrow_mut() = Some(object.clone());
                        Ok(object)
                    }
                    Err(_) => {
                        let payload = Object::new();
                        set(&payload, "type", "loggedOut");
                        set(&payload, "reason", "workerLost");
                        let _ = emit_fn.call2(&JsValue::NULL, &"loggedOut".into(), &payload);
                        Err(lost("the worker custody module (remote.js) did not load"))
                    }
                }
            });
            // Rejections are answered per call; this keeps an unobserved one from being reported.
            let observed = JsFuture::from(ready.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let _ = observed.await;
            });
            Ok(Self {
                ready,
                remote,
                _emit: emit,
            })
        }

        /// Calls `op` on the worker (in call order) and awaits its answer.
        pub(crate) fn call(
            &self,
            op: &'static str,
            first: JsValue,
            second: JsValue,
        ) -> impl std::future::Future<Output = Result<JsValue, Error>> {
            let ready = self.ready.clone();
            async move {
                let remote = JsFuture::from(ready).await.map_err(from_js)?;
                let method: Function = Reflect::get(&remote, &JsValue::from_str(op))
                    .ok()
                    .and_then(|m| m.dyn_into().ok())
                    .ok_or_else(|| Error::new("ERR_WORKER_LOST", "remote.js has no such call"))?;
                let answer = method.call2(&remote, &first, &second).map_err(from_js)?;
                JsFuture::from(Promise::resolve(&answer))
                    .await
                    .map_err(from_js)
            }
        }

        /// A getter's value from the worker's last snapshot (`undefined` before it loaded).
        pub(crate) fn snap(&self, key: &str) -> JsValue {
            self.remote
                .borrow()
                .as_ref()
                .and_then(|remote| Reflect::get(remote, &JsValue::from_str("snap")).ok())
                .and_then(|snap| Reflect::get(&snap, &JsValue::from_str(key)).ok())
                .unwrap_or(JsValue::UNDEFINED)
        }

        /// Stops the worker; calls in flight fail with `ERR_LOGGED_OUT`.
        pub(crate) fn free(&self) {
            let ready = JsFuture::from(self.ready.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let Ok(remote) = ready.await else { return };
                if let Ok(free) = Reflect::get(&remote, &JsValue::from_str("free")) {
                    if let Some(free) = free.dyn_ref::<Function>() {
                        let _ = free.call0(&remote);
                    }
                }
            });
        }
    }

    /// The codes remote.js and the worker's manager throw with (anything else: a native
    /// failure, kept as [`Error::cause`]).
    const CODES: &[&str] = &[
        "ERR_WORKER_LOST",
        "ERR_LOGGED_OUT",
        "ERR_LOGIN_FAILED",
        "ERR_REFRESH_FAILED",
        "ERR_NOT_AUTHENTICATED",
        "ERR_TOKEN_EXPIRED",
        "ERR_TOKEN_NOT_EXPOSED",
        "ERR_INVALID_OPTIONS",
        "ERR_ORIGIN_NOT_ALLOWED",
        "ERR_FETCH",
        "ERR_DPOP",
    ];

    /// An error from remote.js as the Rust [`Error`] with the same code.
    fn from_js(value: JsValue) -> Error {
        let field = |key: &str| Reflect::get(&value, &JsValue::from_str(key)).ok();
        let code = field("code").and_then(|c| c.as_string());
        match code.and_then(|code| CODES.iter().find(|c| **c == code)) {
            Some(code) => {
                let message = field("message")
                    .and_then(|m| m.as_string())
                    .unwrap_or_default();
                let mut error = Error::new(code, message);
                error.status = field("status").and_then(|s| s.as_f64()).map(|s| s as u16);
                error
            }
            None => Error::native(value),
        }
    }
}

pub(crate) use imp::Remote;

/// A state as the worker names it.
pub(crate) fn state(name: &str) -> SessionState {
    match name {
        "authenticated" => SessionState::Authenticated,
        "refreshing" => SessionState::Refreshing,
        "expired" => SessionState::Expired,
        _ => SessionState::Anonymous,
    }
}

/// A JS event payload (what page custody's JS API emits) as the Rust [`Event`]; `tokens`
/// numbers the tokens heard of (the worker's generations stay in the worker). A `Retry-After`
/// is not in the payload (`retry_after_ms: None`); `retry_at` already honours it.
#[cfg(feature = "worker-custody")]
pub(crate) fn event(name: &str, payload: &JsValue, tokens: &Cell<u64>) -> Option<Event> {
    let field = |key: &str| Reflect::get(payload, &JsValue::from_str(key)).unwrap_or_default();
    let text = |key: &str| field(key).as_string().unwrap_or_default();
    Some(match name {
        "change" => Event::Changed(state(&text("state"))),
        "refreshed" => {
            tokens.set(tokens.get() + 1);
            Event::Installed {
                generation: Generation::from_raw(tokens.get()),
                origin: match text("source").as_str() {
                    "otherTab" => TokenOrigin::Sibling,
                    _ => TokenOrigin::Refresh,
                },
            }
        }
        "refreshFailed" => {
            let status = field("status").as_f64().map(|s| s as u16);
            Event::RefreshFailed {
                failure: RefreshFailure::from_reason(&text("reason"), status),
                retry_at: field("retryAt").as_f64().unwrap_or(0.0).max(0.0) as u64,
                token_expires_first: field("tokenExpiresFirst").as_bool().unwrap_or(false),
            }
        }
        "expired" => Event::Expired,
        "loggedOut" => Event::LoggedOut {
            reason: match text("reason").as_str() {
                "logout" => LogoutReason::UserLogout,
                "invalid_grant" => LogoutReason::InvalidGrant,
                "otherTab" => LogoutReason::OtherTab,
                _ => LogoutReason::WorkerLost,
            },
        },
        _ => return None,
    })
}
