//! The token session as a sans-IO state machine: it decides when to refresh, what a request may
//! carry and when the session is over; the shell (browser or test) supplies time and does the I/O.
//!
//! See [`Session`] for the contract.

mod expiry;
pub mod grant;
mod policy;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use alloc::collections::VecDeque;

use crate::core::secret::Secret;

pub use self::expiry::ExpirySource;
use self::policy::SplitMix64;
pub use self::policy::{
    check_request_timeout, policy_bounds, ExpiredRequests, PolicyError, RefreshPolicy,
    DEFAULT_REQUEST_TIMEOUT_MS, MAX_RETRY_AFTER_MS, POLICY_OPTIONS,
};

/// A session-unique sequence number stamped on every access token and on every refresh attempt.
///
/// The shell hands it back with results ([`Session::handle_refresh_ok`],
/// [`Session::handle_refresh_err`], [`Session::handle_unauthorized`]) so that the session can tell
/// a current result from a late one for something that has since been superseded; late ones are
/// ignored. Tokens and refresh attempts draw from one counter, so two never share a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(u64);

impl Generation {
    /// The number, for a shell that hands generations to JS (the npm package's engine).
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "engine")), allow(dead_code))]
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    /// A generation named by [`Generation::raw`] (an unknown one is ignored as a late result),
    /// or numbered by a shell that does not run the session (the Rust API's worker custody: its
    /// page side numbers the tokens it hears of).
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "engine")), allow(dead_code))]
    pub(crate) fn from_raw(raw: u64) -> Self {
        Self(raw)
    }
}

/// Tokens from a login, `setTokens` or refresh response, with what the shell read around them.
///
/// The shell decodes the JWT (without verifying it) to fill `exp` and `iat`; all numbers are as
/// received, and absurd values are tolerated (see [`Session::expiry_source`]).
#[derive(Debug)]
pub struct TokenGrant {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token when the server sends it in the body (memory mode).
    pub refresh_token: Option<Secret>,
    /// The response's `expires_in`, in seconds.
    pub expires_in: Option<i64>,
    /// The token's `exp` claim, in Unix seconds.
    pub exp: Option<i64>,
    /// The token's `iat` claim, in Unix seconds (the server's clock at issuance).
    pub iat: Option<i64>,
    /// The response's `Date` header, in Unix ms (the server's clock when it answered).
    pub server_date_ms: Option<u64>,
}

impl TokenGrant {
    /// A grant carrying only an access token; fill in the other fields as available.
    pub fn new(access_token: Secret) -> Self {
        Self {
            access_token,
            refresh_token: None,
            expires_in: None,
            exp: None,
            iat: None,
            server_date_ms: None,
        }
    }
}

/// Why a refresh call failed, as reported by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The request did not reach the server or no response came back (transient).
    Network,
    /// The shell gave up waiting for the response (transient). Abort the call first.
    Timeout,
    /// A 5xx answer (transient). `retry_after_ms` is its `Retry-After`, converted to a delay.
    Server {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header as a delay in ms.
        retry_after_ms: Option<u64>,
    },
    /// A 429 answer (transient); the next attempt is never earlier than `Retry-After`.
    TooManyRequests {
        /// The `Retry-After` header as a delay in ms.
        retry_after_ms: Option<u64>,
    },
    /// `400 invalid_grant`, or a 401 from the refresh endpoint: the session is over (terminal).
    InvalidGrant,
    /// A 2xx answer whose body held no usable token (transient; not a new token).
    Malformed,
}

impl RefreshFailure {
    /// The failure's name in a `refreshFailed` event (`"network"`, `"timeout"`,
    /// `"server_error"`, `"too_many_requests"`, `"invalid_grant"`, `"malformed"`) and the HTTP
    /// status that goes with it, if any: the same words from both shells.
    pub fn reason(self) -> (&'static str, Option<u16>) {
        match self {
            Self::Network => ("network", None),
            Self::Timeout => ("timeout", None),
            Self::Server { status, .. } => ("server_error", Some(status)),
            Self::TooManyRequests { .. } => ("too_many_requests", Some(429)),
            Self::InvalidGrant => ("invalid_grant", None),
            Self::Malformed => ("malformed", None),
        }
    }

    /// The failure a `refreshFailed` event names ([`reason`](Self::reason) read back, as a
    /// worker reports it to its page; an unknown word is a network failure, a server error
    /// without its status a 500). The event carries no `Retry-After`: none here.
    pub fn from_reason(reason: &str, status: Option<u16>) -> Self {
        match reason {
            "timeout" => Self::Timeout,
            "server_error" => Self::Server {
                status: status.unwrap_or(500),
                retry_after_ms: None,
            },
            "too_many_requests" => Self::TooManyRequests {
                retry_after_ms: None,
            },
            "invalid_grant" => Self::InvalidGrant,
            "malformed" => Self::Malformed,
            _ => Self::Network,
        }
    }

    fn retry_after_ms(self) -> Option<u64> {
        match self {
            Self::Server { retry_after_ms, .. } | Self::TooManyRequests { retry_after_ms } => {
                retry_after_ms
            }
            _ => None,
        }
    }
}

/// The session state shown to applications (the JS `state` getter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// No access token and none on the way (never logged in, or logged out).
    Anonymous,
    /// A usable access token and no refresh in flight.
    Authenticated,
    /// A refresh is in flight (or, with no token yet, a restoring refresh is being retried).
    Refreshing,
    /// The access token has expired or was rejected with 401; a refresh is pending.
    Expired,
}

impl SessionState {
    /// `"anonymous"`, `"authenticated"`, `"refreshing"` or `"expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Authenticated => "authenticated",
            Self::Refreshing => "refreshing",
            Self::Expired => "expired",
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutReason {
    /// [`Session::logout`] was called.
    UserLogout,
    /// The refresh endpoint rejected the refresh token ([`RefreshFailure::InvalidGrant`]).
    InvalidGrant,
    /// Another tab of the same app logged out ([`Session::logout_with`]).
    OtherTab,
    /// The worker holding the session (worker custody) stopped; its session is gone. Never
    /// produced by a [`Session`] itself: the page side of worker custody reports it.
    WorkerLost,
}

impl LogoutReason {
    /// `"logout"`, `"invalid_grant"`, `"otherTab"` or `"workerLost"` (the JS event's `reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserLogout => "logout",
            Self::InvalidGrant => "invalid_grant",
            Self::OtherTab => "otherTab",
            Self::WorkerLost => "workerLost",
        }
    }
}

/// Where an installed access token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// A login response ([`Session::handle_login`]): a new session.
    Login,
    /// Tokens the application handed over ([`Session::handle_tokens`]): a new session.
    SetTokens,
    /// This session's own refresh ([`Session::handle_refresh_ok`]).
    Refresh,
    /// Another holder of this session, a sibling tab ([`Session::handle_sibling_tokens`]).
    Sibling,
}

impl TokenOrigin {
    /// Whether the token starts a new session (rather than continuing the current one).
    pub fn starts_session(self) -> bool {
        matches!(self, Self::Login | Self::SetTokens)
    }
}

/// Something that happened, for the application's listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// [`Session::state`] changed to this value. Always emitted after the more specific event
    /// of the same input.
    Changed(SessionState),
    /// A new access token was installed (every install emits exactly one). Requests told to
    /// wait can ask [`Session::before_request`] again.
    Installed {
        /// The new token's generation ([`Session::generation`] from now on).
        generation: Generation,
        /// Where it came from.
        origin: TokenOrigin,
    },
    /// A refresh failed transiently; another attempt starts at `retry_at` (local-clock ms).
    /// Requests told to wait can ask [`Session::before_request`] again (the current token may
    /// still be usable).
    RefreshFailed {
        /// What went wrong.
        failure: RefreshFailure,
        /// When the next attempt starts.
        retry_at: u64,
        /// The access token is unusable, or will expire, before `retry_at`.
        token_expires_first: bool,
    },
    /// The access token can no longer be used: its expiry passed or the server answered 401.
    Expired,
    /// The session ended and every secret was dropped. Requests told to wait should fail.
    LoggedOut {
        /// Why.
        reason: LogoutReason,
    },
}

/// What the shell must do next; see [`Session::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Call the refresh endpoint now, sending [`Session::refresh_token`] if there is one
    /// (memory mode) or the cookie (cookie mode). Then report exactly one result tagged with
    /// this generation: [`Session::handle_refresh_ok`] or [`Session::handle_refresh_err`].
    /// No other refresh is requested while this one is outstanding.
    StartRefresh {
        /// Tag for the result.
        generation: Generation,
    },
    /// The refresh with this generation is no longer wanted (logout or new tokens): abort the
    /// HTTP call if possible. Reporting its result anyway is harmless: it is ignored.
    CancelRefresh {
        /// The abandoned refresh.
        generation: Generation,
    },
    /// Deliver this event to the application's listeners.
    Emit(Event),
}

/// The answer of the request gate, [`Session::before_request`].
#[derive(Debug, PartialEq, Eq)]
pub enum RequestDecision<'a> {
    /// Send the request with `Authorization: Bearer <token>`. Keep `generation`: a 401 for
    /// this request is reported with it.
    Attach {
        /// The access token.
        token: &'a Secret,
        /// Its generation.
        generation: Generation,
    },
    /// No token can be attached right now but one is coming: hold the request until the next
    /// [`Event::Installed`], [`Event::RefreshFailed`] or [`Event::LoggedOut`], then ask again.
    Wait,
    /// Do not send the request with a token.
    Fail(RequestFailure),
}

/// Why [`Session::before_request`] refused to attach a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestFailure {
    /// There has never been a session (the shell may send the request without a token).
    Anonymous,
    /// The session ended.
    LoggedOut(LogoutReason),
    /// The token is unusable, a refresh is pending, and the policy is
    /// [`ExpiredRequests::Fail`].
    Expired,
}

/// The answer to a 401, [`Session::handle_unauthorized`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnauthorizedDecision {
    /// The request carried a token that has since been replaced: send it again now, through
    /// [`Session::before_request`], marked as retried.
    RetryNow,
    /// The token was current and is now marked rejected; a refresh is started or scheduled.
    /// Hold the request like [`RequestDecision::Wait`], then send it again through
    /// [`Session::before_request`], marked as retried.
    RetryAfterRefresh,
    /// Return the 401 to the caller: the request was already retried once, or there is no
    /// session.
    GiveUp,
}

/// The secrets removed by [`Session::logout`], for the logout endpoint (which revokes the
/// refresh token family and blocklists the access token). Dropping this wipes them.
#[derive(Debug)]
#[must_use = "send them to the logout endpoint, or drop them to wipe them"]
pub struct Credentials {
    /// The access token, if there was one.
    pub access_token: Option<Secret>,
    /// The refresh token, if held in memory.
    pub refresh_token: Option<Secret>,
}

/// The token session: holds the access token (and, in memory mode, the refresh token), decides
/// when to refresh and what requests may carry. It is sans-IO, in the manner of quinn-proto's
/// `Connection`:
///
/// - **Inputs** are `handle_*` calls plus [`Session::before_request`], [`Session::request_refresh`]
///   and [`Session::logout`]. Every time-dependent call takes `now`: the local wall clock in ms
///   since the Unix epoch. The session never reads a clock, does no I/O, and draws jitter from the
///   seed given to [`Session::new`].
/// - **Outputs**: after any input, drain [`Session::poll_action`] until `None` and perform each
///   [`Action`]; then arm one timer for [`Session::poll_timeout`] and call
///   [`Session::handle_timeout`] when it fires. Timers are not trusted: a late timer is fine, and
///   extra or early `handle_timeout` calls are no-ops. On wake-ups (visibility, focus, online) call
///   [`Session::handle_wake`]; `before_request` re-checks the clock too.
/// - **Refresh** is single-flight: one [`Action::StartRefresh`] at a time, each with a fresh
///   [`Generation`]; results for any other generation (late, cancelled, after logout) are ignored.
///   A refresh is due at expiry minus the [`RefreshPolicy`] lead, at once when the token expired
///   or was rejected, and never sooner than `min_refresh_interval_ms` after the current token was
///   received (a token handed to `handle_tokens` already expired is the one exception: it did not
///   come from a refresh, so this cannot loop). Transient failures back off per the policy;
///   [`RefreshFailure::InvalidGrant`] ends the session.
/// - **Expiry** comes from `expires_in` (from the receipt time), else from `exp` corrected by the
///   measured server clock offset ([`ExpirySource`]). A token with no usable expiry gets no
///   scheduled refresh and never expires locally; a 401 still triggers a refresh.
/// - **Custody**: the previous access token is dropped, and so zeroized, as soon as a new one is
///   installed; logout and the end of the session drop both tokens (`logout` hands them to the
///   shell for the revocation call). A refresh response without a refresh token keeps the old one
///   (RFC 6749 §6).
///
/// ```
/// use tokenwarden::core::secret::Secret;
/// use tokenwarden::core::session::{Action, RefreshPolicy, RequestDecision, Session, TokenGrant};
///
/// let mut session = Session::new(RefreshPolicy::default(), 7);
/// let mut grant = TokenGrant::new(Secret::from("access"));
/// grant.expires_in = Some(300);
/// session.handle_login(grant, 1_000_000);
/// while let Some(action) = session.poll_action() { /* emit events */ let _ = action; }
/// assert!(matches!(session.before_request(1_000_500), RequestDecision::Attach { .. }));
///
/// // The timer fires about four minutes later: a refresh starts.
/// let deadline = session.poll_timeout().unwrap();
/// session.handle_timeout(deadline);
/// let Some(Action::StartRefresh { generation }) = session.poll_action() else { panic!() };
/// // ... POST the refresh endpoint, then:
/// let mut fresh = TokenGrant::new(Secret::from("access-2"));
/// fresh.expires_in = Some(300);
/// session.handle_refresh_ok(generation, fresh, deadline + 80);
/// ```
#[derive(Debug)]
pub struct Session {
    policy: RefreshPolicy,
    rng: SplitMix64,
    last_generation: u64,
    token: Option<CurrentToken>,
    refresh_token: Option<Secret>,
    /// What the refresh machinery is doing.
    phase: Phase,
    /// Why the last session ended; cleared by the next install. Only set while there is no
    /// token.
    ended: Option<LogoutReason>,
    reported_state: SessionState,
    actions: VecDeque<Action>,
}

/// The refresh phase: exactly one of these holds at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing pending beyond the token's own schedule.
    Idle,
    /// An explicit [`Session::request_refresh`] is waiting to start.
    Requested,
    /// A refresh call is outstanding; `failures` transient failures came right before it.
    Refreshing {
        generation: Generation,
        failures: u32,
    },
    /// Backing off after `failures` transient failures; the next attempt starts at `next_at`.
    BackingOff { failures: u32, next_at: u64 },
}

impl Phase {
    fn in_flight(self) -> Option<Generation> {
        match self {
            Phase::Refreshing { generation, .. } => Some(generation),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct CurrentToken {
    access_token: Secret,
    generation: Generation,
    expires_at: Option<u64>,
    source: Option<ExpirySource>,
    clock_offset_ms: Option<i64>,
    /// Scheduled refresh time, jitter applied (none without a usable expiry).
    refresh_at: Option<u64>,
    /// Loop guard: no refresh of this token before this time (see `min_refresh_interval_ms`).
    not_refresh_before: u64,
    /// `expires_at` has passed (and [`Event::Expired`] was emitted).
    expired: bool,
    /// The server answered 401 for this token.
    rejected: bool,
}

impl CurrentToken {
    fn usable(&self) -> bool {
        !self.expired && !self.rejected
    }
}

impl Session {
    /// A session with no tokens. `seed` feeds the jitter; use a random value in production
    /// (e.g. from `crypto.getRandomValues`) and a fixed one in tests.
    pub fn new(policy: RefreshPolicy, seed: u64) -> Self {
        Self {
            policy,
            rng: SplitMix64::new(seed),
            last_generation: 0,
            token: None,
            refresh_token: None,
            phase: Phase::Idle,
            ended: None,
            reported_state: SessionState::Anonymous,
            actions: VecDeque::new(),
        }
    }

    /// Tokens from a login response, received at `now`: they start a new session. An
    /// outstanding refresh is cancelled, the backoff is reset, and the refresh token becomes
    /// exactly the grant's (none if it has none). Emits [`Event::Installed`] with
    /// [`TokenOrigin::Login`].
    pub fn handle_login(&mut self, grant: TokenGrant, now: u64) {
        self.new_session(grant, TokenOrigin::Login, now);
    }

    /// Tokens the application obtained elsewhere (`setTokens`), received at `now`: as
    /// [`Session::handle_login`], with [`TokenOrigin::SetTokens`].
    pub fn handle_tokens(&mut self, grant: TokenGrant, now: u64) {
        self.new_session(grant, TokenOrigin::SetTokens, now);
    }

    fn new_session(&mut self, grant: TokenGrant, origin: TokenOrigin, now: u64) {
        self.cancel_in_flight();
        self.refresh_token = None;
        self.install(grant, now, origin);
        self.settle(now);
    }

    fn cancel_in_flight(&mut self) {
        if let Some(generation) = self.phase.in_flight() {
            self.actions.push_back(Action::CancelRefresh { generation });
        }
    }

    /// Tokens that another holder of the same session (a sibling tab on this machine) received
    /// at `received_at` on the same clock: installed as if received then, so the expiry, the
    /// refresh schedule and the clock offset are the sibling's. A refresh in flight or a backoff
    /// is dropped (the sibling's rotation supersedes it); a grant without a refresh token keeps
    /// the current one. Emits [`Event::Installed`] with [`TokenOrigin::Sibling`]. A
    /// `received_at` later than `now` is taken as `now`.
    pub fn handle_sibling_tokens(&mut self, grant: TokenGrant, received_at: u64, now: u64) {
        self.cancel_in_flight();
        self.install(grant, received_at.min(now), TokenOrigin::Sibling);
        self.settle(now);
    }

    /// The refresh `generation` succeeded with `grant`, received at `now`. Ignored unless
    /// `generation` is the refresh in flight. A grant without a refresh token keeps the old one.
    pub fn handle_refresh_ok(&mut self, generation: Generation, grant: TokenGrant, now: u64) {
        if self.phase.in_flight() != Some(generation) {
            return;
        }
        self.install(grant, now, TokenOrigin::Refresh);
        self.settle(now);
    }

    /// The refresh `generation` failed at `now`. Ignored unless `generation` is the refresh in
    /// flight. Transient failures schedule a retry and emit [`Event::RefreshFailed`]; the
    /// current token stays in use while it is valid. [`RefreshFailure::InvalidGrant`] ends the
    /// session with [`LogoutReason::InvalidGrant`].
    pub fn handle_refresh_err(
        &mut self,
        generation: Generation,
        failure: RefreshFailure,
        now: u64,
    ) {
        let Phase::Refreshing {
            generation: in_flight,
            failures,
        } = self.phase
        else {
            return;
        };
        if in_flight != generation {
            return;
        }
        if failure == RefreshFailure::InvalidGrant {
            self.phase = Phase::Idle;
            self.end(LogoutReason::InvalidGrant);
        } else {
            let failures = failures.saturating_add(1);
            let delay =
                self.policy
                    .retry_delay_ms(failures, failure.retry_after_ms(), self.rng.next_u64());
            let retry_at = now.saturating_add(delay);
            self.phase = Phase::BackingOff {
                failures,
                next_at: retry_at,
            };
            let token_expires_first = self.token.as_ref().is_some_and(|token| {
                !token.usable() || token.expires_at.is_some_and(|at| at <= retry_at)
            });
            self.actions.push_back(Action::Emit(Event::RefreshFailed {
                failure,
                retry_at,
                token_expires_first,
            }));
        }
        self.settle(now);
    }

    /// A request sent with the token of `generation` got a 401 at `now` (for the refresh
    /// endpoint's own 401 use [`RefreshFailure::InvalidGrant`] instead).
    ///
    /// The shell tracks, per request, whether it was already retried and passes that as
    /// `already_retried`: each request is retried at most once, and a 401 on a retried request
    /// neither triggers a refresh nor is retried ([`UnauthorizedDecision::GiveUp`]). Otherwise a
    /// stale `generation` means the request may simply go again with the current token, and the
    /// current one marks the token rejected and starts (or joins) a single refresh.
    pub fn handle_unauthorized(
        &mut self,
        generation: Generation,
        already_retried: bool,
        now: u64,
    ) -> UnauthorizedDecision {
        let decision = match self.token.as_mut() {
            _ if already_retried => UnauthorizedDecision::GiveUp,
            None => UnauthorizedDecision::GiveUp,
            Some(token) if token.generation != generation => UnauthorizedDecision::RetryNow,
            Some(token) => {
                if token.usable() {
                    self.actions.push_back(Action::Emit(Event::Expired));
                }
                token.rejected = true;
                UnauthorizedDecision::RetryAfterRefresh
            }
        };
        self.settle(now);
        decision
    }

    /// The timer armed for [`Session::poll_timeout`] fired (or any other time: calls before a
    /// deadline, or repeated ones, do nothing).
    pub fn handle_timeout(&mut self, now: u64) {
        self.settle(now);
    }

    /// The page became visible, got focus or came back online: the clock is re-checked (after a
    /// sleep the timer may not have fired). Same effect as [`Session::handle_timeout`].
    pub fn handle_wake(&mut self, now: u64) {
        self.settle(now);
    }

    /// Asks for a refresh now (the JS `refresh()`, or `start()` restoring a cookie-mode session
    /// with no token yet). It joins a refresh in flight and does not cut a backoff short, but it
    /// is not held back by `min_refresh_interval_ms`.
    pub fn request_refresh(&mut self, now: u64) {
        if self.phase == Phase::Idle {
            self.phase = Phase::Requested;
        }
        self.settle(now);
    }

    /// Ends the session: both tokens are removed and returned for the logout endpoint, a refresh
    /// in flight is cancelled (its late result will be ignored), and [`Event::LoggedOut`] with
    /// [`LogoutReason::UserLogout`] is emitted if there was anything to end.
    pub fn logout(&mut self) -> Credentials {
        self.logout_with(LogoutReason::UserLogout)
    }

    /// As [`Session::logout`], with the reason the [`Event::LoggedOut`] carries, e.g.
    /// [`LogoutReason::OtherTab`] when a sibling tab ended the shared session.
    pub fn logout_with(&mut self, reason: LogoutReason) -> Credentials {
        let credentials = Credentials {
            access_token: self.token.take().map(|token| token.access_token),
            refresh_token: self.refresh_token.take(),
        };
        let had_session = credentials.access_token.is_some()
            || credentials.refresh_token.is_some()
            || self.phase != Phase::Idle;
        if had_session {
            self.end(reason);
        }
        self.report_state();
        credentials
    }

    /// The request gate: what a request about to be sent at `now` should carry. It re-checks the
    /// clock first (a due refresh starts, an expired token is noticed), then:
    ///
    /// | situation | answer |
    /// |---|---|
    /// | usable token, no refresh in flight (backing off included) | `Attach` |
    /// | usable token, refresh in flight | `Wait` |
    /// | token expired or rejected (a refresh is always pending then) | `Wait`, or `Fail(Expired)` per [`RefreshPolicy::expired_requests`] |
    /// | no token, restoring refresh in flight or backing off | `Wait` |
    /// | no token, nothing pending | `Fail(Anonymous)` or `Fail(LoggedOut(reason))` |
    pub fn before_request(&mut self, now: u64) -> RequestDecision<'_> {
        self.settle(now);
        let refreshing = self.phase.in_flight().is_some();
        match &self.token {
            Some(token) if token.usable() && !refreshing => RequestDecision::Attach {
                token: &token.access_token,
                generation: token.generation,
            },
            Some(token) if token.usable() => RequestDecision::Wait,
            Some(_) => match self.policy.expired_requests {
                ExpiredRequests::Wait => RequestDecision::Wait,
                ExpiredRequests::Fail => RequestDecision::Fail(RequestFailure::Expired),
            },
            None if self.phase != Phase::Idle => RequestDecision::Wait,
            None => RequestDecision::Fail(match self.ended {
                Some(reason) => RequestFailure::LoggedOut(reason),
                None => RequestFailure::Anonymous,
            }),
        }
    }

    /// The tokens to hand to a sibling tab for the token of `generation`: the access token and,
    /// in `memory` mode, the refresh token held in memory. `None` unless that token is still the
    /// current one, usable, with no refresh in flight (the request gate's `Attach`, checked at
    /// `now`), and in memory mode only with a refresh token (a sibling could not refresh without).
    pub fn shareable(
        &mut self,
        generation: Generation,
        memory: bool,
        now: u64,
    ) -> Option<(&Secret, Option<&Secret>)> {
        if self.generation() != Some(generation) || self.state() != SessionState::Authenticated {
            return None;
        }
        self.settle(now);
        let refreshing = self.phase.in_flight().is_some();
        let refresh = match (memory, self.refresh_token.as_ref()) {
            (false, _) => None,
            (true, Some(token)) => Some(token),
            (true, None) => return None,
        };
        match &self.token {
            Some(token) if token.usable() && !refreshing => Some((&token.access_token, refresh)),
            _ => None,
        }
    }

    /// The next thing the shell must do, or `None` when there is nothing left. Drain it after
    /// every input.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether [`Session::poll_action`] has something (a shell may skip draining when not).
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// When to call [`Session::handle_timeout`] next (local-clock ms), or `None` when no timer
    /// is needed. Re-arm the timer whenever this changes, i.e. after every input.
    pub fn poll_timeout(&self) -> Option<u64> {
        let expiry = self
            .token
            .as_ref()
            .filter(|token| !token.expired)
            .and_then(|token| token.expires_at);
        match (self.refresh_due_at(), expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        let refreshing = matches!(
            self.phase,
            Phase::Refreshing { .. } | Phase::BackingOff { .. }
        );
        match &self.token {
            None if refreshing => SessionState::Refreshing,
            None => SessionState::Anonymous,
            Some(token) if !token.usable() => SessionState::Expired,
            Some(_) if self.phase.in_flight().is_some() => SessionState::Refreshing,
            Some(_) => SessionState::Authenticated,
        }
    }

    /// The current access token's generation.
    pub fn generation(&self) -> Option<Generation> {
        self.token.as_ref().map(|token| token.generation)
    }

    /// When the current access token expires, in local-clock ms (`None`: no token, or no usable
    /// expiry in its grant).
    pub fn expires_at(&self) -> Option<u64> {
        self.token.as_ref().and_then(|token| token.expires_at)
    }

    /// Where [`Session::expires_at`] came from. `None` with a token means the grant had no usable
    /// expiry: `expires_in` missing, not positive or over a year, and `exp` missing or more than
    /// a year away. Such a token is never refreshed on a timer; a 401 still refreshes it.
    pub fn expiry_source(&self) -> Option<ExpirySource> {
        self.token.as_ref().and_then(|token| token.source)
    }

    /// Server clock minus local clock in ms, measured when the current token arrived (from the
    /// `Date` header, else from `iat`); `None` if neither was available.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.token.as_ref().and_then(|token| token.clock_offset_ms)
    }

    /// The refresh token held in memory (memory mode), to send with [`Action::StartRefresh`].
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// The policy in use.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    fn next_generation(&mut self) -> Generation {
        self.last_generation = self.last_generation.saturating_add(1);
        Generation(self.last_generation)
    }

    /// Installs a new access token (dropping, and so zeroizing, the previous one), ends any
    /// refresh phase and emits [`Event::Installed`].
    fn install(&mut self, grant: TokenGrant, now: u64, origin: TokenOrigin) {
        let from_refresh = !origin.starts_session();
        let estimate = expiry::estimate(&grant, now);
        let TokenGrant {
            access_token,
            refresh_token,
            ..
        } = grant;
        if refresh_token.is_some() {
            self.refresh_token = refresh_token;
        }
        let generation = self.next_generation();
        let refresh_at = estimate
            .expires_at
            .map(|expires_at| self.policy.refresh_at(now, expires_at, self.rng.next_u64()));
        let expired_on_arrival = estimate.expires_at.is_some_and(|at| at <= now);
        let not_refresh_before = if expired_on_arrival && !from_refresh {
            now
        } else {
            now.saturating_add(self.policy.min_refresh_interval_ms)
        };
        self.token = Some(CurrentToken {
            access_token,
            generation,
            expires_at: estimate.expires_at,
            source: estimate.source,
            clock_offset_ms: estimate.clock_offset_ms,
            refresh_at,
            not_refresh_before,
            expired: false,
            rejected: false,
        });
        self.phase = Phase::Idle;
        self.ended = None;
        self.actions
            .push_back(Action::Emit(Event::Installed { generation, origin }));
    }

    /// Drops every secret and pending refresh and emits [`Event::LoggedOut`].
    fn end(&mut self, reason: LogoutReason) {
        self.token = None;
        self.refresh_token = None;
        self.cancel_in_flight();
        self.phase = Phase::Idle;
        self.ended = Some(reason);
        self.actions
            .push_back(Action::Emit(Event::LoggedOut { reason }));
    }

    /// When the next refresh should start (local-clock ms), if one is wanted and none is in
    /// flight.
    fn refresh_due_at(&self) -> Option<u64> {
        match self.phase {
            Phase::Refreshing { .. } => return None,
            Phase::BackingOff { next_at, .. } => return Some(next_at),
            Phase::Requested => return Some(0),
            Phase::Idle => {}
        }
        let token = self.token.as_ref()?;
        let wanted_at = if token.usable() { token.refresh_at? } else { 0 };
        Some(wanted_at.max(token.not_refresh_before))
    }

    /// Brings the session up to date with the clock at `now`, then reports a state change.
    fn settle(&mut self, now: u64) {
        if let Some(token) = self.token.as_mut() {
            if !token.expired && token.expires_at.is_some_and(|at| at <= now) {
                token.expired = true;
                if !token.rejected {
                    self.actions.push_back(Action::Emit(Event::Expired));
                }
            }
        }
        if self.refresh_due_at().is_some_and(|due| due <= now) {
            let generation = self.next_generation();
            let failures = match self.phase {
                Phase::BackingOff { failures, .. } => failures,
                _ => 0,
            };
            self.phase = Phase::Refreshing {
                generation,
                failures,
            };
            self.actions.push_back(Action::StartRefresh { generation });
        }
        self.report_state();
    }

    fn report_state(&mut self) {
        let state = self.state();
        if state != self.reported_state {
            self.reported_state = state;
            self.actions.push_back(Action::Emit(Event::Changed(state)));
        }
    }
}
