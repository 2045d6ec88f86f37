//! Many tabs, one session: cross-tab coordination over a same-origin `BroadcastChannel` and Web
//! Locks (option `crossTab`, on by default; `crossTab: false` turns all of it off).
//!
//! - **Channel.** Its name is a hash of the refresh URL, the allowed origins and the optional
//!   `channelName` option, so two apps on one origin do not mix sessions. Messages go from
//!   context to context; nothing is written to any storage.
//! - **Single-flight across tabs.** A tab whose session wants a refresh first takes the refresh
//!   lock (`navigator.locks`, exclusive). It is released when the holding callback's promise
//!   settles: after the refresh result, and in any case after `requestTimeoutMs` + 2 s; a closed
//!   tab releases it automatically. Waiting for it times out after `requestTimeoutMs` + 5 s, and
//!   then the lock is stolen (its holder exceeded its own bound, so it is frozen or broken).
//!   Without Web Locks, tabs claim the refresh over the channel (a claim expires on its own; ties
//!   go to the lower tab id).
//! - **Sharing.** The tab that refreshed broadcasts the new access token with its receipt time
//!   and `expires_in` (and, in memory mode, the rotated refresh token); siblings adopt a token
//!   newer than theirs, which cancels a refresh of their own still waiting for the lock. The
//!   holder releases the lock a little after broadcasting, and a tab that acquires it yields once
//!   before checking whether it still needs to refresh, so a token that arrived meanwhile wins.
//! - **Logout** in one tab wipes all of them (`loggedOut` with reason `otherTab`).
//! - **Hand-over.** `start()` in a tab with no session first asks its siblings and adopts a
//!   session if one answers within [`HANDOVER_MS`]; only then does it call the refresh endpoint.
//! - **Recovery.** A refresh answered with `invalid_grant` first asks the siblings for a newer
//!   token (one may already have rotated it); the session ends only if none answers.
//!
//! **Custody.** Sharing the access token (and, in memory mode, the refresh token) over a
//! `BroadcastChannel` is a deliberate choice: the channel reaches only same-origin contexts of
//! the same browser profile, which can already run code with the page's full authority, and it
//! never persists anything. Received tokens are copied straight into a
//! [`Secret`](crate::core::secret::Secret); outgoing ones are built as JS strings. Turn the
//! feature off with `crossTab: false` if same-origin contexts must not share the session.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Function, JsString, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget};

use super::{global_get, http, now, pump, wake_all, Config, Inner, RefreshTokenMode, Shared, Wake};
use crate::core::secret::Secret;
use crate::core::session::LogoutReason;
use crate::core::session::{Generation, RefreshFailure, RequestDecision, TokenGrant};

/// How long `start()` waits for a sibling to hand over its session.
pub const HANDOVER_MS: u32 = 300;
/// How long a tab whose refresh got `invalid_grant` waits for a sibling with a newer token.
const RECOVERY_MS: u32 = 300;
/// The refresh lock is released this long after the new token was broadcast.
const RELEASE_DELAY_MS: u32 = 50;
/// Fallback (no Web Locks): how long a claim waits for competing claims.
const CLAIM_SETTLE_MS: u32 = 60;
/// Protocol version carried by every message.
const VERSION: f64 = 1.0;
/// Ended session epochs remembered (tokens of these are never adopted again).
const ENDED_KEPT: usize = 16;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = BroadcastChannel)]
    type Channel;
    #[wasm_bindgen(constructor, js_class = "BroadcastChannel", catch)]
    fn new(name: &str) -> Result<Channel, JsValue>;
    #[wasm_bindgen(method, js_name = postMessage, catch)]
    fn post_message(this: &Channel, message: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn close(this: &Channel);
}

/// What the shell read around a grant, so that siblings compute the same expiry and offset.
pub(super) struct Meta {
    at: u64,
    expires_in: Option<i64>,
    server_date_ms: Option<u64>,
}

impl Meta {
    /// The metadata of `grant`, received at `now`.
    pub(super) fn of(grant: &TokenGrant, now: u64) -> Self {
        Self {
            at: now,
            expires_in: grant.expires_in,
            server_date_ms: grant.server_date_ms,
        }
    }
}

/// The session's current token as the channel knows it.
struct Current {
    generation: Generation,
    meta: Meta,
    /// Random id of the login this token descends from (kept across refreshes and adoptions).
    epoch: f64,
}

/// The cross-tab state of one manager; dropping it closes the channel.
pub(super) struct Tabs {
    channel: Channel,
    listener: Option<Closure<dyn FnMut(web_sys::Event)>>,
    /// Channel name; also the prefix of the lock names.
    name: String,
    /// This manager's random id (tie-breaks; ignores its own echoes).
    id: f64,
    /// `navigator.locks`, when available.
    locks: Option<JsValue>,
    current: Option<Current>,
    ended: Vec<f64>,
    /// Fallback refresh claims seen from siblings: (tab id, valid until).
    claims: Vec<(f64, u64)>,
    /// Resolvers of pending asks: (resolve on a token received after this time, resolver).
    asks: Vec<(u64, Function)>,
    /// Releases this manager's presence lock (`<name>:tab:<id>`, shared mode, held for its
    /// lifetime) by which siblings count each other.
    presence: Option<Function>,
}

impl Drop for Tabs {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = self
                .channel
                .unchecked_ref::<EventTarget>()
                .remove_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
        }
        self.channel.close();
        if let Some(release) = self.presence.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        let asks = std::mem::take(&mut self.asks);
        resolve_asks(asks, false);
    }
}

/// FNV-1a, 64 bits: a short stable hash for the channel name (not a security boundary).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The channel name for `config`.
pub fn channel_name(config: &Config) -> String {
    let origins = config.allowed_origins.join(" ");
    let hash = fnv1a(&[
        &config.refresh_url,
        &origins,
        config.channel_name.as_deref().unwrap_or(""),
    ]);
    format!("tokenwarden:{hash:016x}")
}

fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_u64(target: &JsValue, key: &str) -> Option<u64> {
    get(target, key)
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0 && *n < 9.0e15)
        .map(|n| n as u64)
}

fn random_id() -> f64 {
    (js_sys::Math::random() * 9.0e15).floor()
}

/// A promise resolved after `ms`.
fn sleep(ms: u32) -> JsFuture {
    let promise = Promise::new(&mut |resolve, _| {
        Timeout::new(ms, move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        })
        .forget();
    });
    JsFuture::from(promise)
}

fn resolve_asks(asks: Vec<(u64, Function)>, adopted: bool) {
    for (_, resolve) in asks {
        let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::from(adopted));
    }
}

impl Tabs {
    /// Opens the channel for `config` when `crossTab` is on and the host has tabs to talk to
    /// (a window or a worker with `BroadcastChannel`; not Node).
    pub(super) fn install(
        config: &Config,
        shared: Weak<std::cell::RefCell<Inner>>,
    ) -> Option<Self> {
        if !config.cross_tab {
            return None;
        }
        let global = js_sys::global();
        global_get(&global, "BroadcastChannel")?;
        if global_get(&global, "document").is_none()
            && global_get(&global, "importScripts").is_none()
        {
            return None;
        }
        let name = channel_name(config);
        let channel = Channel::new(&name).ok()?;
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            if let Some(shared) = shared.upgrade() {
                on_message(&shared, &get(event.as_ref(), "data"));
            }
        });
        channel
            .unchecked_ref::<EventTarget>()
            .add_event_listener_with_callback("message", closure.as_ref().unchecked_ref())
            .ok()?;
        let locks = global_get(&global, "navigator")
            .and_then(|navigator| global_get(&navigator, "locks"))
            .filter(|locks| get(locks, "request").is_function());
        Some(Self {
            channel,
            listener: Some(closure),
            name,
            id: random_id(),
            locks,
            current: None,
            ended: Vec::new(),
            claims: Vec::new(),
            asks: Vec::new(),
            presence: None,
        })
        .map(|mut tabs| {
            tabs.presence = tabs
                .locks
                .as_ref()
                .and_then(|locks| hold_presence(locks, &tabs.presence_name()));
            tabs
        })
    }

    fn message(&self, kind: &str) -> Object {
        let message = Object::new();
        set(&message, "v", &JsValue::from(VERSION));
        set(&message, "t", &JsValue::from_str(kind));
        set(&message, "from", &JsValue::from(self.id));
        message
    }

    fn post(&self, message: &Object) {
        let _ = self.channel.post_message(message);
    }

    /// Tells the siblings that the session `epoch` (if known) is over, and forgets ours.
    fn announce_end(&mut self, epoch: Option<f64>) {
        let message = self.message("logout");
        if let Some(epoch) = epoch {
            set(&message, "epoch", &JsValue::from(epoch));
            self.end_epoch(epoch);
        }
        self.current = None;
        self.post(&message);
    }

    fn end_epoch(&mut self, epoch: f64) {
        if !self.ended.contains(&epoch) {
            self.ended.push(epoch);
            if self.ended.len() > ENDED_KEPT {
                self.ended.remove(0);
            }
        }
    }

    /// Posts an ask for a token received after `after`; the returned promise resolves to
    /// `true` when one is adopted, or `false` after `timeout_ms` (the timer is returned too).
    fn ask(&mut self, after: u64, timeout_ms: u32) -> (Promise, Timeout) {
        let message = self.message("ask");
        set(&message, "after", &JsValue::from(after as f64));
        let mut resolver = None;
        let promise = Promise::new(&mut |resolve, _| resolver = Some(resolve));
        let resolve = resolver.expect("the Promise executor runs synchronously");
        self.asks.push((after, resolve.clone()));
        self.post(&message);
        let timer = Timeout::new(timeout_ms, move || {
            let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::FALSE);
        });
        (promise, timer)
    }
}

impl Tabs {
    fn presence_name(&self) -> String {
        // An integer below 2^53 (random_id), printed without pulling in float formatting.
        format!("{}:tab:{}", self.name, self.id as u64)
    }
}

/// Takes the presence lock `name` (shared mode, never contended) until the returned function is
/// called; a closed tab releases it automatically.
fn hold_presence(locks: &JsValue, name: &str) -> Option<Function> {
    let mut release = None;
    let hold = Promise::new(&mut |resolve, _| release = Some(resolve));
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue { hold.into() });
    let options = Object::new();
    set(&options, "mode", &JsValue::from_str("shared"));
    let request = get(locks, "request").dyn_into::<Function>().ok()?;
    let done = request
        .call3(locks, &JsValue::from_str(name), &options, &callback)
        .ok()?;
    // Swallow the rejection a page teardown may cause.
    let done = Promise::resolve(&done);
    spawn_local(async move {
        let _ = JsFuture::from(done).await;
    });
    release
}

/// How many other managers hold a presence lock on this channel (`None`: unknown).
async fn siblings(locks: &JsValue, prefix: &str, own: &str) -> Option<usize> {
    let query = get(locks, "query").dyn_into::<Function>().ok()?;
    let snapshot = JsFuture::from(Promise::resolve(&query.call0(locks).ok()?))
        .await
        .ok()?;
    let mut count = 0;
    for list in ["held", "pending"] {
        for entry in js_sys::Array::from(&get(&snapshot, list)).iter() {
            let name = get(&entry, "name").as_string().unwrap_or_default();
            if name.starts_with(prefix) && name != own {
                count += 1;
            }
        }
    }
    Some(count)
}

impl Inner {
    /// The current token's channel record, if it still describes the session's token.
    fn tab_current(&self) -> Option<&Current> {
        let generation = self.session.generation()?;
        self.tabs
            .as_ref()?
            .current
            .as_ref()
            .filter(|current| current.generation == generation)
    }
}

/// Broadcasts the session's current token (if usable) to the siblings.
fn broadcast_token(inner: &mut Inner) {
    let Some(current) = inner.tab_current() else {
        return;
    };
    let (at, expires_in, server_date_ms, epoch) = (
        current.meta.at,
        current.meta.expires_in,
        current.meta.server_date_ms,
        current.epoch,
    );
    let access = match inner.session.before_request(now()) {
        RequestDecision::Attach { token, .. } => JsValue::from_str(token.expose()),
        _ => return,
    };
    let refresh = match inner.config.refresh_token {
        RefreshTokenMode::Memory => match inner.session.refresh_token() {
            Some(token) => Some(JsValue::from_str(token.expose())),
            // A memory-mode sibling could not refresh with this session.
            None => return,
        },
        RefreshTokenMode::Cookie => None,
    };
    let Some(tabs) = inner.tabs.as_ref() else {
        return;
    };
    let message = tabs.message("token");
    set(&message, "at", &JsValue::from(at as f64));
    set(&message, "epoch", &JsValue::from(epoch));
    if let Some(expires_in) = expires_in {
        set(&message, "expiresIn", &JsValue::from(expires_in as f64));
    }
    if let Some(date) = server_date_ms {
        set(&message, "serverDateMs", &JsValue::from(date as f64));
    }
    set(&message, "accessToken", &access);
    if let Some(refresh) = refresh {
        set(&message, "refreshToken", &refresh);
    }
    tabs.post(&message);
}

/// Hook: the session installed the token `generation` (login, `setTokens`, refresh). Records it
/// and shares it with the siblings. `new_session`: a login or `setTokens` (a new epoch).
pub(super) fn installed(inner: &mut Inner, generation: Generation, meta: Meta, new_session: bool) {
    if inner.tabs.is_none() {
        return;
    }
    let kept_epoch = inner.tab_current_any_epoch();
    let Some(tabs) = inner.tabs.as_mut() else {
        return;
    };
    let epoch = match kept_epoch {
        Some(epoch) if !new_session => epoch,
        _ => random_id(),
    };
    tabs.current = Some(Current {
        generation,
        meta,
        epoch,
    });
    broadcast_token(inner);
}

impl Inner {
    /// The epoch of the last recorded token, even if superseded by a refresh just now.
    fn tab_current_any_epoch(&self) -> Option<f64> {
        self.tabs.as_ref()?.current.as_ref().map(|c| c.epoch)
    }
}

/// Hook for `logout()`: tells the siblings (before the session forgets its epoch).
pub(super) fn announce_logout(inner: &mut Inner) {
    let epoch = inner.tab_current().map(|current| current.epoch);
    if let Some(tabs) = inner.tabs.as_mut() {
        tabs.announce_end(epoch);
    }
}

/// Hook for `start()`: with no session, asks the siblings for theirs. Resolves to whether one
/// was adopted.
pub(super) async fn hand_over(shared: &Shared) -> bool {
    let presence = {
        let inner = shared.borrow();
        inner.tabs.as_ref().and_then(|tabs| {
            let locks = tabs.locks.clone()?;
            tabs.presence.as_ref()?;
            Some((locks, format!("{}:tab:", tabs.name), tabs.presence_name()))
        })
    };
    if let Some((locks, prefix, own)) = presence {
        // Alone on this channel: nobody to ask, no reason to wait.
        if siblings(&locks, &prefix, &own).await == Some(0) {
            return false;
        }
    }
    let (promise, timer) = {
        let mut inner = shared.borrow_mut();
        if inner.closed || inner.session.generation().is_some() {
            return false;
        }
        match inner.tabs.as_mut() {
            Some(tabs) => tabs.ask(0, HANDOVER_MS),
            None => return false,
        }
    };
    let adopted = JsFuture::from(promise).await.ok().and_then(|v| v.as_bool());
    drop(timer);
    let inner = shared.borrow();
    adopted == Some(true) && !inner.closed && inner.session.generation().is_some()
}

/// Hook for a refresh result: an `invalid_grant` is held back while the siblings are asked for
/// a newer token. Returns whether the failure was taken over (the caller must not report it).
pub(super) fn recover(
    shared: &Shared,
    inner: &mut Inner,
    generation: Generation,
    failure: RefreshFailure,
) -> bool {
    if failure != RefreshFailure::InvalidGrant {
        return false;
    }
    let after = inner.tab_current().map_or(0, |current| current.meta.at);
    let epoch = inner.tab_current_any_epoch();
    let Some(tabs) = inner.tabs.as_mut() else {
        return false;
    };
    let (promise, timer) = tabs.ask(after, RECOVERY_MS);
    let shared = shared.clone();
    spawn_local(async move {
        let _ = JsFuture::from(promise).await;
        drop(timer);
        {
            let mut inner = shared.borrow_mut();
            if inner.closed {
                return;
            }
            // Ignored if a sibling's token was adopted meanwhile (that cancelled this refresh).
            inner
                .session
                .handle_refresh_err(generation, RefreshFailure::InvalidGrant, now());
            let ended = inner.session.generation().is_none();
            if ended {
                if let Some(tabs) = inner.tabs.as_mut() {
                    tabs.announce_end(epoch);
                }
            }
        }
        pump(&shared);
    });
    true
}

fn on_message(shared: &Shared, data: &JsValue) {
    if !data.is_object() || get(data, "v").as_f64() != Some(VERSION) {
        return;
    }
    let from = get(data, "from").as_f64();
    {
        let inner = shared.borrow();
        let Some(tabs) = inner.tabs.as_ref() else {
            return;
        };
        if inner.closed || from.is_none() || from == Some(tabs.id) {
            return;
        }
    }
    let from = from.unwrap_or_default();
    match get(data, "t").as_string().as_deref() {
        Some("token") => adopt(shared, data),
        Some("ask") => answer(shared, get_u64(data, "after").unwrap_or(0)),
        Some("logout") => remote_logout(shared, get(data, "epoch").as_f64()),
        Some("claim") => {
            let until = get_u64(data, "until").unwrap_or(0).min(now() + 60_000);
            if let Some(tabs) = shared.borrow_mut().tabs.as_mut() {
                tabs.claims.retain(|(id, _)| *id != from);
                tabs.claims.push((from, until));
            }
        }
        Some("release") => {
            if let Some(tabs) = shared.borrow_mut().tabs.as_mut() {
                tabs.claims.retain(|(id, _)| *id != from);
            }
        }
        _ => {}
    }
}

fn token_string(value: JsValue) -> Option<Secret> {
    let text: JsString = value.dyn_into().ok()?;
    // Length checked before the string is copied into wasm memory.
    if !crate::core::session::grant::token_length_ok(text.length() as usize) {
        return None;
    }
    Some(Secret::new(text.into()))
}

/// Adopts a sibling's token if it is newer than ours and its session was not ended here.
fn adopt(shared: &Shared, data: &JsValue) {
    let now = now();
    let Some(at) = get_u64(data, "at") else {
        return;
    };
    let Some(epoch) = get(data, "epoch").as_f64() else {
        return;
    };
    let expires_in = match get(data, "expiresIn").as_f64() {
        None => None,
        Some(n) => match crate::core::session::grant::expires_in(n) {
            Ok(secs) => Some(secs),
            Err(_) => return,
        },
    };
    let server_date_ms = get_u64(data, "serverDateMs");
    // Same machine, same clock: a receipt time in the future is not believed.
    let at = at.min(now);
    if expires_in.is_some_and(|secs| at.saturating_add(secs as u64 * 1_000) <= now) {
        return;
    }
    let (waiters, asks) = {
        let mut inner = shared.borrow_mut();
        if inner.closed {
            return;
        }
        let ours = inner.tab_current().map(|current| current.meta.at);
        let memory = inner.config.refresh_token == RefreshTokenMode::Memory;
        let Some(tabs) = inner.tabs.as_ref() else {
            return;
        };
        if tabs.ended.contains(&epoch) || ours.is_some_and(|ours| ours >= at) {
            return;
        }
        let refresh = match memory {
            true => match token_string(get(data, "refreshToken")) {
                Some(token) => Some(token),
                None => return,
            },
            false => None,
        };
        let Some(access) = token_string(get(data, "accessToken")) else {
            return;
        };
        let parsed = http::grant_from(access, refresh, expires_in, server_date_ms);
        inner.incoming_claims = parsed.claims;
        // Received at `at` by the sibling: the same expiry, schedule and clock offset as there.
        inner.session.handle_sibling_tokens(parsed.grant, at, now);
        let generation = inner.session.generation();
        let waiters = std::mem::take(&mut inner.waiters);
        let Some(tabs) = inner.tabs.as_mut() else {
            return;
        };
        tabs.current = generation.map(|generation| Current {
            generation,
            meta: Meta {
                at,
                expires_in,
                server_date_ms,
            },
            epoch,
        });
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut tabs.asks)
            .into_iter()
            .partition(|(after, _)| at > *after);
        tabs.asks = waiting;
        (waiters, ready)
    };
    pump(shared);
    wake_all(waiters, Wake::Tokens);
    resolve_asks(asks, true);
}

/// A sibling asks for a token received after `after`: answer with ours if it is newer.
fn answer(shared: &Shared, after: u64) {
    {
        let mut inner = shared.borrow_mut();
        if inner.closed
            || inner
                .tab_current()
                .is_none_or(|current| current.meta.at <= after)
        {
            return;
        }
        broadcast_token(&mut inner);
    }
    pump(shared);
}

/// A sibling logged out: wipe, unless our session is a different (newer) one.
fn remote_logout(shared: &Shared, epoch: Option<f64>) {
    let waiters = {
        let mut inner = shared.borrow_mut();
        if inner.closed {
            return;
        }
        let ours = inner.tab_current_any_epoch();
        let has_token = inner.session.generation().is_some();
        let Some(tabs) = inner.tabs.as_mut() else {
            return;
        };
        if let Some(epoch) = epoch {
            tabs.end_epoch(epoch);
            if ours.is_some_and(|ours| ours != epoch) && has_token {
                return;
            }
        }
        tabs.current = None;
        drop(inner.session.logout_with(LogoutReason::OtherTab));
        inner.claims = None;
        std::mem::take(&mut inner.waiters)
    };
    pump(shared);
    wake_all(waiters, Wake::LoggedOut);
}

// ---------------------------------------------------------------------------------------------
// The refresh lock

/// A held refresh lock; dropping it releases the lock (or posts the fallback release).
struct Guard {
    release: Option<Function>,
    fallback: Option<(Channel, Object)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        if let Some((channel, message)) = self.fallback.take() {
            let _ = channel.post_message(&message);
        }
    }
}

enum Acquired {
    Held(Guard),
    /// The refresh was cancelled while waiting (a sibling's token was adopted, or logout).
    Cancelled,
    TimedOut,
    /// The lock request threw (e.g. a sandboxed document): refresh unguarded.
    Unusable,
}

/// Hook replacing the direct refresh call: with cross-tab on, the refresh waits for the lock,
/// then runs unless a sibling's token arrived meanwhile.
pub(super) fn start_refresh(shared: &Shared, generation: Generation) {
    let locks = {
        let inner = shared.borrow();
        match inner.tabs.as_ref() {
            Some(tabs) => tabs.locks.clone(),
            None => {
                drop(inner);
                return super::start_refresh(shared, generation);
            }
        }
    };
    let Ok(gate) = AbortController::new() else {
        return super::start_refresh(shared, generation);
    };
    shared
        .borrow_mut()
        .refresh_calls
        .push((generation, gate.clone()));
    let shared = shared.clone();
    spawn_local(async move {
        coordinated_refresh(shared, generation, gate, locks).await;
    });
}

fn still_wanted(shared: &Shared, generation: Generation) -> bool {
    let inner = shared.borrow();
    !inner.closed && inner.refresh_calls.iter().any(|(g, _)| *g == generation)
}

async fn coordinated_refresh(
    shared: Shared,
    generation: Generation,
    gate: AbortController,
    locks: Option<JsValue>,
) {
    let (name, timeout_ms) = {
        let inner = shared.borrow();
        let Some(tabs) = inner.tabs.as_ref() else {
            return;
        };
        (
            format!("{}:refresh", tabs.name),
            inner.config.request_timeout_ms,
        )
    };
    let hold_ms = timeout_ms.saturating_add(2_000);
    let acquire_ms = timeout_ms.saturating_add(5_000);
    let guard = match &locks {
        Some(locks) => match web_lock(locks, &name, Some(&gate), acquire_ms).await {
            Acquired::Held(guard) => Some(guard),
            Acquired::Cancelled => return,
            Acquired::TimedOut if still_wanted(&shared, generation) => {
                match web_lock(locks, &name, None, acquire_ms).await {
                    Acquired::Held(guard) => Some(guard),
                    _ => None,
                }
            }
            Acquired::TimedOut => return,
            Acquired::Unusable => None,
        },
        None => match claim(&shared, generation, hold_ms).await {
            Some(guard) => Some(guard),
            None => return,
        },
    };
    // Let a token message that was queued ahead of the grant be handled first.
    let _ = sleep(0).await;
    let done = {
        let mut inner = shared.borrow_mut();
        let before = inner.refresh_calls.len();
        inner.refresh_calls.retain(|(g, _)| *g != generation);
        if inner.closed || inner.refresh_calls.len() == before {
            // Cancelled: a fresher token arrived, or logout.
            return;
        }
        let mut resolver = None;
        let promise = Promise::new(&mut |resolve, _| resolver = Some(resolve));
        let resolve = resolver.expect("the Promise executor runs synchronously");
        inner.waiters.push(resolve.clone());
        let bound = Timeout::new(hold_ms, move || {
            let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::from(Wake::Closed as u8));
        });
        (promise, bound)
    };
    super::start_refresh(&shared, generation);
    pump(&shared);
    let (promise, bound) = done;
    let _ = JsFuture::from(promise).await;
    drop(bound);
    let _ = sleep(RELEASE_DELAY_MS).await;
    drop(guard);
}

/// `navigator.locks.request(name, {signal} | {steal: true}, callback)`: resolves when granted
/// (the lock is then held until the guard is dropped), cancelled through `gate`, or timed out.
/// Without `gate`, the lock is stolen.
async fn web_lock(
    locks: &JsValue,
    name: &str,
    gate: Option<&AbortController>,
    acquire_ms: u32,
) -> Acquired {
    const WAITING: u8 = 0;
    const GRANTED: u8 = 1;
    const GAVE_UP: u8 = 2;
    let mut settle = None;
    let outcome = Promise::new(&mut |resolve, _| settle = Some(resolve));
    let settle = settle.expect("the Promise executor runs synchronously");
    let mut release = None;
    let hold = Promise::new(&mut |resolve, _| release = Some(resolve));
    let release = release.expect("the Promise executor runs synchronously");
    let state = Rc::new(Cell::new(WAITING));
    let callback = {
        let state = state.clone();
        let settle = settle.clone();
        Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            if state.get() == WAITING {
                state.set(GRANTED);
                let _ = settle.call1(&JsValue::UNDEFINED, &JsValue::from(GRANTED));
                hold.into()
            } else {
                // Granted after we gave up: release at once.
                Promise::resolve(&JsValue::UNDEFINED).into()
            }
        })
    };
    let options = Object::new();
    match gate {
        Some(gate) => set(&options, "signal", &gate.signal()),
        None => set(&options, "steal", &JsValue::TRUE),
    }
    let Ok(request) = get(locks, "request").dyn_into::<Function>() else {
        return Acquired::Unusable;
    };
    let done = match request.call3(locks, &JsValue::from_str(name), &options, &callback) {
        Ok(done) => done,
        Err(_) => return Acquired::Unusable,
    };
    {
        // Rejected when the request is aborted (or the callback threw): report cancellation.
        let settle = settle.clone();
        let done = Promise::resolve(&done);
        spawn_local(async move {
            let _ = JsFuture::from(done).await;
            let _ = settle.call1(&JsValue::UNDEFINED, &JsValue::from(WAITING));
        });
    }
    let timer = Timeout::new(acquire_ms, move || {
        let _ = settle.call1(&JsValue::UNDEFINED, &JsValue::from(GAVE_UP));
    });
    let result = JsFuture::from(outcome)
        .await
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(WAITING, |n| n as u8);
    drop(timer);
    if state.get() == GRANTED {
        // Granted (even if the timer fired in the same turn): we hold it and must release it.
        return Acquired::Held(Guard {
            release: Some(release),
            fallback: None,
        });
    }
    // From now on a late grant is released at once.
    state.set(GAVE_UP);
    if result == GAVE_UP {
        Acquired::TimedOut
    } else {
        Acquired::Cancelled
    }
}

/// Fallback without Web Locks: claims the refresh over the channel. A claim is valid for
/// `hold_ms`; simultaneous claims go to the lower tab id.
async fn claim(shared: &Shared, generation: Generation, hold_ms: u32) -> Option<Guard> {
    loop {
        if !still_wanted(shared, generation) {
            return None;
        }
        let my_id = {
            let mut inner = shared.borrow_mut();
            let now = now();
            let tabs = inner.tabs.as_mut()?;
            tabs.claims.retain(|(_, until)| *until > now);
            if tabs.claims.is_empty() {
                let message = tabs.message("claim");
                set(
                    &message,
                    "until",
                    &JsValue::from(now.saturating_add(u64::from(hold_ms)) as f64),
                );
                tabs.post(&message);
                Some(tabs.id)
            } else {
                None
            }
        };
        let Some(my_id) = my_id else {
            let _ = sleep(CLAIM_SETTLE_MS).await;
            continue;
        };
        let _ = sleep(CLAIM_SETTLE_MS).await;
        let inner = shared.borrow();
        let tabs = inner.tabs.as_ref()?;
        let now = now();
        let release = tabs.message("release");
        if tabs
            .claims
            .iter()
            .any(|(id, until)| *until > now && *id < my_id)
        {
            tabs.post(&release);
            continue;
        }
        return Some(Guard {
            release: None,
            fallback: Some((tabs.channel.clone().unchecked_into(), release)),
        });
    }
}
