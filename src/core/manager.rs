//! The token manager as one sans-IO machine: the token [`Session`] and, when tabs coordinate,
//! the cross-tab [`Coordinator`], composed once. The npm package's engine (`js::engine`) and the
//! N-tab simulation (`core::tabs::sim`, 1,000 seeds) drive this machine; the shells translate
//! its calls to [`Shell`] into I/O and report what happened, deciding nothing.
//!
//! What the composition decides, here and nowhere else:
//! - a refresh the session wants goes through the coordinator when tabs coordinate (one refresh
//!   stream across tabs), straight to the shell otherwise; a refresh the session cancels is
//!   aborted only when no tab shares the cookie (across tabs the call may have rotated the
//!   refresh token, and the coordinator keeps the lock until it ends);
//! - a failed refresh goes to the coordinator first (it may ask the siblings), else to the session;
//! - an installed token is announced to the coordinator with its receipt time, `expires_in`,
//!   `Date` and identity (`iss`, `sub`) before the refresh's result is, so that siblings hear of
//!   the new token before the lock is released;
//! - a token is handed to a sibling only while it is the session's current, usable one and no
//!   refresh is in flight, and in memory mode only with its refresh token;
//! - a sibling's logout ends this tab's session, and any logout ends the coordinator's part.
//!
//! Inputs take `now` (local-clock ms) and the [`Shell`], called in order while the machine
//! decides (no queue in between: a token handed to [`Shell::post_token`] is borrowed, not
//! copied).

use crate::prelude::*;

use crate::core::claims::Claims;
use crate::core::decode::{split, DecodeOptions};
use crate::core::secret::Secret;
use crate::core::session::{
    Action as SessionAction, Credentials, Event, Generation, LogoutReason, RefreshFailure,
    RefreshPolicy, RequestDecision, Session, SessionState, TokenGrant, TokenOrigin,
    UnauthorizedDecision,
};
use crate::core::tabs::{
    Action as TabAction, Coordinator, Envelope, Identity, InstallOrigin, InstalledToken,
    LockTicket, RefreshOutcome, TabId, TabPolicy, TokenShare,
};
use crate::core::time::timer_delay_ms;

/// What the shell does for the machine, called in the order the machine decides it. Each
/// method performs one piece of I/O (or tells the application) and decides nothing.
pub trait Shell {
    /// Call the refresh endpoint for this generation (with [`Session::refresh_token`] in memory
    /// mode); report with [`Manager::refresh_ok`] or [`Manager::refresh_failed`].
    fn start_refresh(&mut self, generation: Generation);
    /// Abort the refresh call of this generation (only when no tab shares the session).
    fn cancel_refresh(&mut self, generation: Generation);
    /// Tell the application. On `Installed` and `LoggedOut`, drop what was cached of the old
    /// token.
    fn emit(&mut self, event: Event);
    /// Post on the channel ([`Envelope::encode`] onto a fresh object).
    fn post(&mut self, envelope: Envelope);
    /// Post this tab's tokens to its siblings ([`TokenShare::encode`] with these secrets; the
    /// refresh token in memory mode only).
    fn post_token(&mut self, share: TokenShare, access: &Secret, refresh: Option<&Secret>);
    /// Ask for the refresh lock (`steal`: take it from its holder); report with
    /// [`Manager::lock`].
    fn request_lock(&mut self, ticket: LockTicket, steal: bool);
    /// Withdraw the lock request of this ticket.
    fn cancel_lock_request(&mut self, ticket: LockTicket);
    /// Release the lock held with this ticket.
    fn release_lock(&mut self, ticket: LockTicket);
    /// [`Manager::start`]'s hand-over ended; `adopted`: a sibling's session was adopted.
    fn hand_over_finished(&mut self, adopted: bool);
}

/// How the tabs of one app coordinate (see [`Coordinator::new`]).
#[derive(Debug, Clone)]
pub struct TabConfig {
    /// The coordinator's policy.
    pub policy: TabPolicy,
    /// This tab's id on the channel.
    pub id: TabId,
    /// A random seed for the coordinator's epochs.
    pub seed: u64,
    /// Whether Web Locks are available (else the channel-claim fallback).
    pub web_locks: bool,
}

/// Tokens received from a login, `setTokens` or a refresh answer.
pub struct Tokens {
    /// The access token.
    pub access: Secret,
    /// The refresh token from the body (kept in memory mode only).
    pub refresh: Option<Secret>,
    /// The answer's `expires_in` (seconds), validated.
    pub expires_in: Option<i64>,
    /// The answer's `Date` (Unix ms).
    pub server_date_ms: Option<u64>,
}

/// Where tokens handed to [`Manager::install`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A login answer.
    Login,
    /// Tokens the application obtained itself.
    SetTokens,
}

/// A lock request's outcome, for [`Manager::lock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEvent {
    /// Granted.
    Granted,
    /// Taken from us by another tab's steal.
    Lost,
    /// The request failed (no Web Locks, or aborted).
    Unavailable,
}

/// Whether a session may exist at the refresh endpoint, by the session-hint cookie `hint` (the
/// server sets a non-`HttpOnly` cookie of that name beside the refresh cookie, and clears it with
/// it): with no hint configured, or `cookies` unknown (a host without `document.cookie`), it may;
/// otherwise only if `cookies` (`document.cookie`: `name=value` pairs joined by `;`) holds the
/// cookie `hint` with a value that is not empty.
pub fn session_may_exist(hint: Option<&str>, cookies: Option<&str>) -> bool {
    let (Some(hint), Some(cookies)) = (hint, cookies) else {
        return true;
    };
    // Bytes, not `str` patterns (their searchers and Unicode trimming are kilobytes of wasm):
    // `document.cookie` is ASCII-delimited, `name=value` pairs joined by `; `.
    cookies.as_bytes().split(|b| *b == b';').any(|pair| {
        let pair = pair.trim_ascii();
        match pair.iter().position(|b| *b == b'=') {
            Some(at) => &pair[..at] == hint.as_bytes() && at + 1 < pair.len(),
            None => false,
        }
    })
}

/// Whether a `401`'s `WWW-Authenticate` challenge says the access token is the problem (RFC 6750
/// §3.1, RFC 9449 §7.1): a `Bearer` or `DPoP` challenge with `error="invalid_token"` (quoted or
/// not), ASCII case-insensitive. Only such a `401` is worth one refresh and one retry (with the
/// default `retryOn401`); any other (`insufficient_scope`, no challenge) is the API's answer.
pub fn challenge_is_invalid_token(challenge: &str) -> bool {
    let c = challenge.trim_ascii_start().as_bytes();
    let starts = |p: &[u8]| {
        c.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    };
    let contains = |p: &[u8]| c.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p));
    (starts(b"bearer") || starts(b"dpop"))
        && (contains(b"error=\"invalid_token\"") || contains(b"error=invalid_token"))
}

/// Whether `name` can be the session-hint cookie's name (the `sessionHint` option): a cookie
/// name, printable ASCII without `=`, `;` or `,`, not empty. The same check as the JS driver's.
pub fn session_hint_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'=' | b';' | b','))
}

/// A token being installed, until the session's `Installed` event names its generation.
struct Incoming {
    at: u64,
    expires_in: Option<i64>,
    server_date_ms: Option<u64>,
    claims: Option<Claims>,
    json: Option<String>,
}

/// The decoded claims of `token` and its payload's JSON text (checked UTF-8).
fn claims_of(token: &Secret) -> (Option<Claims>, Option<String>) {
    let Ok(parts) = split(token.expose(), &DecodeOptions::default()) else {
        return (None, None);
    };
    (Some(parts.token.claims), Some(parts.json.1))
}

/// One token manager: its session and, across tabs, its coordinator.
pub struct Manager {
    session: Session,
    tabs: Option<Coordinator>,
    memory: bool,
    incoming: Option<Incoming>,
    /// The payload JSON of the current token.
    claims: Option<(Generation, String)>,
    /// The deadline the shell's one timer is armed for ([`Manager::timer`]).
    armed_for: Option<u64>,
}

/// What the shell does with its one timer ([`Manager::timer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Leave it as it is.
    Keep,
    /// Clear it: nothing is due.
    Clear,
    /// Clear it and arm it to fire after this many ms.
    Arm(u32),
}

impl Manager {
    /// A manager with no session. `memory`: the refresh token lives in memory (else in an
    /// HttpOnly cookie). `seed`: the session's jitter.
    pub fn new(policy: RefreshPolicy, seed: u64, memory: bool, tabs: Option<TabConfig>) -> Self {
        Manager {
            session: Session::new(policy, seed),
            tabs: tabs.map(|t| Coordinator::new(t.policy, t.id, t.seed, t.web_locks, memory)),
            memory,
            incoming: None,
            claims: None,
            armed_for: None,
        }
    }

    /// The session (state, expiry, clock offset, refresh token).
    #[inline]
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The coordinator, when tabs coordinate.
    #[inline]
    pub fn tabs(&self) -> Option<&Coordinator> {
        self.tabs.as_ref()
    }

    /// When to call [`Manager::timeout`] next (local-clock ms).
    #[inline]
    pub fn deadline(&self) -> Option<u64> {
        let tabs = self.tabs.as_ref().and_then(Coordinator::poll_timeout);
        match (self.session.poll_timeout(), tabs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current token's payload as JSON text.
    #[inline]
    pub fn claims_json(&self) -> Option<&str> {
        let generation = self.session.generation()?;
        self.claims
            .as_ref()
            .filter(|(g, _)| *g == generation)
            .map(|(_, json)| json.as_str())
    }

    /// The shell's one timer after an input, at `now`: armed for [`Manager::deadline`], again
    /// only when the deadline changed (the clock is trusted over the timer: a firing early or
    /// late is harmless), its delay cut to what a browser timer takes.
    pub fn timer(&mut self, now: u64) -> Timer {
        let deadline = self.deadline();
        if deadline == self.armed_for {
            return Timer::Keep;
        }
        self.armed_for = deadline;
        match deadline {
            None => Timer::Clear,
            Some(at) => Timer::Arm(timer_delay_ms(at, now)),
        }
    }

    /// The timer fired (early or late calls are harmless).
    pub fn timeout<S: Shell + ?Sized>(&mut self, now: u64, out: &mut S) {
        self.armed_for = None;
        self.session.handle_timeout(now);
        if let Some(tabs) = self.tabs.as_mut() {
            tabs.handle_timeout(now);
        }
        self.pump(now, out);
    }

    /// Visibility, focus or the network came back.
    pub fn wake<S: Shell + ?Sized>(&mut self, now: u64, out: &mut S) {
        self.session.handle_wake(now);
        self.pump(now, out);
    }

    /// Installs tokens from a login or `setTokens`.
    pub fn install<S: Shell + ?Sized>(
        &mut self,
        source: Source,
        tokens: Tokens,
        now: u64,
        out: &mut S,
    ) {
        let grant = self.grant(tokens, now);
        match source {
            Source::Login => self.session.handle_login(grant, now),
            Source::SetTokens => self.session.handle_tokens(grant, now),
        }
        self.pump(now, out);
    }

    /// The refresh call of `generation`, started at `started_at`, returned tokens. They are
    /// dated by when the call started: a tab frozen during the call must not count
    /// `expires_in` from its wake-up.
    pub fn refresh_ok<S: Shell + ?Sized>(
        &mut self,
        generation: Generation,
        tokens: Tokens,
        started_at: u64,
        now: u64,
        out: &mut S,
    ) {
        let grant = self.grant(tokens, started_at);
        self.session
            .handle_refresh_ok(generation, grant, started_at);
        self.session.handle_timeout(now);
        // The new token reaches the coordinator (and the siblings) before the result does.
        self.pump(now, out);
        if let Some(tabs) = self.tabs.as_mut() {
            tabs.handle_refresh_result(generation, RefreshOutcome::Succeeded, now);
            self.pump(now, out);
        }
    }

    /// The refresh call of `generation` failed.
    pub fn refresh_failed<S: Shell + ?Sized>(
        &mut self,
        generation: Generation,
        failure: RefreshFailure,
        now: u64,
        out: &mut S,
    ) {
        match self.tabs.as_mut() {
            Some(tabs) => {
                tabs.handle_refresh_result(generation, RefreshOutcome::Failed(failure), now)
            }
            None => self.session.handle_refresh_err(generation, failure, now),
        }
        self.pump(now, out);
    }

    /// The request gate ([`Session::before_request`]). The check may set something off (a due
    /// refresh, a noticed expiry): call [`Manager::flush`] once the decision is read.
    pub fn before_request(&mut self, now: u64) -> RequestDecision<'_> {
        self.session.before_request(now)
    }

    /// Performs what the last input set off and has not performed yet (after
    /// [`Manager::before_request`]).
    pub fn flush<S: Shell + ?Sized>(&mut self, now: u64, out: &mut S) {
        if self.session.has_actions() {
            self.pump(now, out);
        }
    }

    /// A request sent with the token of `generation` got a 401 asking for a new token.
    pub fn unauthorized<S: Shell + ?Sized>(
        &mut self,
        generation: Generation,
        retried: bool,
        now: u64,
        out: &mut S,
    ) -> UnauthorizedDecision {
        let decision = self.session.handle_unauthorized(generation, retried, now);
        self.pump(now, out);
        decision
    }

    /// `refresh()`, or `start()` in cookie mode: a refresh now (joining one in flight).
    pub fn request_refresh<S: Shell + ?Sized>(&mut self, now: u64, out: &mut S) {
        self.session.request_refresh(now);
        self.pump(now, out);
    }

    /// Ends the session; returns its tokens for the logout call.
    pub fn logout<S: Shell + ?Sized>(&mut self, now: u64, out: &mut S) -> Credentials {
        let credentials = self.session.logout();
        self.pump(now, out);
        credentials
    }

    /// A message from the channel, decoded strictly (ignored when tabs do not coordinate).
    pub fn message<S: Shell + ?Sized>(&mut self, envelope: Envelope, now: u64, out: &mut S) {
        if let Some(tabs) = self.tabs.as_mut() {
            tabs.handle_message(envelope.from, envelope.message, now);
            self.pump(now, out);
        }
    }

    /// The outcome of the lock request of `ticket`.
    pub fn lock<S: Shell + ?Sized>(
        &mut self,
        ticket: LockTicket,
        event: LockEvent,
        now: u64,
        out: &mut S,
    ) {
        if let Some(tabs) = self.tabs.as_mut() {
            match event {
                LockEvent::Granted => tabs.handle_lock_granted(ticket, now),
                LockEvent::Lost => tabs.handle_lock_lost(ticket, now),
                LockEvent::Unavailable => tabs.handle_lock_unavailable(ticket, now),
            }
        }
        self.pump(now, out);
    }

    /// `start()` once no sibling handed a session over: asks the refresh endpoint when a session
    /// may exist there: no token held, the refresh token in a cookie (one in memory did not
    /// survive the reload) and the session hint present ([`session_may_exist`]). Returns
    /// whether a refresh was asked for.
    pub fn restore<S: Shell + ?Sized>(
        &mut self,
        hint: Option<&str>,
        cookies: Option<&str>,
        now: u64,
        out: &mut S,
    ) -> bool {
        let wanted = self.session.state() == SessionState::Anonymous
            && !self.memory
            && session_may_exist(hint, cookies);
        if wanted {
            self.request_refresh(now, out);
        }
        wanted
    }

    /// `start()` with no session: asks the siblings (`siblings`: how many exist, if known).
    /// Returns whether a hand-over runs (it ends with [`Shell::hand_over_finished`]).
    pub fn start<S: Shell + ?Sized>(
        &mut self,
        siblings: Option<usize>,
        now: u64,
        out: &mut S,
    ) -> bool {
        if self.session.generation().is_some() {
            return false;
        }
        let Some(tabs) = self.tabs.as_mut() else {
            return false;
        };
        tabs.handle_start(siblings, now);
        self.pump(now, out);
        true
    }

    fn grant(&mut self, tokens: Tokens, at: u64) -> TokenGrant {
        let (claims, json) = claims_of(&tokens.access);
        let mut grant = TokenGrant::new(tokens.access);
        grant.refresh_token = tokens.refresh.filter(|_| self.memory);
        grant.expires_in = tokens.expires_in;
        grant.exp = claims.as_ref().and_then(|c| c.exp);
        grant.iat = claims.as_ref().and_then(|c| c.iat);
        grant.server_date_ms = tokens.server_date_ms.filter(|d| *d > 0);
        self.incoming = Some(Incoming {
            at,
            expires_in: grant.expires_in,
            server_date_ms: grant.server_date_ms,
            claims,
            json,
        });
        grant
    }

    /// Drains both machines until both are quiet.
    fn pump<S: Shell + ?Sized>(&mut self, now: u64, out: &mut S) {
        loop {
            if let Some(action) = self.session.poll_action() {
                self.session_action(action, now, out);
                continue;
            }
            self.incoming = None;
            let Some(action) = self.tabs.as_mut().and_then(Coordinator::poll_action) else {
                return;
            };
            self.tab_action(action, now, out);
        }
    }

    fn session_action<S: Shell + ?Sized>(&mut self, action: SessionAction, now: u64, out: &mut S) {
        match (action, self.tabs.as_mut()) {
            (SessionAction::StartRefresh { generation }, Some(tabs)) => {
                tabs.handle_refresh_wanted(generation, now)
            }
            (SessionAction::StartRefresh { generation }, None) => out.start_refresh(generation),
            // Across tabs a cancelled call is never aborted: it may have rotated the refresh
            // token (see `core::tabs`); the coordinator keeps the lock until it ends.
            (SessionAction::CancelRefresh { generation }, Some(tabs)) => {
                tabs.handle_refresh_cancelled(generation, now)
            }
            (SessionAction::CancelRefresh { generation }, None) => out.cancel_refresh(generation),
            (SessionAction::Emit(event), _) => self.event(event, now, out),
        }
    }

    fn event<S: Shell + ?Sized>(&mut self, event: Event, now: u64, out: &mut S) {
        match &event {
            Event::Installed { generation, origin } => {
                let incoming = self.incoming.take();
                if let (Some(tabs), Some(meta)) = (self.tabs.as_mut(), incoming.as_ref()) {
                    tabs.handle_installed(
                        InstalledToken {
                            generation: *generation,
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
                self.claims = incoming
                    .and_then(|i| i.json)
                    .map(|json| (*generation, json));
            }
            Event::LoggedOut { .. } => {
                self.claims = None;
                if let Some(tabs) = self.tabs.as_mut() {
                    tabs.handle_session_ended(now);
                }
            }
            _ => {}
        }
        out.emit(event);
    }

    fn tab_action<S: Shell + ?Sized>(&mut self, action: TabAction, now: u64, out: &mut S) {
        match action {
            TabAction::PostToken(share) => {
                if let Some((access, refresh)) =
                    self.session.shareable(share.generation, self.memory, now)
                {
                    out.post_token(share, access, refresh);
                }
            }
            TabAction::ReportRefreshFailure {
                generation,
                failure,
            } => self.session.handle_refresh_err(generation, failure, now),
            TabAction::InstallSiblingToken(adoption) => {
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
            TabAction::EndSession => drop(self.session.logout_with(LogoutReason::OtherTab)),
            TabAction::Post(envelope) => out.post(envelope),
            TabAction::RequestLock { ticket, steal } => out.request_lock(ticket, steal),
            TabAction::CancelLockRequest { ticket } => out.cancel_lock_request(ticket),
            TabAction::ReleaseLock { ticket } => out.release_lock(ticket),
            TabAction::StartRefresh { generation } => out.start_refresh(generation),
            TabAction::HandOverFinished { adopted } => out.hand_over_finished(adopted),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::core::b64;

    /// The calls a manager made, in order.
    #[derive(Default)]
    struct Record(Vec<String>);

    impl Shell for Record {
        fn start_refresh(&mut self, generation: Generation) {
            self.0.push(format!("refresh {}", generation.raw()));
        }
        fn cancel_refresh(&mut self, generation: Generation) {
            self.0.push(format!("cancel {}", generation.raw()));
        }
        fn emit(&mut self, event: Event) {
            self.0.push(match event {
                Event::Changed(state) => format!("changed {}", state.as_str()),
                Event::Installed { .. } => "installed".into(),
                Event::LoggedOut { reason } => format!("logged out {}", reason.as_str()),
                other => format!("{other:?}"),
            });
        }
        fn post(&mut self, _: Envelope) {
            self.0.push("post".into());
        }
        fn post_token(&mut self, _: TokenShare, _: &Secret, _: Option<&Secret>) {
            self.0.push("post token".into());
        }
        fn request_lock(&mut self, _: LockTicket, _: bool) {
            self.0.push("lock".into());
        }
        fn cancel_lock_request(&mut self, _: LockTicket) {
            self.0.push("cancel lock".into());
        }
        fn release_lock(&mut self, _: LockTicket) {
            self.0.push("release".into());
        }
        fn hand_over_finished(&mut self, adopted: bool) {
            self.0.push(format!("hand-over {adopted}"));
        }
    }

    fn jwt(payload: &str) -> Secret {
        let header = b64::encode(br#"{"alg":"ES256"}"#);
        Secret::new(format!("{header}.{}.c2ln", b64::encode(payload.as_bytes())))
    }

    fn tokens(payload: &str) -> Tokens {
        Tokens {
            access: jwt(payload),
            refresh: Some(Secret::from("refresh")),
            expires_in: Some(300),
            server_date_ms: None,
        }
    }

    #[test]
    fn the_one_timer_is_armed_only_when_the_deadline_moves() {
        let now = 1_700_000_000_000;
        let mut manager = Manager::new(RefreshPolicy::default(), 1, false, None);
        let mut out = Record::default();
        // Nothing due: no timer, and asking again changes nothing.
        assert_eq!(manager.timer(now), Timer::Keep);
        manager.install(Source::Login, tokens(r#"{"sub":"a"}"#), now, &mut out);
        let deadline = manager.deadline().expect("a refresh is due");
        let Timer::Arm(delay) = manager.timer(now) else {
            panic!("armed for the refresh")
        };
        assert_eq!(u64::from(delay), deadline - now);
        // The same deadline later: the timer armed stays (a firing early or late is harmless).
        assert_eq!(manager.timer(now + 1_000), Timer::Keep);
        // It fired early: armed again, for what is left.
        manager.timeout(now + 2_000, &mut out);
        assert_eq!(
            manager.timer(now + 2_000),
            Timer::Arm((deadline - now - 2_000) as u32)
        );
        // Logged out: nothing due, the timer cleared once.
        drop(manager.logout(now + 3_000, &mut out));
        assert_eq!(manager.timer(now + 3_000), Timer::Clear);
        assert_eq!(manager.timer(now + 4_000), Timer::Keep);
    }

    #[test]
    fn a_timer_far_out_is_cut_to_one_browser_timer() {
        let now = 1_700_000_000_000;
        let mut manager = Manager::new(RefreshPolicy::default(), 1, false, None);
        let mut out = Record::default();
        // A token for 100 days: its refresh lies past what setTimeout takes (24.8 days).
        let mut long = tokens(r#"{"sub":"a"}"#);
        long.expires_in = Some(100 * 86_400);
        manager.install(Source::Login, long, now, &mut out);
        assert!(manager.deadline().unwrap() - now > i32::MAX as u64);
        assert_eq!(manager.timer(now), Timer::Arm(i32::MAX as u32));
    }

    #[test]
    fn alone_in_its_tab_the_manager_refreshes_and_cancels_itself() {
        let now = 1_700_000_000_000;
        let mut manager = Manager::new(RefreshPolicy::default(), 1, false, None);
        let mut out = Record::default();
        manager.install(Source::Login, tokens(r#"{"sub":"a"}"#), now, &mut out);
        assert_eq!(out.0, ["installed", "changed authenticated"]);
        assert_eq!(manager.claims_json(), Some(r#"{"sub":"a"}"#));
        // Cookie mode: a refresh token in the body is not kept.
        assert!(manager.session().refresh_token().is_none());
        out.0.clear();
        manager.request_refresh(now, &mut out);
        let call = out.0[0].clone();
        assert!(call.starts_with("refresh "), "{:?}", out.0);
        assert_eq!(out.0[1], "changed refreshing");
        // A logout while the call is out aborts it (no sibling shares the cookie).
        out.0.clear();
        let credentials = manager.logout(now, &mut out);
        let access = credentials.access_token.expect("the logout call's token");
        assert_eq!(access.expose(), jwt(r#"{"sub":"a"}"#).expose());
        assert_eq!(
            out.0,
            [
                call.replace("refresh", "cancel"),
                "logged out logout".into(),
                "changed anonymous".into()
            ]
        );
        assert_eq!(manager.session().state(), SessionState::Anonymous);
        assert_eq!(manager.claims_json(), None);
        // Without tabs there is no hand-over to run.
        assert!(!manager.start(None, now, &mut out));
    }

    #[test]
    fn the_session_hint_decides_whether_start_asks_the_server() {
        let hint = Some("tw_session");
        assert!(session_may_exist(hint, Some("a=b; tw_session=1")));
        assert!(!session_may_exist(hint, Some("tw_session=")));

        let now = 1_700_000_000_000;
        let mut out = Record::default();
        let mut cookie = Manager::new(RefreshPolicy::default(), 1, false, None);
        assert!(!cookie.restore(hint, Some("other=1"), now, &mut out));
        assert!(out.0.is_empty(), "no request without the hint");
        assert!(cookie.restore(hint, Some("tw_session=1"), now, &mut out));
        assert!(out.0[0].starts_with("refresh "), "{:?}", out.0);
        // A refresh token held in memory did not survive the reload: nothing to ask.
        let mut memory = Manager::new(RefreshPolicy::default(), 1, true, None);
        assert!(!memory.restore(None, None, now, &mut Record::default()));
        // A session held already is not restored.
        cookie.install(Source::Login, tokens(r#"{"sub":"a"}"#), now, &mut out);
        assert!(!cookie.restore(None, None, now, &mut Record::default()));
    }

    /// The cases driver.js's copy of the rule must pass too (tests/js/session_hint.test.mjs).
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_session_hint_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/session-hint.json")).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let (hint, cookies) = (case["hint"].as_str(), case["cookies"].as_str());
            let may = case["may"].as_bool().unwrap();
            assert_eq!(session_may_exist(hint, cookies), may, "{case}");
        }
    }

    #[test]
    fn a_refresh_answer_is_dated_by_when_the_call_started() {
        let start = 1_700_000_000_000;
        let mut manager = Manager::new(RefreshPolicy::default(), 1, true, None);
        let mut out = Record::default();
        manager.install(Source::SetTokens, tokens(r#"{"sub":"a"}"#), start, &mut out);
        // Memory mode keeps the refresh token.
        assert_eq!(
            manager.session().refresh_token().map(Secret::expose),
            Some("refresh")
        );
        out.0.clear();
        manager.request_refresh(start, &mut out);
        let call: u64 = out.0[0].strip_prefix("refresh ").unwrap().parse().unwrap();
        let generation = Generation::from_raw(call);
        // The answer arrives 60 s later (a frozen tab): its 300 s count from the call's start.
        out.0.clear();
        manager.refresh_ok(
            generation,
            tokens(r#"{"sub":"b"}"#),
            start,
            start + 60_000,
            &mut out,
        );
        assert_eq!(manager.session().expires_at(), Some(start + 300_000));
        assert_eq!(manager.claims_json(), Some(r#"{"sub":"b"}"#));
        assert!(out.0.contains(&"installed".to_string()), "{:?}", out.0);
    }

    #[test]
    fn a_session_hint_is_a_cookie_name() {
        for name in ["tw_session", "__Host-tw_session", "a!#$%&'*+-.^_`|~"] {
            assert!(session_hint_name_ok(name), "{name}");
        }
        for name in ["", "a=b", "a;b", "a,b", "a b", "caf\u{e9}", "tab\there"] {
            assert!(!session_hint_name_ok(name), "{name:?}");
        }
    }

    #[test]
    fn which_challenges_say_the_token_is_invalid() {
        for yes in [
            r#"Bearer error="invalid_token""#,
            r#"  bearer realm="api", error="invalid_token", error_description="expired""#,
            "DPoP error=invalid_token",
            r#"DPOP algs="ES256", ERROR="INVALID_TOKEN""#,
        ] {
            assert!(challenge_is_invalid_token(yes), "{yes}");
        }
        for no in [
            "",
            "Bearer",
            r#"Bearer error="insufficient_scope""#,
            r#"Basic error="invalid_token""#,
            r#"DPoP error="use_dpop_nonce""#,
            "Bear",
        ] {
            assert!(!challenge_is_invalid_token(no), "{no}");
        }
    }
}
