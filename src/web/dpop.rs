//! DPoP in the browser (RFC 9449): the manager's key pair and its proofs.
//!
//! The key is an ES256 pair from `crypto.subtle.generateKey` with a non-extractable private
//! key, created at login and held only here, in memory, as `CryptoKey` objects (never exported:
//! only the public coordinates are read, for the proof header). It is discarded when the
//! session ends. Sibling tabs receive the same `CryptoKey` pair over the channel (structured
//! clone keeps it non-extractable), so a session has one key and one `jkt` across tabs.
//!
//! [`proof`] is the one function every proof comes from (token endpoint and `fetch`), and
//! [`send_token_request`] the one way an auth call to a token endpoint goes out with a proof:
//! nonces are kept per origin, a `400 use_dpop_nonce` is retried once with the new nonce.
// Without the `dpop` feature only the key-less paths are reachable.
#![cfg_attr(not(feature = "dpop"), allow(dead_code))]

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers};

use super::http::{AuthCall, CallError, Reply};
use super::{now, Error, Shared};
use crate::core::b64;
use crate::core::dpop::{p256_thumbprint_input, proof_signing_input, NonceBook, ProofInput};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = SubtleCrypto)]
    type Subtle;
    #[wasm_bindgen(method, catch, js_name = generateKey)]
    fn generate_key(
        this: &Subtle,
        algorithm: &Object,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = exportKey)]
    fn export_key(this: &Subtle, format: &str, key: &JsValue) -> Result<Promise, JsValue>;
    // WebCrypto copies `data` before returning, so a view into wasm memory is safe.
    #[wasm_bindgen(method, catch)]
    fn sign(
        this: &Subtle,
        algorithm: &Object,
        key: &JsValue,
        data: &[u8],
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn digest(this: &Subtle, algorithm: &str, data: &[u8]) -> Result<Promise, JsValue>;
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

fn failed(what: &str) -> Error {
    Error::new("ERR_DPOP", format!("DPoP: {what}"))
}

fn crypto() -> Result<(JsValue, Subtle), Error> {
    let crypto = get(&js_sys::global(), "crypto");
    let subtle = get(&crypto, "subtle");
    if !subtle.is_object() {
        return Err(failed("WebCrypto (crypto.subtle) is not available"));
    }
    Ok((crypto, subtle.unchecked_into()))
}

fn ecdsa() -> Object {
    let params = Object::new();
    set(&params, "name", &"ECDSA".into());
    set(&params, "namedCurve", &"P-256".into());
    set(&params, "hash", &"SHA-256".into());
    params
}

/// SHA-256 by WebCrypto.
pub(crate) async fn sha256(data: &[u8]) -> Result<Vec<u8>, Error> {
    let (_, subtle) = crypto()?;
    let promise = subtle
        .digest("SHA-256", data)
        .map_err(|_| failed("SHA-256 failed"))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| failed("SHA-256 failed"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The session's key pair: `CryptoKey`s and the public coordinates.
#[derive(Clone)]
pub(crate) struct DpopKey {
    /// `{privateKey, publicKey}` (the private key is non-extractable).
    pair: JsValue,
    x: String,
    y: String,
    /// The RFC 7638 thumbprint of the public key.
    jkt: String,
}

impl core::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A new ES256 key pair; the private key cannot be exported.
    pub(crate) async fn generate() -> Result<Self, Error> {
        let (_, subtle) = crypto()?;
        let usages = Array::of1(&"sign".into());
        let promise = subtle
            .generate_key(&ecdsa(), false, &usages)
            .map_err(|_| failed("cannot generate a P-256 key"))?;
        let pair = JsFuture::from(promise)
            .await
            .map_err(|_| failed("cannot generate a P-256 key"))?;
        Self::from_pair(pair).await
    }

    async fn from_pair(pair: JsValue) -> Result<Self, Error> {
        let (_, subtle) = crypto()?;
        let public = get(&pair, "publicKey");
        let jwk = subtle
            .export_key("jwk", &public)
            .map_err(|_| failed("cannot read the public key"))?;
        let jwk = JsFuture::from(jwk)
            .await
            .map_err(|_| failed("cannot read the public key"))?;
        let (Some(x), Some(y)) = (get(&jwk, "x").as_string(), get(&jwk, "y").as_string()) else {
            return Err(failed("the public key is not a P-256 key"));
        };
        let canonical = p256_thumbprint_input(&x, &y)
            .map_err(|_| failed("the public key is not a P-256 key"))?;
        let jkt = b64::encode(&sha256(canonical.as_bytes()).await?);
        Ok(Self { pair, x, y, jkt })
    }

    /// The key's RFC 7638 thumbprint (what the server puts in `cnf.jkt`).
    pub(crate) fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The pair as a sibling tab receives it: the `CryptoKey`s (structured clone) and the
    /// public coordinates and thumbprint the sender computed.
    pub(crate) fn to_message(&self) -> JsValue {
        let message = Object::new();
        set(&message, "privateKey", &get(&self.pair, "privateKey"));
        set(&message, "publicKey", &get(&self.pair, "publicKey"));
        set(&message, "x", &self.x.as_str().into());
        set(&message, "y", &self.y.as_str().into());
        set(&message, "jkt", &self.jkt.as_str().into());
        message.into()
    }

    /// A pair received from a sibling of the same origin (as trusted as the tokens it sends):
    /// a non-extractable ECDSA P-256 private signing key, its public key, and 32-byte
    /// base64url coordinates and thumbprint; anything else is ignored.
    pub(crate) fn from_message(value: &JsValue) -> Option<Self> {
        let private = get(value, "privateKey");
        let public = get(value, "publicKey");
        let is_key = |key: &JsValue, kind: &str| {
            get(key, "type").as_string().as_deref() == Some(kind)
                && get(&get(key, "algorithm"), "name").as_string().as_deref() == Some("ECDSA")
                && get(&get(key, "algorithm"), "namedCurve")
                    .as_string()
                    .as_deref()
                    == Some("P-256")
        };
        if !is_key(&private, "private") || !is_key(&public, "public") {
            return None;
        }
        if get(&private, "extractable").as_bool() != Some(false) {
            return None;
        }
        let text = |name: &str| {
            get(value, name)
                .as_string()
                .filter(|t| b64::decode(t, "jwk").is_ok_and(|bytes| bytes.len() == 32))
        };
        let pair = Object::new();
        set(&pair, "privateKey", &private);
        set(&pair, "publicKey", &public);
        Some(Self {
            pair: pair.into(),
            x: text("x")?,
            y: text("y")?,
            jkt: text("jkt")?,
        })
    }
}

/// The proof for `method` `url` (query and fragment are dropped), with `ath` for an access
/// token and the server's `nonce`: the one function every proof comes from.
pub(crate) async fn proof(
    key: &DpopKey,
    method: &str,
    url: &str,
    ath: Option<&str>,
    nonce: Option<&str>,
) -> Result<String, Error> {
    let (crypto, subtle) = crypto()?;
    let random = Uint8Array::new_with_length(16);
    let get_random = get(&crypto, "getRandomValues")
        .dyn_into::<js_sys::Function>()
        .map_err(|_| failed("crypto.getRandomValues is not available"))?;
    get_random
        .call1(&crypto, &random)
        .map_err(|_| failed("crypto.getRandomValues failed"))?;
    let jti = b64::encode(&random.to_vec());
    let input = ProofInput {
        method,
        url,
        iat: crate::core::time::unix_secs(now()),
        jti: &jti,
        ath,
        nonce,
    };
    let signing_input = proof_signing_input(&key.x, &key.y, &input)
        .map_err(|e| Error::new("ERR_DPOP", e.to_string()))?;
    let promise = subtle
        .sign(
            &ecdsa(),
            &get(&key.pair, "privateKey"),
            signing_input.as_bytes(),
        )
        .map_err(|_| failed("signing failed"))?;
    let signature = JsFuture::from(promise)
        .await
        .map_err(|_| failed("signing failed"))?;
    let signature = Uint8Array::new(&signature).to_vec();
    Ok(format!("{signing_input}.{}", b64::encode(&signature)))
}

/// `ath` for an access token: base64url(SHA-256(token)), by WebCrypto.
pub(crate) async fn access_token_hash(token: &[u8]) -> Result<String, Error> {
    Ok(b64::encode(&sha256(token).await?))
}

/// The manager's DPoP state: the key and the nonce of each origin.
#[derive(Default)]
pub(crate) struct DpopState {
    pub(crate) key: Option<DpopKey>,
    nonces: NonceBook,
    /// A key a sibling posted with its token, adopted if the token is.
    pub(crate) incoming: Option<DpopKey>,
}

impl DpopState {
    /// Forgets the key and the nonces (the session ended).
    pub(crate) fn clear(&mut self) {
        self.key = None;
        self.nonces.clear();
        self.incoming = None;
    }

    /// The nonce last received from `url`'s origin.
    pub(crate) fn nonce_for(&self, url: &str) -> Option<String> {
        self.nonces.nonce_for(url).map(str::to_owned)
    }

    /// Remembers `nonce` for `url`'s origin.
    pub(crate) fn remember(&mut self, url: &str, nonce: String) {
        self.nonces.remember(url, &nonce);
    }
}

/// Remembers the `DPoP-Nonce` of a response from `url`, if it has one.
pub(super) fn remember_nonce(shared: &Shared, url: &str, headers: &Headers) -> bool {
    match headers.get("DPoP-Nonce").ok().flatten() {
        Some(nonce) => {
            shared.borrow_mut().dpop.remember(url, nonce);
            true
        }
        None => false,
    }
}

pub(crate) use crate::core::dpop::response_asks_for_nonce as asks_for_nonce;

/// Sends an auth call to a token endpoint (login, refresh, a code exchange) with a proof from
/// `key` when there is one: the endpoint's nonce is included, a `DPoP-Nonce` answer is
/// remembered, and a `400 use_dpop_nonce` is retried once with the new nonce, never more.
pub(super) async fn send_token_request(
    shared: &Shared,
    call: AuthCall,
    key: Option<&DpopKey>,
    controller: &AbortController,
) -> Result<Reply, CallError> {
    // An `#[cfg]`, not a `cfg!`: the await points of a dead branch stay in the state machine.
    #[cfg(feature = "dpop")]
    if let Some(key) = key {
        return send_with_proof(shared, call, key, controller).await;
    }
    #[cfg(not(feature = "dpop"))]
    let _ = (shared, key);
    call.send(controller).await
}

/// [`send_token_request`] with a key.
#[cfg(feature = "dpop")]
async fn send_with_proof(
    shared: &Shared,
    call: AuthCall,
    key: &DpopKey,
    controller: &AbortController,
) -> Result<Reply, CallError> {
    let mut retried = false;
    loop {
        let nonce = shared.borrow().dpop.nonce_for(&call.url);
        // WebCrypto refusing to sign is no answer from the server: a network-class failure.
        let proof = proof(key, "POST", &call.url, None, nonce.as_deref())
            .await
            .map_err(|_| CallError::Network)?;
        let reply = AuthCall {
            dpop: Some(proof),
            ..call.clone()
        }
        .send(controller)
        .await?;
        if let Some(nonce) = &reply.dpop_nonce {
            shared.borrow_mut().dpop.remember(&call.url, nonce.clone());
        }
        let wants_nonce = asks_for_nonce(
            reply.status,
            None,
            super::http::error_code(&reply).as_deref(),
        );
        if wants_nonce && !retried && reply.dpop_nonce.is_some() {
            retried = true;
            continue;
        }
        return Ok(reply);
    }
}
