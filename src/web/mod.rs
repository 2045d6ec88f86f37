//! The browser shell: drives the core's token manager ([`Manager`]: the sans-IO session and,
//! across tabs, the coordinator, composed in `core::manager`, as the npm package's engine drives
//! it) with the wall clock, one timer, wake-up events, the channel and HTTP, and wraps `fetch`.
//! Works in a window and in a worker (it binds the global scope), and in any JS host with
//! `fetch` and `setTimeout`.
//!
//! [`TokenManager`] is the Rust API (futures are `'static`, so they can be spawned or turned
//! into promises).
//!
//! Custody: token response bodies are parsed by the browser's `JSON.parse`; the access token
//! is copied into wasm memory exactly once, straight into a [`Secret`] (zeroized on drop), and
//! `Authorization` values are assembled in JS. After [`TokenManager::logout`] or drop, no copy
//! remains in wasm memory (the browser tests scan it). With [`Custody::Worker`] (cargo feature
//! `worker-custody`) no token enters this wasm memory at all: the session runs in the npm
//! package's worker, and [`TokenManager`] forwards to it (see `custody.rs`).

mod custody;
pub(crate) mod dpop;
mod fetch;
#[cfg(feature = "gloo")]
mod gloo;
mod http;
mod oauth;
mod origin;
pub mod tabs;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "worker-custody")]
use std::cell::Cell;
use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Date, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget};

pub use self::custody::Custody;
pub use self::origin::origin_allowed;
pub use crate::core::oauth::{ClientConfig as OAuthConfig, LoginOptions};
pub use crate::core::secret::Secret;
pub use crate::core::session::{
    Event, ExpiredRequests, ExpirySource, LogoutReason, RefreshFailure, RefreshPolicy,
    SessionState, TokenOrigin,
};
pub use web_sys::RequestCredentials;

use crate::core::claims::Claims;
use crate::core::manager::{Manager, Shell, Source};
use crate::core::session::{grant, Generation, RequestDecision, RequestFailure};
use crate::core::tabs::{Envelope, LockTicket, TokenShare};

/// Where the refresh token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshTokenMode {
    /// An `HttpOnly` cookie set by the auth server; JS never sees it (default, recommended).
    #[default]
    Cookie,
    /// In the response body; held in wasm memory and sent in the refresh request body.
    Memory,
}

/// Which `401` answers from an allowed origin trigger one refresh and one retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryOn401 {
    /// Only those with `WWW-Authenticate: Bearer error="invalid_token"` (default).
    #[default]
    InvalidToken,
    /// Every `401`.
    Any,
}

/// Configuration of a [`TokenManager`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Login endpoint (`POST` JSON credentials); required for [`TokenManager::login`].
    pub login_url: Option<String>,
    /// Refresh endpoint (required).
    pub refresh_url: String,
    /// Logout endpoint; without it, logout only wipes local state.
    pub logout_url: Option<String>,
    /// Refresh token transport (default: cookie).
    pub refresh_token: RefreshTokenMode,
    /// Origins whose requests carry the token; empty means the page's own origin.
    pub allowed_origins: Vec<String>,
    /// `credentials` of the auth calls (default `include`, for the refresh cookie).
    pub credentials: RequestCredentials,
    /// Refresh timing.
    pub policy: RefreshPolicy,
    /// Which 401s are retried (default: `invalid_token` challenges only).
    pub retry_on_401: RetryOn401,
    /// Timeout of each auth call, in ms (default 10 000).
    pub request_timeout_ms: u32,
    /// Coordinate with the other tabs of this origin: one refresh at a time, shared tokens and
    /// logout, hand-over to new tabs (default true; see [`tabs`]).
    pub cross_tab: bool,
    /// With `cross_tab`: post tokens to sibling tabs and adopt theirs (default true). `false`
    /// keeps tokens off the channel, which every same-origin page script can join (the
    /// package's worker custody sets it): refreshes stay serialized by the lock, logout still
    /// reaches every tab, and each tab refreshes for itself (see `TabPolicy::share_tokens`).
    pub share_tokens: bool,
    /// Extra input to the cross-tab channel name (two sessions with the same refresh URL and
    /// allowed origins stay apart if their names differ).
    pub channel_name: Option<String>,
    /// Send requests carrying the token with `redirect: "manual"` (unless they asked for
    /// `"error"`) instead of following redirects. Default: off in a browser (window or worker),
    /// where the Fetch standard drops `Authorization` on a cross-origin redirect; on elsewhere
    /// (Node and other hosts, whose `fetch` may not).
    pub manual_redirects: bool,
    /// The name of a script-readable cookie the auth server sets and clears together with the
    /// refresh cookie (the reference server's `__Host-tw_session`). When set,
    /// [`TokenManager::start`] in a window whose `document.cookie` lacks it knows there is no
    /// session and sends no refresh request (a first visit shows no failed request). Default:
    /// none (always try).
    pub session_hint: Option<String>,
    /// The OAuth 2.0 / OpenID Connect profile: the issuer and client to log in with
    /// ([`TokenManager::login_with_redirect`], [`TokenManager::handle_redirect_callback`]). The
    /// provider's token endpoint then refreshes (`refresh_token` grant, the refresh token held
    /// in wasm memory) and its revocation endpoint ends the session; `refresh_url`,
    /// `login_url`, `logout_url`, `refresh_token` and `credentials` are not used. Needs a build
    /// with verification (the ID token is verified against the provider's `jwks_uri`).
    pub oauth: Option<OAuthConfig>,
    /// DPoP (RFC 9449), with the reference server's dialect or the OAuth profile: an ES256 key
    /// pair made at login or in the redirect callback (private key non-extractable, memory
    /// only, shared with sibling tabs, gone at logout), proofs on login or the code exchange,
    /// every refresh and every request carrying the token, which is sent as
    /// `Authorization: DPoP`. With `oauth` the provider must answer `token_type: DPoP`; no
    /// `dpop_jkt` is sent on the authorization request. Default false.
    pub dpop: bool,
    /// Where the tokens live: this realm's wasm memory ([`Custody::Page`], the default) or a
    /// dedicated module worker ([`Custody::Worker`], cargo feature `worker-custody`), where no
    /// script in the page can read them. The API is the same in both.
    pub custody: Custody,
}

impl Config {
    /// Defaults for the OAuth profile with this provider and client (see [`Config::oauth`]).
    pub fn oauth(client: OAuthConfig) -> Self {
        let mut config = Self::new(client.issuer.clone());
        config.oauth = Some(client);
        config
    }

    /// Defaults with this refresh endpoint.
    pub fn new(refresh_url: impl Into<String>) -> Self {
        Self {
            login_url: None,
            refresh_url: refresh_url.into(),
            logout_url: None,
            refresh_token: RefreshTokenMode::Cookie,
            allowed_origins: Vec::new(),
            credentials: RequestCredentials::Include,
            policy: RefreshPolicy::default(),
            retry_on_401: RetryOn401::InvalidToken,
            request_timeout_ms: crate::core::session::DEFAULT_REQUEST_TIMEOUT_MS,
            cross_tab: true,
            share_tokens: true,
            channel_name: None,
            manual_redirects: !in_browser(),
            session_hint: None,
            oauth: None,
            dpop: false,
            custody: Custody::Page,
        }
    }
}

/// An error with a stable code (`ERR_LOGGED_OUT`, `ERR_REFRESH_FAILED`, `ERR_LOGIN_FAILED`,
/// `ERR_NOT_AUTHENTICATED`, `ERR_TOKEN_EXPIRED`, `ERR_INVALID_OPTIONS`, `ERR_FETCH`).
/// Messages never contain a token.
#[derive(Debug, Clone)]
pub struct Error {
    code: &'static str,
    message: String,
    status: Option<u16>,
    cause: Option<JsValue>,
}

impl Error {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
            cause: None,
        }
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// A human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status, for `ERR_LOGIN_FAILED` answered by the server.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// For `ERR_FETCH`: the error the native `fetch` (or `Request` constructor) threw.
    pub fn cause(&self) -> Option<&JsValue> {
        self.cause.as_ref()
    }

    fn native(cause: JsValue) -> Self {
        Self {
            cause: Some(cause),
            ..Self::new("ERR_FETCH", "fetch failed")
        }
    }

    fn closed() -> Self {
        Self::new("ERR_LOGGED_OUT", "the token manager was freed")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// What woke a waiter (the value its promise resolves with).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    Refreshed = 0,
    RefreshFailed = 1,
    LoggedOut = 2,
    Tokens = 3,
    Closed = 4,
}

impl Wake {
    fn from_js(value: &JsValue) -> Self {
        match value.as_f64().map(|n| n as u8) {
            Some(0) => Self::Refreshed,
            Some(1) => Self::RefreshFailed,
            Some(2) => Self::LoggedOut,
            Some(3) => Self::Tokens,
            _ => Self::Closed,
        }
    }
}

type Subscriber = Rc<dyn Fn(&Event)>;

/// Worker custody's events as remote.js reports them: `(name, payload)`.
#[cfg(feature = "worker-custody")]
pub(crate) type Emitter = Box<dyn Fn(&str, &JsValue)>;

struct Inner {
    config: Config,
    /// The session and, across tabs, the coordinator, composed by the core.
    manager: Manager,
    /// Decoded claims of the token of this generation.
    claims: Option<(Generation, http::TokenClaims)>,
    /// The manager's timer (the session's and the coordinator's deadlines).
    alarm: Alarm,
    listeners: Option<Listeners>,
    tabs: Option<tabs::Tabs>,
    subscribers: Vec<(u64, Subscriber)>,
    next_subscriber: u64,
    /// Resolvers of requests told to wait.
    waiters: Vec<Function>,
    refresh_calls: Vec<(Generation, AbortController)>,
    last_failure: Option<RefreshFailure>,
    /// The current token's `Authorization` value.
    bearer: BearerCache,
    closed: bool,
    /// `fetch` as it was at construction: used for every request the manager sends.
    fetch: http::CapturedFetch,
    /// The OAuth profile's state (provider metadata, the ID token), when configured.
    oauth: Option<oauth::OAuth>,
    /// The DPoP key and nonces ([`Config::dpop`]).
    dpop: dpop::DpopState,
}

type Shared = Rc<RefCell<Inner>>;

/// Whether the global scope is a browser window or worker (not Node or another JS host).
fn in_browser() -> bool {
    let global = js_sys::global();
    global_get(&global, "document").is_some() || global_get(&global, "importScripts").is_some()
}

/// The `Authorization` value of the current token, assembled in JS once per token (the token
/// itself is never copied out of its [`Secret`] per request).
#[derive(Default)]
pub(crate) struct BearerCache {
    value: Option<(Generation, js_sys::JsString)>,
    /// `DPoP <token>` instead of `Bearer <token>` ([`Config::dpop`]).
    dpop: bool,
    /// The DPoP `ath` of the token of this generation.
    ath: Option<(Generation, String)>,
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

    fn clear(&mut self) {
        self.value = None;
        self.ath = None;
    }
}

fn now() -> u64 {
    let ms = Date::now();
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

fn global_get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// The base for relative URLs: `document.baseURI` in a window, `self.location.href` in a worker.
pub(crate) fn base_url() -> Option<String> {
    let global = js_sys::global();
    global_get(&global, "document")
        .and_then(|doc| global_get(&doc, "baseURI"))
        .or_else(|| global_get(&global, "location").and_then(|loc| global_get(&loc, "href")))
        .and_then(|v| v.as_string())
}

fn page_origin() -> Option<String> {
    global_get(&js_sys::global(), "location")
        .and_then(|loc| global_get(&loc, "origin"))
        .and_then(|v| v.as_string())
        .filter(|o| o != "null")
}

/// `document.cookie`, for the session hint (`None` where there is none: a worker, Node).
fn document_cookie() -> Option<String> {
    global_get(&js_sys::global(), "document")
        .and_then(|doc| global_get(&doc, "cookie"))
        .and_then(|cookie| cookie.as_string())
}

/// Resolves an endpoint against the page and requires https (or loopback http).
fn endpoint(name: &str, url: &str) -> Result<String, Error> {
    let parsed = origin::parse(url, base_url().as_deref()).ok_or_else(|| {
        Error::new(
            "ERR_INVALID_OPTIONS",
            format!(
                "{name} {} is not a valid URL",
                crate::core::error::Quoted(url)
            ),
        )
    })?;
    if !origin::secure_enough(&parsed) {
        return Err(Error::new(
            "ERR_INVALID_OPTIONS",
            format!("{name} must be https (plain http only for loopback hosts)"),
        ));
    }
    Ok(parsed.href())
}

/// 64 random bits from `Math.random` (seeds and tab ids: unpredictability is not needed).
pub(crate) fn random_u64() -> u64 {
    let word = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (word() << 32) | word()
}

/// One bound DOM listener.
type Bound = (
    EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// The wake-up listeners (`focus`, `online`, `visibilitychange`), removed on drop.
struct Listeners {
    bound: Vec<Bound>,
}

impl Listeners {
    fn install(shared: Weak<RefCell<Inner>>) -> Self {
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

fn wake(shared: &Shared) {
    drive(shared, |inner, out| inner.manager.wake(now(), out));
}

/// A promise and its resolver.
fn deferred() -> (Promise, Function) {
    let mut resolver = None;
    let promise = Promise::new(&mut |resolve, _| resolver = Some(resolve));
    let resolve = resolver.unwrap_or_else(|| Function::new_no_args(""));
    (promise, resolve)
}

/// Registers a waiter; the future resolves on the next refresh outcome, logout or new tokens.
fn waiter(inner: &mut Inner) -> JsFuture {
    let (promise, resolve) = deferred();
    inner.waiters.push(resolve);
    JsFuture::from(promise)
}

fn wake_all(waiters: Vec<Function>, why: Wake) {
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
fn drive<R>(shared: &Shared, input: impl FnOnce(&mut Inner, &mut Outbox) -> R) -> Option<R> {
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
fn perform(shared: &Shared, out: Outbox) {
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
fn announce(shared: &Shared, event: Event) {
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

/// Arms the timer for the manager's deadline (the session's and the coordinator's).
fn rearm(shared: &Shared) {
    let mut inner = shared.borrow_mut();
    if inner.closed {
        return;
    }
    let deadline = inner.manager.deadline();
    inner.alarm.arm(shared, deadline);
}

/// One cancel-on-drop timer for a machine's `poll_timeout()`, re-armed only when the deadline
/// changes (the clock is trusted over the timer: a late or early firing is harmless).
#[derive(Default)]
pub(super) struct Alarm {
    timer: Option<Timeout>,
    armed_for: Option<u64>,
}

impl Alarm {
    /// Arms for `deadline`; when it fires, the manager hears of the time.
    fn arm(&mut self, shared: &Shared, deadline: Option<u64>) {
        if deadline == self.armed_for {
            return;
        }
        self.armed_for = deadline;
        self.timer = deadline.map(|at| {
            let delay = at.saturating_sub(now()).min(i32::MAX as u64) as u32;
            let weak = Rc::downgrade(shared);
            Timeout::new(delay, move || {
                let Some(shared) = weak.upgrade() else { return };
                drive(&shared, |inner, out| {
                    inner.alarm.disarm();
                    inner.manager.timeout(now(), out)
                });
            })
        });
    }

    /// Forgets the deadline (a fired timer's own handle: dropping it clears a spent timeout).
    fn disarm(&mut self) {
        self.timer = None;
        self.armed_for = None;
    }
}

/// `{refresh_token}` for a memory-mode auth call; the token goes from its `Secret` straight
/// into a JS string.
fn refresh_token_body(token: &Secret) -> Object {
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
fn start_refresh(
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
async fn logout_proof(
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
fn call_failure(error: http::CallError) -> Option<RefreshFailure> {
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
fn refresh_finished(
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
    fn auth_call(
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
enum Gate<T> {
    Go(T, Generation),
    Anonymous,
}

/// Asks the session what a request may carry, waiting through refreshes; `attach` turns the
/// token into what the caller needs (e.g. the `Authorization` value, built in JS).
async fn gate<T>(
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
fn install_tokens(shared: &Shared, parsed: http::Parsed, origin: TokenOrigin) {
    let source = match origin {
        TokenOrigin::Login => Source::Login,
        _ => Source::SetTokens,
    };
    drive(shared, |inner, out| {
        inner.manager.install(source, parsed, now(), out)
    });
}

/// A handle removing a listener when dropped (see [`TokenManager::subscribe`]).
#[must_use = "dropping the subscription removes the listener"]
pub struct Subscription {
    shared: Weak<RefCell<Inner>>,
    id: u64,
}

impl Subscription {
    /// Keeps the listener for the manager's whole life.
    pub fn detach(self) {
        std::mem::forget(self);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        unsubscribe(&self.shared, self.id);
    }
}

fn unsubscribe(shared: &Weak<RefCell<Inner>>, id: u64) {
    if let Some(shared) = shared.upgrade() {
        if let Ok(mut inner) = shared.try_borrow_mut() {
            inner.subscribers.retain(|(i, _)| *i != id);
        }
    }
}

/// The token manager: memory-only custody, silent single-flight refresh, `fetch` wrapping.
/// Dropping it wipes the tokens, cancels the timer and listeners, and fails waiting requests
/// (in worker custody: stops the worker).
pub struct TokenManager {
    /// In worker custody: closed, holding only the resolved config and the subscribers.
    shared: Shared,
    /// The worker holding the session ([`Custody::Worker`]).
    remote: Option<custody::Remote>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager").finish_non_exhaustive()
    }
}

impl TokenManager {
    /// Validates `config` (URLs resolved against the page; https or loopback http only;
    /// allowed origins normalised) and installs the wake-up listeners. With
    /// [`Custody::Worker`], starts the worker instead (see [`Custody`] for what it needs).
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), tokenwarden::web::Error> {
    /// use tokenwarden::web::{Config, Custody, TokenManager};
    /// let mut config = Config::new("/auth/refresh");
    /// config.login_url = Some("/auth/login".into());
    /// // The npm package's web/ directory, served by the app at /tokenwarden/.
    /// config.custody = Custody::Worker { package_url: "/tokenwarden/".into() };
    /// let manager = TokenManager::new(config)?;
    /// # Ok(()) }
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        match config.custody.clone() {
            Custody::Page => Self::in_page(config),
            #[cfg(feature = "worker-custody")]
            Custody::Worker { package_url } => Self::in_worker(config, &package_url),
            // Refused before anything is built: no worker code is linked without the feature.
            #[cfg(not(feature = "worker-custody"))]
            Custody::Worker { .. } => Err(custody::Remote::refused()),
        }
    }

    /// Worker custody: the same validation as page custody, with the same errors, by a page
    /// manager without cross-tab coordination that is closed at once (it never holds a token;
    /// it keeps the resolved config and this object's subscribers); then the worker.
    #[cfg(feature = "worker-custody")]
    fn in_worker(config: Config, package_url: &str) -> Result<Self, Error> {
        let cross_tab = config.cross_tab;
        let validated = Self::in_page(Config {
            cross_tab: false,
            custody: Custody::Page,
            ..config
        })?;
        let shared = validated.shared.clone();
        drop(validated);
        let mut resolved = shared.borrow().config.clone();
        resolved.cross_tab = cross_tab;
        let remote = custody::Remote::start(&resolved, package_url, worker_events(&shared))?;
        Ok(Self {
            shared,
            remote: Some(remote),
        })
    }

    /// A call to the worker in worker custody (`None` in page custody).
    fn in_worker_call(
        &self,
        op: &'static str,
        first: JsValue,
        second: JsValue,
    ) -> Option<impl std::future::Future<Output = Result<JsValue, Error>>> {
        self.remote
            .as_ref()
            .map(|remote| remote.call(op, first, second))
    }

    /// A getter's value in worker custody: the worker's last snapshot (`None` in page custody).
    fn snapshot(&self, key: &str) -> Option<JsValue> {
        self.remote
            .as_ref()
            .map(|remote| remote.snap(key))
            .map(|value| {
                if value.is_undefined() {
                    JsValue::NULL
                } else {
                    value
                }
            })
    }

    fn snapshot_ms(&self, key: &str) -> Option<Option<f64>> {
        self.snapshot(key)
            .map(|value| value.as_f64().filter(|ms| ms.is_finite()))
    }

    fn in_page(mut config: Config) -> Result<Self, Error> {
        if config.dpop && !cfg!(feature = "dpop") {
            // Without the feature no key exists: `Authorization: DPoP` would go without a proof.
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                "the dpop option needs the build with DPoP (cargo feature dpop)",
            ));
        }
        let oauth = oauth::configure(&mut config)?;
        config.refresh_url = endpoint("refreshUrl", &config.refresh_url)?;
        config.login_url = config
            .login_url
            .map(|url| endpoint("loginUrl", &url))
            .transpose()?;
        config.logout_url = config
            .logout_url
            .map(|url| endpoint("logoutUrl", &url))
            .transpose()?;
        config.allowed_origins = if config.allowed_origins.is_empty() {
            // The page's own origin, when a token may travel there at all (https or loopback):
            // only such origins are kept, so a match on the origin alone decides.
            page_origin()
                .filter(|origin| {
                    origin::parse(origin, None).is_some_and(|u| origin::secure_enough(&u))
                })
                .into_iter()
                .collect()
        } else {
            config
                .allowed_origins
                .iter()
                .map(|o| origin::normalize_origin(o))
                .collect::<Result<_, _>>()?
        };
        if config
            .session_hint
            .as_deref()
            .is_some_and(|name| !crate::core::manager::session_hint_name_ok(name))
        {
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                "option \"sessionHint\" must be a cookie name",
            ));
        }
        config
            .policy
            .check()
            .map_err(|message| Error::new("ERR_INVALID_OPTIONS", message))?;
        if config.request_timeout_ms == 0 {
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                "requestTimeoutMs must be positive",
            ));
        }
        let fetch = http::CapturedFetch::capture()
            .ok_or_else(|| Error::new("ERR_FETCH", "this environment has no global fetch"))?;
        let (policy, seed) = (config.policy.clone(), random_u64());
        let memory = config.refresh_token == RefreshTokenMode::Memory;
        let use_dpop = config.dpop;
        let shared = Rc::new(RefCell::new(Inner {
            config,
            manager: Manager::new(policy.clone(), seed, memory, None),
            claims: None,
            alarm: Alarm::default(),
            listeners: None,
            tabs: None,
            subscribers: Vec::new(),
            next_subscriber: 0,
            waiters: Vec::new(),
            refresh_calls: Vec::new(),
            last_failure: None,
            bearer: BearerCache {
                dpop: use_dpop,
                ..BearerCache::default()
            },
            closed: false,
            fetch,
            oauth,
            dpop: dpop::DpopState::default(),
        }));
        let listeners = Listeners::install(Rc::downgrade(&shared));
        shared.borrow_mut().listeners = Some(listeners);
        let tabs = tabs::Tabs::install(&shared.borrow().config, Rc::downgrade(&shared));
        if let Some((tabs, coordination)) = tabs {
            let mut inner = shared.borrow_mut();
            // No session yet: the manager is made again, now with the tabs' coordinator.
            inner.manager = Manager::new(policy, seed, memory, Some(coordination));
            inner.tabs = Some(tabs);
        }
        Ok(Self {
            shared,
            remote: None,
        })
    }

    /// Logs in with credentials of any type serialising to a JSON object (e.g. a
    /// `#[derive(Serialize)]` struct); otherwise as [`login`](Self::login).
    ///
    /// ```no_run
    /// # async fn demo(manager: &tokenwarden::web::TokenManager) -> Result<(), tokenwarden::web::Error> {
    /// #[derive(serde::Serialize)]
    /// struct Credentials<'a> { username: &'a str, password: &'a str }
    /// manager.login_with(&Credentials { username: "demo", password: "demo-password" }).await?;
    /// # Ok(()) }
    /// ```
    pub fn login_with<C: serde::Serialize + ?Sized>(
        &self,
        credentials: &C,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        // The JSON text (it holds a password) is wiped once JS has parsed it.
        let value = serde_json::to_string(credentials)
            .map(zeroize::Zeroizing::new)
            .ok()
            .and_then(|text| js_sys::JSON::parse(&text).ok())
            .unwrap_or(JsValue::UNDEFINED);
        self.login(value)
    }

    /// Logs in: `POST`s `credentials` (a JS object, sent as JSON) to the login endpoint and
    /// installs the tokens. Errors: `ERR_LOGIN_FAILED` (with the status if the server
    /// answered), `ERR_INVALID_OPTIONS` (no `login_url`, or credentials that are not an object).
    pub fn login(
        &self,
        credentials: JsValue,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("login", credentials.clone(), JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                return call.await.map(drop);
            }
            let (call, memory, use_dpop) = {
                let inner = shared.borrow();
                if inner.closed {
                    return Err(Error::closed());
                }
                let url = inner.config.login_url.clone().ok_or_else(|| {
                    Error::new("ERR_INVALID_OPTIONS", "login() needs the loginUrl option")
                })?;
                let memory = inner.config.refresh_token == RefreshTokenMode::Memory;
                (inner.auth_call(url, None, None), memory, inner.config.dpop)
            };
            if !credentials.is_object() {
                return Err(Error::new(
                    "ERR_INVALID_OPTIONS",
                    "login credentials must be an object",
                ));
            }
            let controller = AbortController::new().map_err(Error::native)?;
            // A new session, a new key: created here, kept only if the login succeeds.
            // (`#[cfg]`: without the feature no key generation is linked.)
            #[cfg(feature = "dpop")]
            let key = match use_dpop {
                true => Some(dpop::DpopKey::generate().await?),
                false => None,
            };
            #[cfg(not(feature = "dpop"))]
            let key: Option<dpop::DpopKey> = {
                let _ = use_dpop;
                None
            };
            let call = http::AuthCall {
                json_body: Some(credentials),
                ..call
            };
            let reply = dpop::send_token_request(&shared, call, key.as_ref(), &controller)
                .await
                .map_err(|e| {
                    let why = match e {
                        http::CallError::Timeout => "timed out",
                        http::CallError::TooLarge => "returned an oversized body",
                        _ => "could not reach the server",
                    };
                    Error::new("ERR_LOGIN_FAILED", format!("login {why}"))
                })?;
            if !(200..300).contains(&reply.status) {
                let detail = http::error_code(&reply)
                    .map(|code| format!(" ({})", code.chars().take(64).collect::<String>()))
                    .unwrap_or_default();
                return Err(Error::new(
                    "ERR_LOGIN_FAILED",
                    format!("login failed with status {}{detail}", reply.status),
                )
                .with_status(reply.status));
            }
            let parsed = http::parse_grant(&reply, memory, use_dpop).ok_or_else(|| {
                Error::new(
                    "ERR_LOGIN_FAILED",
                    "the login response is not a valid token response",
                )
                .with_status(reply.status)
            })?;
            if let Some(key) = key {
                shared.borrow_mut().dpop.key = Some(key);
            }
            install_tokens(&shared, parsed, TokenOrigin::Login);
            Ok(())
        }
    }

    /// Hands over tokens obtained elsewhere. A refresh token is accepted in memory mode only.
    pub fn set_tokens(
        &self,
        access_token: Secret,
        refresh_token: Option<Secret>,
        expires_in: Option<i64>,
    ) -> Result<(), Error> {
        {
            let inner = self.shared.borrow();
            if inner.closed && self.remote.is_none() {
                return Err(Error::closed());
            }
            if refresh_token.is_some() && inner.config.refresh_token != RefreshTokenMode::Memory {
                return Err(Error::new(
                    "ERR_INVALID_OPTIONS",
                    "refreshToken can be set only with the refreshToken: \"memory\" option",
                ));
            }
        }
        let lengths_ok = std::iter::once(&access_token)
            .chain(refresh_token.as_ref())
            .all(|token| grant::token_length_ok(token.len()));
        if !lengths_ok {
            return Err(Error::new(
                "ERR_INVALID_OPTIONS",
                grant::GrantError::TokenLength.message(),
            ));
        }
        if let Some(seconds) = expires_in {
            grant::expires_in(seconds as f64)
                .map_err(|e| Error::new("ERR_INVALID_OPTIONS", e.message()))?;
        }
        if let Some(remote) = &self.remote {
            // Checked here as the worker checks them; the worker installs them in call order.
            let tokens = Object::new();
            let put = |key: &str, value: JsValue| {
                let _ = Reflect::set(&tokens, &JsValue::from_str(key), &value);
            };
            put("accessToken", JsValue::from_str(access_token.expose()));
            if let Some(token) = &refresh_token {
                put("refreshToken", JsValue::from_str(token.expose()));
            }
            if let Some(seconds) = expires_in {
                put("expiresIn", JsValue::from(seconds as f64));
            }
            let call = remote.call("setTokens", tokens.into(), JsValue::UNDEFINED);
            spawn_local(async move {
                let _ = call.await;
            });
            return Ok(());
        }
        install_tokens(
            &self.shared,
            http::grant_from(access_token, refresh_token, expires_in, None),
            TokenOrigin::SetTokens,
        );
        Ok(())
    }

    /// Restores a cookie-mode session after a reload with a silent refresh. Resolves to whether
    /// a token is now held (no error for "no session": that is `false`). With
    /// [`Config::session_hint`], a page without the hint cookie sends no refresh request.
    pub fn start(&self) -> impl std::future::Future<Output = bool> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("start", JsValue::UNDEFINED, JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                return call.await.is_ok_and(|held| held.as_bool() == Some(true));
            }
            if tabs::hand_over(&shared).await {
                return true;
            }
            let cookies = document_cookie();
            let wait = drive(&shared, |inner, out| {
                let hint = inner.config.session_hint.clone();
                let asked = inner
                    .manager
                    .restore(hint.as_deref(), cookies.as_deref(), now(), out);
                asked.then(|| waiter(inner))
            });
            let Some(wait) = wait else { return false };
            if let Some(wait) = wait {
                let _ = wait.await;
            }
            let inner = shared.borrow();
            !inner.closed && inner.manager.session().generation().is_some()
        }
    }

    /// OAuth profile: prepares a login (state, nonce and PKCE verifier, stored as the login
    /// transaction in `sessionStorage`) and returns the provider's authorization URL, for an
    /// app that navigates itself. [`login_with_redirect`](Self::login_with_redirect) also
    /// navigates.
    pub fn authorization_url(
        &self,
        options: LoginOptions,
    ) -> impl std::future::Future<Output = Result<String, Error>> {
        let shared = self.shared.clone();
        async move { oauth::authorization_url(&shared, &options).await }
    }

    /// OAuth profile: starts a login by redirect (authorization code with PKCE S256). The page
    /// navigates to the provider, which sends the browser back to the redirect URI; there,
    /// call [`handle_redirect_callback`](Self::handle_redirect_callback).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tokenwarden::web::Error> {
    /// use tokenwarden::web::{Config, LoginOptions, OAuthConfig, TokenManager};
    /// let mut client = OAuthConfig::new(
    ///     "https://tenant.example.auth0.com/",
    ///     "my-spa-client-id",
    ///     "https://app.example/callback",
    /// );
    /// client.audience = Some("https://api.example".into());
    /// let manager = TokenManager::new(Config::oauth(client))?;
    /// if !manager.start().await {
    ///     manager.login_with_redirect(LoginOptions::default()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn login_with_redirect(
        &self,
        options: LoginOptions,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        let url = self.authorization_url(options);
        async move { oauth::navigate(&url.await?) }
    }

    /// OAuth profile: completes a login at the redirect URI. `url` defaults to
    /// `location.href`. Checks `state` and `iss`, reports the provider's `error` (codes
    /// `ERR_OAUTH_ACCESS_DENIED`, `ERR_OAUTH_LOGIN_REQUIRED`, ...), exchanges the code, verifies
    /// the ID token against the provider's keys, installs the tokens, and removes `code` and
    /// `state` from the address bar. Every error has a stable `ERR_OAUTH_*` (or `ERR_JWT_*`,
    /// `ERR_JWS_*`) code and leaves the session as it was.
    ///
    /// ```no_run
    /// # async fn demo(manager: &tokenwarden::web::TokenManager) -> Result<(), tokenwarden::web::Error> {
    /// manager.handle_redirect_callback(None).await?;
    /// let response = manager.fetch_url("https://api.example/me").await?;
    /// # Ok(()) }
    /// ```
    pub fn handle_redirect_callback(
        &self,
        url: Option<String>,
    ) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        async move { oauth::handle_callback(&shared, url).await }
    }

    /// OAuth profile: [`logout`](Self::logout) (the refresh token is revoked, RFC 7009), then
    /// navigates to the provider's `end_session_endpoint` with `id_token_hint` and the
    /// configured `post_logout_redirect_uri`, ending the provider's own session too.
    pub fn logout_and_end_session(&self) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        let logout = self.logout();
        async move {
            // The hint is taken before the logout wipes the manager's state.
            let url = oauth::end_session(&shared).await;
            logout.await;
            oauth::navigate(&url?)
        }
    }

    /// Refreshes now (joining a refresh in flight; a backoff in progress is not cut short).
    /// Errors: `ERR_REFRESH_FAILED` (transient; the manager keeps retrying), `ERR_LOGGED_OUT`.
    pub fn refresh(&self) -> impl std::future::Future<Output = Result<(), Error>> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("refresh", JsValue::UNDEFINED, JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                return call.await.map(drop);
            }
            let wait = drive(&shared, |inner, out| {
                inner.manager.request_refresh(now(), out);
                waiter(inner)
            })
            .ok_or_else(Error::closed)?;
            let why = wait
                .await
                .map(|v| Wake::from_js(&v))
                .unwrap_or(Wake::Closed);
            match why {
                Wake::Refreshed | Wake::Tokens => Ok(()),
                Wake::RefreshFailed => {
                    let failure = shared.borrow().last_failure;
                    Err(Error::new(
                        "ERR_REFRESH_FAILED",
                        format!("refresh failed ({}); retrying", failure_name(failure)),
                    ))
                }
                Wake::LoggedOut => Err(Error::new("ERR_LOGGED_OUT", "the session ended")),
                Wake::Closed => Err(Error::closed()),
            }
        }
    }

    /// Ends the session: wipes the tokens at once (even if the logout call fails), fails waiting
    /// requests with `ERR_LOGGED_OUT`, then asks the server to revoke them.
    pub fn logout(&self) -> impl std::future::Future<Output = ()> {
        let shared = self.shared.clone();
        let worker = self.in_worker_call("logout", JsValue::UNDEFINED, JsValue::UNDEFINED);
        async move {
            if let Some(call) = worker {
                let _ = call.await;
                return;
            }
            let call = drive(&shared, |inner, out| {
                let credentials = inner.manager.logout(now(), out);
                inner.claims = None;
                inner.bearer.clear();
                // A DPoP-bound token goes to the logout URL as `DPoP` with a proof of the
                // session's key (the server requires one): key and nonce captured before the
                // logout forgets them.
                let dpop_key = inner.dpop.key.take();
                let dpop_nonce = inner
                    .config
                    .logout_url
                    .as_deref()
                    .and_then(|url| inner.dpop.nonce_for(url));
                inner.dpop.clear();
                if cfg!(feature = "oauth") && inner.oauth.is_some() {
                    // OAuth profile: RFC 7009 revocation at the provider.
                    let revoke: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> =
                        Box::pin(oauth::revoke(&shared, inner, credentials));
                    Some(revoke)
                } else {
                    let c = &inner.config;
                    c.logout_url.clone().map(|url| {
                        // The access token goes only to an allowed origin, like any request.
                        let access = credentials
                            .access_token
                            .as_ref()
                            .filter(|_| origin::origin_allowed(&url, None, &c.allowed_origins));
                        let bearer = access.map(|token| match dpop_key {
                            Some(_) => http::authorization("DPoP ", token),
                            None => http::bearer(token),
                        });
                        // `ath` is hashed from a copy that is zeroized once hashed.
                        let ath_input = access.filter(|_| dpop_key.is_some()).map(|token| {
                            zeroize::Zeroizing::new(token.expose().as_bytes().to_vec())
                        });
                        let body = match (&credentials.refresh_token, c.refresh_token) {
                            (Some(token), RefreshTokenMode::Memory) => {
                                Some(JsValue::from(refresh_token_body(token)))
                            }
                            _ => None,
                        };
                        let mut call = inner.auth_call(url, body, bearer);
                        let send: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> =
                            Box::pin(async move {
                                if let (Some(key), Some(token)) = (dpop_key, ath_input) {
                                    call.dpop =
                                        logout_proof(&key, &call.url, &token, dpop_nonce).await;
                                }
                                if let Ok(controller) = AbortController::new() {
                                    let _ = call.send(&controller).await;
                                }
                            });
                        send
                    })
                }
                // `credentials` is dropped here: both secrets are zeroized.
            });
            let Some(call) = call else { return };
            let waiters = std::mem::take(&mut shared.borrow_mut().waiters);
            wake_all(waiters, Wake::LoggedOut);
            if let Some(call) = call {
                call.await;
            }
        }
    }

    /// Sends `request` with `fetch`, with `Authorization: Bearer` attached when its URL's origin
    /// is allowed. Takes a [`web_sys::Request`] or anything converting into one, such as
    /// `gloo_net::http::Request` (gloo-net 0.7 implements `From<Request> for web_sys::Request`;
    /// turn the response back with `gloo_net::http::Response::from`). The request is not
    /// mutated: it is cloned before the header is set, so its body stays unread.
    ///
    /// Rules (as the JS `fetch`): the origin and `redirect` mode are read from the request as
    /// built; redirects are followed as it asks in a browser, where the Fetch standard drops
    /// `Authorization` on a cross-origin redirect, and not at all with
    /// [`Config::manual_redirects`] (the default elsewhere); a `401` with
    /// `WWW-Authenticate: Bearer error="invalid_token"` leads to one refresh and one retry
    /// (not for a stream body); requests made during a refresh wait for it; after logout the
    /// call fails fast with `ERR_LOGGED_OUT`. A native failure is `ERR_FETCH` with
    /// [`Error::cause`].
    pub fn fetch(
        &self,
        request: impl Into<web_sys::Request>,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        let request: web_sys::Request = request.into();
        self.fetch_any(request.into(), JsValue::UNDEFINED)
    }

    /// [`fetch`](Self::fetch) in either custody (in worker custody the worker sends it; an
    /// abort of the request's signal reaches the worker's `fetch`).
    fn fetch_any(
        &self,
        input: JsValue,
        init: JsValue,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        // The worker's side reads the body of the request it is handed: a clone leaves the
        // caller's unread, as in page custody.
        let worker = self.remote.as_ref().map(|remote| {
            let handed = match input.dyn_ref().map(web_sys::Request::clone) {
                Some(Ok(copy)) => copy.into(),
                _ => input.clone(),
            };
            remote.call("fetch", handed, init.clone())
        });
        let page = fetch::fetch(self.shared.clone(), input, init);
        async move {
            match worker {
                Some(call) => call
                    .await?
                    .dyn_into()
                    .map_err(|_| Error::new("ERR_FETCH", "the worker answered without a Response")),
                None => page.await,
            }
        }
    }

    /// A `GET` of `url` (relative URLs resolve against the document base) through
    /// [`fetch`](Self::fetch).
    pub fn fetch_url(
        &self,
        url: &str,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        self.fetch_any(JsValue::from_str(url), JsValue::UNDEFINED)
    }

    /// [`fetch`](Self::fetch) with the JS signature: `input` is a string, `URL` or `Request`;
    /// `init` a `RequestInit` object or `undefined`.
    pub fn fetch_js(
        &self,
        input: JsValue,
        init: JsValue,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        self.fetch_any(input, init)
    }

    /// For the package's JS `fetch` wrapper: what a request to the canonical absolute URL `url`
    /// may carry right now: `null` (send it untouched), an `Authorization` value, or `undefined`
    /// (take [`fetch_js`](Self::fetch_js)).
    pub fn header_for(&self, url: &str) -> JsValue {
        fetch::header_for(&self.shared, url)
    }

    /// For the package's JS `fetch` wrapper: a request sent with `header` (from
    /// [`header_for`](Self::header_for)) got the 401 `response`; refreshes and retries once
    /// when the 401 is about that token, as [`fetch_js`](Self::fetch_js) does.
    pub fn after_unauthorized(
        &self,
        response: web_sys::Response,
        header: js_sys::JsString,
        input: JsValue,
        init: JsValue,
    ) -> impl std::future::Future<Output = Result<web_sys::Response, Error>> {
        fetch::after_unauthorized(self.shared.clone(), response, header, input, init)
    }

    /// The `fetch` captured at construction, with the global scope it must be called on.
    pub fn captured_fetch(&self) -> js_sys::Function {
        self.shared.borrow().fetch.function()
    }

    /// The current access token as a JS string, after the same gate as `fetch` (for a
    /// WebSocket or a third-party SDK). The JS class exposes it only with `exposeToken: true`.
    pub fn access_token_js(&self) -> impl std::future::Future<Output = Result<JsValue, Error>> {
        let shared = self.shared.clone();
        let in_worker = self.remote.is_some();
        async move {
            if in_worker {
                return Err(Error::new(
                    "ERR_TOKEN_NOT_EXPOSED",
                    "worker custody never hands the access token to the page",
                ));
            }
            match gate(&shared, |_, token, _| JsValue::from_str(token.expose())).await? {
                Gate::Go(token, _) => Ok(token),
                Gate::Anonymous => Err(Error::new("ERR_NOT_AUTHENTICATED", "there is no session")),
            }
        }
    }

    /// Listens to events until the returned guard is dropped (or detached).
    pub fn subscribe(&self, listener: impl Fn(&Event) + 'static) -> Subscription {
        let id = self.subscribe_id(listener);
        Subscription {
            shared: Rc::downgrade(&self.shared),
            id,
        }
    }

    pub(crate) fn subscribe_id(&self, listener: impl Fn(&Event) + 'static) -> u64 {
        let mut inner = self.shared.borrow_mut();
        inner.next_subscriber += 1;
        let id = inner.next_subscriber;
        inner.subscribers.push((id, Rc::new(listener)));
        id
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        match self.snapshot("state").and_then(|s| s.as_string()) {
            Some(state) => custody::state(&state),
            None if self.remote.is_some() => SessionState::Anonymous,
            None => self.shared.borrow().manager.session().state(),
        }
    }

    /// The current token's claims (decoded, not verified) as an application type: registered
    /// and custom claims together, as in the token's payload. `Ok(None)` without a token (or
    /// with an opaque one); `ERR_JWT_INVALID` if the claims do not fit `T`.
    ///
    /// ```no_run
    /// # fn demo(manager: &tokenwarden::web::TokenManager) -> Result<(), tokenwarden::web::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims { sub: String, scope: String }
    /// if let Some(claims) = manager.claims::<MyClaims>()? {
    ///     println!("{} may {}", claims.sub, claims.scope);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// With the cargo feature `serde-wasm-bindgen`, the payload goes through the browser's
    /// `JSON.parse` (as [`claims_js`](Self::claims_js)) and serde-wasm-bindgen, so an app that
    /// has no other use for serde_json does not link its deserializer for this.
    pub fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let mismatch = |_| {
            Error::new(
                "ERR_JWT_INVALID",
                "the token's claims do not match the requested type",
            )
        };
        #[cfg(feature = "serde-wasm-bindgen")]
        {
            let payload = self.claims_js();
            if payload.is_null() {
                return Ok(None);
            }
            serde_wasm_bindgen::from_value(payload)
                .map(Some)
                .map_err(mismatch)
        }
        #[cfg(not(feature = "serde-wasm-bindgen"))]
        {
            let Some(claims) = self.token_claims() else {
                return Ok(None);
            };
            serde_json::to_value(&claims)
                .and_then(T::deserialize)
                .map(Some)
                .map_err(mismatch)
        }
    }

    /// The current token's decoded (unverified) claims, if it is a JWT: registered claims
    /// typed, the rest in [`Claims::extra`].
    pub fn token_claims(&self) -> Option<Claims> {
        if self.remote.is_some() {
            let json = js_sys::JSON::stringify(&self.claims_js())
                .ok()?
                .as_string()?;
            let map = crate::core::json::parse_object(json.as_bytes(), "payload").ok()?;
            return Claims::from_map(map).ok();
        }
        self.with_claims(|claims| claims.claims.clone())
    }

    /// The current token's decoded (unverified) payload as a JS object (the engine's
    /// `JSON.parse` of the payload the strict decoder accepted), or `null`.
    pub fn claims_js(&self) -> JsValue {
        if let Some(claims) = self.snapshot("claims") {
            return claims;
        }
        self.with_claims(|claims| js_sys::JSON::parse(&claims.json).ok())
            .flatten()
            .unwrap_or(JsValue::NULL)
    }

    fn with_claims<T>(&self, read: impl FnOnce(&http::TokenClaims) -> T) -> Option<T> {
        let inner = self.shared.borrow();
        let generation = inner.manager.session().generation()?;
        inner
            .claims
            .as_ref()
            .filter(|(g, _)| *g == generation)
            .map(|(_, claims)| read(claims))
    }

    /// With [`Config::dpop`], the RFC 7638 thumbprint of the session's DPoP key (the `jkt` its
    /// tokens are bound to); `None` without a key (before login, after logout).
    pub fn dpop_jkt(&self) -> Option<String> {
        if let Some(jkt) = self.snapshot("dpopJkt") {
            return jkt.as_string();
        }
        self.shared
            .borrow()
            .dpop
            .key
            .as_ref()
            .map(|key| key.jkt().to_owned())
    }

    /// When the current token expires (local clock, ms since the epoch).
    pub fn expires_at(&self) -> Option<u64> {
        if let Some(ms) = self.snapshot_ms("expiresAt") {
            return ms.map(|ms| ms as u64);
        }
        self.shared.borrow().manager.session().expires_at()
    }

    /// Server clock minus local clock, in ms, measured with the current token.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        if let Some(ms) = self.snapshot_ms("clockOffsetMs") {
            return ms.map(|ms| ms as i64);
        }
        self.shared.borrow().manager.session().clock_offset_ms()
    }

    /// When the session next acts on its own (local clock, ms since the epoch): the silent
    /// refresh, a retry after a failed one, or the expiry. `None` without a session. For a
    /// countdown in the UI; the manager does not depend on anyone polling it.
    pub fn next_refresh_at(&self) -> Option<u64> {
        if let Some(ms) = self.snapshot_ms("nextRefreshAt") {
            return ms.map(|ms| ms as u64);
        }
        self.shared.borrow().manager.session().poll_timeout()
    }

    /// Where the expiry came from.
    pub fn expiry_source(&self) -> Option<ExpirySource> {
        if let Some(source) = self.snapshot("expirySource") {
            return match source.as_string().as_deref() {
                Some("expires_in") => Some(ExpirySource::ExpiresIn),
                Some("exp") => Some(ExpirySource::ExpClaim),
                _ => None,
            };
        }
        self.shared.borrow().manager.session().expiry_source()
    }
}

fn failure_name(failure: Option<RefreshFailure>) -> &'static str {
    match failure {
        Some(RefreshFailure::Network) => "network error",
        Some(RefreshFailure::Timeout) => "timeout",
        Some(RefreshFailure::Server { .. }) => "server error",
        Some(RefreshFailure::TooManyRequests { .. }) => "too many requests",
        Some(RefreshFailure::InvalidGrant) => "invalid grant",
        Some(RefreshFailure::Malformed) => "malformed response",
        None => "unknown",
    }
}

/// Worker custody: remote.js's events, as [`Event`]s, to this manager's subscribers.
#[cfg(feature = "worker-custody")]
fn worker_events(shared: &Shared) -> Emitter {
    let shared = Rc::downgrade(shared);
    let tokens = Cell::new(0);
    Box::new(move |name, payload| {
        let Some(event) = custody::event(name, payload, &tokens) else {
            return;
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let subscribers: Vec<Subscriber> = match shared.try_borrow() {
            Ok(inner) => inner.subscribers.iter().map(|(_, s)| s.clone()).collect(),
            Err(_) => return,
        };
        for subscriber in subscribers {
            subscriber(&event);
        }
    })
}

impl Drop for TokenManager {
    fn drop(&mut self) {
        if let Some(remote) = &self.remote {
            remote.free();
        }
        let waiters = {
            let Ok(mut inner) = self.shared.try_borrow_mut() else {
                return;
            };
            inner.closed = true;
            inner.alarm.disarm();
            inner.listeners = None;
            inner.tabs = None;
            for (_, controller) in inner.refresh_calls.drain(..) {
                controller.abort();
            }
            drop(inner.manager.logout(now(), &mut Outbox::default()));
            inner.subscribers.clear();
            inner.claims = None;
            inner.bearer.clear();
            inner.oauth = None;
            std::mem::take(&mut inner.waiters)
        };
        wake_all(waiters, Wake::Closed);
    }
}
