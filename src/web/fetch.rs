//! `TokenManager::fetch`: `fetch` with the bearer token attached to allowed origins.
//!
//! Rules:
//! - The URL is resolved against the document base (`self.location` in a worker); the token is
//!   attached only if its exact origin is allowed and it is https or loopback http. Other
//!   requests go to the native `fetch` untouched (no gate, no header).
//! - A new `Request` is built; the caller's `Request`, `Headers` and init are never mutated (a
//!   `Request` input is cloned first, so its body stays unread).
//! - Redirects: a request carrying the token is sent with `redirect: "manual"` unless the caller
//!   asked for `"error"`, so the header never follows a redirect; the caller receives the
//!   `opaqueredirect` response. (Simple and safe; same-origin redirects are not followed either.)
//! - A `401` with `WWW-Authenticate: Bearer error="invalid_token"` (or any 401, per
//!   [`RetryOn401`]) is reported to the session; the request is retried once after the refresh,
//!   from a clone taken before sending. A `ReadableStream` body is never retried: that 401 is
//!   returned (the refresh still happens).
//! - After logout the call fails fast with `ERR_LOGGED_OUT`.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Request, RequestInit, Response};

use super::http::{bearer, set_js, CapturedFetch};
use super::{base_url, gate, now, origin, pump, Error, Gate, RetryOn401, Shared};

#[wasm_bindgen]
extern "C" {
    /// `String(value)`, as `fetch` stringifies a non-`Request` input.
    #[wasm_bindgen(js_name = String)]
    fn js_string(value: &JsValue) -> String;
}

async fn send(fetch: &CapturedFetch, request: &Request) -> Result<Response, Error> {
    JsFuture::from(fetch.request(request))
        .await
        .map(JsCast::unchecked_into)
        .map_err(Error::native)
}

/// Whether this 401 asks for a new token.
fn wants_refresh(response: &Response, policy: RetryOn401) -> bool {
    if response.status() != 401 {
        return false;
    }
    match policy {
        RetryOn401::Any => true,
        RetryOn401::InvalidToken => response
            .headers()
            .get("WWW-Authenticate")
            .ok()
            .flatten()
            .is_some_and(|challenge| {
                let challenge = challenge.to_ascii_lowercase();
                let challenge = challenge.trim_start();
                challenge.starts_with("bearer")
                    && (challenge.contains("error=\"invalid_token\"")
                        || challenge.contains("error=invalid_token"))
            }),
    }
}

pub(crate) async fn fetch(
    shared: Shared,
    input: JsValue,
    init: JsValue,
) -> Result<Response, Error> {
    let input_request = input.dyn_ref::<Request>().cloned();
    let url = match &input_request {
        Some(request) => request.url(),
        None => input.as_string().unwrap_or_else(|| js_string(&input)),
    };
    let parsed = origin::parse(&url, base_url().as_deref());
    let (allowed, retry_on_401, native) = {
        let inner = shared.borrow();
        if inner.closed {
            return Err(Error::closed());
        }
        (
            parsed
                .as_ref()
                .is_some_and(|url| origin::url_allowed(url, &inner.config.allowed_origins)),
            inner.config.retry_on_401,
            inner.fetch.clone(),
        )
    };
    if !allowed {
        return JsFuture::from(native.any(&input, &init))
            .await
            .map(JsCast::unchecked_into)
            .map_err(Error::native);
    }

    // Our own init: a shallow copy of the caller's, with the redirect rule applied.
    let own_init = Object::new();
    if init.is_object() {
        Object::assign(&own_init, init.unchecked_ref());
    }
    let redirect = Reflect::get(&own_init, &JsValue::from_str("redirect"))
        .ok()
        .and_then(|v| v.as_string())
        .or_else(|| {
            input_request
                .as_ref()
                .and_then(|r| JsValue::from(r.redirect()).as_string())
        });
    if redirect.as_deref() != Some("error") {
        let _ = Reflect::set(
            &own_init,
            &JsValue::from_str("redirect"),
            &JsValue::from_str("manual"),
        );
    }
    let body = Reflect::get(&own_init, &JsValue::from_str("body")).unwrap_or(JsValue::UNDEFINED);
    let replayable = !body.is_instance_of::<ReadableStream>();
    let own_init: &RequestInit = own_init.unchecked_ref();
    let template = match &input_request {
        Some(request) => request
            .clone()
            .and_then(|copy| Request::new_with_request_and_init(&copy, own_init)),
        None => {
            let absolute = parsed.map(|u| u.href()).unwrap_or(url);
            Request::new_with_str_and_init(&absolute, own_init)
        }
    }
    .map_err(Error::native)?;

    let mut template = Some(template);
    let mut retried = false;
    loop {
        let Some(current) = template.as_ref() else {
            return Err(Error::new(
                "ERR_FETCH",
                "the request body cannot be sent twice",
            ));
        };
        let (value, generation) = match gate(&shared, bearer).await? {
            Gate::Go(value, generation) => (value, generation),
            // No session has ever existed: the request goes without a token.
            Gate::Anonymous => return send(&native, current).await,
        };
        let request = if replayable {
            current.clone().map_err(Error::native)?
        } else {
            template.take().unwrap_or_else(|| unreachable!())
        };
        set_js(&request.headers(), "Authorization", &value).map_err(Error::native)?;
        let response = send(&native, &request).await?;
        if !wants_refresh(&response, retry_on_401) {
            return Ok(response);
        }
        let decision = {
            let mut inner = shared.borrow_mut();
            if inner.closed {
                return Ok(response);
            }
            inner
                .session
                .handle_unauthorized(generation, retried, now())
        };
        pump(&shared);
        match decision {
            crate::core::session::UnauthorizedDecision::GiveUp => return Ok(response),
            _ if !replayable => return Ok(response),
            _ => retried = true,
        }
    }
}
