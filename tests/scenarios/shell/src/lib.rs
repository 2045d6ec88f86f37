//! The Rust shell, `tokenwarden::web::TokenManager`, behind the npm `TokenManager`'s JS surface
//! (the part the scenario runner uses: the constructor's options, `login`, `start`,
//! `refresh`, `logout`, `fetch`, `state`, `on`, the OAuth redirect's authorization URL and
//! callback), so that one runner
//! (tests/scenarios/runner.js) drives both shells with the same steps and the scenario suite
//! compares what each sent and emitted. A translation of names only: options to [`Config`],
//! [`Event`]s to the JS events' names and fields, [`Error`]s to objects with the same `code`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use tokenwarden::web::{
    Config, Error, Event, LoginOptions, OAuthConfig, RefreshTokenMode, RetryOn401, TokenManager,
    TokenOrigin,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

fn get(options: &JsValue, key: &str) -> JsValue {
    Reflect::get(options, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text(options: &JsValue, key: &str) -> Option<String> {
    get(options, key).as_string()
}

fn ms(options: &JsValue, key: &str) -> Option<u64> {
    get(options, key).as_f64().map(|value| value as u64)
}

fn js_error(error: Error) -> JsValue {
    let object = js_sys::Error::new(error.message());
    let _ = Reflect::set(&object, &"code".into(), &error.code().into());
    if let Some(status) = error.status() {
        let _ = Reflect::set(&object, &"status".into(), &status.into());
    }
    object.into()
}

fn invalid(message: &str) -> JsValue {
    let object = js_sys::Error::new(message);
    let _ = Reflect::set(&object, &"code".into(), &"ERR_INVALID_OPTIONS".into());
    object.into()
}

/// The npm options the scenarios use, as a [`Config`].
fn config(options: &JsValue) -> Result<Config, JsValue> {
    let oauth = get(options, "oauth");
    let mut config = if oauth.is_object() {
        let field = |key| text(&oauth, key).ok_or_else(|| invalid(key));
        let mut client =
            OAuthConfig::new(field("issuer")?, field("clientId")?, field("redirectUri")?);
        if let Some(scope) = text(&oauth, "scope") {
            client.scope = scope;
        }
        client.audience = text(&oauth, "audience");
        Config::oauth(client)
    } else {
        Config::new(text(options, "refreshUrl").ok_or_else(|| invalid("refreshUrl"))?)
    };
    config.login_url = text(options, "loginUrl");
    config.logout_url = text(options, "logoutUrl");
    config.refresh_token = match text(options, "refreshToken").as_deref() {
        Some("memory") => RefreshTokenMode::Memory,
        _ => RefreshTokenMode::Cookie,
    };
    config.retry_on_401 = match text(options, "retryOn401").as_deref() {
        Some("any") => RetryOn401::Any,
        _ => RetryOn401::InvalidToken,
    };
    let origins = get(options, "allowedOrigins");
    if let Some(origin) = origins.as_string() {
        config.allowed_origins = vec![origin];
    } else if Array::is_array(&origins) {
        config.allowed_origins = Array::from(&origins)
            .iter()
            .filter_map(|origin| origin.as_string())
            .collect();
    }
    if let Some(timeout) = ms(options, "requestTimeoutMs") {
        config.request_timeout_ms = timeout as u32;
    }
    if let Some(cross_tab) = get(options, "crossTab").as_bool() {
        config.cross_tab = cross_tab;
    }
    if let Some(share) = get(options, "shareTokens").as_bool() {
        config.share_tokens = share;
    }
    config.channel_name = text(options, "channelName");
    config.session_hint = text(options, "sessionHint");
    config.dpop = get(options, "dpop").as_bool() == Some(true);
    let policy = &mut config.policy;
    if let Some(fraction) = get(options, "refreshLeadFraction").as_f64() {
        policy.lead_fraction = fraction;
    }
    if let Some(fraction) = get(options, "refreshJitterFraction").as_f64() {
        policy.lead_jitter_fraction = fraction;
    }
    if let Some(fraction) = get(options, "backoffJitterFraction").as_f64() {
        policy.backoff_jitter_fraction = fraction;
    }
    for (key, field) in [
        ("minRefreshLeadMs", &mut policy.min_lead_ms),
        ("maxRefreshLeadMs", &mut policy.max_lead_ms),
        ("minRefreshIntervalMs", &mut policy.min_refresh_interval_ms),
        ("backoffInitialMs", &mut policy.backoff_initial_ms),
        ("backoffMaxMs", &mut policy.backoff_max_ms),
    ] {
        if let Some(value) = ms(options, key) {
            *field = value;
        }
    }
    Ok(config)
}

fn detail(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

/// An [`Event`] as the npm package's event: its name and its object (`None`: the npm package
/// emits nothing for it, as for the install of a login's or `setTokens`' token).
fn event(event: &Event) -> Option<(&'static str, JsValue)> {
    let kind = |name: &'static str| ("type", JsValue::from_str(name));
    Some(match *event {
        Event::Changed(state) => (
            "change",
            detail(&[kind("change"), ("state", state.as_str().into())]),
        ),
        Event::Installed { origin, .. } => {
            let source = match origin {
                TokenOrigin::Refresh => "self",
                TokenOrigin::Sibling => "otherTab",
                _ => return None,
            };
            (
                "refreshed",
                detail(&[kind("refreshed"), ("source", source.into())]),
            )
        }
        Event::RefreshFailed {
            failure,
            token_expires_first,
            ..
        } => {
            let (reason, status) = failure.reason();
            let status = status.map_or(JsValue::NULL, JsValue::from);
            (
                "refreshFailed",
                detail(&[
                    kind("refreshFailed"),
                    ("reason", reason.into()),
                    ("status", status),
                    ("tokenExpiresFirst", token_expires_first.into()),
                ]),
            )
        }
        Event::Expired => ("expired", detail(&[kind("expired")])),
        Event::LoggedOut { reason } => (
            "loggedOut",
            detail(&[kind("loggedOut"), ("reason", reason.as_str().into())]),
        ),
        _ => return None,
    })
}

/// The Rust shell with the npm `TokenManager`'s surface.
#[wasm_bindgen]
pub struct Shell {
    manager: Rc<TokenManager>,
    listeners: Rc<RefCell<Vec<(String, Function)>>>,
    _subscription: tokenwarden::web::Subscription,
}

#[wasm_bindgen]
impl Shell {
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Shell, JsValue> {
        let manager = Rc::new(TokenManager::new(config(&options)?).map_err(js_error)?);
        let listeners: Rc<RefCell<Vec<(String, Function)>>> = Rc::default();
        let to = listeners.clone();
        let subscription = manager.subscribe(move |happened| {
            let Some((name, detail)) = event(happened) else {
                return;
            };
            let listeners: Vec<Function> = to
                .borrow()
                .iter()
                .filter(|(wanted, _)| wanted == name)
                .map(|(_, listener)| listener.clone())
                .collect();
            for listener in listeners {
                let _ = listener.call1(&JsValue::NULL, &detail);
            }
        });
        Ok(Shell {
            manager,
            listeners,
            _subscription: subscription,
        })
    }

    /// `on(name, listener)`, as the npm class.
    pub fn on(&self, name: String, listener: Function) {
        self.listeners.borrow_mut().push((name, listener));
    }

    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.manager.state().as_str().into()
    }

    pub fn login(&self, credentials: JsValue) -> Promise {
        let call = self.manager.login(credentials);
        future_to_promise(async move {
            call.await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    pub fn start(&self) -> Promise {
        let call = self.manager.start();
        future_to_promise(async move { Ok(call.await.into()) })
    }

    pub fn refresh(&self) -> Promise {
        let call = self.manager.refresh();
        future_to_promise(async move {
            call.await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    pub fn logout(&self) -> Promise {
        let call = self.manager.logout();
        future_to_promise(async move {
            call.await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The OAuth profile's authorization URL (the npm class navigates there in
    /// `loginWithRedirect`; the runner takes the URL from either).
    #[wasm_bindgen(js_name = authorizationUrl)]
    pub fn authorization_url(&self) -> Promise {
        let call = self.manager.authorization_url(LoginOptions::default());
        future_to_promise(async move { Ok(call.await.map_err(js_error)?.into()) })
    }

    #[wasm_bindgen(js_name = handleRedirectCallback)]
    pub fn handle_redirect_callback(&self, url: String) -> Promise {
        let call = self.manager.handle_redirect_callback(Some(url));
        future_to_promise(async move {
            call.await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let call = self.manager.fetch_js(input, init);
        future_to_promise(async move { call.await.map(JsValue::from).map_err(js_error) })
    }
}
