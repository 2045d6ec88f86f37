//! Many tabs, one session: the browser binding of the core's cross-tab
//! [`Coordinator`](crate::core::tabs::Coordinator) (option `crossTab`, on by default;
//! `crossTab: false` turns all of it off). Every rule (the refresh lock and its timeouts,
//! which sibling token to adopt, recovery after `invalid_grant`, hand-over, logout everywhere)
//! and every timing constant live in the coordinator; this module only moves messages, lock
//! grants and time between it and the browser:
//!
//! - **Channel.** A same-origin `BroadcastChannel` whose name is a hash of the refresh URL, the
//!   allowed origins and the optional `channelName` option, so two apps on one origin do not mix
//!   sessions. Received objects are decoded by the core's strict codec (a malformed one is
//!   dropped); nothing is written to any storage.
//! - **Locks.** `navigator.locks` requests (exclusive, abortable, or stealing), each under the
//!   coordinator's ticket; without Web Locks the coordinator claims the refresh over the channel.
//!   A presence lock per manager (shared mode) lets `start()` count its siblings.
//!
//! **Custody.** Sharing the access token (and, in memory mode, the refresh token) over a
//! `BroadcastChannel` is a deliberate choice: the channel reaches only same-origin contexts of
//! the same browser profile and never persists anything; what a same-origin script can do
//! through it is listed in [`crate::core::tabs`] and the README. Received tokens are copied
//! straight into a [`Secret`](crate::core::secret::Secret); outgoing ones are built as JS strings.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget};

use super::{deferred, global_get, now, pump, Config, Inner, RefreshTokenMode, Shared};
use crate::core::claims::Claims;
use crate::core::session::{Generation, LogoutReason, TokenGrant, TokenOrigin};
use crate::core::tabs::{
    Action, Coordinator, Envelope, Identity, InstallOrigin, InstalledToken, LockTicket, TabId,
    TabPolicy,
};

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
    /// The metadata of `grant`, received at `at`.
    pub(super) fn of(grant: &TokenGrant, at: u64) -> Self {
        Self {
            at,
            expires_in: grant.expires_in,
            server_date_ms: grant.server_date_ms,
        }
    }
}

/// One Web Locks request under a coordinator ticket.
struct LockRequest {
    ticket: LockTicket,
    /// Aborts a waiting request (none for a steal).
    abort: Option<AbortController>,
    /// Settles the promise the grant callback returned: releases the lock.
    release: Function,
}

/// The cross-tab binding of one manager; dropping it closes the channel and releases its locks.
pub(super) struct Tabs {
    pub(super) coordinator: Coordinator,
    channel: Channel,
    listener: Option<Closure<dyn FnMut(web_sys::Event)>>,
    /// Channel name; also the prefix of the lock names.
    name: String,
    /// `navigator.locks`, when available.
    locks: Option<JsValue>,
    /// Releases this manager's presence lock (`<name>:tab:<id>`, shared mode).
    presence: Option<Function>,
    requests: Vec<LockRequest>,
    /// The coordinator's timer.
    alarm: super::Alarm,
    /// Resolves the promise `start()` waits on for [`Action::HandOverFinished`].
    handover: Option<Function>,
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
        for request in self.requests.drain(..) {
            if let Some(abort) = &request.abort {
                abort.abort();
            }
            let _ = request.release.call0(&JsValue::UNDEFINED);
        }
        if let Some(resolve) = self.handover.take() {
            let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::FALSE);
        }
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

/// The field of a token message that carries the DPoP key pair (outside the codec: a
/// `CryptoKey` is an object, not text).
const DPOP_KEY: &str = "dpopKey";

// The channel's JS objects, shared with the npm package's engine (which has no Rust shell).
pub(crate) use crate::channel::{get, read, set, token_message, write};

impl Tabs {
    /// Opens the channel for `config` when `crossTab` is on and the host has tabs to talk to
    /// (a window or a worker with `BroadcastChannel`; not Node).
    pub(super) fn install(
        config: &Config,
        shared: Weak<std::cell::RefCell<Inner>>,
    ) -> Option<Self> {
        if !config.cross_tab || !super::in_browser() {
            return None;
        }
        let global = js_sys::global();
        global_get(&global, "BroadcastChannel")?;
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
        let policy = TabPolicy {
            share_tokens: config.share_tokens,
            ..TabPolicy::for_request_timeout(u64::from(config.request_timeout_ms))
        };
        let coordinator = Coordinator::new(
            policy,
            TabId::from_random(super::random_u64()),
            super::random_u64(),
            locks.is_some(),
            config.refresh_token == RefreshTokenMode::Memory,
        );
        let presence = locks.as_ref().and_then(|locks| {
            hold_presence(locks, &format!("{name}:tab:{}", coordinator.id().get()))
        });
        Some(Self {
            coordinator,
            channel,
            listener: Some(closure),
            name,
            locks,
            presence,
            requests: Vec::new(),
            alarm: super::Alarm::default(),
            handover: None,
        })
    }

    fn post(&self, message: &Object) {
        let _ = self.channel.post_message(message);
    }

    fn presence_prefix(&self) -> String {
        format!("{}:tab:", self.name)
    }
}

/// Takes the presence lock `name` (shared mode, never contended) until the returned function is
/// called; a closed tab releases it automatically.
fn hold_presence(locks: &JsValue, name: &str) -> Option<Function> {
    let (hold, release) = deferred();
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
    Some(release)
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

fn on_message(shared: &Shared, data: &JsValue) {
    if !data.is_object() {
        return;
    }
    // Strict decoding: numbers finite, whole and in range, strings bounded, no stray fields.
    if let Ok(envelope) = Envelope::decode(|key| read(data, key)) {
        // A DPoP key that came with a token is adopted only if the token is (see `perform`).
        let key = super::dpop::DpopKey::from_message(&get(data, DPOP_KEY))
            .filter(|_| cfg!(feature = "dpop"));
        if let Ok(mut inner) = shared.try_borrow_mut() {
            inner.dpop.incoming = key;
        }
        feed(shared, |coordinator, now| {
            coordinator.handle_message(envelope.from, envelope.message, now)
        });
        if let Ok(mut inner) = shared.try_borrow_mut() {
            inner.dpop.incoming = None;
        }
    }
}

/// The session's news for the coordinator: a token installed.
pub(super) fn installed(
    inner: &mut Inner,
    generation: Generation,
    origin: TokenOrigin,
    meta: Meta,
    claims: Option<&Claims>,
) {
    let Some(tabs) = inner.tabs.as_mut() else {
        return;
    };
    let origin = match origin {
        TokenOrigin::Refresh => InstallOrigin::Refresh,
        TokenOrigin::Sibling => InstallOrigin::Sibling,
        _ => InstallOrigin::Login,
    };
    tabs.coordinator.handle_installed(
        InstalledToken {
            generation,
            origin,
            received_at: meta.at,
            expires_in: meta.expires_in,
            server_date_ms: meta.server_date_ms,
            identity: Identity::of(claims),
        },
        now(),
    );
}

/// Performs one coordinator action (see [`Action`] for what each asks).
pub(super) fn perform(shared: &Shared, action: Action) {
    let now = now();
    let mut guard = shared.borrow_mut();
    let inner = &mut *guard;
    if inner.closed {
        return;
    }
    let memory = inner.config.refresh_token == RefreshTokenMode::Memory;
    let Some(tabs) = inner.tabs.as_mut() else {
        return;
    };
    match action {
        Action::Post(envelope) => {
            let message = Object::new();
            envelope.encode(write(&message));
            tabs.post(&message);
        }
        Action::PostToken(share) => {
            let Some(message) = token_message(&mut inner.session, &share, memory, now) else {
                return;
            };
            // The DPoP key goes with the token: one key (one `jkt`) per session across tabs.
            if let Some(key) = &inner.dpop.key {
                set(&message, DPOP_KEY, &key.to_message());
            }
            tabs.post(&message);
        }
        Action::RequestLock { ticket, steal } => {
            let locks = tabs.locks.clone();
            let name = format!("{}:refresh", tabs.name);
            match locks.and_then(|locks| request_lock(shared, &locks, &name, ticket, steal)) {
                Some(request) => tabs.requests.push(request),
                None => tabs.coordinator.handle_lock_unavailable(ticket, now),
            }
        }
        Action::CancelLockRequest { ticket } => {
            if let Some(request) = tabs.requests.iter().find(|r| r.ticket == ticket) {
                if let Some(abort) = &request.abort {
                    abort.abort();
                }
            }
        }
        Action::ReleaseLock { ticket } => {
            if let Some(at) = tabs.requests.iter().position(|r| r.ticket == ticket) {
                let request = tabs.requests.remove(at);
                let _ = request.release.call0(&JsValue::UNDEFINED);
            }
        }
        Action::StartRefresh { generation } => super::start_refresh(shared, inner, generation),
        Action::ReportRefreshFailure {
            generation,
            failure,
        } => inner.session.handle_refresh_err(generation, failure, now),
        Action::InstallSiblingToken(adoption) => {
            inner.incoming_meta = Some(Meta::of(&adoption.grant, adoption.received_at));
            inner.incoming_claims =
                super::http::TokenClaims::of(&adoption.grant.access_token, adoption.claims);
            if let Some(key) = inner.dpop.incoming.take() {
                inner.dpop.key = Some(key);
            }
            inner
                .session
                .handle_sibling_tokens(adoption.grant, adoption.received_at, now);
        }
        Action::EndSession => drop(inner.session.logout_with(LogoutReason::OtherTab)),
        Action::HandOverFinished { adopted } => {
            if let Some(resolve) = tabs.handover.take() {
                let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::from(adopted));
            }
        }
    }
}

/// `navigator.locks.request(name, {signal} | {steal: true}, callback)` under `ticket`: the grant,
/// a steal by another tab and a failure are reported to the coordinator.
fn request_lock(
    shared: &Shared,
    locks: &JsValue,
    name: &str,
    ticket: LockTicket,
    steal: bool,
) -> Option<LockRequest> {
    let (hold, release) = deferred();
    let granted = Rc::new(Cell::new(false));
    let report = |shared: Weak<std::cell::RefCell<Inner>>,
                  handle: fn(&mut Coordinator, LockTicket, u64)| {
        move || {
            if let Some(shared) = shared.upgrade() {
                feed(&shared, |coordinator, now| handle(coordinator, ticket, now));
            }
        }
    };
    let on_grant = report(Rc::downgrade(shared), Coordinator::handle_lock_granted);
    let callback = {
        let granted = granted.clone();
        Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            granted.set(true);
            // Reported from a fresh task: the grant may run inside a call of ours.
            spawn_local(async move { on_grant() });
            hold.into()
        })
    };
    let options = Object::new();
    let abort = if steal {
        set(&options, "steal", &JsValue::TRUE);
        None
    } else {
        let controller = AbortController::new().ok()?;
        set(&options, "signal", &controller.signal());
        Some(controller)
    };
    let request = get(locks, "request").dyn_into::<Function>().ok()?;
    let done = request
        .call3(locks, &JsValue::from_str(name), &options, &callback)
        .ok()?;
    let on_lost = report(Rc::downgrade(shared), Coordinator::handle_lock_lost);
    let on_unavailable = report(Rc::downgrade(shared), Coordinator::handle_lock_unavailable);
    let aborted = abort.as_ref().map(AbortController::signal);
    let was_granted = granted;
    let done = Promise::resolve(&done);
    spawn_local(async move {
        if JsFuture::from(done).await.is_ok() {
            return;
        }
        if was_granted.get() {
            // Rejected after the grant: another tab stole it.
            on_lost();
        } else if !aborted.is_some_and(|signal| signal.aborted()) {
            on_unavailable();
        }
    });
    Some(LockRequest {
        ticket,
        abort,
        release,
    })
}

/// Arms the coordinator's timer for its `poll_timeout()`.
pub(super) fn rearm(shared: &Shared) {
    let mut inner = shared.borrow_mut();
    if inner.closed {
        return;
    }
    let Some(tabs) = inner.tabs.as_mut() else {
        return;
    };
    let deadline = tabs.coordinator.poll_timeout();
    tabs.alarm.arm(shared, deadline, |inner, now| {
        if let Some(tabs) = inner.tabs.as_mut() {
            tabs.alarm.disarm();
            tabs.coordinator.handle_timeout(now);
        }
    });
}

/// Feeds the coordinator one input (unless the manager is closed), then drives both machines.
fn feed(shared: &Shared, input: impl FnOnce(&mut Coordinator, u64)) {
    {
        let mut inner = shared.borrow_mut();
        if inner.closed {
            return;
        }
        let Some(tabs) = inner.tabs.as_mut() else {
            return;
        };
        input(&mut tabs.coordinator, now());
    }
    pump(shared);
}

/// `start()` with no session: the coordinator asks the siblings (not at all when the presence
/// locks show none). Resolves to whether a sibling's session was installed.
pub(super) async fn hand_over(shared: &Shared) -> bool {
    let presence = {
        let inner = shared.borrow();
        inner.tabs.as_ref().and_then(|tabs| {
            let locks = tabs.locks.clone()?;
            tabs.presence.as_ref()?;
            let own = format!("{}{}", tabs.presence_prefix(), tabs.coordinator.id().get());
            Some((locks, tabs.presence_prefix(), own))
        })
    };
    let count = match presence {
        Some((locks, prefix, own)) => siblings(&locks, &prefix, &own).await,
        None => None,
    };
    let wait = {
        let mut inner = shared.borrow_mut();
        if inner.closed || inner.session.generation().is_some() {
            return false;
        }
        let Some(tabs) = inner.tabs.as_mut() else {
            return false;
        };
        let (promise, resolve) = deferred();
        tabs.handover = Some(resolve);
        tabs.coordinator.handle_start(count, now());
        promise
    };
    pump(shared);
    let adopted = JsFuture::from(wait).await.ok().and_then(|v| v.as_bool());
    let inner = shared.borrow();
    adopted == Some(true) && !inner.closed && inner.session.generation().is_some()
}
