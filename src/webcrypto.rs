//! The WebCrypto signature primitive (`crypto.subtle` of the global scope: a window, a worker
//! or Node 20): the npm package's verifier, asynchronous like jose's `jwtVerify`.
//!
//! Every decision stays in the core ([`Verifier::begin`] and [`Verifier::finish`]); this module
//! only imports keys into `CryptoKey`s, once per key and algorithm, and asks `subtle.verify`.
//! One small table maps an algorithm to WebCrypto's parameters, as jose's `subtle_dsa.ts` does.
//!
//! ```no_run
//! # async fn run() -> Result<(), tokenwarden::JwtError> {
//! use tokenwarden::{webcrypto::WebCryptoKeySet, Algorithm, JwkSet, KeyOptions, Verifier};
//! let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let keys = WebCryptoKeySet::new(JwkSet::from_json(jwks, &KeyOptions::default())?)?;
//! let verifier = Verifier::builder().algorithms([Algorithm::EdDsa]).build();
//! let now = (js_sys::Date::now() / 1000.0) as i64;
//! let verified = keys.verify(&verifier, "header.payload.signature", now).await?;
//! # Ok(()) }
//! ```

use crate::prelude::*;

use core::cell::RefCell;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::core::{
    error::JwtError,
    jwk::{JwkSet, KeyParams},
    verify::{Algorithm, Verified, Verifier},
};

#[wasm_bindgen]
extern "C" {
    /// `SubtleCrypto`.
    #[wasm_bindgen(js_name = SubtleCrypto)]
    type Subtle;

    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &Subtle,
        format: &str,
        key_data: &JsValue,
        algorithm: &Object,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    /// A `Promise`, for `catch` with any function (js-sys's takes a Rust `Closure`).
    #[wasm_bindgen(js_name = Promise)]
    type Catchable;

    #[wasm_bindgen(method, js_name = catch)]
    fn catch_with(this: &Catchable, handler: &js_sys::Function) -> Promise;

    // WebCrypto copies `signature` and `data` before returning (WebCrypto §14.3.4, "get a copy
    // of the bytes"), so views into wasm memory are safe here.
    #[wasm_bindgen(method, catch)]
    fn digest(this: &Subtle, algorithm: &str, data: &[u8]) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn verify(
        this: &Subtle,
        algorithm: &Object,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    /// The global `crypto`, or `None` where there is none (imported directly: no lookup of
    /// the global object, whose four candidates each cost a thread-local in wasm).
    #[wasm_bindgen(thread_local_v2, js_name = crypto)]
    static CRYPTO: Option<Object>;
    /// The rejection handler of an import: the global `Boolean`, so a refused key resolves to
    /// `true` (no `CryptoKey`, reported at use) and never to an unhandled rejection. A builtin
    /// rather than a Rust closure keeps the closure machinery out of the package.
    #[wasm_bindgen(thread_local_v2, js_name = Boolean)]
    static IMPORT_FAILED: js_sys::Function;
}

/// `crypto.subtle`, when this environment has WebCrypto.
fn subtle() -> Option<Subtle> {
    CRYPTO
        .with(|crypto| {
            crypto
                .as_ref()
                .and_then(|c| Reflect::get(c, &"subtle".into()).ok())
        })
        .filter(|subtle| subtle.is_object())
        .map(JsCast::unchecked_into)
}

fn no_webcrypto() -> JwtError {
    JwtError::UnsupportedKey {
        reason: "no crypto.subtle here: build with the `portable` feature",
    }
}

/// WebCrypto's parameters for an algorithm: the import algorithm and the verify algorithm,
/// written as JSON and read by the engine's `JSON.parse` (smaller in wasm than setting each
/// property from Rust).
fn webcrypto_params(alg: Algorithm) -> (Object, Object) {
    let (import, verify) = match alg {
        Algorithm::Es256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        ),
        Algorithm::EdDsa => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
        Algorithm::Rs256 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        Algorithm::Rs384 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-384"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        Algorithm::Rs512 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-512"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        // RFC 7518 §3.5: the salt is as long as the hash.
        Algorithm::Ps256 => (
            r#"{"name":"RSA-PSS","hash":"SHA-256"}"#,
            r#"{"name":"RSA-PSS","saltLength":32}"#,
        ),
        Algorithm::Ps384 => (
            r#"{"name":"RSA-PSS","hash":"SHA-384"}"#,
            r#"{"name":"RSA-PSS","saltLength":48}"#,
        ),
        Algorithm::Ps512 => (
            r#"{"name":"RSA-PSS","hash":"SHA-512"}"#,
            r#"{"name":"RSA-PSS","saltLength":64}"#,
        ),
        Algorithm::Hs256 => (r#"{"name":"HMAC","hash":"SHA-256"}"#, r#"{"name":"HMAC"}"#),
        Algorithm::Hs384 => (r#"{"name":"HMAC","hash":"SHA-384"}"#, r#"{"name":"HMAC"}"#),
        Algorithm::Hs512 => (r#"{"name":"HMAC","hash":"SHA-512"}"#, r#"{"name":"HMAC"}"#),
    };
    // Constant, valid JSON: parsing cannot fail.
    let parse =
        |json| js_sys::JSON::parse(json).map_or_else(|_| Object::new(), JsCast::unchecked_into);
    (parse(import), parse(verify))
}

/// The SubjectPublicKeyInfo DER of an RSA public key (RFC 8017 A.1.1, RFC 5280 §4.1): a few
/// lines of DER instead of a base64url encoder for a JWK import.
fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn der(tag: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(tag);
        let len = body.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend_from_slice(&[0x81, len as u8]);
        } else {
            out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(body);
    }
    // INTEGERs are signed: a leading zero keeps a high first bit positive.
    fn integer(value: &[u8], out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(value.len() + 1);
        if value.first().is_some_and(|b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(value);
        der(0x02, &body, out);
    }
    let mut fields = Vec::new();
    integer(n, &mut fields);
    integer(e, &mut fields);
    let mut rsa_public_key = Vec::new();
    der(0x30, &fields, &mut rsa_public_key);
    let mut bit_string = vec![0]; // no unused bits
    bit_string.extend_from_slice(&rsa_public_key);
    // AlgorithmIdentifier: rsaEncryption (1.2.840.113549.1.1.1), NULL parameters.
    let mut spki = vec![
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    der(0x03, &bit_string, &mut spki);
    let mut out = Vec::new();
    der(0x30, &spki, &mut out);
    out
}

/// What [`WebCryptoKeySet::prepare`] hands a caller that calls `subtle.verify` itself.
#[derive(Debug)]
pub struct Prepared {
    /// The `CryptoKey`, or a `Promise` of it; a `Promise` of a value that is not an object
    /// when WebCrypto refused the key: report [`JwtError::InvalidKey`].
    pub key: JsValue,
    /// `subtle.verify`'s algorithm parameter.
    pub params: Object,
    /// The signature, as `subtle.verify` takes it.
    pub signature: js_sys::Uint8Array,
    /// The signing input.
    pub message: js_sys::Uint8Array,
    /// The core's verdict once the signature is valid (an invalid signature is
    /// [`JwtError::SignatureInvalid`], whatever this says).
    pub outcome: Result<Verified, JwtError>,
    /// The header's and the payload's JSON text (see [`PendingSignature::json`](crate::PendingSignature::json)).
    pub json: (String, String),
}

/// One key imported for one algorithm (WebCrypto binds an RSA or HMAC key to its hash).
struct Imported {
    key_index: usize,
    alg: Algorithm,
    /// Resolves to the `CryptoKey`, or to a non-object when WebCrypto refused the key.
    key: Promise,
    /// The `CryptoKey` once known: later verifications skip a turn of the event loop.
    resolved: RefCell<Option<JsValue>>,
    verify_params: Object,
}

/// A [`JwkSet`] whose keys are imported into WebCrypto once and reused.
pub struct WebCryptoKeySet {
    keys: JwkSet,
    imported: RefCell<Vec<Imported>>,
}

impl core::fmt::Debug for WebCryptoKeySet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebCryptoKeySet")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl WebCryptoKeySet {
    /// Starts importing every key for its default algorithm (its own `alg`, or ES256, EdDSA,
    /// RS256, HS256 by family), so that a key WebCrypto refuses is known before the first
    /// token. Fails at once when this host has no WebCrypto.
    pub fn new(keys: JwkSet) -> Result<Self, JwtError> {
        let set = Self {
            keys,
            imported: RefCell::new(Vec::new()),
        };
        for (index, key) in set.keys.keys().iter().enumerate() {
            if cfg!(feature = "hmac-sync") && matches!(key.params(), KeyParams::Oct(_)) {
                continue; // Verified in wasm (`hmac_sync`): nothing to import.
            }
            let alg = key.alg().unwrap_or(match key.params() {
                KeyParams::EcP256 { .. } => Algorithm::Es256,
                KeyParams::Ed25519(_) => Algorithm::EdDsa,
                KeyParams::Rsa { .. } => Algorithm::Rs256,
                KeyParams::Oct(_) => Algorithm::Hs256,
            });
            set.import(index, alg)?;
        }
        Ok(set)
    }

    /// The keys, as the core selects among them.
    pub fn keys(&self) -> &JwkSet {
        &self.keys
    }

    /// Resolves when every key is imported; fails with `ERR_JWK_INVALID` if WebCrypto refused
    /// one (for example a P-256 point that is not on the curve).
    pub async fn ready(&self) -> Result<(), JwtError> {
        let count = self.imported.borrow().len();
        for position in 0..count {
            self.crypto_key(position).await?;
        }
        Ok(())
    }

    /// Verifies `token` at `now` (seconds since the epoch): the core's checks, WebCrypto's
    /// signature verdict, then the core's claim checks.
    pub async fn verify(
        &self,
        verifier: &Verifier,
        token: &str,
        now: i64,
    ) -> Result<Verified, JwtError> {
        let pending = verifier.begin(token, &self.keys, now)?;
        let valid = self
            .primitive(
                pending.key_index(),
                pending.algorithm(),
                pending.message(),
                pending.signature(),
            )
            .await?;
        verifier.finish(pending, valid)
    }

    /// Every step of [`WebCryptoKeySet::verify`] but the `subtle.verify` call, for a caller that
    /// makes it itself (the npm package chains it in one JS `Promise`, with no Rust future):
    /// the core's checks before the signature, and its verdict for a valid signature (a token
    /// both badly signed and expired reports the signature: check [`Prepared::key`] and the
    /// signature first).
    pub fn prepare(
        &self,
        verifier: &Verifier,
        token: &str,
        now: i64,
    ) -> Result<Prepared, JwtError> {
        let pending = verifier.begin(token, &self.keys, now)?;
        if let Some(valid) = self.hmac_sync(
            pending.key_index(),
            pending.algorithm(),
            pending.message(),
            pending.signature(),
        ) {
            // Checked here: no key for the JS layer to ask WebCrypto with.
            let (outcome, json) = verifier.finish_keeping_json(pending, valid);
            let empty = js_sys::Uint8Array::new_with_length(0);
            return Ok(Prepared {
                key: JsValue::NULL,
                params: Object::new(),
                signature: empty.clone(),
                message: empty,
                outcome,
                json,
            });
        }
        let position = self.import(pending.key_index(), pending.algorithm())?;
        let (key, params) = {
            let imported = self.imported.borrow();
            // `get`: `position` is `import`'s answer; nothing reachable from JS may panic.
            let entry = imported.get(position).ok_or(JwtError::NoMatchingKey)?;
            let resolved = entry.resolved.borrow().clone();
            let key = resolved.unwrap_or_else(|| entry.key.clone().into());
            (key, entry.verify_params.clone())
        };
        let signature = js_sys::Uint8Array::from(pending.signature());
        let message = js_sys::Uint8Array::from(pending.message());
        let (outcome, json) = verifier.finish_keeping_json(pending, true);
        Ok(Prepared {
            key,
            params,
            signature,
            message,
            outcome,
            json,
        })
    }

    /// [`Verifier::raw_signature_policy`] and WebCrypto, on arbitrary message bytes (for
    /// conformance tests; tokens go through [`WebCryptoKeySet::verify`]).
    #[doc(hidden)]
    pub async fn check_raw_signature(
        &self,
        verifier: &Verifier,
        alg: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), JwtError> {
        let (alg, key_index) = verifier.raw_signature_policy(alg, &self.keys, signature)?;
        if self.primitive(key_index, alg, message, signature).await? {
            Ok(())
        } else {
            Err(JwtError::SignatureInvalid)
        }
    }

    /// WebCrypto's verdict on `signature` over `message` with key `key_index` for `alg`.
    async fn primitive(
        &self,
        key_index: usize,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, JwtError> {
        if let Some(valid) = self.hmac_sync(key_index, alg, message, signature) {
            return Ok(valid);
        }
        let position = self.import(key_index, alg)?;
        let key = self.crypto_key(position).await?;
        let verdict = {
            let imported = self.imported.borrow();
            let params = &imported[position].verify_params;
            subtle()
                .ok_or_else(no_webcrypto)?
                .verify(params, &key, signature, message)
                .map_err(|_| JwtError::SignatureInvalid)?
        };
        // A rejection (the key refused for this use) is no valid signature either.
        Ok(JsFuture::from(verdict)
            .await
            .map(|answer| answer.is_truthy())
            .unwrap_or(false))
    }

    /// With the `hmac-sync` feature, the verdict on an HS256/384/512 signature computed here
    /// (RustCrypto `hmac`, compared in constant time); `None` for every other algorithm, and
    /// always without the feature.
    #[allow(unused_variables)]
    fn hmac_sync(
        &self,
        key_index: usize,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Option<bool> {
        #[cfg(feature = "hmac-sync")]
        if let Ok(KeyParams::Oct(secret)) = self.keys.key(key_index).map(|key| key.params()) {
            use hmac::{Mac, SimpleHmac};
            fn check<D>(secret: &[u8], message: &[u8], signature: &[u8]) -> bool
            where
                D: sha2::Digest + sha2::digest::core_api::BlockSizeUser,
            {
                SimpleHmac::<D>::new_from_slice(secret).is_ok_and(|mut mac| {
                    mac.update(message);
                    mac.verify_slice(signature).is_ok()
                })
            }
            return match alg {
                Algorithm::Hs256 => Some(check::<sha2::Sha256>(secret, message, signature)),
                Algorithm::Hs384 => Some(check::<sha2::Sha384>(secret, message, signature)),
                Algorithm::Hs512 => Some(check::<sha2::Sha512>(secret, message, signature)),
                _ => None,
            };
        }
        None
    }

    /// The position of the import of key `key_index` for `alg`, starting it if needed.
    fn import(&self, key_index: usize, alg: Algorithm) -> Result<usize, JwtError> {
        if let Some(position) = self
            .imported
            .borrow()
            .iter()
            .position(|i| i.key_index == key_index && i.alg == alg)
        {
            return Ok(position);
        }
        let (import_params, verify_params) = webcrypto_params(alg);
        let usages = Array::of1(&"verify".into());
        let promise = {
            let subtle = subtle().ok_or_else(no_webcrypto)?;
            let started = match self.keys.key(key_index)?.params() {
                KeyParams::EcP256 { x, y } => {
                    // Uncompressed SEC1 point: 0x04 || x || y (built without indexing).
                    let mut sec1 = Vec::with_capacity(65);
                    sec1.push(0x04);
                    sec1.extend_from_slice(x);
                    sec1.extend_from_slice(y);
                    let data = js_sys::Uint8Array::from(sec1.as_slice());
                    subtle.import_key("raw", &data, &import_params, false, &usages)
                }
                KeyParams::Ed25519(x) => {
                    let data = js_sys::Uint8Array::from(x.as_slice());
                    subtle.import_key("raw", &data, &import_params, false, &usages)
                }
                KeyParams::Rsa { n, e } => {
                    let data = js_sys::Uint8Array::from(rsa_spki(n, e).as_slice());
                    subtle.import_key("spki", &data, &import_params, false, &usages)
                }
                KeyParams::Oct(secret) => {
                    let data = js_sys::Uint8Array::from(secret.as_slice());
                    let started = subtle.import_key("raw", &data, &import_params, false, &usages);
                    // The JS copy of the secret is not ours to keep.
                    data.fill(0, 0, data.length());
                    started
                }
            };
            match started {
                Ok(promise) => IMPORT_FAILED
                    .with(|failed| promise.unchecked_ref::<Catchable>().catch_with(failed)),
                // A synchronous throw (an algorithm this engine lacks) fails like a rejection.
                Err(_) => Promise::resolve(&JsValue::UNDEFINED),
            }
        };
        let mut imported = self.imported.borrow_mut();
        imported.push(Imported {
            key_index,
            alg,
            key: promise,
            resolved: RefCell::new(None),
            verify_params,
        });
        Ok(imported.len() - 1)
    }

    async fn crypto_key(&self, position: usize) -> Result<JsValue, JwtError> {
        let (cached, promise) = {
            let imported = self.imported.borrow();
            // `get`: `position` is `import`'s answer; nothing reachable from JS may panic.
            let entry = imported.get(position).ok_or(JwtError::NoMatchingKey)?;
            let cached = entry.resolved.borrow().clone();
            (cached, entry.key.clone())
        };
        if let Some(key) = cached {
            return Ok(key);
        }
        let key = JsFuture::from(promise).await.unwrap_or(JsValue::UNDEFINED);
        if !key.is_object() {
            return Err(JwtError::InvalidKey {
                reason: "WebCrypto refused the key",
            });
        }
        *self.imported.borrow()[position].resolved.borrow_mut() = Some(key.clone());
        Ok(key)
    }
}

/// SHA-256 by WebCrypto (`verifyDpopProof`'s thumbprint and `ath`); `None` without WebCrypto
/// or when the digest fails.
#[cfg(feature = "dpop-verify")]
pub(crate) async fn sha256(data: &[u8]) -> Option<Vec<u8>> {
    let promise = subtle()?.digest("SHA-256", data).ok()?;
    let buffer = JsFuture::from(promise).await.ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}
