//! `TokenManager::fetch`: `fetch` with the bearer token attached to allowed origins.
//!
//! Rules:
//! - The request is built first, exactly as `fetch` builds it (`new Request(input, init)`, on a
//!   clone of a `Request` input so that the caller's body stays unread); every decision reads
//!   that built request: its URL (relative URLs resolve against the document base, or
//!   `self.location` in a worker) and its `redirect` mode. A `Request` subclass with a lying
//!   `url` getter, or an `init.redirect` object that stringifies differently from what a check
//!   read, cannot steer the token elsewhere: the request checked is the request sent.
//! - The token is attached only if that URL's exact origin is allowed and it is https or
//!   loopback http. Other requests are sent as built (no gate, no header).
//! - Redirects: in a browser (window or worker) the request follows redirects as its `redirect`
//!   mode says, like `fetch`; the Fetch standard removes `Authorization` on a cross-origin
//!   redirect, so the header stays on its own origin (the browser suite proves it against a
//!   foreign origin that records headers). Elsewhere ([`Config::manual_redirects`]), a request
//!   carrying the token is sent with `redirect: "manual"` unless it asked for `"error"`, and the
//!   caller receives the `opaqueredirect` response.
//! - A `401` with `WWW-Authenticate: Bearer error="invalid_token"` (or any 401, per
//!   [`RetryOn401`]) from the origin the token was sent to is reported to the session; the
//!   request is retried once after the refresh, from a clone taken before sending. A
//!   `ReadableStream` body is never retried: that 401 is returned (the refresh still happens).
//! - After logout the call fails fast with `ERR_LOGGED_OUT`.
//!
//! [`Config::manual_redirects`]: super::Config::manual_redirects

use js_sys::{JsString, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, Request, RequestInit, RequestRedirect, Response};

use super::dpop;
use super::http::{set_js, CapturedFetch};
use super::{drive, gate, now, origin, perform, Error, Gate, Outbox, RetryOn401, Sent, Shared};
use crate::core::session::{Generation, UnauthorizedDecision};

#[wasm_bindgen]
extern "C" {
    /// `String(value)`, as `fetch` stringifies a non-`Request` input.
    #[wasm_bindgen(js_name = String)]
    fn js_string(value: &JsValue) -> JsString;
}

async fn send(fetch: &CapturedFetch, request: &Request) -> Result<Response, Error> {
    JsFuture::from(fetch.request(request))
        .await
        .map(JsCast::unchecked_into)
        .map_err(Error::native)
}

/// Whether this 401, answering a request sent with the token to `sent_to`, asks for a new
/// token. A 401 from another origin reached through a redirect (which dropped the header) is
/// not about our token.
fn wants_refresh(response: &Response, sent_to: &str, policy: RetryOn401) -> bool {
    if response.status() != 401 {
        return false;
    }
    if response.redirected() && !origin::same_origin(&response.url(), sent_to) {
        return false;
    }
    match policy {
        RetryOn401::Any => true,
        RetryOn401::InvalidToken => response
            .headers()
            .get("WWW-Authenticate")
            .ok()
            .flatten()
            .is_some_and(|challenge| crate::core::manager::challenge_is_invalid_token(&challenge)),
    }
}

/// `new Request(input, init)` as `fetch` would build it; a `Request` input is cloned first.
pub(super) fn build(input: &JsValue, init: &JsValue) -> Result<Request, Error> {
    let init: &RequestInit = init.unchecked_ref();
    match input.dyn_ref::<Request>() {
        Some(request) => request
            .clone()
            .and_then(|copy| Request::new_with_request_and_init(&copy, init)),
        None => Request::new_with_str_and_init(&String::from(js_string(input)), init),
    }
    .map_err(Error::native)
}

/// Whether the body (as the caller gave it) can be sent twice.
fn replayable(init: &JsValue) -> bool {
    !init.is_object()
        || !Reflect::get(init, &JsValue::from_str("body"))
            .unwrap_or(JsValue::UNDEFINED)
            .is_instance_of::<ReadableStream>()
}

pub(crate) async fn fetch(
    shared: Shared,
    input: JsValue,
    init: JsValue,
) -> Result<Response, Error> {
    let built = build(&input, &init)?;
    let sent_to = built.url();
    let (allowed, manual_redirects, native) = {
        let inner = shared.borrow();
        if inner.closed {
            return Err(Error::closed());
        }
        (
            origin::parse(&sent_to, None)
                .is_some_and(|url| origin::url_allowed(&url, &inner.config.allowed_origins)),
            inner.config.manual_redirects,
            inner.fetch.clone(),
        )
    };
    if !allowed {
        return send(&native, &built).await;
    }
    let template = if manual_redirects && built.redirect() != RequestRedirect::Error {
        let own = RequestInit::new();
        own.set_redirect(RequestRedirect::Manual);
        Request::new_with_request_and_init(&built, &own).map_err(Error::native)?
    } else {
        built
    };
    send_with_token(shared, native, template, replayable(&init), false).await
}

/// Sends `template` with the token (waiting through refreshes), with one retry after a 401.
async fn send_with_token(
    shared: Shared,
    native: CapturedFetch,
    template: Request,
    replayable: bool,
    mut retried: bool,
) -> Result<Response, Error> {
    let sent_to = template.url();
    let retry_on_401 = shared.borrow().config.retry_on_401;
    let mut template = Some(template);
    let mut nonce_retried = false;
    loop {
        let Some(current) = template.as_ref() else {
            return Err(Error::new(
                "ERR_FETCH",
                "the request body cannot be sent twice",
            ));
        };
        let (value, ath, generation) = match gate(&shared, |bearer, token, generation| {
            (bearer.get(token, generation), bearer.ath(token, generation))
        })
        .await?
        {
            Gate::Go((value, ath), generation) => (value, ath, generation),
            // No session has ever existed: the request goes without a token.
            Gate::Anonymous => return send(&native, current).await,
        };
        let request = if replayable {
            current.clone().map_err(Error::native)?
        } else {
            template.take().unwrap_or_else(|| unreachable!())
        };
        set_js(&request.headers(), "Authorization", &value).map_err(Error::native)?;
        // An `#[cfg]`, not a `cfg!`: the await point of a dead branch stays in the state machine.
        #[cfg(feature = "dpop")]
        let with_proof = match ath {
            Some(ath) => add_proof(&shared, &request, &sent_to, ath, generation).await?,
            None => false,
        };
        #[cfg(not(feature = "dpop"))]
        let with_proof = {
            let _ = (ath, generation);
            false
        };
        let response = send(&native, &request).await?;
        if with_proof {
            dpop::remember_nonce(&shared, &sent_to, &response.headers());
            let challenge = response.headers().get("WWW-Authenticate").ok().flatten();
            // RFC 9449 §9: a new nonce is asked for once; the request is sent again with it.
            if dpop::asks_for_nonce(response.status(), challenge.as_deref(), None)
                && !nonce_retried
                && replayable
            {
                nonce_retried = true;
                continue;
            }
        }
        if !wants_refresh(&response, &sent_to, retry_on_401) {
            return Ok(response);
        }
        match unauthorized(&shared, generation, retried) {
            UnauthorizedDecision::GiveUp => return Ok(response),
            _ if !replayable => return Ok(response),
            _ => retried = true,
        }
    }
}

/// Adds the DPoP proof for `request` (to `url`, for the token of `generation` whose `ath` is
/// known or still to hash); `false` when the manager has no key.
#[cfg(feature = "dpop")]
async fn add_proof(
    shared: &Shared,
    request: &Request,
    url: &str,
    ath: Result<String, zeroize::Zeroizing<Vec<u8>>>,
    generation: Generation,
) -> Result<bool, Error> {
    let Some(key) = shared.borrow().dpop.key.clone() else {
        return Ok(false);
    };
    let ath = match ath {
        Ok(ath) => ath,
        Err(token) => {
            let ath = dpop::access_token_hash(&token).await?;
            shared.borrow_mut().bearer.ath = Some((generation, ath.clone()));
            ath
        }
    };
    let nonce = shared.borrow().dpop.nonce_for(url);
    let proof = dpop::proof(&key, &request.method(), url, Some(&ath), nonce.as_deref()).await?;
    request
        .headers()
        .set("DPoP", &proof)
        .map_err(Error::native)?;
    Ok(true)
}

/// Reports a 401 for the token of `generation` to the session.
fn unauthorized(shared: &Shared, generation: Generation, retried: bool) -> UnauthorizedDecision {
    drive(shared, |inner, out| {
        inner.manager.unauthorized(generation, retried, now(), out)
    })
    .unwrap_or(UnauthorizedDecision::GiveUp)
}

/// What the package's JS `fetch` wrapper may do with a request to the absolute, canonical URL
/// `url` (as `new URL(...).href` prints it), without waiting:
/// - `null`: send it untouched (its origin is not allowed, or there has never been a session);
/// - a string: send it with this `Authorization` value;
/// - `undefined`: take the full path ([`fetch`]): a refresh, a wait or an error is involved,
///   the manager is closed, or redirects must be handled manually on this host.
pub(crate) fn header_for(shared: &Shared, url: &str) -> JsValue {
    let mut out = Outbox::default();
    let value = {
        let Ok(mut inner) = shared.try_borrow_mut() else {
            return JsValue::UNDEFINED;
        };
        // A DPoP proof is signed asynchronously: the full path makes it.
        if inner.closed || inner.config.manual_redirects || inner.bearer.dpop {
            return JsValue::UNDEFINED;
        }
        if !origin::canonical_url_allowed(url, &inner.config.allowed_origins) {
            return JsValue::NULL;
        }
        let inner = &mut *inner;
        let now = now();
        let value = match inner.manager.before_request(now) {
            crate::core::session::RequestDecision::Attach { token, generation } => {
                Some(inner.bearer.get(token, generation).into())
            }
            crate::core::session::RequestDecision::Fail(
                crate::core::session::RequestFailure::Anonymous,
            ) => Some(JsValue::NULL),
            _ => None,
        };
        inner.manager.flush(now, &mut out);
        value
    };
    // `before_request` re-checked the clock: perform what it decided (a refresh that is due).
    perform(shared, out);
    value.unwrap_or(JsValue::UNDEFINED)
}

/// The rest of the JS wrapper's fast path: its request, sent with `header`, got `response`
/// with status 401. Returns the response, or the retried request's response after a refresh.
pub(crate) async fn after_unauthorized(
    shared: Shared,
    response: Response,
    header: JsString,
    input: JsValue,
    init: JsValue,
) -> Result<Response, Error> {
    let (generation, retry_on_401, native) = {
        let inner = shared.borrow();
        match inner.bearer.generation_of(&header) {
            // Closed or logged out: the 401 is the answer.
            _ if inner.closed => return Ok(response),
            Sent::NoSession => return Ok(response),
            Sent::Current(generation) => (
                Some(generation),
                inner.config.retry_on_401,
                inner.fetch.clone(),
            ),
            Sent::Replaced => (None, inner.config.retry_on_401, inner.fetch.clone()),
        }
    };
    let built = build(&input, &init)?;
    if !wants_refresh(&response, &built.url(), retry_on_401) {
        return Ok(response);
    }
    // A header that is no longer cached belongs to a token already replaced: retry now.
    let decision = match generation {
        Some(generation) => unauthorized(&shared, generation, false),
        None => UnauthorizedDecision::RetryNow,
    };
    if decision == UnauthorizedDecision::GiveUp || !replayable(&init) {
        return Ok(response);
    }
    send_with_token(shared, native, built, true, true).await
}
