//! The engine of the npm package's `TokenManager`: the core's sans-IO machines (the token
//! [`Session`], the cross-tab [`Coordinator`] and its strict codec, the unverified decoder)
//! behind coarse synchronous calls. The JS driver (`driver.js`) does every piece of I/O (fetch,
//! timers, `BroadcastChannel`, Web Locks, wake-ups, listeners) and asks the engine what to do;
//! there is no Rust future, no timer and no DOM binding here, which is what keeps the package
//! small.
//!
//! Custody: the tokens live here, in [`Secret`]s. They leave wasm memory only as JS strings
//! built for one purpose: the `Authorization` value (cached per token, as the Rust shell's
//! `BearerCache` does), the refresh call's body in memory mode, a token message for a sibling
//! tab, the logout call, and `getAccessToken()` when the application opted in.
//!
//! Calls: every input drains both machines; what the driver must do comes back from
//! [`Engine::take`] as a list of `[code, ...arguments]` arrays (codes below), in order.

use crate::prelude::*;

use js_sys::{Array, JsString, Object};
use wasm_bindgen::prelude::*;

use crate::core::claims::Claims;
use crate::core::decode::{split, DecodeOptions};
use crate::core::secret::Secret;
use crate::core::session::{
    grant, Action, Event, ExpiredRequests, ExpirySource, Generation, LogoutReason, RefreshFailure,
    RefreshPolicy, RequestDecision, RequestFailure, Session, TokenGrant, TokenOrigin,
    UnauthorizedDecision,
};
use crate::core::tabs::{
    self, Coordinator, Envelope, Identity, InstallOrigin, InstalledToken, LockTicket,
    RefreshOutcome, TabId, TabPolicy,
};
// The codec's JS side (fields read from and written to plain objects), shared with the Rust shell.
use crate::channel::{read, token_message, write};

// Action codes (driver.js has the same table).
const DO_REFRESH: u32 = 1; // [1, generation]
const DO_CANCEL: u32 = 2; // [2, generation]
const ON_CHANGE: u32 = 3; // [3, state]
const ON_INSTALLED: u32 = 4; // [4, source: "self" | "otherTab" | null (login, setTokens)]
const ON_FAILED: u32 = 5; // [5, reason, status | null, retryAt, tokenExpiresFirst]
const ON_EXPIRED: u32 = 6; // [6]
const ON_LOGGED_OUT: u32 = 7; // [7, reason]
const DO_POST: u32 = 8; // [8, message, carriesToken]
const DO_LOCK: u32 = 9; // [9, ticket, steal]
const DO_ABORT_LOCK: u32 = 10; // [10, ticket]
const DO_RELEASE: u32 = 11; // [11, ticket]
const ON_HANDOVER: u32 = 12; // [12, adopted]

/// A token being installed: its claims and what the coordinator needs, until the session's
/// `Installed` event names its generation.
struct Incoming {
    at: u64,
    expires_in: Option<i64>,
    server_date_ms: Option<u64>,
    claims: Option<Claims>,
    json: Option<String>,
}

/// Milliseconds from JS (`NaN`, negative or absurd: 0).
fn ms(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

fn opt_ms(value: f64) -> Option<u64> {
    (value.is_finite() && value >= 0.0).then_some(value as u64)
}

/// The decoded claims of `token` and its payload's JSON text (for the `claims` getter).
fn claims_of(token: &Secret) -> (Option<Claims>, Option<String>) {
    // One decoding gives both the claims and the payload's JSON text (checked UTF-8).
    let Ok(parts) = split(token.expose(), &DecodeOptions::default()) else {
        return (None, None);
    };
    let json = String::from_utf8(parts.json.1).ok();
    (Some(parts.token.claims), json)
}

/// A JS string holding a token, checked for length before it is copied into wasm memory.
fn secret(text: &JsString) -> Result<Secret, JsValue> {
    if grant::token_length_ok(text.length() as usize) {
        Ok(Secret::new(text.into()))
    } else {
        Err(JsValue::from_str(grant::GrantError::TokenLength.message()))
    }
}

fn failure_js(failure: RefreshFailure) -> (&'static str, JsValue) {
    match failure {
        RefreshFailure::Network => ("network", JsValue::NULL),
        RefreshFailure::Timeout => ("timeout", JsValue::NULL),
        RefreshFailure::Server { status, .. } => ("server_error", JsValue::from(status)),
        RefreshFailure::TooManyRequests { .. } => ("too_many_requests", JsValue::from(429)),
        RefreshFailure::InvalidGrant => ("invalid_grant", JsValue::NULL),
        RefreshFailure::Malformed => ("malformed", JsValue::NULL),
    }
}

/// The session and (across tabs) the coordinator of one `TokenManager`.
#[wasm_bindgen(skip_typescript)]
pub struct Engine {
    session: Session,
    tabs: Option<Coordinator>,
    memory: bool,
    /// `DPoP <token>` instead of `Bearer <token>` (the `dpop` option).
    dpop: bool,
    /// The `Authorization` value of the current token, built once per token.
    header: Option<(Generation, JsString)>,
    /// The payload JSON of the current token.
    claims: Option<(Generation, String)>,
    incoming: Option<Incoming>,
    out: Option<Array>,
}

#[wasm_bindgen]
impl Engine {
    /// `policy`: lead fraction, min lead, max lead, lead jitter, min refresh interval, backoff
    /// initial, backoff max, backoff jitter, request timeout (ms and fractions as validated by
    /// the driver). `flags`: 1 expired requests fail, 2 memory mode, 4 cross-tab, 8 Web Locks,
    /// 16 DPoP (the `DPoP` scheme), 32 tokens not shared on the channel
    /// ([`TabPolicy::share_tokens`] off: worker custody).
    /// `seeds`: three random words (jitter, tab id, epochs).
    #[wasm_bindgen(constructor)]
    pub fn new(policy: &[f64], flags: u32, seeds: &[f64]) -> Engine {
        // `NaN` (or a missing entry) keeps the default.
        let given = |i: usize| policy.get(i).copied().filter(|v| v.is_finite());
        let fraction = |i: usize, default: f64| given(i).unwrap_or(default);
        let millis = |i: usize, default: u64| given(i).map_or(default, ms);
        let seed = |i: usize| ms(seeds.get(i).copied().unwrap_or(0.0));
        let d = RefreshPolicy::default();
        let refresh = RefreshPolicy {
            lead_fraction: fraction(0, d.lead_fraction),
            min_lead_ms: millis(1, d.min_lead_ms),
            max_lead_ms: millis(2, d.max_lead_ms),
            lead_jitter_fraction: fraction(3, d.lead_jitter_fraction),
            min_refresh_interval_ms: millis(4, d.min_refresh_interval_ms),
            backoff_initial_ms: millis(5, d.backoff_initial_ms),
            backoff_max_ms: millis(6, d.backoff_max_ms),
            backoff_jitter_fraction: fraction(7, d.backoff_jitter_fraction),
            expired_requests: match flags & 1 {
                0 => ExpiredRequests::Wait,
                _ => ExpiredRequests::Fail,
            },
        };
        let memory = flags & 2 != 0;
        let tabs = (flags & 4 != 0).then(|| {
            Coordinator::new(
                TabPolicy {
                    share_tokens: flags & 32 == 0,
                    ..TabPolicy::for_request_timeout(millis(8, 10_000))
                },
                TabId::from_random(seed(1)),
                seed(2),
                flags & 8 != 0,
                memory,
            )
        });
        Engine {
            session: Session::new(refresh, seed(0)),
            tabs,
            memory,
            dpop: flags & 16 != 0,
            header: None,
            claims: None,
            incoming: None,
            out: None,
        }
    }

    /// The actions queued since the last call (see the codes above), or `undefined`.
    pub fn take(&mut self) -> Option<Array> {
        self.out.take()
    }

    /// When to call [`Engine::timeout`] next (local-clock ms), or `NaN`.
    pub fn deadline(&self) -> f64 {
        let tabs = self.tabs.as_ref().and_then(Coordinator::poll_timeout);
        match (self.session.poll_timeout(), tabs) {
            (Some(a), Some(b)) => a.min(b) as f64,
            (Some(a), None) | (None, Some(a)) => a as f64,
            (None, None) => f64::NAN,
        }
    }

    /// When the session next acts on its own (the refresh, a retry, the expiry), or `NaN`.
    #[wasm_bindgen(js_name = nextRefreshAt)]
    pub fn next_refresh_at(&self) -> f64 {
        self.session.poll_timeout().map_or(f64::NAN, |at| at as f64)
    }

    /// The timer fired (early or late calls are harmless).
    pub fn timeout(&mut self, now: f64) {
        let now = ms(now);
        self.session.handle_timeout(now);
        if let Some(tabs) = self.tabs.as_mut() {
            tabs.handle_timeout(now);
        }
        self.pump(now);
    }

    /// Visibility, focus or network came back.
    pub fn wake(&mut self, now: f64) {
        let now = ms(now);
        self.session.handle_wake(now);
        self.pump(now);
    }

    /// Installs tokens from a login (`kind` 0) or `setTokens` (1). `expires_in` and `date_ms`
    /// are `NaN` when absent. Throws a message when a token is empty or too long.
    pub fn install(
        &mut self,
        kind: u32,
        access: &JsString,
        refresh: Option<JsString>,
        expires_in: f64,
        date_ms: f64,
        now: f64,
    ) -> Result<(), JsValue> {
        let now = ms(now);
        let grant = self.grant(access, refresh, expires_in, date_ms, now)?;
        match kind {
            0 => self.session.handle_login(grant, now),
            _ => self.session.handle_tokens(grant, now),
        }
        self.pump(now);
        Ok(())
    }

    /// The refresh call of `generation`, started at `started_at`, returned tokens.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = refreshOk)]
    pub fn refresh_ok(
        &mut self,
        generation: f64,
        access: &JsString,
        refresh: Option<JsString>,
        expires_in: f64,
        date_ms: f64,
        started_at: f64,
        now: f64,
    ) {
        let (started_at, now) = (ms(started_at), ms(now));
        let generation = Generation::from_raw(ms(generation));
        match self.grant(access, refresh, expires_in, date_ms, started_at) {
            Ok(grant) => {
                // Dated by when the call started (a tab frozen during the call must not count
                // `expires_in` from its wake-up).
                self.session
                    .handle_refresh_ok(generation, grant, started_at);
                self.session.handle_timeout(now);
                if let Some(tabs) = self.tabs.as_mut() {
                    tabs.handle_refresh_result(generation, RefreshOutcome::Succeeded, now);
                }
            }
            Err(_) => self.failed(generation, RefreshFailure::Malformed, now),
        }
        self.pump(now);
    }

    /// The refresh call of `generation` failed: `kind` 0 network, 1 timeout, 2 an HTTP error
    /// (`status`, `retry_after_ms` or `NaN`), 3 `invalid_grant`, 4 malformed.
    #[wasm_bindgen(js_name = refreshFailed)]
    pub fn refresh_failed(
        &mut self,
        generation: f64,
        kind: u32,
        status: u16,
        retry_after_ms: f64,
        now: f64,
    ) {
        let now = ms(now);
        let retry_after_ms = opt_ms(retry_after_ms);
        let failure = match kind {
            0 => RefreshFailure::Network,
            1 => RefreshFailure::Timeout,
            2 if status == 429 => RefreshFailure::TooManyRequests { retry_after_ms },
            2 => RefreshFailure::Server {
                status,
                retry_after_ms,
            },
            3 => RefreshFailure::InvalidGrant,
            _ => RefreshFailure::Malformed,
        };
        self.failed(Generation::from_raw(ms(generation)), failure, now);
        self.pump(now);
    }

    /// The request gate: the `Authorization` value to attach (a string), `null` when there
    /// has never been a session (send without a token), or a number: 1 wait for the next
    /// event, 2 `ERR_TOKEN_EXPIRED`, 3 `ERR_LOGGED_OUT`. With `raw`, the token itself.
    pub fn before(&mut self, now: f64, raw: bool) -> JsValue {
        let now = ms(now);
        let value = match self.session.before_request(now) {
            RequestDecision::Attach { token, .. } if raw => JsValue::from_str(token.expose()),
            RequestDecision::Attach { token, generation } => match &self.header {
                Some((cached, value)) if *cached == generation => value.clone().into(),
                _ => {
                    let scheme = if self.dpop { "DPoP " } else { "Bearer " };
                    let value = JsString::from(scheme).concat(&JsValue::from_str(token.expose()));
                    self.header = Some((generation, value.clone()));
                    value.into()
                }
            },
            RequestDecision::Wait => JsValue::from(1),
            RequestDecision::Fail(RequestFailure::Anonymous) => JsValue::NULL,
            RequestDecision::Fail(RequestFailure::Expired) => JsValue::from(2),
            RequestDecision::Fail(_) => JsValue::from(3),
        };
        if self.session.has_actions() {
            self.pump(now);
        }
        value
    }

    /// Which token an `Authorization` value (from [`Engine::before`]) carried: its generation,
    /// -1 when it has since been replaced, -2 when there is no session.
    pub fn sent(&self, header: &JsString) -> f64 {
        match (&self.header, self.session.generation()) {
            (_, None) => -2.0,
            (Some((generation, value)), _) if value == header => generation.raw() as f64,
            _ => -1.0,
        }
    }

    /// A request sent with the token of `generation` got a 401 that asks for a new token:
    /// 0 retry now, 1 retry after the refresh (wait first), 2 give up (return the 401).
    pub fn unauthorized(&mut self, generation: f64, retried: bool, now: f64) -> u32 {
        let now = ms(now);
        let generation = match generation {
            g if g >= 0.0 => Generation::from_raw(ms(g)),
            _ if retried => return 2,
            _ => return 0,
        };
        let decision = self.session.handle_unauthorized(generation, retried, now);
        self.pump(now);
        match decision {
            UnauthorizedDecision::RetryNow => 0,
            UnauthorizedDecision::RetryAfterRefresh => 1,
            UnauthorizedDecision::GiveUp => 2,
        }
    }

    /// `refresh()` or a cookie-mode `start()`: a refresh now (joining one in flight).
    #[wasm_bindgen(js_name = requestRefresh)]
    pub fn request_refresh(&mut self, now: f64) {
        let now = ms(now);
        self.session.request_refresh(now);
        self.pump(now);
    }

    /// The refresh token (memory mode), for the refresh call's body. Copied straight from its
    /// `Secret` into a JS string: no second copy is left in wasm memory.
    #[wasm_bindgen(js_name = refreshToken)]
    pub fn refresh_token(&self) -> JsValue {
        self.session
            .refresh_token()
            .map_or(JsValue::UNDEFINED, |token| {
                JsValue::from_str(token.expose())
            })
    }

    /// Ends the session; returns `[accessToken, refreshToken]` (each a string or `undefined`)
    /// for the logout call, after which nothing of them is left in wasm memory.
    pub fn logout(&mut self, now: f64) -> Array {
        let credentials = self.session.logout();
        let pair = Array::new();
        for token in [&credentials.access_token, &credentials.refresh_token] {
            pair.push(
                &token
                    .as_ref()
                    .map_or(JsValue::UNDEFINED, |t| JsValue::from_str(t.expose())),
            );
        }
        self.pump(ms(now));
        pair
    }

    /// A message from the cross-tab channel (decoded strictly; a malformed one is dropped).
    pub fn message(&mut self, data: &JsValue, now: f64) {
        if !data.is_object() {
            return;
        }
        let now = ms(now);
        if let (Some(tabs), Ok(envelope)) =
            (self.tabs.as_mut(), Envelope::decode(|key| read(data, key)))
        {
            tabs.handle_message(envelope.from, envelope.message, now);
            self.pump(now);
        }
    }

    /// A Web Locks request of `ticket`: `what` 0 granted, 1 stolen from us, 2 failed.
    pub fn lock(&mut self, ticket: f64, what: u32, now: f64) {
        let now = ms(now);
        let ticket = LockTicket::from_raw(ms(ticket));
        if let Some(tabs) = self.tabs.as_mut() {
            match what {
                0 => tabs.handle_lock_granted(ticket, now),
                1 => tabs.handle_lock_lost(ticket, now),
                _ => tabs.handle_lock_unavailable(ticket, now),
            }
        }
        self.pump(now);
    }

    /// `start()` with no session: asks the siblings (`siblings`: how many exist, `NaN`
    /// unknown). Returns whether a hand-over runs (its end is action 12).
    pub fn start(&mut self, siblings: f64, now: f64) -> bool {
        let now = ms(now);
        if self.session.generation().is_some() {
            return false;
        }
        let Some(tabs) = self.tabs.as_mut() else {
            return false;
        };
        tabs.handle_start(opt_ms(siblings).map(|n| n as usize), now);
        self.pump(now);
        true
    }

    /// This tab's id on the channel (for the presence lock's name).
    #[wasm_bindgen(js_name = tabId)]
    pub fn tab_id(&self) -> f64 {
        self.tabs.as_ref().map_or(0.0, |t| t.id().get() as f64)
    }

    /// Whether a token is held (or was: a session exists).
    #[wasm_bindgen(js_name = hasSession)]
    pub fn has_session(&self) -> bool {
        self.session.generation().is_some()
    }

    /// `"anonymous" | "authenticated" | "refreshing" | "expired"`.
    pub fn state(&self) -> String {
        self.session.state().as_str().to_owned()
    }

    /// The current token's payload as JSON text, or `undefined`.
    pub fn claims(&self) -> Option<String> {
        let generation = self.session.generation()?;
        self.claims
            .as_ref()
            .filter(|(g, _)| *g == generation)
            .map(|(_, json)| json.clone())
    }

    /// Expiry of the current token (ms), or `NaN`.
    #[wasm_bindgen(js_name = expiresAt)]
    pub fn expires_at(&self) -> f64 {
        self.session.expires_at().map_or(f64::NAN, |ms| ms as f64)
    }

    /// Server clock minus local clock (ms), or `NaN`.
    #[wasm_bindgen(js_name = clockOffset)]
    pub fn clock_offset(&self) -> f64 {
        self.session
            .clock_offset_ms()
            .map_or(f64::NAN, |ms| ms as f64)
    }

    /// 1 `expires_in`, 2 `exp`, 0 none.
    #[wasm_bindgen(js_name = expirySource)]
    pub fn expiry_source(&self) -> u32 {
        match self.session.expiry_source() {
            Some(ExpirySource::ExpiresIn) => 1,
            Some(ExpirySource::ExpClaim) => 2,
            None => 0,
        }
    }
}

impl Engine {
    fn grant(
        &mut self,
        access: &JsString,
        refresh: Option<JsString>,
        expires_in: f64,
        date_ms: f64,
        at: u64,
    ) -> Result<TokenGrant, JsValue> {
        let expires_in = match expires_in {
            n if n.is_nan() => None,
            n => Some(grant::expires_in(n).map_err(|e| JsValue::from_str(e.message()))?),
        };
        let access = secret(access)?;
        let refresh = match refresh {
            Some(text) => Some(secret(&text)?),
            None => None,
        };
        let (claims, json) = claims_of(&access);
        let mut grant = TokenGrant::new(access);
        grant.refresh_token = refresh.filter(|_| self.memory);
        grant.expires_in = expires_in;
        grant.exp = claims.as_ref().and_then(|c| c.exp);
        grant.iat = claims.as_ref().and_then(|c| c.iat);
        grant.server_date_ms = opt_ms(date_ms).filter(|d| *d > 0);
        self.incoming = Some(Incoming {
            at,
            expires_in,
            server_date_ms: grant.server_date_ms,
            claims,
            json,
        });
        Ok(grant)
    }

    /// A failed refresh goes to the coordinator when tabs coordinate (it may first ask the
    /// siblings), else to the session.
    fn failed(&mut self, generation: Generation, failure: RefreshFailure, now: u64) {
        match self.tabs.as_mut() {
            Some(tabs) => {
                tabs.handle_refresh_result(generation, RefreshOutcome::Failed(failure), now)
            }
            None => self.session.handle_refresh_err(generation, failure, now),
        }
    }

    fn emit(&mut self, items: &[JsValue]) {
        let action = Array::new();
        for item in items {
            action.push(item);
        }
        self.out.get_or_insert_with(Array::new).push(&action);
    }

    /// Drains both machines until both are quiet, queueing what the driver must do.
    fn pump(&mut self, now: u64) {
        loop {
            if let Some(action) = self.session.poll_action() {
                self.session_action(action, now);
                continue;
            }
            self.incoming = None;
            let Some(action) = self.tabs.as_mut().and_then(Coordinator::poll_action) else {
                return;
            };
            self.tab_action(action, now);
        }
    }

    fn session_action(&mut self, action: Action, now: u64) {
        let code = |c: u32| JsValue::from(c);
        match action {
            Action::StartRefresh { generation } => match self.tabs.as_mut() {
                Some(tabs) => tabs.handle_refresh_wanted(generation, now),
                None => self.emit(&[code(DO_REFRESH), JsValue::from(generation.raw() as f64)]),
            },
            Action::CancelRefresh { generation } => match self.tabs.as_mut() {
                // Across tabs a cancelled call is never aborted: it may have rotated the
                // refresh token (see `core::tabs`); the coordinator keeps the lock until it ends.
                Some(tabs) => tabs.handle_refresh_cancelled(generation, now),
                None => self.emit(&[code(DO_CANCEL), JsValue::from(generation.raw() as f64)]),
            },
            Action::Emit(event) => self.event(event, now),
        }
    }

    fn event(&mut self, event: Event, now: u64) {
        let code = |c: u32| JsValue::from(c);
        match event {
            Event::Changed(state) => {
                self.emit(&[code(ON_CHANGE), JsValue::from_str(state.as_str())])
            }
            Event::Installed { generation, origin } => {
                let incoming = self.incoming.take();
                if let (Some(tabs), Some(meta)) = (self.tabs.as_mut(), incoming.as_ref()) {
                    tabs.handle_installed(
                        InstalledToken {
                            generation,
                            origin: match origin {
                                TokenOrigin::Refresh => InstallOrigin::Refresh,
                                TokenOrigin::Sibling => InstallOrigin::Sibling,
                                _ => InstallOrigin::Login,
                            },
                            received_at: meta.at,
                            expires_in: meta.expires_in,
                            server_date_ms: meta.server_date_ms,
                            identity: Identity::of(meta.claims.as_ref()),
                        },
                        now,
                    );
                }
                self.claims = incoming.and_then(|i| i.json).map(|json| (generation, json));
                self.header = None;
                let source = match origin {
                    TokenOrigin::Sibling => JsValue::from_str("otherTab"),
                    TokenOrigin::Refresh => JsValue::from_str("self"),
                    _ => JsValue::NULL,
                };
                self.emit(&[code(ON_INSTALLED), source]);
            }
            Event::RefreshFailed {
                failure,
                retry_at,
                token_expires_first,
            } => {
                let (reason, status) = failure_js(failure);
                self.emit(&[
                    code(ON_FAILED),
                    JsValue::from_str(reason),
                    status,
                    JsValue::from(retry_at as f64),
                    JsValue::from(token_expires_first),
                ]);
            }
            Event::Expired => self.emit(&[code(ON_EXPIRED)]),
            Event::LoggedOut { reason } => {
                self.claims = None;
                self.header = None;
                if let Some(tabs) = self.tabs.as_mut() {
                    tabs.handle_session_ended(now);
                }
                self.emit(&[code(ON_LOGGED_OUT), JsValue::from_str(reason.as_str())]);
            }
        }
    }

    fn tab_action(&mut self, action: tabs::Action, now: u64) {
        let code = |c: u32| JsValue::from(c);
        let ticket = |t: LockTicket| JsValue::from(t.raw() as f64);
        match action {
            tabs::Action::Post(envelope) => {
                let message = Object::new();
                envelope.encode(write(&message));
                self.emit(&[code(DO_POST), message.into()]);
            }
            tabs::Action::PostToken(share) => {
                if let Some(message) = token_message(&mut self.session, &share, self.memory, now) {
                    // Marked: with DPoP the driver adds the key pair (one key per session).
                    self.emit(&[code(DO_POST), message.into(), JsValue::TRUE]);
                }
            }
            tabs::Action::RequestLock { ticket: t, steal } => {
                self.emit(&[code(DO_LOCK), ticket(t), JsValue::from(steal)])
            }
            tabs::Action::CancelLockRequest { ticket: t } => {
                self.emit(&[code(DO_ABORT_LOCK), ticket(t)])
            }
            tabs::Action::ReleaseLock { ticket: t } => self.emit(&[code(DO_RELEASE), ticket(t)]),
            tabs::Action::StartRefresh { generation } => {
                self.emit(&[code(DO_REFRESH), JsValue::from(generation.raw() as f64)])
            }
            tabs::Action::ReportRefreshFailure {
                generation,
                failure,
            } => self.session.handle_refresh_err(generation, failure, now),
            tabs::Action::InstallSiblingToken(adoption) => {
                let json = claims_of(&adoption.grant.access_token).1;
                self.incoming = Some(Incoming {
                    at: adoption.received_at,
                    expires_in: adoption.grant.expires_in,
                    server_date_ms: adoption.grant.server_date_ms,
                    claims: adoption.claims,
                    json,
                });
                self.session
                    .handle_sibling_tokens(adoption.grant, adoption.received_at, now);
            }
            tabs::Action::EndSession => drop(self.session.logout_with(LogoutReason::OtherTab)),
            tabs::Action::HandOverFinished { adopted } => {
                self.emit(&[code(ON_HANDOVER), JsValue::from(adopted)])
            }
        }
    }
}
