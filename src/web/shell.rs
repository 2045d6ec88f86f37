//! The shell's state and its loop: the manager's inputs fed under one borrow ([`drive`]),
//! what it asks for performed after it ([`Outbox`], [`perform`]), its events announced to the
//! waiting requests and the subscribers, the one timer for its deadline ([`Alarm`]), and the
//! wake-up listeners.

use super::*;

/// What woke a waiter (the value its promise resolves with).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    Refreshed = 0,
    RefreshFailed = 1,
    LoggedOut = 2,
    Tokens = 3,
    Closed = 4,
}

impl Wake {
    pub(super) fn from_js(value: &JsValue) -> Self {
        match value.as_f64().map(|n| n as u8) {
            Some(0) => Self::Refreshed,
            Some(1) => Self::RefreshFailed,
            Some(2) => Self::LoggedOut,
            Some(3) => Self::Tokens,
            _ => Self::Closed,
        }
    }
}

pub(super) type Subscriber = Rc<dyn Fn(&Event)>;

/// Worker custody's events as remote.js reports them: `(name, payload)`.
#[cfg(feature = "worker-custody")]
pub(crate) type Emitter = Box<dyn Fn(&str, &JsValue)>;

pub(super) struct Inner {
    pub(super) config: Config,
    /// The session and, across tabs, the coordinator, composed by the core.
    pub(super) manager: Manager,
    /// Decoded claims of the token of this generation.
    pub(super) claims: Option<(Generation, http::TokenClaims)>,
    /// The manager's timer (the session's and the coordinator's deadlines).
    pub(super) alarm: Alarm,
    pub(super) listeners: Option<Listeners>,
    pub(super) tabs: Option<tabs::Tabs>,
    pub(super) subscribers: Vec<(u64, Subscriber)>,
    pub(super) next_subscriber: u64,
    /// Resolvers of requests told to wait.
    pub(super) waiters: Vec<Function>,
    pub(super) refresh_calls: Vec<(Generation, AbortController)>,
    pub(super) last_failure: Option<RefreshFailure>,
    /// The current token's `Authorization` value.
    pub(super) bearer: BearerCache,
    pub(super) closed: bool,
    /// `fetch` as it was at construction: used for every request the manager sends.
    pub(super) fetch: http::CapturedFetch,
    /// The OAuth profile's state (provider metadata, the ID token), when configured.
    pub(super) oauth: Option<oauth::OAuth>,
    /// The DPoP key and nonces ([`Config::dpop`]).
    pub(super) dpop: dpop::DpopState,
}

pub(super) type Shared = Rc<RefCell<Inner>>;

/// The `Authorization` value of the current token, assembled in JS once per token (the token
/// itself is never copied out of its [`Secret`] per request).
#[derive(Default)]
pub(crate) struct BearerCache {
    pub(super) value: Option<(Generation, js_sys::JsString)>,
    /// `DPoP <token>` instead of `Bearer <token>` ([`Config::dpop`]).
    pub(super) dpop: bool,
    /// The DPoP `ath` of the token of this generation.
    pub(super) ath: Option<(Generation, String)>,
}

/// What the `Authorization` value a request was sent with says about the session now.
pub(crate) enum Sent {
    /// It is the current token's (of this generation).
    Current(Generation),
    /// The token has been replaced since.
    Replaced,
    /// There is no token.
    NoSession,
}

impl BearerCache {
    pub(crate) fn get(&mut self, token: &Secret, generation: Generation) -> js_sys::JsString {
        match &self.value {
            Some((cached, value)) if *cached == generation => value.clone(),
            _ => {
                let value = if self.dpop {
                    http::authorization("DPoP ", token)
                } else {
                    http::bearer(token)
                };
                self.value = Some((generation, value.clone()));
                value
            }
        }
    }

    /// With DPoP, the `ath` of the token of `generation` if known, else the token's bytes to
    /// hash (once per token).
    pub(crate) fn ath(
        &self,
        token: &Secret,
        generation: Generation,
    ) -> Option<Result<String, zeroize::Zeroizing<Vec<u8>>>> {
        if !self.dpop {
            return None;
        }
        Some(match &self.ath {
            Some((cached, ath)) if *cached == generation => Ok(ath.clone()),
            _ => Err(zeroize::Zeroizing::new(token.expose().as_bytes().to_vec())),
        })
    }

    pub(crate) fn generation_of(&self, header: &js_sys::JsString) -> Sent {
        match &self.value {
            None => Sent::NoSession,
            Some((generation, value)) if value == header => Sent::Current(*generation),
            Some(_) => Sent::Replaced,
        }
    }

    pub(super) fn clear(&mut self) {
        self.value = None;
        self.ath = None;
    }
}

/// One bound DOM listener.
pub(super) type Bound = (
    EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// The wake-up listeners (`focus`, `online`, `visibilitychange`), removed on drop.
pub(super) struct Listeners {
    pub(super) bound: Vec<Bound>,
}

impl Listeners {
    pub(super) fn install(shared: Weak<RefCell<Inner>>) -> Self {
        let global = js_sys::global();
        let mut bound = Vec::new();
        let mut bind = |target: Option<EventTarget>, name: &'static str| {
            let Some(target) = target else { return };
            let shared = shared.clone();
            let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                if let Some(shared) = shared.upgrade() {
                    wake(&shared);
                }
            });
            if target
                .add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())
                .is_ok()
            {
                bound.push((target, name, closure));
            }
        };
        let global_target = global.dyn_ref::<EventTarget>().cloned();
        let document = global_get(&global, "document").and_then(|d| d.dyn_into().ok());
        bind(global_target.clone(), "focus");
        bind(global_target, "online");
        bind(document, "visibilitychange");
        Self { bound }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (target, name, closure) in &self.bound {
            let _ =
                target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
    }
}

pub(super) fn wake(shared: &Shared) {
    drive(shared, |inner, out| inner.manager.wake(now(), out));
}

/// A promise and its resolver.
pub(super) fn deferred() -> (Promise, Function) {
    let mut resolver = None;
    let promise = Promise::new(&mut |resolve, _| resolver = Some(resolve));
    let resolve = resolver.unwrap_or_else(|| Function::new_no_args(""));
    (promise, resolve)
}

/// Registers a waiter; the future resolves on the next refresh outcome, logout or new tokens.
pub(super) fn waiter(inner: &mut Inner) -> JsFuture {
    let (promise, resolve) = deferred();
    inner.waiters.push(resolve);
    JsFuture::from(promise)
}

pub(super) fn wake_all(waiters: Vec<Function>, why: Wake) {
    let value = JsValue::from(why as u8);
    for resolve in waiters {
        let _ = resolve.call1(&JsValue::UNDEFINED, &value);
    }
}

/// What the manager asked for during one input, performed once the input is over (never
/// while `Inner` is borrowed: subscribers and waiters may call back into the manager).
#[derive(Default)]
pub(crate) struct Outbox(Vec<Step>);

pub(crate) enum Step {
    Refresh(Generation),
    Cancel(Generation),
    Event(Event),
    /// A channel message, encoded; `true`: it carries this tab's tokens.
    Post(Object, bool),
    Lock(LockTicket, bool),
    CancelLock(LockTicket),
    Release(LockTicket),
    HandOver(bool),
}

impl Shell for Outbox {
    fn start_refresh(&mut self, generation: Generation) {
        self.0.push(Step::Refresh(generation));
    }

    fn cancel_refresh(&mut self, generation: Generation) {
        self.0.push(Step::Cancel(generation));
    }

    fn emit(&mut self, event: Event) {
        self.0.push(Step::Event(event));
    }

    fn post(&mut self, envelope: Envelope) {
        let message = Object::new();
        envelope.encode(tabs::write(&message));
        self.0.push(Step::Post(message, false));
    }

    fn post_token(&mut self, share: TokenShare, access: &Secret, refresh: Option<&Secret>) {
        let message = Object::new();
        share.encode(access, refresh, tabs::write(&message));
        self.0.push(Step::Post(message, true));
    }

    fn request_lock(&mut self, ticket: LockTicket, steal: bool) {
        self.0.push(Step::Lock(ticket, steal));
    }

    fn cancel_lock_request(&mut self, ticket: LockTicket) {
        self.0.push(Step::CancelLock(ticket));
    }

    fn release_lock(&mut self, ticket: LockTicket) {
        self.0.push(Step::Release(ticket));
    }

    fn hand_over_finished(&mut self, adopted: bool) {
        self.0.push(Step::HandOver(adopted));
    }
}

/// Feeds the manager one input (`input` gets the open manager's state and the outbox), then
/// performs what it asked for and re-arms the timer. Returns `input`'s result, or `None` when
/// the manager is closed.
pub(super) fn drive<R>(
    shared: &Shared,
    input: impl FnOnce(&mut Inner, &mut Outbox) -> R,
) -> Option<R> {
    let mut out = Outbox::default();
    let result = {
        let mut inner = shared.borrow_mut();
        if inner.closed {
            return None;
        }
        input(&mut inner, &mut out)
    };
    perform(shared, out);
    Some(result)
}

/// Performs the manager's requests in order, then re-arms the timer.
pub(super) fn perform(shared: &Shared, out: Outbox) {
    for step in out.0 {
        match step {
            Step::Refresh(generation) => {
                let failed = {
                    let mut inner = shared.borrow_mut();
                    if inner.closed {
                        return;
                    }
                    start_refresh(shared, &mut inner, generation)
                };
                if let Some(failure) = failed {
                    drive(shared, |inner, out| {
                        inner
                            .manager
                            .refresh_failed(generation, failure, now(), out)
                    });
                }
            }
            Step::Cancel(generation) => {
                shared.borrow_mut().refresh_calls.retain(|(g, controller)| {
                    if *g == generation {
                        controller.abort();
                    }
                    *g != generation
                });
            }
            Step::Event(event) => announce(shared, event),
            Step::Post(message, carries_token) => tabs::post(shared, &message, carries_token),
            Step::Lock(ticket, steal) => tabs::request(shared, ticket, steal),
            Step::CancelLock(ticket) => tabs::cancel_request(shared, ticket),
            Step::Release(ticket) => tabs::release(shared, ticket),
            Step::HandOver(adopted) => tabs::hand_over_finished(shared, adopted),
        }
    }
    rearm(shared);
}

/// An event of the session: the shell's bookkeeping (claims, the cached `Authorization`
/// value, the DPoP key), the waiting requests woken, then the subscribers.
pub(super) fn announce(shared: &Shared, event: Event) {
    let (waiters, subscribers) = {
        let mut guard = shared.borrow_mut();
        let inner = &mut *guard;
        if inner.closed {
            return;
        }
        let why = match &event {
            Event::Installed { generation, origin } => {
                inner.claims = inner
                    .manager
                    .claims_json()
                    .and_then(http::TokenClaims::of_json)
                    .map(|claims| (*generation, claims));
                inner.bearer.clear();
                // A sibling's token comes with its key: one key (one `jkt`) per session.
                if *origin == TokenOrigin::Sibling {
                    if let Some(key) = inner.dpop.incoming.take() {
                        inner.dpop.key = Some(key);
                    }
                }
                Some(match origin.starts_session() {
                    true => Wake::Tokens,
                    false => Wake::Refreshed,
                })
            }
            Event::RefreshFailed { failure, .. } => {
                inner.last_failure = Some(*failure);
                Some(Wake::RefreshFailed)
            }
            Event::LoggedOut { .. } => {
                inner.claims = None;
                inner.bearer.clear();
                inner.dpop.clear();
                Some(Wake::LoggedOut)
            }
            _ => None,
        };
        let waiters = match why {
            Some(why) => Some((std::mem::take(&mut inner.waiters), why)),
            None => None,
        };
        let subscribers: Vec<Subscriber> =
            inner.subscribers.iter().map(|(_, s)| s.clone()).collect();
        (waiters, subscribers)
    };
    if let Some((waiters, why)) = waiters {
        wake_all(waiters, why);
    }
    for subscriber in subscribers {
        subscriber(&event);
    }
}

/// Arms, clears or keeps the one timer, as the manager says.
pub(super) fn rearm(shared: &Shared) {
    let mut inner = shared.borrow_mut();
    if inner.closed {
        return;
    }
    match inner.manager.timer(now()) {
        Timer::Keep => {}
        Timer::Clear => inner.alarm.disarm(),
        Timer::Arm(delay) => {
            let weak = Rc::downgrade(shared);
            inner.alarm.timer = Some(Timeout::new(delay, move || {
                let Some(shared) = weak.upgrade() else { return };
                drive(&shared, |inner, out| {
                    inner.alarm.disarm();
                    inner.manager.timeout(now(), out)
                });
            }));
        }
    }
}

/// The one cancel-on-drop timer ([`rearm`]).
#[derive(Default)]
pub(super) struct Alarm {
    pub(super) timer: Option<Timeout>,
}

impl Alarm {
    /// Forgets the deadline (a fired timer's own handle: dropping it clears a spent timeout).
    pub(super) fn disarm(&mut self) {
        self.timer = None;
    }
}
