//! What the application reads of the manager: its events ([`TokenManager::subscribe`]), state,
//! claims and times.

use super::*;

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

pub(super) fn unsubscribe(shared: &Weak<RefCell<Inner>>, id: u64) {
    if let Some(shared) = shared.upgrade() {
        if let Ok(mut inner) = shared.try_borrow_mut() {
            inner.subscribers.retain(|(i, _)| *i != id);
        }
    }
}

impl TokenManager {
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
            let map = crate::core::json::parse_object_text(&json, "payload").ok()?;
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

    pub(super) fn with_claims<T>(&self, read: impl FnOnce(&http::TokenClaims) -> T) -> Option<T> {
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

pub(super) fn failure_name(failure: Option<RefreshFailure>) -> &'static str {
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
pub(super) fn worker_events(shared: &Shared) -> Emitter {
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
