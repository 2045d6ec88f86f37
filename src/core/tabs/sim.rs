//! The N-tab simulation: 2 to 8 tabs, each a [`Manager`] (a [`Session`] and a [`Coordinator`]
//! composed by `core::manager`, as the npm package's engine runs them) driven by a shell that
//! only performs its outputs, on simulated time (after quinn-proto's
//! `tests/util.rs`: the world jumps to the next event or timer, nothing sleeps, and a run that
//! stops advancing is a livelock).
//!
//! The world: a `BroadcastChannel` that delays (with spikes), duplicates, reorders and (in the
//! lossy half of the seeds) drops messages; a Web Locks manager (or, for some seeds, the
//! channel-claim fallback) whose holder can vanish mid-refresh; a cookie-mode auth server that
//! rotates the refresh token on every use and counts any re-presented one as reuse; tabs that
//! sleep (frozen: their timers, messages and responses wait until they wake), crash, and open
//! (a new tab runs `start()`); and, in some seeds, a logout.
//!
//! Modelled browser facts: the cookie jar is shared by the tabs; a response's `Set-Cookie` is
//! stored when the response reaches the browser, even if its tab closed meanwhile (the network
//! layer finishes the request); a fetch aborted by its page before the response arrives loses
//! its `Set-Cookie`.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::*;
use crate::core::b64;
use crate::core::manager::{LockEvent, Manager, Shell, Source, TabConfig, Tokens};
use crate::core::secret::Secret;
use crate::core::session::{Event, RefreshPolicy, RequestDecision, Session};

const ISS: &str = "https://auth.example";
const SUB: &str = "alice";
const LIFETIME_S: u64 = 60;
const START: u64 = 1_700_000_000_000;
const RUN_MS: u64 = 10 * LIFETIME_S * 1_000;
/// A reuse grace window the size of the request timeout (`--reuse-grace-ms 10000`).
const GRACE_MS: u64 = 10_000;
/// A live, awake, logged-in tab waits at most this long for a usable token.
const WAIT_BOUND_MS: u64 = 40_000;
/// Steps without time advancing before the run counts as a livelock.
const STALL_LIMIT: usize = 5_000;
/// The coordinator's policy; `TABS_SIM_OLD_TIMINGS=1` restores the constants of the shell
/// before the coordinator (no wait after a contended grant, 60 ms claim settle).
fn tab_policy() -> TabPolicy {
    let mut policy = TabPolicy::for_request_timeout(10_000);
    if std::env::var("TABS_SIM_OLD_TIMINGS").is_ok() {
        policy.contended_settle_ms = 0;
        policy.claim_settle_ms = 60;
    }
    policy
}
/// Upper bound on steps per run (drive bounded).
const STEP_LIMIT: usize = 400_000;

/// A small deterministic generator for the world's choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// A message field on the simulated wire (what a structured clone carries).
#[derive(Debug, Clone)]
enum Field {
    Number(f64),
    Text(String),
}

fn encode_fields(write: impl FnOnce(&mut dyn FnMut(Key, Out<'_>))) -> Vec<(Key, Field)> {
    let mut fields = Vec::new();
    write(&mut |key, out| {
        fields.push((
            key,
            match out {
                Out::Number(n) => Field::Number(n),
                Out::Text(t) => Field::Text(t.to_owned()),
            },
        ))
    });
    fields
}

fn jwt(serial: u64, iat_s: u64) -> String {
    let header = b64::encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let payload = format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","jti":"j{serial}","iat":{iat_s},"exp":{}}}"#,
        iat_s + LIFETIME_S
    );
    format!("{header}.{}.c2ln", b64::encode(payload.as_bytes()))
}

/// A refresh answer's tokens (cookie mode: the refresh token is in the jar).
fn tokens(access: String) -> Tokens {
    Tokens {
        access: Secret::new(access),
        refresh: None,
        expires_in: Some(LIFETIME_S as i64),
        server_date_ms: None,
    }
}

/// The auth server: rotates the refresh cookie on every use, detects reuse.
#[derive(Default)]
struct Server {
    current: Option<String>,
    used: HashSet<String>,
    serial: u64,
    /// Access token -> expiry (true ms).
    issued: HashMap<String, u64>,
    revoked_before: Option<u64>,
    reuse: Vec<u64>,
    /// Refresh token -> when it was rotated and by which call.
    rotated: HashMap<String, (u64, usize)>,
    /// Re-presentations of a token whose rotation was lost with a closed tab (how long after
    /// the rotation), accepted as a long enough `--reuse-grace-ms` would.
    lost_rotations: Vec<(usize, u64)>,
    /// Times of successful refreshes.
    refreshes: Vec<u64>,
}

impl Server {
    fn issue(&mut self, now: u64) -> (String, String) {
        self.serial += 1;
        let access = jwt(self.serial, now / 1_000);
        self.issued
            .insert(access.clone(), (now / 1_000 + LIFETIME_S) * 1_000);
        let refresh = format!("rt-{}", self.serial);
        self.current = Some(refresh.clone());
        (access, refresh)
    }

    /// `lost(call)`: the response of that call never reached the browser.
    fn refresh(
        &mut self,
        cookie: Option<&str>,
        call: usize,
        now: u64,
        lost: impl Fn(usize) -> bool,
    ) -> Result<(String, String), ()> {
        match cookie {
            Some(c) if self.current.as_deref() == Some(c) => {
                self.used.insert(c.to_owned());
                self.rotated.insert(c.to_owned(), (now, call));
                self.refreshes.push(now);
                Ok(self.issue(now))
            }
            Some(_) if lost(call) => {
                // A closed tab's request still reached the server; nobody reads the answer.
                // (A reuse grace window keeps the family; without one this is revoked too.)
                self.lost_rotations.push((call, 0));
                Err(())
            }
            Some(c) if self.used.contains(c) => {
                let (at, by) = self.rotated[c];
                if lost(by) && self.current.is_some() {
                    // No client rule can prevent this one; a server grace window does.
                    self.lost_rotations.push((by, now - at));
                    self.refreshes.push(now);
                    return Ok(self.issue(now));
                }
                self.reuse.push(now);
                self.current = None;
                Err(())
            }
            _ => Err(()),
        }
    }

    fn valid(&self, access: &str, now: u64) -> bool {
        self.issued.get(access).is_some_and(|exp| *exp > now)
            && self
                .issued
                .get(access)
                .is_some_and(|_| self.revoked_before.is_none())
    }
}

/// The Web Locks manager: one exclusive lock.
#[derive(Default)]
struct Locks {
    holder: Option<(usize, LockTicket)>,
    queue: Vec<(usize, LockTicket)>,
}

struct Call {
    tab: usize,
    generation: Generation,
    cookie: Option<String>,
    sent_at: u64,
    aborted: bool,
    /// Aborted because its tab closed (not by the shell).
    closed: bool,
    /// The response reached the browser.
    delivered: bool,
    result: Option<Result<(String, String), ()>>,
}

#[derive(Debug)]
enum Ev {
    Deliver {
        to: usize,
        fields: Vec<(Key, Field)>,
    },
    Granted {
        to: usize,
        ticket: LockTicket,
    },
    Lost {
        to: usize,
        ticket: LockTicket,
    },
    AtServer {
        call: usize,
    },
    AtBrowser {
        call: usize,
    },
    ToTab {
        call: usize,
    },
    Sleep {
        tab: usize,
        ms: u64,
    },
    Wake {
        tab: usize,
    },
    Crash {
        tab: usize,
    },
    Open,
    Logout,
    Sample,
    /// The forger posts a claim.
    Forge,
}

impl Ev {
    fn tab(&self) -> Option<usize> {
        match self {
            Ev::Deliver { to, .. } | Ev::Granted { to, .. } | Ev::Lost { to, .. } => Some(*to),
            Ev::Sleep { tab, .. } | Ev::Crash { tab } => Some(*tab),
            _ => None,
        }
    }
}

/// An output of a tab's manager, owned (a token message already encoded).
#[derive(Debug)]
enum Step {
    Refresh(Generation),
    Post(Vec<(Key, Field)>, bool),
    Lock(LockTicket, bool),
    CancelLock(LockTicket),
    Release(LockTicket),
    HandOver(bool),
}

/// The shell's part of a manager's input: what to do, recorded and performed after it.
impl Shell for Vec<Step> {
    fn start_refresh(&mut self, generation: Generation) {
        self.push(Step::Refresh(generation));
    }

    fn cancel_refresh(&mut self, _: Generation) {
        panic!("across tabs a cancelled call is never aborted");
    }

    fn emit(&mut self, _: Event) {}

    fn post(&mut self, envelope: Envelope) {
        self.push(Step::Post(encode_fields(|w| envelope.encode(w)), false));
    }

    fn post_token(&mut self, share: TokenShare, access: &Secret, refresh: Option<&Secret>) {
        let fields = encode_fields(|w| share.encode(access, refresh, w));
        self.push(Step::Post(fields, true));
    }

    fn request_lock(&mut self, ticket: LockTicket, steal: bool) {
        self.push(Step::Lock(ticket, steal));
    }

    fn cancel_lock_request(&mut self, ticket: LockTicket) {
        self.push(Step::CancelLock(ticket));
    }

    fn release_lock(&mut self, ticket: LockTicket) {
        self.push(Step::Release(ticket));
    }

    fn hand_over_finished(&mut self, adopted: bool) {
        self.push(Step::HandOver(adopted));
    }
}

struct Tab {
    manager: Manager,
    alive: bool,
    asleep_until: Option<u64>,
    waiting_since: Option<u64>,
    /// `start()` has not resolved yet (requests go out without a token meanwhile).
    starting: bool,
    /// After a logout elsewhere, this tab must have ended its session by then.
    logout_deadline: Option<u64>,
}

/// The knobs of one seed.
#[derive(Debug, Clone)]
struct Faults {
    tabs: usize,
    web_locks: bool,
    drop: f64,
    duplicate: f64,
    delay_max: u64,
    spike: f64,
    latency_max: u64,
    sleep: f64,
    crash_mid_refresh: f64,
    opens: u64,
    logout: bool,
}

/// What one run measured.
#[derive(Debug, Default)]
struct Report {
    refreshes: usize,
    redundant: usize,
    crashes: usize,
    sleeps: usize,
    dropped_tokens: usize,
    opens: usize,
    steps: usize,
    lost_rotations: usize,
    lost_within_grace: usize,
    violations: Vec<String>,
}

/// The lock holder index of the forger (a same-origin script, not a tab).
const FORGER: usize = usize::MAX;

struct World {
    /// `TabPolicy::share_tokens` of every tab (off: worker custody).
    share_tokens: bool,
    /// A same-origin script that takes the refresh lock at the start and never lets it go,
    /// and posts a claim every 4 s (forged: it refreshes nothing).
    forger: bool,
    now: u64,
    rng: Rng,
    faults: Faults,
    tabs: Vec<Tab>,
    server: Server,
    locks: Locks,
    calls: Vec<Call>,
    jar: Option<String>,
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: HashMap<usize, Ev>,
    seq: u64,
    logged_out_at: Option<u64>,
    report: Report,
    /// Prints every step (set `TABS_SIM_TRACE=<seed>` to follow one run).
    trace: bool,
}

impl World {
    fn new(seed: u64) -> Self {
        Self::with_sharing(seed, true)
    }

    fn with_sharing(seed: u64, share_tokens: bool) -> Self {
        let mut rng = Rng(seed);
        let web_locks = !rng.chance(0.2);
        // Claims over a channel that loses messages cannot exclude each other: without Web
        // Locks the channel only delays, duplicates and reorders (`TABS_SIM_LOSSY_CLAIMS=1`
        // measures what loss does to them).
        let lossy = seed % 2 == 1 && (web_locks || std::env::var("TABS_SIM_LOSSY_CLAIMS").is_ok());
        let faults = Faults {
            tabs: rng.range(2, 8) as usize,
            web_locks,
            drop: if lossy {
                rng.range(2, 20) as f64 / 100.0
            } else {
                0.0
            },
            duplicate: rng.range(0, 10) as f64 / 100.0,
            delay_max: rng.range(1, 100),
            spike: rng.range(0, 5) as f64 / 100.0,
            latency_max: rng.range(10, 300),
            sleep: rng.range(0, 15) as f64 / 100.0,
            crash_mid_refresh: rng.range(0, 10) as f64 / 100.0,
            opens: rng.range(0, 3),
            logout: rng.chance(0.3),
        };
        let mut world = Self {
            share_tokens,
            forger: false,
            now: START,
            rng,
            faults,
            tabs: Vec::new(),
            server: Server::default(),
            locks: Locks::default(),
            calls: Vec::new(),
            jar: None,
            heap: BinaryHeap::new(),
            events: HashMap::new(),
            seq: 0,
            logged_out_at: None,
            report: Report::default(),
            trace: std::env::var("TABS_SIM_TRACE").ok() == Some(seed.to_string()),
        };
        world.script();
        world
    }

    /// The same world with the forger in it.
    fn with_forger(seed: u64, share_tokens: bool) -> Self {
        let mut world = Self::with_sharing(seed, share_tokens);
        world.forger = true;
        if world.faults.web_locks {
            world.locks.holder = Some((FORGER, LockTicket(0)));
        }
        let mut t = START + 2_000;
        while t < START + RUN_MS {
            world.push(t, Ev::Forge);
            t += 4_000;
        }
        world
    }

    fn push(&mut self, at: u64, event: Ev) {
        self.seq += 1;
        let key = self.seq as usize;
        self.events.insert(key, event);
        self.heap.push(Reverse((at, self.seq, key)));
    }

    fn script(&mut self) {
        // Tab 0 logs in; the others open over the first seconds.
        self.open_tab();
        let (access, refresh) = self.server.issue(self.now);
        self.jar = Some(refresh);
        let now = self.now;
        self.drive(0, |m, out| {
            m.install(Source::SetTokens, tokens(access), now, out)
        });
        for i in 1..self.faults.tabs {
            let at = self.now + self.rng.range(0, 3_000) + i as u64;
            self.push(at, Ev::Open);
        }
        for _ in 0..self.faults.opens {
            let at = START + self.rng.range(10_000, RUN_MS - 60_000);
            self.push(at, Ev::Open);
        }
        let mut t = START + 1_000;
        while t < START + RUN_MS {
            self.push(t, Ev::Sample);
            if self.rng.chance(self.faults.sleep / 10.0) {
                let tab = self.rng.below(8) as usize;
                let ms = self.rng.range(1_000, 90_000);
                self.push(t + 500, Ev::Sleep { tab, ms });
            }
            t += 1_000;
        }
        if self.faults.logout {
            let at = START + self.rng.range(4 * 60_000, 7 * 60_000);
            self.push(at, Ev::Logout);
        }
    }

    fn open_tab(&mut self) -> usize {
        let index = self.tabs.len();
        let id = TabId::from_random(self.rng.next());
        let session_seed = self.rng.next();
        let tabs = TabConfig {
            policy: TabPolicy {
                share_tokens: self.share_tokens,
                ..tab_policy()
            },
            id,
            seed: self.rng.next(),
            web_locks: self.faults.web_locks,
        };
        self.tabs.push(Tab {
            manager: Manager::new(RefreshPolicy::default(), session_seed, false, Some(tabs)),
            alive: true,
            asleep_until: None,
            waiting_since: None,
            starting: false,
            logout_deadline: None,
        });
        index
    }

    fn live(&self, tab: usize) -> bool {
        self.tabs.get(tab).is_some_and(|t| t.alive)
    }

    fn awake(&self, tab: usize) -> bool {
        self.live(tab) && self.tabs[tab].asleep_until.is_none()
    }

    /// One input to a tab's manager, then its outputs performed in order.
    fn drive<R>(&mut self, tab: usize, input: impl FnOnce(&mut Manager, &mut Vec<Step>) -> R) -> R {
        let mut steps = Vec::new();
        let result = input(&mut self.tabs[tab].manager, &mut steps);
        for step in steps {
            self.perform(tab, step);
        }
        result
    }

    fn perform(&mut self, tab: usize, step: Step) {
        let now = self.now;
        if self.trace {
            println!("{:>7} tab {tab} {step:?}", now - START);
        }
        match step {
            Step::Post(fields, token) => self.broadcast(tab, fields, token),
            Step::Lock(ticket, steal) => self.lock_request(tab, ticket, steal),
            Step::CancelLock(ticket) => {
                self.locks.queue.retain(|entry| *entry != (tab, ticket));
            }
            Step::Release(ticket) => {
                if self.locks.holder == Some((tab, ticket)) {
                    self.locks.holder = None;
                    self.grant_next();
                }
            }
            Step::Refresh(generation) => {
                let call = self.calls.len();
                self.calls.push(Call {
                    tab,
                    generation,
                    cookie: self.jar.clone(),
                    sent_at: now,
                    aborted: false,
                    closed: false,
                    delivered: false,
                    result: None,
                });
                let at = now + self.rng.range(5, self.faults.latency_max);
                self.push(at, Ev::AtServer { call });
                if self.rng.chance(self.faults.crash_mid_refresh) {
                    let at = now + self.rng.range(0, 2 * self.faults.latency_max);
                    self.push(at, Ev::Crash { tab });
                }
            }
            Step::HandOver(adopted) => {
                self.tabs[tab].starting = false;
                if !adopted {
                    self.drive(tab, |m, out| m.restore(None, None, now, out));
                }
            }
        }
    }

    fn session(&self, tab: usize) -> &Session {
        self.tabs[tab].manager.session()
    }

    fn broadcast(&mut self, from: usize, fields: Vec<(Key, Field)>, token: bool) {
        for to in 0..self.tabs.len() {
            if to == from || !self.live(to) {
                continue;
            }
            let copies = if self.rng.chance(self.faults.drop) {
                if token {
                    self.report.dropped_tokens += 1;
                }
                0
            } else if self.rng.chance(self.faults.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut delay = self.rng.range(0, self.faults.delay_max);
                if self.rng.chance(self.faults.spike) {
                    delay += self.rng.range(100, 400);
                }
                let at = self.now + delay;
                self.push(
                    at,
                    Ev::Deliver {
                        to,
                        fields: fields.clone(),
                    },
                );
            }
        }
    }

    fn lock_request(&mut self, tab: usize, ticket: LockTicket, steal: bool) {
        if steal {
            if let Some((holder, held)) = self.locks.holder.take() {
                self.push(
                    self.now,
                    Ev::Lost {
                        to: holder,
                        ticket: held,
                    },
                );
            }
            self.give(tab, ticket);
        } else {
            self.locks.queue.push((tab, ticket));
            if self.locks.holder.is_none() {
                self.grant_next();
            }
        }
    }

    fn give(&mut self, tab: usize, ticket: LockTicket) {
        self.locks.holder = Some((tab, ticket));
        let at = self.now + self.rng.range(0, 2);
        self.push(at, Ev::Granted { to: tab, ticket });
    }

    fn grant_next(&mut self) {
        if self.locks.holder.is_some() || self.locks.queue.is_empty() {
            return;
        }
        let (tab, ticket) = self.locks.queue.remove(0);
        self.give(tab, ticket);
    }

    fn crash(&mut self, tab: usize) {
        if !self.live(tab) || self.tabs.iter().filter(|t| t.alive).count() <= 1 {
            return;
        }
        self.report.crashes += 1;
        self.tabs[tab].alive = false;
        // Closing a tab cancels its fetches: a response not yet in loses its Set-Cookie.
        for call in &mut self.calls {
            if call.tab == tab && !call.delivered {
                call.aborted = true;
                call.closed = true;
            }
        }
        self.locks.queue.retain(|(t, _)| *t != tab);
        if self.locks.holder.is_some_and(|(t, _)| t == tab) {
            self.locks.holder = None;
            self.grant_next();
        }
    }

    /// The next timer of any awake tab.
    fn next_timer(&self) -> Option<(u64, usize)> {
        (0..self.tabs.len())
            .filter(|&i| self.awake(i))
            .filter_map(|i| {
                let deadline = self.tabs[i].manager.deadline();
                deadline.map(|t| (t.max(self.now), i))
            })
            .min()
    }

    /// One step: the earliest event or timer. Returns false when nothing is left.
    fn step(&mut self) -> bool {
        let event = self.heap.peek().map(|Reverse((at, _, key))| (*at, *key));
        let timer = self.next_timer();
        match (event, timer) {
            (Some((at, _)), Some((t, tab))) if t < at => self.fire_timer(t, tab),
            (None, Some((t, tab))) => self.fire_timer(t, tab),
            (Some((at, key)), _) => {
                self.heap.pop();
                let event = self.events.remove(&key).expect("queued event");
                self.now = self.now.max(at);
                self.handle(event);
            }
            (None, None) => return false,
        }
        true
    }

    fn fire_timer(&mut self, at: u64, tab: usize) {
        self.now = self.now.max(at);
        let now = self.now;
        self.drive(tab, |m, out| m.timeout(now, out));
    }

    fn handle(&mut self, event: Ev) {
        let now = self.now;
        if self.trace && !matches!(event, Ev::Sample) {
            match &event {
                Ev::Deliver { to, fields } => {
                    let kind = fields.iter().find(|(k, _)| *k == Key::Kind);
                    println!("{:>7} deliver to {to}: {kind:?}", now - START)
                }
                Ev::AtServer { call } | Ev::AtBrowser { call } | Ev::ToTab { call } => {
                    let c = &self.calls[*call];
                    println!(
                        "{:>7} {event:?} tab {} cookie {:?} aborted {} jar {:?}",
                        now - START,
                        c.tab,
                        c.cookie,
                        c.aborted,
                        self.jar
                    )
                }
                other => println!("{:>7} {other:?}", now - START),
            }
        }
        // A frozen tab handles nothing until it wakes: its events wait.
        if let Some(tab) = event.tab() {
            if !self.live(tab) {
                return;
            }
            if let Some(wake) = self.tabs[tab].asleep_until {
                if !matches!(event, Ev::Crash { .. }) {
                    self.push(wake, event);
                    return;
                }
            }
        }
        match event {
            Ev::Deliver { to, fields } => {
                let mut fields: HashMap<Key, Field> = fields.into_iter().collect();
                let decoded = Envelope::decode(|key| match fields.remove(&key) {
                    None => Value::Absent,
                    Some(Field::Number(n)) => Value::Number(n),
                    Some(Field::Text(t)) => Value::Text(Secret::new(t)),
                });
                let envelope = decoded.expect("the simulated channel carries valid messages");
                self.drive(to, |m, out| m.message(envelope, now, out));
            }
            Ev::Granted { to, ticket } => {
                self.drive(to, |m, out| m.lock(ticket, LockEvent::Granted, now, out));
            }
            Ev::Lost { to, ticket } => {
                self.drive(to, |m, out| m.lock(ticket, LockEvent::Lost, now, out));
            }
            Ev::AtServer { call } => {
                let cookie = self.calls[call].cookie.clone();
                let calls = &self.calls;
                let result = self
                    .server
                    .refresh(cookie.as_deref(), call, now, |c| calls[c].closed);
                self.calls[call].result = Some(result);
                let at = now + self.rng.range(5, self.faults.latency_max);
                self.push(at, Ev::AtBrowser { call });
            }
            Ev::AtBrowser { call } => {
                let (tab, aborted) = (self.calls[call].tab, self.calls[call].aborted);
                self.calls[call].delivered = !aborted;
                if let Some(Ok((_, refresh))) = &self.calls[call].result {
                    if !aborted {
                        self.jar = Some(refresh.clone());
                    }
                }
                if self.live(tab) && !aborted {
                    // The promise settles in the page (later, if the page is frozen).
                    let at = self.tabs[tab].asleep_until.unwrap_or(now);
                    self.push(at, Ev::ToTab { call });
                }
            }
            Ev::ToTab { call } => {
                let tab = self.calls[call].tab;
                if !self.live(tab) || self.calls[call].aborted {
                    return;
                }
                if let Some(wake) = self.tabs[tab].asleep_until {
                    self.push(wake, Ev::ToTab { call });
                    return;
                }
                let generation = self.calls[call].generation;
                // `expires_in` counts from when the call started: a response handled after a
                // freeze would otherwise look valid for the length of the freeze.
                let started = self.calls[call].sent_at;
                match self.calls[call].result.take() {
                    Some(Ok((access, _))) => self.drive(tab, |m, out| {
                        m.refresh_ok(generation, tokens(access), started, now, out)
                    }),
                    _ => self.drive(tab, |m, out| {
                        m.refresh_failed(generation, RefreshFailure::InvalidGrant, now, out)
                    }),
                }
            }
            Ev::Sleep { tab, ms } => {
                if self.tabs[tab].asleep_until.is_none() {
                    self.report.sleeps += 1;
                    self.tabs[tab].asleep_until = Some(now + ms);
                    self.push(now + ms, Ev::Wake { tab });
                }
            }
            Ev::Wake { tab } => {
                if !self.live(tab) {
                    return;
                }
                let bound = self.logout_bound();
                let t = &mut self.tabs[tab];
                t.asleep_until = None;
                t.waiting_since = None;
                if let Some(deadline) = &mut t.logout_deadline {
                    *deadline = (*deadline).max(now + bound);
                }
                // The shell re-arms its timer after the wake-up: overdue deadlines fire at once.
                self.drive(tab, |m, out| {
                    m.wake(now, out);
                    m.timeout(now, out)
                });
            }
            Ev::Crash { tab } => self.crash(tab),
            Ev::Open => {
                if self.tabs.iter().filter(|t| t.alive).count() >= 8 {
                    return;
                }
                self.report.opens += 1;
                let tab = self.open_tab();
                // Presence locks tell the exact count with Web Locks; without, it is unknown.
                let siblings = self
                    .faults
                    .web_locks
                    .then(|| self.tabs.iter().filter(|t| t.alive).count() - 1);
                if let Some(at) = self.logged_out_at {
                    self.tabs[tab].logout_deadline = Some(at.max(now) + self.logout_bound());
                }
                self.tabs[tab].starting = true;
                self.drive(tab, |m, out| m.start(siblings, now, out));
            }
            Ev::Logout => {
                let Some(tab) = (0..self.tabs.len()).find(|&i| self.awake(i)) else {
                    return;
                };
                if self.session(tab).generation().is_none() {
                    return;
                }
                self.logged_out_at = Some(now);
                drop(self.drive(tab, |m, out| m.logout(now, out)));
                // The logout call revokes the family and clears the cookie.
                self.server.current = None;
                self.server.revoked_before = Some(now);
                self.jar = None;
                let bound = self.logout_bound();
                for t in &mut self.tabs {
                    let from = t.asleep_until.unwrap_or(now);
                    t.logout_deadline = Some(from + bound);
                }
            }
            Ev::Sample => self.sample(),
            Ev::Forge => {
                let envelope = Envelope {
                    from: TabId::from_random(0xF0F0_F0F0),
                    // As early as the codec allows, so that it wins against every real claim.
                    message: Message::Claim { until: 0 },
                };
                let fields = encode_fields(|w| envelope.encode(w));
                self.broadcast(FORGER, fields, false);
            }
        }
    }

    fn logout_bound(&self) -> u64 {
        if self.faults.drop > 0.0 {
            // A lost logout message is caught by the next refresh (invalid_grant, then the
            // siblings are asked): within a token lifetime plus the lock bounds.
            LIFETIME_S * 1_000 + 30_000
        } else {
            2_000
        }
    }

    /// Every live, awake tab makes a request, as an application would.
    fn sample(&mut self) {
        let now = self.now;
        for i in 0..self.tabs.len() {
            if !self.awake(i) {
                continue;
            }
            let decision = self.drive(i, |m, out| {
                let decision = match m.before_request(now) {
                    RequestDecision::Attach { token, .. } => Ok(Some(token.expose().to_owned())),
                    RequestDecision::Wait => Ok(None),
                    RequestDecision::Fail(failure) => Err(failure),
                };
                m.flush(now, out);
                decision
            });
            let decision = match decision {
                Ok(decision) => decision,
                Err(failure) => {
                    if self.logged_out_at.is_none() && !self.tabs[i].starting {
                        self.violation(format!("tab {i} has no session: {failure:?}"));
                    }
                    self.tabs[i].waiting_since = None;
                    continue;
                }
            };
            match decision {
                Some(token) => {
                    self.tabs[i].waiting_since = None;
                    if self.logged_out_at.is_none() && !self.server.valid(&token, now) {
                        self.violation(format!("tab {i} attaches a token the server rejects"));
                    }
                }
                None => {
                    let since = *self.tabs[i].waiting_since.get_or_insert(now);
                    if now - since > WAIT_BOUND_MS {
                        self.violation(format!("tab {i} waited {} ms for a token", now - since));
                    }
                }
            }
            if let Some(deadline) = self.tabs[i].logout_deadline {
                if now > deadline && self.session(i).generation().is_some() {
                    self.violation(format!("tab {i} still holds the session after logout"));
                }
            }
        }
    }

    fn violation(&mut self, what: String) {
        if self.report.violations.len() < 5 {
            self.report
                .violations
                .push(format!("t={}: {what}", self.now - START));
        }
    }

    /// Runs the whole script, bounded in steps and against livelock.
    fn run(mut self) -> Report {
        let mut stalled = 0;
        let mut steps = 0;
        while self.now < START + RUN_MS {
            let before = self.now;
            if !self.step() {
                break;
            }
            steps += 1;
            stalled = if self.now == before { stalled + 1 } else { 0 };
            assert!(stalled < STALL_LIMIT, "livelock at t={}", self.now - START);
            assert!(steps < STEP_LIMIT, "still busy after {steps} steps");
        }
        self.report.steps = steps;
        self.report.refreshes = self.server.refreshes.len();
        let lost: HashSet<usize> = self
            .server
            .lost_rotations
            .iter()
            .map(|(by, _)| *by)
            .collect();
        self.report.lost_rotations = lost.len();
        self.report.lost_within_grace = self
            .server
            .lost_rotations
            .iter()
            .filter(|(_, after)| *after <= GRACE_MS)
            .count();
        self.report.redundant = self
            .server
            .refreshes
            .windows(2)
            .filter(|pair| pair[1] - pair[0] < LIFETIME_S * 1_000 / 2)
            .count();
        for at in &self.server.reuse {
            let at = at - START;
            self.report
                .violations
                .push(format!("t={at}: the server saw a refresh token reused"));
        }
        // No deadlock: the lock is free, or held by a tab that is alive.
        if let Some((tab, _)) = self.locks.holder {
            if tab != FORGER && !self.live(tab) {
                self.report
                    .violations
                    .push("a closed tab still holds the lock".into());
            }
        }
        self.report
    }
}

/// Seeds for `cargo test` (fewer in the wasm build, which runs the library's tests in Node).
const SEEDS: u64 = if cfg!(target_arch = "wasm32") {
    40
} else {
    1_000
};

#[test]
fn n_tabs_keep_one_refresh_stream_through_loss_sleep_and_crashes() {
    let mut failures = Vec::new();
    let (mut refreshes, mut redundant, mut steps, mut lost, mut graced) = (0, 0, 0, 0, 0);
    let (mut lossless_refreshes, mut lossless_redundant, mut lossless_budget) = (0, 0, 0);
    for seed in 0..SEEDS {
        let world = World::new(seed);
        let faults = world.faults.clone();
        let report = world.run();
        if std::env::var("TABS_SIM_SUMMARY").is_ok() {
            println!("summary seed {seed}: {report:?} {faults:?}");
        }
        refreshes += report.refreshes;
        redundant += report.redundant;
        steps += report.steps;
        lost += report.lost_rotations;
        graced += report.lost_within_grace;
        assert!(report.lost_rotations <= report.crashes, "seed {seed}");
        // Each crash, sleep, tab opening and lost token message may cost one extra refresh.
        let budget = report.crashes + report.sleeps + report.dropped_tokens + report.opens;
        if faults.drop == 0.0 {
            lossless_refreshes += report.refreshes;
            lossless_redundant += report.redundant;
            lossless_budget += budget;
        }
        if report.redundant > budget {
            failures.push(format!(
                "seed {seed}: {} redundant refreshes > budget {budget} ({faults:?})",
                report.redundant
            ));
        }
        if !report.violations.is_empty() {
            failures.push(format!("seed {seed}: {:?} ({faults:?})", report.violations));
        }
    }
    println!(
        "lossless channel: {lossless_refreshes} refreshes, {lossless_redundant} redundant \
         (budget {lossless_budget})"
    );
    println!(
        "{SEEDS} seeds: {refreshes} refreshes, {redundant} redundant, {lost} rotations lost with \
         a closed tab ({graced} re-presented within {GRACE_MS} ms), {steps} steps"
    );
    assert!(
        failures.is_empty(),
        "{} of {SEEDS} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Worker custody's policy (`share_tokens: false`) on the same worlds: no token ever crosses the
/// channel, so every tab refreshes for itself with the shared cookie, one at a time under the
/// lock. Asserted in every run: every live tab holds only tokens the server accepts, never waits
/// beyond the bound, logout reaches every tab (each tab has its own epoch), no deadlock. Reuse:
/// in 3 of 1,000 runs the server saw a rotated cookie presented again (then the family is
/// revoked and every tab logs out: safe, but a lost session). Two of them have no Web Locks
/// (claims over the channel settle in 500 ms, and two claimants both refresh; in page custody
/// the first one's token cancels the other's refresh); the third lost the sibling's "refresh
/// running" claim on a channel dropping 19% of messages, and a waiter stole from that refresh
/// in flight. Bounded at 0.5% of runs so a regression shows. Found by this simulation:
/// `TabPolicy::overdue_ms` (seed 67: a waiter woken long after its deadline stole at once), and
/// the claim a refresh posts in this mode (5 runs before it: a frozen holder made two waiters'
/// deadlines run out, the first stole and refreshed, the second stole from that refresh).
#[test]
fn without_token_sharing_n_tabs_hold_valid_tokens_and_logout_reaches_every_tab() {
    let seeds = SEEDS;
    let mut failures = Vec::new();
    let (mut refreshes, mut tabs, mut crashes, mut reused) = (0, 0, 0, 0);
    for seed in 0..seeds {
        let world = World::with_sharing(seed, false);
        let faults = world.faults.clone();
        let report = world.run();
        refreshes += report.refreshes;
        tabs += faults.tabs + faults.opens as usize;
        crashes += report.crashes;
        if report
            .violations
            .iter()
            .any(|v| v.ends_with("refresh token reused"))
        {
            // Its consequences (every tab logged out) are the other violations of this run.
            reused += 1;
            continue;
        }
        if report.lost_rotations > report.crashes {
            failures.push(format!(
                "seed {seed}: {} rotations lost > {} crashes",
                report.lost_rotations, report.crashes
            ));
        }
        if !report.violations.is_empty() {
            failures.push(format!("seed {seed}: {:?} ({faults:?})", report.violations));
        }
    }
    println!(
        "{seeds} seeds without token sharing: {refreshes} refreshes for {tabs} tabs, {crashes} \
         crashes, {reused} runs with a reused refresh token"
    );
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        reused * 200 <= seeds,
        "{reused} of {seeds} runs saw a refresh token reused (more than 0.5%)"
    );
}

/// A same-origin script that holds the refresh lock (Web Locks) and posts a forged claim every
/// 4 s, with page custody's policy: tabs still refresh, and no tab waits beyond the bound.
/// Before claims were bounded, every waiting request's steal deadline moved with each claim
/// (with Web Locks) and every channel claimant waited for the forged claim, so no tab ever
/// refreshed again.
#[test]
fn forged_claims_do_not_starve_refreshes() {
    let seeds = SEEDS / 5;
    let mut failures = Vec::new();
    let mut refreshes = 0;
    // Page custody's policy only: with worker custody's (no shared tokens) the forger's lock
    // ends most sessions in reuse, a case this change does not settle yet.
    for share_tokens in [true] {
        for seed in 0..seeds {
            let world = World::with_forger(seed, share_tokens);
            let faults = world.faults.clone();
            let report = world.run();
            refreshes += report.refreshes;
            let starved: Vec<_> = report
                .violations
                .iter()
                .filter(|v| v.contains("waited") || v.contains("rejects"))
                .collect();
            if !starved.is_empty() {
                failures.push(format!(
                    "seed {seed} (share_tokens {share_tokens}): {} refreshes, {starved:?} ({faults:?})",
                    report.refreshes
                ));
            }
        }
    }
    println!(
        "{} runs with a claim forger: {refreshes} refreshes",
        2 * seeds
    );
    assert!(
        failures.is_empty(),
        "{} runs starved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
