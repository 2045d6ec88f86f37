//! The auth calls the manager asks for (the refresh call and its result), the request gate,
//! and the install of a login's or `set_tokens`' tokens.

use super::*;

/// `{refresh_token}` for a memory-mode auth call; the token goes from its `Secret` straight
/// into a JS string.
pub(super) fn refresh_token_body(token: &Secret) -> Object {
    let body = Object::new();
    let _ = Reflect::set(
        &body,
        &JsValue::from_str("refresh_token"),
        &JsValue::from_str(token.expose()),
    );
    body
}

/// Performs a refresh the session (or, across tabs, the coordinator holding the lock) started:
/// the refresh call, then exactly one result. With cross-tab coordination a failure goes to the
/// coordinator, which reports it to the session itself (it may first ask the siblings).
pub(super) fn start_refresh(
    shared: &Shared,
    inner: &mut Inner,
    generation: Generation,
) -> Option<RefreshFailure> {
    let Ok(controller) = AbortController::new() else {
        return Some(RefreshFailure::Network);
    };
    inner.refresh_calls.push((generation, controller.clone()));
    let memory = inner.config.refresh_token == RefreshTokenMode::Memory;
    let body = if memory {
        inner.manager.session().refresh_token().map(|token| {
            let body = refresh_token_body(token);
            let _ = Reflect::set(
                &body,
                &JsValue::from_str("grant_type"),
                &JsValue::from_str("refresh_token"),
            );
            JsValue::from(body)
        })
    } else {
        None
    };
    // `expires_in` counts from when the call started: a tab frozen during the call must not
    // count it from its wake-up (found by the cross-tab simulation).
    let started_at = now();
    let key = inner.dpop.key.clone();
    if inner.config.dpop && key.is_none() {
        // The key lived in memory only (a reload, or a session a sibling did not hand over): a
        // token bound to it cannot be refreshed, and trying would burn a request.
        inner.refresh_calls.retain(|(g, _)| *g != generation);
        return Some(RefreshFailure::InvalidGrant);
    }
    // (A build without verification has no OAuth profile: `cfg!` lets the linker drop it.)
    if cfg!(feature = "oauth") && inner.oauth.is_some() {
        oauth::start_refresh(shared.clone(), generation, controller, started_at);
        return None;
    }
    let call = inner.auth_call(inner.config.refresh_url.clone(), body, None);
    let shared = shared.clone();
    spawn_local(async move {
        let result = match dpop::send_token_request(&shared, call, key.as_ref(), &controller).await
        {
            Ok(reply) => http::refresh_answer(&reply, key.is_some(), now())
                .and_then(|()| {
                    http::parse_grant(&reply, memory, key.is_some())
                        .ok_or(RefreshFailure::Malformed)
                })
                .map_err(Some),
            Err(error) => Err(call_failure(error)),
        };
        refresh_finished(&shared, generation, started_at, result);
    });
    None
}

/// The proof for the logout call of the DPoP-bound access token `token` (`None` when WebCrypto
/// fails: the call then goes without one and the server refuses it; the session is wiped anyway).
pub(super) async fn logout_proof(
    key: &dpop::DpopKey,
    url: &str,
    token: &[u8],
    nonce: Option<String>,
) -> Option<String> {
    let ath = dpop::access_token_hash(token).await.ok()?;
    dpop::proof(key, "POST", url, Some(&ath), nonce.as_deref())
        .await
        .ok()
}

/// How a failed auth call reports to the session (`None`: cancelled by the session, which no
/// longer wants a result).
pub(super) fn call_failure(error: http::CallError) -> Option<RefreshFailure> {
    match error {
        http::CallError::Network => Some(RefreshFailure::Network),
        http::CallError::Timeout => Some(RefreshFailure::Timeout),
        http::CallError::TooLarge => Some(RefreshFailure::Malformed),
        http::CallError::Aborted => None,
    }
}

/// Hands the result of the refresh call of `generation`, started at `started_at`, to the
/// session (and the coordinator), then drives both: new tokens, or a failure (`Err(None)`: the
/// call was cancelled and nothing is reported).
pub(super) fn refresh_finished(
    shared: &Shared,
    generation: Generation,
    started_at: u64,
    result: Result<http::Parsed, Option<RefreshFailure>>,
) {
    drive(shared, |inner, out| {
        inner.refresh_calls.retain(|(g, _)| *g != generation);
        let now = now();
        match result {
            Ok(parsed) => inner
                .manager
                .refresh_ok(generation, parsed, started_at, now, out),
            Err(Some(failure)) => inner.manager.refresh_failed(generation, failure, now, out),
            Err(None) => {}
        }
    });
}

impl Inner {
    /// A POST to the auth endpoint `url`, with this manager's credentials mode, timeout and
    /// captured `fetch`.
    pub(super) fn auth_call(
        &self,
        url: String,
        json_body: Option<JsValue>,
        bearer: Option<js_sys::JsString>,
    ) -> http::AuthCall {
        http::AuthCall {
            url,
            credentials: self.config.credentials,
            json_body,
            form_body: None,
            get: false,
            bearer,
            dpop: None,
            timeout_ms: self.config.request_timeout_ms,
            fetch: self.fetch.clone(),
        }
    }
}

/// The outcome of the request gate.
pub(super) enum Gate<T> {
    Go(T, Generation),
    Anonymous,
}

/// Asks the session what a request may carry, waiting through refreshes; `attach` turns the
/// token into what the caller needs (e.g. the `Authorization` value, built in JS).
pub(super) async fn gate<T>(
    shared: &Shared,
    attach: impl Fn(&mut BearerCache, &Secret, Generation) -> T,
) -> Result<Gate<T>, Error> {
    loop {
        let step = drive(shared, |inner, out| {
            let now = now();
            let step = match inner.manager.before_request(now) {
                RequestDecision::Attach { token, generation } => Ok(Gate::Go(
                    attach(&mut inner.bearer, token, generation),
                    generation,
                )),
                RequestDecision::Wait => Err(Ok(())),
                RequestDecision::Fail(RequestFailure::Anonymous) => Ok(Gate::Anonymous),
                RequestDecision::Fail(RequestFailure::LoggedOut(reason)) => Err(Err(Error::new(
                    "ERR_LOGGED_OUT",
                    format!("the session ended ({})", reason.as_str()),
                ))),
                RequestDecision::Fail(RequestFailure::Expired) => Err(Err(Error::new(
                    "ERR_TOKEN_EXPIRED",
                    "the access token expired and a refresh is pending",
                ))),
            };
            // Registered before what the check set off runs: its outcome wakes this request.
            let step = step.map_err(|wait| wait.map(|()| waiter(inner)));
            inner.manager.flush(now, out);
            step
        })
        .ok_or_else(Error::closed)?;
        match step {
            Ok(gate) => return Ok(gate),
            Err(Ok(wait)) => {
                let _ = wait.await;
            }
            Err(Err(error)) => return Err(error),
        }
    }
}

/// Installs tokens from a login or `set_tokens` (waiting requests wake on the session's
/// [`Event::Installed`]).
pub(super) fn install_tokens(shared: &Shared, parsed: http::Parsed, origin: TokenOrigin) {
    let source = match origin {
        TokenOrigin::Login => Source::Login,
        _ => Source::SetTokens,
    };
    drive(shared, |inner, out| {
        inner.manager.install(source, parsed, now(), out)
    });
}
