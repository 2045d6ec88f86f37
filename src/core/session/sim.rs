//! Simulated time for session scenarios, after quinn-proto's `tests/util.rs`: a client whose
//! clock may be skewed drives a [`Session`] against a scripted server over a network with fixed
//! latency. [`Sim::step`] jumps straight to the next timer deadline or network delivery; nothing
//! sleeps, and a run that stops advancing time panics as a livelock.

use std::collections::VecDeque;

use super::*;

/// How the server describes a token's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenStyle {
    /// `expires_in` in the body (plus `exp`/`iat` in the token and a `Date` header).
    ExpiresIn,
    /// No `expires_in`: `exp` and `iat` in the token, plus a `Date` header.
    ExpWithDate,
    /// No `expires_in`, no `Date` header: `exp` and `iat` only.
    ExpWithIat,
}

#[derive(Debug)]
struct IssuedToken {
    value: String,
    exp_ms: i64,
    revoked: bool,
}

/// What the server thinks of a bearer token when a request arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Valid,
    Expired,
    Rejected,
}

/// The reference server in miniature: issues tokens on its own clock, rotates refresh tokens
/// (reuse of an old one is `invalid_grant`), and fails refreshes as scripted.
#[derive(Debug)]
pub(super) struct Server {
    /// Server clock = true time + this.
    pub(super) offset_ms: i64,
    pub(super) lifetime_s: i64,
    pub(super) style: TokenStyle,
    /// Send a new refresh token with every refresh (otherwise the body omits it).
    pub(super) rotate_refresh_tokens: bool,
    /// Refresh failures to answer with, in order, before succeeding again.
    pub(super) script: VecDeque<RefreshFailure>,
    /// Answer 401 to every API request.
    pub(super) reject_all: bool,
    /// Successful refreshes served.
    pub(super) refreshes: usize,
    issued: Vec<IssuedToken>,
    refresh_token: Option<String>,
    serial: u64,
}

impl Server {
    pub(super) fn new(lifetime_s: i64, style: TokenStyle) -> Self {
        Self {
            offset_ms: 0,
            lifetime_s,
            style,
            rotate_refresh_tokens: true,
            script: VecDeque::new(),
            reject_all: false,
            refreshes: 0,
            issued: Vec::new(),
            refresh_token: None,
            serial: 0,
        }
    }

    fn issue(&mut self, server_now: i64, with_refresh_token: bool) -> TokenGrant {
        self.serial += 1;
        let value = format!("at-{}", self.serial);
        let iat = server_now.div_euclid(1_000);
        let exp = iat + self.lifetime_s;
        self.issued.push(IssuedToken {
            value: value.clone(),
            exp_ms: exp * 1_000,
            revoked: false,
        });
        let mut grant = TokenGrant::new(Secret::new(value));
        grant.exp = Some(exp);
        grant.iat = Some(iat);
        if self.style != TokenStyle::ExpWithIat {
            // The Date header has one-second resolution.
            grant.server_date_ms = Some((iat * 1_000) as u64);
        }
        if self.style == TokenStyle::ExpiresIn {
            grant.expires_in = Some(self.lifetime_s);
        }
        if with_refresh_token {
            let refresh = format!("rt-{}", self.serial);
            self.refresh_token = Some(refresh.clone());
            grant.refresh_token = Some(Secret::new(refresh));
        }
        grant
    }

    fn refresh(
        &mut self,
        presented: Option<String>,
        server_now: i64,
    ) -> Result<TokenGrant, RefreshFailure> {
        if let Some(failure) = self.script.pop_front() {
            return Err(failure);
        }
        if presented.is_none() || presented != self.refresh_token {
            return Err(RefreshFailure::InvalidGrant);
        }
        self.refreshes += 1;
        Ok(self.issue(server_now, self.rotate_refresh_tokens))
    }

    fn check(&self, bearer: &str, server_now: i64) -> Verdict {
        match self.issued.iter().find(|token| token.value == bearer) {
            Some(token) if token.exp_ms <= server_now => Verdict::Expired,
            Some(token) if !token.revoked && !self.reject_all => Verdict::Valid,
            _ => Verdict::Rejected,
        }
    }

    /// Revokes every token issued so far (the next requests get 401).
    pub(super) fn revoke_all(&mut self) {
        for token in &mut self.issued {
            token.revoked = true;
        }
    }
}

/// How one simulated request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Ok,
    Unauthorized,
    Failed(RequestFailure),
}

/// One request through the gate, as the shell would track it.
#[derive(Debug, Default)]
pub(super) struct Request {
    pub(super) issued_at: u64,
    /// The generations of the tokens it was sent with, one per send.
    pub(super) sent_with: Vec<Generation>,
    pub(super) outcome: Option<Outcome>,
}

#[derive(Debug)]
enum Message {
    RefreshResult(Generation, Result<TokenGrant, RefreshFailure>),
    Response {
        request: usize,
        generation: Generation,
        verdict: Verdict,
    },
}

/// A client, a server and the network between them, on one simulated timeline.
#[derive(Debug)]
pub(super) struct Sim {
    /// True time (ms); the client and server clocks are offsets from it.
    pub(super) now: u64,
    /// Client clock = true time + this.
    pub(super) client_offset_ms: i64,
    /// One-way network latency.
    pub(super) latency_ms: u64,
    pub(super) session: Session,
    pub(super) server: Server,
    /// Every event, with the true time it was emitted.
    pub(super) events: Vec<(u64, Event)>,
    /// True times at which refreshes started.
    pub(super) refresh_starts: Vec<u64>,
    pub(super) cancels: usize,
    pub(super) requests: Vec<Request>,
    /// Requests sent with a token that had expired by the server's clock when they arrived.
    pub(super) expired_tokens_sent: usize,
    in_transit: Vec<(u64, Message)>,
    waiting: Vec<usize>,
}

/// A run that stops advancing time for this many steps is a livelock.
const STALL_LIMIT: usize = 1_000;
pub(super) const START: u64 = 1_700_000_000_000;

impl Sim {
    pub(super) fn new(policy: RefreshPolicy, server: Server) -> Self {
        Self {
            now: START,
            client_offset_ms: 0,
            latency_ms: 50,
            session: Session::new(policy, 0x5eed),
            server,
            events: Vec::new(),
            refresh_starts: Vec::new(),
            cancels: 0,
            requests: Vec::new(),
            expired_tokens_sent: 0,
            in_transit: Vec::new(),
            waiting: Vec::new(),
        }
    }

    pub(super) fn client_now(&self) -> u64 {
        self.now.saturating_add_signed(self.client_offset_ms)
    }

    fn server_now_at(&self, true_time: u64) -> i64 {
        true_time as i64 + self.server.offset_ms
    }

    /// Logs in: the login response arrives now.
    pub(super) fn login(&mut self) {
        let grant = self.server.issue(self.server_now_at(self.now), true);
        let now = self.client_now();
        self.session.handle_tokens(grant, now);
        self.process();
    }

    /// Issues a request through the gate now; returns its index in `requests`.
    pub(super) fn request(&mut self) -> usize {
        let id = self.requests.len();
        self.requests.push(Request {
            issued_at: self.now,
            ..Request::default()
        });
        self.send(id);
        self.process();
        id
    }

    fn send(&mut self, id: usize) {
        let now = self.client_now();
        let attach = match self.session.before_request(now) {
            RequestDecision::Attach { token, generation } => {
                Some((token.expose().to_owned(), generation))
            }
            RequestDecision::Wait => None,
            RequestDecision::Fail(failure) => {
                self.requests[id].outcome = Some(Outcome::Failed(failure));
                return;
            }
        };
        let Some((bearer, generation)) = attach else {
            self.waiting.push(id);
            return;
        };
        let verdict = self
            .server
            .check(&bearer, self.server_now_at(self.now + self.latency_ms));
        if verdict == Verdict::Expired {
            self.expired_tokens_sent += 1;
        }
        self.requests[id].sent_with.push(generation);
        self.in_transit.push((
            self.now + 2 * self.latency_ms,
            Message::Response {
                request: id,
                generation,
                verdict,
            },
        ));
    }

    /// Performs every pending action; wakes waiting requests on refresh outcomes.
    fn process(&mut self) {
        loop {
            let mut wake = false;
            while let Some(action) = self.session.poll_action() {
                match action {
                    Action::StartRefresh { generation } => {
                        self.refresh_starts.push(self.now);
                        let presented = self
                            .session
                            .refresh_token()
                            .map(|rt| rt.expose().to_owned());
                        let server_now = self.server_now_at(self.now + self.latency_ms);
                        let result = self.server.refresh(presented, server_now);
                        self.in_transit.push((
                            self.now + 2 * self.latency_ms,
                            Message::RefreshResult(generation, result),
                        ));
                    }
                    // Like a shell that cannot abort: the late result still arrives.
                    Action::CancelRefresh { .. } => self.cancels += 1,
                    Action::Emit(event) => {
                        wake |= matches!(
                            event,
                            Event::Installed {
                                origin: TokenOrigin::Refresh,
                                ..
                            } | Event::RefreshFailed { .. }
                                | Event::LoggedOut { .. }
                        );
                        self.events.push((self.now, event));
                    }
                }
            }
            if !wake || self.waiting.is_empty() {
                return;
            }
            for id in std::mem::take(&mut self.waiting) {
                self.send(id);
            }
        }
    }

    /// The next true time something happens: a timer deadline or a network delivery.
    pub(super) fn next_deadline(&self) -> Option<u64> {
        let timer = self.session.poll_timeout().map(|t| {
            t.saturating_add_signed(-self.client_offset_ms)
                .max(self.now)
        });
        let delivery = self.in_transit.iter().map(|(at, _)| *at).min();
        match (timer, delivery) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Jumps to the next deadline and handles everything due then. Returns `false` when idle.
    pub(super) fn step(&mut self) -> bool {
        self.process();
        let Some(next) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(next);
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_transit)
            .into_iter()
            .partition(|(at, _)| *at <= self.now);
        self.in_transit = later;
        for (_, message) in due {
            self.deliver(message);
            self.process();
        }
        let now = self.client_now();
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
        self.process();
        true
    }

    fn deliver(&mut self, message: Message) {
        let now = self.client_now();
        match message {
            Message::RefreshResult(generation, Ok(grant)) => {
                self.session.handle_refresh_ok(generation, grant, now)
            }
            Message::RefreshResult(generation, Err(failure)) => {
                self.session.handle_refresh_err(generation, failure, now)
            }
            Message::Response {
                request,
                verdict: Verdict::Valid,
                ..
            } => {
                self.requests[request].outcome = Some(Outcome::Ok);
            }
            Message::Response {
                request,
                generation,
                ..
            } => {
                let already_retried = self.requests[request].sent_with.len() > 1;
                match self
                    .session
                    .handle_unauthorized(generation, already_retried, now)
                {
                    UnauthorizedDecision::GiveUp => {
                        self.requests[request].outcome = Some(Outcome::Unauthorized)
                    }
                    UnauthorizedDecision::RetryNow => self.send(request),
                    UnauthorizedDecision::RetryAfterRefresh => self.waiting.push(request),
                }
            }
        }
    }

    /// Runs until true time `until` (inclusive), panicking on livelock.
    pub(super) fn run_until(&mut self, until: u64) {
        let mut stalled = 0;
        while let Some(next) = self.next_deadline().filter(|next| *next <= until) {
            let before = self.now;
            self.step();
            stalled = if self.now == before { stalled + 1 } else { 0 };
            assert!(
                stalled < STALL_LIMIT,
                "livelock at t={} (next deadline {next})",
                self.now
            );
        }
        self.now = self.now.max(until);
        self.process();
    }

    /// Runs for `duration` ms, issuing a request through the gate every `every` ms.
    pub(super) fn run_with_requests(&mut self, duration: u64, every: u64) {
        let end = self.now + duration;
        let mut next_request = self.now + every;
        while next_request <= end {
            self.run_until(next_request);
            self.request();
            next_request += every;
        }
        self.run_until(end);
    }

    /// Steps until nothing is scheduled, panicking after `limit` steps.
    pub(super) fn drive_bounded(&mut self, limit: usize) {
        for _ in 0..limit {
            if !self.step() {
                return;
            }
        }
        panic!("still busy after {limit} steps at t={}", self.now);
    }

    /// Steps until a refresh is in flight (its result not yet delivered).
    pub(super) fn run_until_refresh_starts(&mut self) {
        let started = self.refresh_starts.len();
        let mut steps = 0;
        while self.refresh_starts.len() == started {
            assert!(self.step(), "no refresh was scheduled");
            steps += 1;
            assert!(steps < STALL_LIMIT, "no refresh started");
        }
    }

    /// The machine sleeps for `duration` ms (no timer fires), then the page wakes up.
    pub(super) fn sleep_then_wake(&mut self, duration: u64) {
        self.now += duration;
        let now = self.client_now();
        self.session.handle_wake(now);
        self.process();
    }

    pub(super) fn refreshes_between(&self, from: u64, to: u64) -> usize {
        self.refresh_starts
            .iter()
            .filter(|t| (from..=to).contains(t))
            .count()
    }

    pub(super) fn count_events(&self, wanted: impl Fn(&Event) -> bool) -> usize {
        self.events
            .iter()
            .filter(|(_, event)| wanted(event))
            .count()
    }
}
