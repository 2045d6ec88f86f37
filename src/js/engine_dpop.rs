//! DPoP (RFC 9449) for the package's JS driver: the core's decisions and encodings behind
//! synchronous calls. `dpop.js` does only WebCrypto (key generation, SHA-256, signing) and I/O;
//! what a proof says (header and claims JSON, `htu`, `ath`, `jti`), the key's RFC 7638
//! thumbprint, which nonce a URL's proof carries, and whether a response asks for a nonce are
//! decided here, by `crate::core::dpop`.
//!
//! No key material crosses: the private key is a non-extractable `CryptoKey` that stays in JS;
//! only the public coordinates and digests come here.

use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::core::b64;
use crate::core::dpop::{
    p256_thumbprint_input, proof_signing_input, response_asks_for_nonce, DpopError, NonceBook,
    ProofInput,
};
use crate::core::error::cat;
use crate::core::time::unix_secs;

fn error(e: &DpopError) -> JsValue {
    let error = js_sys::Error::new(&cat(&["DPoP: ", &e.message()]));
    let _ = js_sys::Reflect::set(&error, &"code".into(), &"ERR_DPOP".into());
    error.into()
}

/// Base64url of a digest that must be 32 bytes (SHA-256).
fn digest(bytes: &[u8]) -> Result<String, JsValue> {
    match bytes.len() {
        32 => Ok(b64::encode(bytes)),
        _ => Err(error(&DpopError::InvalidRequest {
            reason: "a SHA-256 digest is 32 bytes",
        })),
    }
}

/// One DPoP key's public side and the nonces its proofs carry.
#[wasm_bindgen(skip_typescript)]
pub struct DpopCore {
    x: String,
    y: String,
    jkt: Option<String>,
    nonces: NonceBook,
}

#[wasm_bindgen]
impl DpopCore {
    /// The public key of a P-256 pair, by its base64url coordinates (as `exportKey('jwk')`
    /// gives them); `jkt` when already known (a sibling's key), else set by `setThumbprint`.
    /// Throws `ERR_DPOP` for coordinates or a `jkt` that are not 32 bytes of base64url.
    #[wasm_bindgen(constructor)]
    pub fn new(x: String, y: String, jkt: Option<String>) -> Result<DpopCore, JsValue> {
        p256_thumbprint_input(&x, &y).map_err(|e| error(&e))?;
        let jkt = match jkt {
            Some(jkt) if b64::decode(&jkt, "jkt").is_ok_and(|b| b.len() == 32) => Some(jkt),
            Some(_) => {
                return Err(error(&DpopError::JwkInvalid {
                    reason: "a thumbprint is 32 bytes of base64url",
                }))
            }
            None => None,
        };
        Ok(DpopCore {
            x,
            y,
            jkt,
            nonces: NonceBook::default(),
        })
    }

    /// Sets the thumbprint from the SHA-256 of reading 0 of [`DpopCore::get`].
    #[wasm_bindgen(js_name = setThumbprint)]
    pub fn set_thumbprint(&mut self, sha256: &[u8]) -> Result<(), JsValue> {
        self.jkt = Some(digest(sha256)?);
        Ok(())
    }

    /// One reading, by `code` (one export for all: each has a cost of its own in the module
    /// and in its glue): 0 the text whose SHA-256 is the key's RFC 7638 thumbprint (for
    /// `setThumbprint`), 1 the key's thumbprint (`cnf.jkt` of the tokens bound to it) or
    /// `undefined`, 2 the public coordinates `[x, y]` (for a sibling tab).
    pub fn get(&self, code: u32) -> JsValue {
        match code {
            0 => p256_thumbprint_input(&self.x, &self.y)
                .unwrap_or_default()
                .into(),
            1 => self
                .jkt
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from_str),
            _ => js_sys::Array::of2(&self.x.as_str().into(), &self.y.as_str().into()).into(),
        }
    }

    /// The signing input of a proof for `method` `url` at `now` (ms): `jti` from 16 random
    /// bytes, `ath` from the SHA-256 of the access token when given, and the nonce last received
    /// from `url`'s origin. Throws `ERR_DPOP` for a URL that is not http(s) or a bad method.
    #[wasm_bindgen(js_name = signingInput)]
    pub fn signing_input(
        &self,
        method: &str,
        url: &str,
        now: f64,
        random: &[u8],
        ath_sha256: Option<Vec<u8>>,
    ) -> Result<String, JsValue> {
        if random.len() < 12 {
            return Err(error(&DpopError::InvalidRequest {
                reason: "jti needs at least 96 random bits",
            }));
        }
        let jti = b64::encode(random);
        let ath = ath_sha256.as_deref().map(digest).transpose()?;
        let input = ProofInput {
            method,
            url,
            iat: unix_secs(if now > 0.0 { now as u64 } else { 0 }),
            jti: &jti,
            ath: ath.as_deref(),
            nonce: self.nonces.nonce_for(url),
        };
        proof_signing_input(&self.x, &self.y, &input).map_err(|e| error(&e))
    }

    /// The proof: the signing input and its signature (IEEE P1363 `r || s`), base64url.
    pub fn proof(input: &str, signature: &[u8]) -> String {
        cat(&[input, ".", &b64::encode(signature)])
    }

    /// Remembers the `DPoP-Nonce` a response from `url` carried (`undefined`: none).
    pub fn remember(&mut self, url: &str, nonce: Option<String>) {
        if let Some(nonce) = nonce {
            self.nonces.remember(url, &nonce);
        }
    }

    /// Whether a response asks for a nonce: `400` with the OAuth `error` `use_dpop_nonce`, or
    /// `401` with a `DPoP error="use_dpop_nonce"` challenge.
    #[wasm_bindgen(js_name = asksForNonce)]
    pub fn asks_for_nonce(status: u16, challenge: Option<String>, error: Option<String>) -> bool {
        response_asks_for_nonce(status, challenge.as_deref(), error.as_deref())
    }
}
