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

use super::{deferred, drive, global_get, now, Config, Inner, Shared};
use crate::core::manager::{LockEvent, TabConfig};
use crate::core::tabs::{Envelope, LockTicket, TabId, TabPolicy};

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
    /// This tab's id on the channel (the coordinator's, in the manager).
    id: TabId,
    channel: Channel,
    listener: Option<Closure<dyn FnMut(web_sys::Event)>>,
    /// Channel name; also the prefix of the lock names.
    name: String,
    /// `navigator.locks`, when available.
    locks: Option<JsValue>,
    /// Releases this manager's presence lock (`<name>:tab:<id>`, shared mode).
    presence: Option<Function>,
    requests: Vec<LockRequest>,
    /// Resolves the promise `start()` waits on for the end of the hand-over.
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
pub(crate) use crate::channel::{get, read, set, write};

impl Tabs {
    /// Opens the channel for `config` when `crossTab` is on and the host has tabs to talk to
    /// (a window or a worker with `BroadcastChannel`; not Node); returns it with how the
    /// manager's coordinator must be set up.
    pub(super) fn install(
        config: &Config,
        shared: Weak<std::cell::RefCell<Inner>>,
    ) -> Option<(Self, TabConfig)> {
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
        let coordination = TabConfig {
            policy,
            id: TabId::from_random(super::random_u64()),
            seed: super::random_u64(),
            web_locks: locks.is_some(),
        };
        let id = coordination.id;
        let presence = locks
            .as_ref()
            .and_then(|locks| hold_presence(locks, &format!("{name}:tab:{}", id.get())));
        let tabs = Self {
            id,
            channel,
            listener: Some(closure),
            name,
            locks,
            presence,
            requests: Vec::new(),
            handover: None,
        };
        Some((tabs, coordination))
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
        drive(shared, |inner, out| {
            inner.manager.message(envelope, now(), out)
        });
        if let Ok(mut inner) = shared.try_borrow_mut() {
            inner.dpop.incoming = None;
        }
    }
}

/// Posts `message` on the channel; a token message carries the session's DPoP key (one key,
/// one `jkt`, per session across tabs).
pub(super) fn post(shared: &Shared, message: &Object, carries_token: bool) {
    let inner = shared.borrow();
    if inner.closed {
        return;
    }
    if carries_token {
        if let Some(key) = &inner.dpop.key {
            set(message, DPOP_KEY, &key.to_message());
        }
    }
    if let Some(tabs) = &inner.tabs {
        tabs.post(message);
    }
}

/// Requests the refresh lock under `ticket`; a host without Web Locks reports it unavailable.
pub(super) fn request(shared: &Shared, ticket: LockTicket, steal: bool) {
    let lock = {
        let inner = shared.borrow();
        let Some(tabs) = inner.tabs.as_ref().filter(|_| !inner.closed) else {
            return;
        };
        tabs.locks
            .clone()
            .map(|locks| (locks, format!("{}:refresh", tabs.name)))
    };
    let request = lock.and_then(|(locks, name)| request_lock(shared, &locks, &name, ticket, steal));
    match request {
        Some(request) => {
            if let Some(tabs) = shared.borrow_mut().tabs.as_mut() {
                tabs.requests.push(request);
            }
        }
        None => {
            drive(shared, |inner, out| {
                inner
                    .manager
                    .lock(ticket, LockEvent::Unavailable, now(), out)
            });
        }
    }
}

/// Withdraws the waiting lock request of `ticket`.
pub(super) fn cancel_request(shared: &Shared, ticket: LockTicket) {
    let inner = shared.borrow();
    if let Some(tabs) = &inner.tabs {
        if let Some(request) = tabs.requests.iter().find(|r| r.ticket == ticket) {
            if let Some(abort) = &request.abort {
                abort.abort();
            }
        }
    }
}

/// Releases the lock held under `ticket`.
pub(super) fn release(shared: &Shared, ticket: LockTicket) {
    let request = {
        let mut inner = shared.borrow_mut();
        let Some(tabs) = inner.tabs.as_mut() else {
            return;
        };
        match tabs.requests.iter().position(|r| r.ticket == ticket) {
            Some(at) => tabs.requests.remove(at),
            None => return,
        }
    };
    let _ = request.release.call0(&JsValue::UNDEFINED);
}

/// `start()`'s hand-over ended.
pub(super) fn hand_over_finished(shared: &Shared, adopted: bool) {
    let resolve = shared
        .borrow_mut()
        .tabs
        .as_mut()
        .and_then(|tabs| tabs.handover.take());
    if let Some(resolve) = resolve {
        let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::from(adopted));
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
    let report = |shared: Weak<std::cell::RefCell<Inner>>, event: LockEvent| {
        move || {
            if let Some(shared) = shared.upgrade() {
                drive(&shared, |inner, out| {
                    inner.manager.lock(ticket, event, now(), out)
                });
            }
        }
    };
    let on_grant = report(Rc::downgrade(shared), LockEvent::Granted);
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
    let on_lost = report(Rc::downgrade(shared), LockEvent::Lost);
    let on_unavailable = report(Rc::downgrade(shared), LockEvent::Unavailable);
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

/// `start()` with no session: the coordinator asks the siblings (not at all when the presence
/// locks show none). Resolves to whether a sibling's session was installed.
pub(super) async fn hand_over(shared: &Shared) -> bool {
    let presence = {
        let inner = shared.borrow();
        inner.tabs.as_ref().and_then(|tabs| {
            let locks = tabs.locks.clone()?;
            tabs.presence.as_ref()?;
            let own = format!("{}{}", tabs.presence_prefix(), tabs.id.get());
            Some((locks, tabs.presence_prefix(), own))
        })
    };
    let count = match presence {
        Some((locks, prefix, own)) => siblings(&locks, &prefix, &own).await,
        None => None,
    };
    let wait = drive(shared, |inner, out| {
        // No hand-over when a session exists (or tabs do not coordinate).
        if inner.manager.session().generation().is_some() {
            return None;
        }
        let tabs = inner.tabs.as_mut()?;
        let (promise, resolve) = deferred();
        tabs.handover = Some(resolve);
        inner.manager.start(count, now(), out).then_some(promise)
    });
    let Some(Some(wait)) = wait else {
        return false;
    };
    let adopted = JsFuture::from(wait).await.ok().and_then(|v| v.as_bool());
    let inner = shared.borrow();
    adopted == Some(true) && !inner.closed && inner.manager.session().generation().is_some()
}
