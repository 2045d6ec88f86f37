//! Test keys and a raw signer that can produce any header, payload or signature bytes,
//! including the malformed ones an attacker would send.
#![allow(dead_code)] // Each test file uses a different subset.

use std::sync::OnceLock;

use jwt_compact::{
    alg::{self, Ed25519, Es256, Hs256, Hs256Key, ModulusBits, Rsa, SigningKey as _},
    jwk::JsonWebKey,
    Algorithm as _, AlgorithmSignature as _,
};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::{json, Value};
use tokenwarden::{core::b64, JwkSet, KeyOptions};

pub const NOW: i64 = 1_800_000_000;
pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "api";

pub fn b64(bytes: &[u8]) -> String {
    b64::encode(bytes)
}

pub struct Keys {
    pub es256: <Es256 as jwt_compact::Algorithm>::SigningKey,
    pub ed25519: <Ed25519 as jwt_compact::Algorithm>::SigningKey,
    pub rsa: alg::RsaPrivateKey,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(7);
        let es256 = <Es256 as jwt_compact::Algorithm>::SigningKey::from_slice(&[0x42; 32]).unwrap();
        let (ed25519, _) = Ed25519::generate(&mut rng);
        let (rsa, _) = Rsa::generate(&mut rng, ModulusBits::TwoKibibytes).unwrap();
        let rsa = rsa.into_inner();
        Keys {
            es256,
            ed25519,
            rsa,
        }
    })
}

/// Public JWKs of the test keys, with `kid`s `es`, `ed`, `rsa`.
pub fn public_jwk(which: &str) -> Value {
    let k = keys();
    let mut jwk = match which {
        "es" => serde_json::to_value(JsonWebKey::from(&k.es256.to_verifying_key())).unwrap(),
        "ed" => serde_json::to_value(JsonWebKey::from(&k.ed25519.to_verifying_key())).unwrap(),
        "rsa" => serde_json::to_value(JsonWebKey::from(&k.rsa.to_public_key())).unwrap(),
        other => panic!("unknown key {other}"),
    };
    jwk["kid"] = json!(which);
    jwk
}

pub fn jwks(which: &[&str]) -> JwkSet {
    let set = json!({ "keys": which.iter().map(|w| public_jwk(w)).collect::<Vec<_>>() });
    JwkSet::from_json(&set.to_string(), &KeyOptions::default()).unwrap()
}

/// Signs `header.payload` (given as JSON text, encoded here) with the named key.
pub fn sign(which: &str, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = sign_input(which, input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

pub fn sign_input(which: &str, input: &[u8]) -> Vec<u8> {
    let k = keys();
    match which {
        "es" => Es256.sign(&k.es256, input).as_bytes().to_vec(),
        "ed" => Ed25519.sign(&k.ed25519, input).as_bytes().to_vec(),
        "rsa" => Rsa::rs256().sign(&k.rsa, input).as_bytes().to_vec(),
        "ps256" => Rsa::ps256().sign(&k.rsa, input).as_bytes().to_vec(),
        other => panic!("unknown key {other}"),
    }
}

/// HMAC-SHA256 with an arbitrary key: what an attacker computes for algorithm confusion.
pub fn hs256(key: &[u8], input: &[u8]) -> Vec<u8> {
    Hs256.sign(&Hs256Key::new(key), input).as_bytes().to_vec()
}

pub fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": NOW - 10, "exp": NOW + 300, "jti": "j1"})
}

pub fn es256_token(payload: &Value) -> String {
    sign(
        "es",
        r#"{"alg":"ES256","kid":"es","typ":"JWT"}"#,
        &payload.to_string(),
    )
}
