//! The engine of the npm package's `TokenManager`: the wasm-bindgen adapter of the core's
//! token manager ([`Manager`]: the token session and the cross-tab coordinator, composed in
//! `core::manager`), with the unverified decoder. It converts the driver's inputs to the
//! core's types and the manager's calls to [`Shell`] into the driver's actions; it decides
//! nothing. The JS driver (`driver.js`) does every piece of I/O (fetch, timers,
//! `BroadcastChannel`, Web Locks, wake-ups, listeners); there is no Rust future, no timer and no
//! DOM binding here, which is what keeps the package small.
//!
//! Custody: the tokens live here, in [`Secret`]s. They leave wasm memory only as JS strings
//! built for one purpose: the `Authorization` value (cached per token, as the Rust shell's
//! `BearerCache` does), the refresh call's body in memory mode, a token message for a sibling
//! tab, the logout call, and `getAccessToken()` when the application opted in.
//!
//! Calls: every input runs the manager until it is quiet; what the driver must do comes back
//! from [`Engine::take`] as a list of `[code, ...arguments]` arrays (codes below), in order.

use js_sys::{Array, JsString, Object};

use crate::prelude::*;
use wasm_bindgen::prelude::*;

use crate::core::manager::{LockEvent, Manager, Shell, Source, TabConfig, Timer, Tokens};
use crate::core::secret::Secret;
use crate::core::session::{
    grant, Event, ExpiredRequests, ExpirySource, Generation, PolicyError, RefreshFailure,
    RefreshPolicy, RequestDecision, RequestFailure, TokenOrigin, UnauthorizedDecision,
};
use crate::core::tabs::{Envelope, LockTicket, TabId, TabPolicy, TokenShare};
use crate::core::time::retry_after_ms;
#[cfg(feature = "oauth")]
use crate::core::time::secs_until;
// The codec's JS side (fields read from and written to plain objects), shared with the Rust shell.
use crate::channel::{read, write};

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

/// Milliseconds (or a counter) from JS: `as` saturates (`NaN` and negatives 0, `Infinity`
/// `u64::MAX`), in one instruction.
fn ms(value: f64) -> u64 {
    value as u64
}

/// `NaN` or negative: none.
fn opt_ms(value: f64) -> Option<u64> {
    (value >= 0.0).then_some(value as u64)
}

/// A JS string holding a token, checked for length before it is copied into wasm memory.
fn secret(text: &JsString) -> Result<Secret, JsValue> {
    if grant::token_length_ok(text.length() as usize) {
        Ok(Secret::new(text.into()))
    } else {
        Err(JsValue::from_str(grant::GrantError::TokenLength.message()))
    }
}

/// What the engine keeps besides the core's [`Manager`]: the actions queued for the driver and
/// the `Authorization` value of the current token.
struct Out {
    actions: Option<Array>,
    /// `DPoP <token>` instead of `Bearer <token>` (the `dpop` option).
    dpop: bool,
    /// The `Authorization` value of the current token, built once per token.
    header: Option<(Generation, JsString)>,
}

impl Out {
    fn push(&mut self, items: &[JsValue]) {
        let action = Array::new();
        for item in items {
            action.push(item);
        }
        self.actions.get_or_insert_with(Array::new).push(&action);
    }
}

fn code(c: u32) -> JsValue {
    JsValue::from(c)
}

fn number(n: u64) -> JsValue {
    JsValue::from(n as f64)
}

/// The manager's calls as the driver's `[code, ...arguments]`.
impl Shell for Out {
    #[inline]
    fn start_refresh(&mut self, generation: Generation) {
        self.push(&[code(DO_REFRESH), number(generation.raw())])
    }

    fn cancel_refresh(&mut self, generation: Generation) {
        self.push(&[code(DO_CANCEL), number(generation.raw())])
    }

    fn post(&mut self, envelope: Envelope) {
        let message = Object::new();
        envelope.encode(write(&message));
        self.push(&[code(DO_POST), message.into()]);
    }

    fn post_token(&mut self, share: TokenShare, access: &Secret, refresh: Option<&Secret>) {
        let message = Object::new();
        share.encode(access, refresh, write(&message));
        // Marked: with DPoP the driver adds the key pair (one key per session).
        self.push(&[code(DO_POST), message.into(), JsValue::TRUE]);
    }

    fn request_lock(&mut self, ticket: LockTicket, steal: bool) {
        self.push(&[code(DO_LOCK), number(ticket.raw()), JsValue::from(steal)])
    }

    fn cancel_lock_request(&mut self, ticket: LockTicket) {
        self.push(&[code(DO_ABORT_LOCK), number(ticket.raw())])
    }

    fn release_lock(&mut self, ticket: LockTicket) {
        self.push(&[code(DO_RELEASE), number(ticket.raw())])
    }

    fn hand_over_finished(&mut self, adopted: bool) {
        self.push(&[code(ON_HANDOVER), JsValue::from(adopted)])
    }

    fn emit(&mut self, event: Event) {
        match event {
            Event::Changed(state) => {
                self.push(&[code(ON_CHANGE), JsValue::from_str(state.as_str())])
            }
            Event::Installed { origin, .. } => {
                self.header = None;
                let source = match origin {
                    TokenOrigin::Sibling => JsValue::from_str("otherTab"),
                    TokenOrigin::Refresh => JsValue::from_str("self"),
                    _ => JsValue::NULL,
                };
                self.push(&[code(ON_INSTALLED), source]);
            }
            Event::RefreshFailed {
                failure,
                retry_at,
                token_expires_first,
            } => {
                let (reason, status) = failure.reason();
                let status = status.map_or(JsValue::NULL, JsValue::from);
                self.push(&[
                    code(ON_FAILED),
                    JsValue::from_str(reason),
                    status,
                    JsValue::from(retry_at as f64),
                    JsValue::from(token_expires_first),
                ]);
            }
            Event::Expired => self.push(&[code(ON_EXPIRED)]),
            Event::LoggedOut { reason } => {
                self.header = None;
                self.push(&[code(ON_LOGGED_OUT), JsValue::from_str(reason.as_str())]);
            }
        }
    }
}

/// One `TokenManager`: the core's [`Manager`] (session and, across tabs, coordinator).
#[wasm_bindgen(skip_typescript)]
pub struct Engine {
    manager: Manager,
    out: Out,
    timeout_ms: f64,
    /// The option the core refused: its index, min and max (`[9, 0, 0]`: the leads' order).
    refused: [u64; 3],
}

/// Calls `$method` on the manager with the driver's queue as its sink.
macro_rules! drive {
    ($self:ident.$method:ident($($arg:expr),*)) => {{
        $self.manager.$method($($arg,)* &mut $self.out)
    }};
}

#[wasm_bindgen]
impl Engine {
    /// `policy`: the options of [`POLICY_OPTIONS`] as numbers, in that order; bit `i` of
    /// `given` set when option `i` was given (else its default). `flags`: 1 expired requests
    /// fail, 2 memory mode, 4 cross-tab, 8 Web Locks, 16 DPoP (the `DPoP` scheme), 32 tokens
    /// not shared on the channel ([`TabPolicy::share_tokens`] off: worker custody).
    /// `seeds`: three random words (jitter, tab id, epochs). An option the core refuses:
    /// see [`Engine::times`]. Numbers one by one, no arrays: an array argument brings its own
    /// copying code into the module and the glue.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        given: u32,
        flags: u32,
        seed0: f64,
        seed1: f64,
        seed2: f64,
        p0: f64,
        p1: f64,
        p2: f64,
        p3: f64,
        p4: f64,
        p5: f64,
        p6: f64,
        p7: f64,
        p8: f64,
    ) -> Engine {
        let numbers = [p0, p1, p2, p3, p4, p5, p6, p7, p8];
        let expired = match flags & 1 {
            0 => ExpiredRequests::Wait,
            _ => ExpiredRequests::Fail,
        };
        let (refresh, timeout, refused) = match RefreshPolicy::from_numbers(numbers, given, expired)
        {
            Ok((refresh, timeout)) => (refresh, timeout as f64, [0; 3]),
            Err(e) => (
                RefreshPolicy::default(),
                f64::NAN,
                match e {
                    PolicyError::Range { index, min, max } => [index as u64, min, max],
                    PolicyError::LeadOrder => [9, 0, 0],
                },
            ),
        };
        let memory = flags & 2 != 0;
        let tabs = (flags & 4 != 0).then(|| TabConfig {
            policy: TabPolicy {
                share_tokens: flags & 32 == 0,
                ..TabPolicy::for_request_timeout(timeout as u64)
            },
            id: TabId::from_random(ms(seed1)),
            seed: ms(seed2),
            web_locks: flags & 8 != 0,
        });
        Engine {
            timeout_ms: timeout,
            refused,
            manager: Manager::new(refresh, ms(seed0), memory, tabs),
            out: Out {
                actions: None,
                dpop: flags & 16 != 0,
                header: None,
            },
        }
    }

    /// One input or reading, at `now` (ms), by `code`, with up to two numbers; the answer a
    /// JS value (a number, else `undefined` when there is none). One export for all of them:
    /// each export has a cost of its own in the module and in its glue.
    /// - 0: the timer fired (early or late calls are harmless).
    /// - 1: visibility, focus or the network came back.
    /// - 2: `refresh()` or a cookie-mode `start()`: a refresh now (joining one in flight).
    /// - 3: a Web Locks request of ticket `a`: `b` 0 granted, 1 stolen from us, 2 failed.
    /// - 4: `start()` with no session: asks the siblings (`a`: how many exist, `NaN` unknown);
    ///   1 when a hand-over runs (its end is action 12), else 0.
    /// - 5: a request sent with the token of generation `a` (-1: none current) got a 401 that
    ///   asks for a new token (`b` 1: it was a retry): 0 retry now, 1 retry after the refresh
    ///   (wait first), 2 give up (return the 401).
    /// - 6: the one timer after the calls so far: `NaN` leave it, `-1` clear it, else (re)arm
    ///   it with this delay (ms) for input 0.
    /// - 7: this tab's id on the channel (for the presence lock's name).
    /// - 8: 1 when a token is held (or was: a session exists), else 0.
    /// - 9: the actions queued since the last call (see the codes above), or `undefined`.
    /// - 10: the state, `"anonymous" | "authenticated" | "refreshing" | "expired"`.
    /// - 11: the current token's payload as JSON text, or `undefined`.
    /// - 12: the times ([`Engine::times`]).
    /// - 13: the refresh token (memory mode), for the refresh call's body, or `undefined`:
    ///   copied straight from its `Secret` into a JS string, no second copy left in wasm memory.
    /// - 14: the request gate ([`Engine::before`]; `a` 1: the token itself).
    /// - 15: logout ([`Engine::logout`]).
    pub fn input(&mut self, code: u32, now: f64, a: f64, b: f64) -> JsValue {
        let now = ms(now);
        match code {
            0 => drive!(self.timeout(now)),
            1 => drive!(self.wake(now)),
            2 => drive!(self.request_refresh(now)),
            3 => {
                let event = match b as u32 {
                    0 => LockEvent::Granted,
                    1 => LockEvent::Lost,
                    _ => LockEvent::Unavailable,
                };
                drive!(self.lock(LockTicket::from_raw(ms(a)), event, now))
            }
            4 => {
                let siblings = opt_ms(a).map(|n| n as usize);
                return u8::from(drive!(self.start(siblings, now))).into();
            }
            5 => {
                let retried = b == 1.0;
                return match a {
                    g if g >= 0.0 => {
                        let generation = Generation::from_raw(ms(g));
                        match drive!(self.unauthorized(generation, retried, now)) {
                            UnauthorizedDecision::RetryNow => 0,
                            UnauthorizedDecision::RetryAfterRefresh => 1,
                            UnauthorizedDecision::GiveUp => 2,
                        }
                    }
                    _ if retried => 2,
                    _ => 0,
                }
                .into();
            }
            6 => {
                return match self.manager.timer(now) {
                    Timer::Keep => f64::NAN,
                    Timer::Clear => -1.0,
                    Timer::Arm(delay) => delay.into(),
                }
                .into()
            }
            7 => {
                return self
                    .manager
                    .tabs()
                    .map_or(0.0, |t| t.id().get() as f64)
                    .into()
            }
            8 => return u8::from(self.manager.session().generation().is_some()).into(),
            9 => {
                return self
                    .out
                    .actions
                    .take()
                    .map_or(JsValue::UNDEFINED, JsValue::from)
            }
            10 => return JsValue::from_str(self.manager.session().state().as_str()),
            11 => {
                return self
                    .manager
                    .claims_json()
                    .map_or(JsValue::UNDEFINED, JsValue::from_str)
            }
            12 => return self.times().into(),
            13 => {
                return self
                    .manager
                    .session()
                    .refresh_token()
                    .map_or(JsValue::UNDEFINED, |token| {
                        JsValue::from_str(token.expose())
                    })
            }
            14 => return self.before(now, a == 1.0),
            15 => return self.logout(now).into(),
            _ => {}
        }
        JsValue::UNDEFINED
    }

    /// Installs tokens from a login (`kind` 0), `setTokens` (1), or a sibling tab (2: an API's
    /// token, with `expires_in` the expiry that tab saw, local-clock ms). `expires_in` and
    /// `date_ms` are `NaN` when absent. Throws a message when a token is empty or too long.
    pub fn install(
        &mut self,
        kind: u32,
        access: &JsString,
        refresh: Option<JsString>,
        expires_in: f64,
        date_ms: f64,
        now: f64,
    ) -> Result<(), JsValue> {
        // (Only the OAuth profile's APIs have tokens from a sibling.)
        #[cfg(feature = "oauth")]
        let expires_in = match kind {
            2 if expires_in > 0.0 => secs_until(ms(expires_in), ms(now)) as f64,
            _ => expires_in,
        };
        let tokens = tokens(access, refresh, expires_in, date_ms)?;
        let source = match kind {
            0 => Source::Login,
            _ => Source::SetTokens,
        };
        drive!(self.install(source, tokens, ms(now)));
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
        match tokens(access, refresh, expires_in, date_ms) {
            Ok(tokens) => drive!(self.refresh_ok(generation, tokens, started_at, now)),
            Err(_) => drive!(self.refresh_failed(generation, RefreshFailure::Malformed, now)),
        }
    }

    /// The refresh call of `generation` failed: `kind` 0 network, 1 timeout, 2 an HTTP error
    /// (`status`), 3 `invalid_grant`, 4 malformed. `after`: the answer's `Retry-After`
    /// (`after_date` the platform's parsing of it as a date). The arguments after `now` may be
    /// left out.
    #[wasm_bindgen(js_name = refreshFailed)]
    pub fn refresh_failed(
        &mut self,
        generation: f64,
        kind: u32,
        now: f64,
        status: u16,
        after: Option<String>,
        after_date: f64,
    ) {
        let now = ms(now);
        let retry_after_ms = after.and_then(|value| retry_after_ms(&value, after_date, now));
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
        let generation = Generation::from_raw(ms(generation));
        drive!(self.refresh_failed(generation, failure, now))
    }

    /// Which token an `Authorization` value (from [`Engine::before`]) carried: its generation,
    /// -1 when it has since been replaced, -2 when there is no session.
    pub fn sent(&self, header: &JsString) -> f64 {
        match (&self.out.header, self.manager.session().generation()) {
            (_, None) => -2.0,
            (Some((generation, value)), _) if value == header => generation.raw() as f64,
            _ => -1.0,
        }
    }

    /// A message from the cross-tab channel (decoded strictly; a malformed one is dropped).
    pub fn message(&mut self, data: &JsValue, now: f64) {
        if !data.is_object() {
            return;
        }
        if let Ok(envelope) = Envelope::decode(|key| read(data, key)) {
            drive!(self.message(envelope, ms(now)))
        }
    }
}

impl Engine {
    /// The request gate: the `Authorization` value to attach (a string), `null` when there
    /// has never been a session (send without a token), or a number: 1 wait for the next
    /// event, 2 `ERR_TOKEN_EXPIRED`, 3 `ERR_LOGGED_OUT`. With `raw`, the token itself.
    fn before(&mut self, now: u64, raw: bool) -> JsValue {
        let out = &mut self.out;
        let value = match self.manager.before_request(now) {
            RequestDecision::Attach { token, .. } if raw => JsValue::from_str(token.expose()),
            RequestDecision::Attach { token, generation } => match &out.header {
                Some((cached, value)) if *cached == generation => value.clone().into(),
                _ => {
                    let scheme = if out.dpop { "DPoP " } else { "Bearer " };
                    let value = JsString::from(scheme).concat(&JsValue::from_str(token.expose()));
                    out.header = Some((generation, value.clone()));
                    value.into()
                }
            },
            RequestDecision::Wait => JsValue::from(1),
            RequestDecision::Fail(RequestFailure::Anonymous) => JsValue::NULL,
            RequestDecision::Fail(RequestFailure::Expired) => JsValue::from(2),
            RequestDecision::Fail(_) => JsValue::from(3),
        };
        self.manager.flush(now, out);
        value
    }

    /// Ends the session; returns `[accessToken, refreshToken]` (each a string or `undefined`)
    /// for the logout call, after which nothing of them is left in wasm memory.
    fn logout(&mut self, now: u64) -> Array {
        let credentials = drive!(self.logout(now));
        let pair = Array::new();
        for token in [&credentials.access_token, &credentials.refresh_token] {
            pair.push(
                &token
                    .as_ref()
                    .map_or(JsValue::UNDEFINED, |t| JsValue::from_str(t.expose())),
            );
        }
        pair
    }

    /// The session's times, for the getters: `[expiresAt, clockOffset, expirySource,
    /// nextRefreshAt]`: the current token's expiry (ms), server clock minus local clock (ms), 1
    /// `expires_in`, 2 `exp` or 0 none, and when the session next acts on its own (the refresh,
    /// a retry, the expiry); `NaN` when unknown.
    fn times(&self) -> Array {
        let session = self.manager.session();
        let or_nan = |value: Option<f64>| JsValue::from(value.unwrap_or(f64::NAN));
        [
            or_nan(session.expires_at().map(|ms| ms as f64)),
            or_nan(session.clock_offset_ms().map(|ms| ms as f64)),
            JsValue::from(match session.expiry_source() {
                Some(ExpirySource::ExpiresIn) => 1,
                Some(ExpirySource::ExpClaim) => 2,
                None => 0,
            }),
            or_nan(session.poll_timeout().map(|at| at as f64)),
            // The timeout of each auth call (the option, or the core's default), read once by
            // the driver; NaN when the core refused an option: then its index ([9]: the minimum
            // lead exceeds the maximum), min and max.
            JsValue::from(self.timeout_ms),
            number(self.refused[0]),
            number(self.refused[1]),
            number(self.refused[2]),
        ]
        .iter()
        .collect()
    }
}

/// Tokens from JS: lengths checked before they are copied into wasm memory, `expires_in`
/// validated (`NaN`: absent).
fn tokens(
    access: &JsString,
    refresh: Option<JsString>,
    expires_in: f64,
    date_ms: f64,
) -> Result<Tokens, JsValue> {
    let expires_in = match expires_in {
        n if n.is_nan() => None,
        n => Some(grant::expires_in(n).map_err(|e| JsValue::from_str(e.message()))?),
    };
    Ok(Tokens {
        access: secret(access)?,
        refresh: match refresh {
            Some(text) => Some(secret(&text)?),
            None => None,
        },
        expires_in,
        server_date_ms: opt_ms(date_ms),
    })
}
