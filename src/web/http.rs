//! HTTP for the auth endpoints (login, refresh, logout): a timeout through `AbortController`, a
//! response size cap, strict parsing of the token response, and the classification of refresh
//! failures. Response bodies are parsed by the browser (`JSON.parse`), so the only copy of a
//! token in wasm memory is the one that goes straight into a [`Secret`].

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use js_sys::{Date, Function, JsString, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, Request, RequestInit, Response};

use crate::core::claims::Claims;
use crate::core::secret::Secret;
use crate::core::session::{grant, RefreshFailure};

/// The global `fetch` as it was when the manager was created.
///
/// A script that wraps `window.fetch` later (a tag manager, an injected script) does not see
/// the requests that carry the token, nor the refresh calls; one that ran earlier still does
/// (see the security model in the README). Captured with its global as `this`, so it works in
/// windows and workers alike.
#[derive(Clone)]
pub(crate) struct CapturedFetch {
    global: JsValue,
    function: Function,
}

impl CapturedFetch {
    pub(crate) fn capture() -> Option<Self> {
        let global = JsValue::from(js_sys::global());
        let function = Reflect::get(&global, &JsValue::from_str("fetch"))
            .ok()?
            .dyn_into::<Function>()
            .ok()?;
        Some(Self { global, function })
    }

    /// The captured `fetch`, bound to its global scope.
    pub(crate) fn function(&self) -> Function {
        self.function.bind0(&self.global)
    }

    /// `fetch(request)`; a synchronous throw becomes a rejected promise, as with `fetch`.
    pub(crate) fn request(&self, request: &Request) -> Promise {
        Self::promise(self.function.call1(&self.global, request))
    }

    fn promise(result: Result<JsValue, JsValue>) -> Promise {
        match result {
            Ok(value) => Promise::resolve(&value),
            Err(error) => Promise::reject(&error),
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// `Headers#set` with a JS string value, so that a header holding a token is assembled in JS
    /// and never copied into wasm memory.
    #[wasm_bindgen(js_name = Headers)]
    type HeadersWithJsValues;
    #[wasm_bindgen(method, js_name = set, catch)]
    fn set(this: &HeadersWithJsValues, name: &str, value: &JsString) -> Result<(), JsValue>;
    /// `JSON.parse` on a JS string (js-sys's takes `&str`, which would need a wasm-side copy).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &JsString) -> Result<JsValue, JsValue>;
}

/// `headers.set(name, value)` with a JS string value.
pub(crate) fn set_js(headers: &Headers, name: &str, value: &JsString) -> Result<(), JsValue> {
    headers
        .unchecked_ref::<HeadersWithJsValues>()
        .set(name, value)
}

/// `"Bearer " + token`, assembled in JS.
pub(crate) fn bearer(token: &Secret) -> JsString {
    authorization("Bearer ", token)
}

/// `scheme + token` (`"Bearer "`, `"DPoP "`), assembled in JS.
pub(crate) fn authorization(scheme: &str, token: &Secret) -> JsString {
    JsString::from(scheme).concat(&JsValue::from_str(token.expose()))
}

/// The largest auth response body read (token responses are well under 16 KiB).
pub(crate) const MAX_RESPONSE_BYTES: u32 = 64 * 1024;

/// How an auth call went, before interpretation.
pub(crate) enum CallError {
    Network,
    Timeout,
    /// Aborted by [`Action::CancelRefresh`](crate::core::session::Action::CancelRefresh).
    Aborted,
    /// The body exceeded [`MAX_RESPONSE_BYTES`] (treated as malformed).
    TooLarge,
}

/// A completed auth call.
pub(crate) struct Reply {
    pub status: u16,
    pub date_ms: Option<u64>,
    pub retry_after: Option<String>,
    /// `DPoP-Nonce`, when the server sent one.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    pub dpop_nonce: Option<String>,
    /// The body text (a JS string: never copied into wasm memory).
    pub body: JsString,
}

/// One call to an auth endpoint: a `POST` (JSON or form body), or a `GET` of a provider's
/// metadata or keys.
#[derive(Clone)]
pub(crate) struct AuthCall {
    pub url: String,
    pub credentials: web_sys::RequestCredentials,
    /// A JSON body (`JSON.stringify` is applied in JS).
    pub json_body: Option<JsValue>,
    /// An `application/x-www-form-urlencoded` body (OAuth token and revocation endpoints).
    pub form_body: Option<JsString>,
    /// `GET` instead of `POST`.
    pub get: bool,
    pub bearer: Option<JsString>,
    /// A DPoP proof for this call (see [`super::dpop::send_token_request`]).
    pub dpop: Option<String>,
    pub timeout_ms: u32,
    pub fetch: CapturedFetch,
}

impl AuthCall {
    /// Sends the call; the timeout covers the body too. `controller` lets the caller abort it.
    pub(crate) async fn send(self, controller: &AbortController) -> Result<Reply, CallError> {
        let timed_out = Rc::new(Cell::new(false));
        let _timer = {
            let timed_out = timed_out.clone();
            let controller = controller.clone();
            Timeout::new(self.timeout_ms, move || {
                timed_out.set(true);
                controller.abort();
            })
        };
        let failed = |_| {
            if timed_out.get() {
                CallError::Timeout
            } else if controller.signal().aborted() {
                CallError::Aborted
            } else {
                CallError::Network
            }
        };
        let init = RequestInit::new();
        init.set_method(if self.get { "GET" } else { "POST" });
        init.set_credentials(self.credentials);
        init.set_signal(Some(&controller.signal()));
        init.set_redirect(web_sys::RequestRedirect::Error);
        let headers = Headers::new().map_err(|_| CallError::Network)?;
        let _ = headers.set("Accept", "application/json");
        if let Some(bearer) = &self.bearer {
            set_js(&headers, "Authorization", bearer).map_err(|_| CallError::Network)?;
        }
        if let Some(proof) = &self.dpop {
            headers.set("DPoP", proof).map_err(|_| CallError::Network)?;
        }
        if let Some(body) = &self.json_body {
            let text = JSON::stringify(body).map_err(|_| CallError::Network)?;
            init.set_body(&text);
            let _ = headers.set("Content-Type", "application/json");
        }
        if let Some(body) = &self.form_body {
            init.set_body(body);
            let _ = headers.set("Content-Type", crate::core::oauth::FORM_CONTENT_TYPE);
        }
        init.set_headers(&headers);
        let request =
            Request::new_with_str_and_init(&self.url, &init).map_err(|_| CallError::Network)?;
        let response: Response = JsFuture::from(self.fetch.request(&request))
            .await
            .map_err(failed)?
            .unchecked_into();
        let headers = response.headers();
        let header = |name: &str| headers.get(name).ok().flatten();
        if let Some(length) = header("Content-Length").and_then(|l| l.trim().parse::<u64>().ok()) {
            if length > u64::from(MAX_RESPONSE_BYTES) {
                controller.abort();
                return Err(CallError::TooLarge);
            }
        }
        let date_ms = header("Date").and_then(|date| {
            let ms = Date::parse(&date);
            (ms.is_finite() && ms > 0.0).then_some(ms as u64)
        });
        let retry_after = header("Retry-After");
        let dpop_nonce = header("DPoP-Nonce");
        let status = response.status();
        let body: JsString = JsFuture::from(response.text().map_err(|_| CallError::Network)?)
            .await
            .map_err(failed)?
            .unchecked_into();
        if body.length() > MAX_RESPONSE_BYTES {
            return Err(CallError::TooLarge);
        }
        Ok(Reply {
            status,
            date_ms,
            retry_after,
            dpop_nonce,
            body,
        })
    }
}

/// `Retry-After` as a delay in ms from `now` (read by the core; the platform parses the date).
pub(crate) fn retry_after_ms(value: Option<&str>, now: u64) -> Option<u64> {
    let value = value?;
    crate::core::time::retry_after_ms(value, Date::parse(value), now)
}

/// A parsed token response: the tokens, their `expires_in` and the answer's `Date`, for the
/// manager (which decodes the access token's claims).
pub(crate) type Parsed = crate::core::manager::Tokens;

/// A token's decoded (unverified) claims, typed for Rust and as the payload's JSON text, which
/// the JS `claims` getter hands to the engine's `JSON.parse` (no serializer in the package).
pub(crate) struct TokenClaims {
    pub claims: Claims,
    pub json: String,
}

impl TokenClaims {
    /// The claims of a payload the manager's strict decoder accepted (its JSON text).
    pub(crate) fn of_json(json: &str) -> Option<Self> {
        let map = crate::core::json::parse_object_text(json, "payload").ok()?;
        Some(Self {
            claims: Claims::from_map(map).ok()?,
            json: json.to_owned(),
        })
    }
}

fn parse_body(body: &JsString) -> Option<Object> {
    let value = json_parse(body).ok()?;
    (value.is_object() && !js_sys::Array::is_array(&value)).then(|| value.unchecked_into())
}

fn field(object: &Object, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Strict parsing of a token response (RFC 6749 §5.1): `token_type` `Bearer` (or `DPoP`, RFC
/// 9449 §5; only `DPoP` when `dpop`: a bearer answer means the server did not bind it) in any
/// case, the
/// tokens and `expires_in` as [`grant`] accepts them (`refresh_token` may be absent, and is kept
/// only when `keep_refresh`).
/// The token is decoded without verification for `exp`/`iat`; an opaque or malformed token is
/// still accepted and simply contributes no claims.
pub(crate) fn parse_grant(reply: &Reply, keep_refresh: bool, dpop: bool) -> Option<Parsed> {
    let object = parse_body(&reply.body)?;
    if !grant::token_type_ok(&field(&object, "token_type").as_string()?, dpop) {
        return None;
    }
    let expires_in = match field(&object, "expires_in") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(grant::expires_in(v.as_f64()?).ok()?),
    };
    let refresh_token = match field(&object, "refresh_token") {
        v if v.is_undefined() || v.is_null() => None,
        v => {
            let text: &JsString = v.dyn_ref()?;
            if !grant::token_length_ok(text.length() as usize) {
                return None;
            }
            keep_refresh.then(|| Secret::new(text.into()))
        }
    };
    let access = field(&object, "access_token");
    let access: &JsString = access.dyn_ref()?;
    // Length checked before the string is copied into wasm memory.
    if !grant::token_length_ok(access.length() as usize) {
        return None;
    }
    let access_token = Secret::new(access.into());
    Some(grant_from(
        access_token,
        refresh_token,
        expires_in,
        reply.date_ms,
    ))
}

/// The tokens of an answer (the manager decodes the access token's `exp` and `iat`).
pub(crate) fn grant_from(
    access_token: Secret,
    refresh_token: Option<Secret>,
    expires_in: Option<i64>,
    server_date_ms: Option<u64>,
) -> Parsed {
    Parsed {
        access: access_token,
        refresh: refresh_token,
        expires_in,
        server_date_ms,
    }
}

/// The OAuth `error` member of an error body, if any.
pub(crate) fn error_code(reply: &Reply) -> Option<String> {
    parse_body(&reply.body).and_then(|object| field(&object, "error").as_string())
}

/// What a refresh answer means, as the core decides it ([`grant::refresh_answer`]) from its
/// status, `error`, `token_type` and `Retry-After`: `Ok` for a token response to parse.
pub(crate) fn refresh_answer(reply: &Reply, dpop: bool, now: u64) -> Result<(), RefreshFailure> {
    let object = parse_body(&reply.body);
    let member = |key| object.as_ref().and_then(|o| field(o, key).as_string());
    grant::refresh_answer(
        reply.status,
        member("error").as_deref(),
        member("token_type").as_deref(),
        dpop,
        retry_after_ms(reply.retry_after.as_deref(), now),
    )
}

// The OAuth profile's calls, one function per kind of request (a DPoP proof header, RFC 9449,
// belongs in the first two). `base` carries the manager's timeout and captured `fetch`.

/// A token endpoint request (`authorization_code` or `refresh_token` grant): a form `POST`
/// with no cookies (a public client has none to send).
pub(crate) fn token_endpoint_call(
    base: AuthCall,
    request: &crate::core::oauth::FormRequest,
) -> AuthCall {
    form_call(base, request)
}

/// An RFC 7009 revocation request.
pub(crate) fn revocation_call(
    base: AuthCall,
    request: &crate::core::oauth::FormRequest,
) -> AuthCall {
    form_call(base, request)
}

/// A `GET` of a provider's metadata document or JWKS.
pub(crate) fn provider_document_call(base: AuthCall, url: &str) -> AuthCall {
    AuthCall {
        url: url.to_owned(),
        credentials: web_sys::RequestCredentials::Omit,
        json_body: None,
        form_body: None,
        get: true,
        bearer: None,
        ..base
    }
}

fn form_call(base: AuthCall, request: &crate::core::oauth::FormRequest) -> AuthCall {
    AuthCall {
        url: request.url.clone(),
        credentials: web_sys::RequestCredentials::Omit,
        json_body: None,
        // The body holds a code, verifier or token: it goes from its `Secret` into a JS string.
        form_body: Some(JsString::from(request.body.expose())),
        get: false,
        bearer: None,
        ..base
    }
}
