//! Signing keys: generation, rotation, JWKS publication and token signing.

use jwt_compact::alg::{Ed25519, Es256, ModulusBits, Rsa, RsaPrivateKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use rand::rngs::OsRng;
use serde::Serialize;
use serde_json::{Map, Value};
use tokenwarden::{JwkSet, KeyOptions};

use crate::config::SigningAlg;
use crate::util::random_b64;

/// How many public keys (the current one included) stay published after rotations.
pub const MAX_PUBLISHED_KEYS: usize = 3;

enum Secret {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_compact::SecretKey),
    Rs256(Box<RsaPrivateKey>),
}

struct SigningKeyEntry {
    kid: String,
    secret: Secret,
}

/// The key ring: one current signing key and up to [`MAX_PUBLISHED_KEYS`] public keys.
pub struct KeyRing {
    alg: SigningAlg,
    current: SigningKeyEntry,
    /// Public JWKs, newest first.
    public: Vec<Value>,
    jwks_json: String,
    verify_set: JwkSet,
}

impl KeyRing {
    /// Generates a first key.
    pub fn new(alg: SigningAlg) -> Result<Self, String> {
        let NewKey(current, jwk) = NewKey::generate(alg)?;
        let public = vec![jwk];
        let (jwks_json, verify_set) = publish(&public)?;
        Ok(KeyRing {
            alg,
            current,
            public,
            jwks_json,
            verify_set,
        })
    }

    /// The configured algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// Makes `key` (from [`NewKey::generate`], done outside any lock) the signing key; the
    /// previous public keys stay in the JWKS (at most [`MAX_PUBLISHED_KEYS`] in all).
    pub fn install(&mut self, key: NewKey) -> Result<(), String> {
        let NewKey(current, jwk) = key;
        let mut public = vec![jwk];
        public.extend(self.public.iter().take(MAX_PUBLISHED_KEYS - 1).cloned());
        let (jwks_json, verify_set) = publish(&public)?;
        self.current = current;
        self.public = public;
        self.jwks_json = jwks_json;
        self.verify_set = verify_set;
        Ok(())
    }

    /// `{"keys": [...]}` as served at `/.well-known/jwks.json`.
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// The published keys, parsed by tokenwarden's core, for verifying bearer tokens.
    pub fn verify_set(&self) -> &JwkSet {
        &self.verify_set
    }

    /// The `kid` of the current signing key.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Signs claims with the current key (`kid` and `typ: at+jwt` in the header, RFC 9068).
    pub fn sign<T: Serialize>(&self, claims: &Claims<T>) -> Result<String, String> {
        let header = Header::empty()
            .with_key_id(self.current.kid.clone())
            .with_token_type("at+jwt");
        let res = match &self.current.secret {
            Secret::Es256(k) => Es256.token(&header, claims, k),
            Secret::EdDsa(k) => Ed25519.token(&header, claims, k),
            Secret::Rs256(k) => Rsa::rs256().token(&header, claims, k),
        };
        res.map_err(|e| format!("signing failed: {e}"))
    }
}

fn public_jwk<'a>(jwk: JsonWebKey<'a>) -> Result<Map<String, Value>, String> {
    match serde_json::to_value(&jwk) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err("could not serialize a public JWK".into()),
    }
}

/// A generated key pair, not yet in use.
pub struct NewKey(SigningKeyEntry, Value);

impl NewKey {
    /// Generates a key pair (RSA takes a while: call it off the async threads).
    pub fn generate(alg: SigningAlg) -> Result<Self, String> {
        generate(alg).map(|(e, v)| NewKey(e, v))
    }
}

fn generate(alg: SigningAlg) -> Result<(SigningKeyEntry, Value), String> {
    let kid = format!("{}-{}", alg.name().to_ascii_lowercase(), random_b64(9));
    let (secret, mut obj) = match alg {
        SigningAlg::Es256 => {
            let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
            let jwk = public_jwk(JsonWebKey::from(sk.verifying_key()))?;
            (Secret::Es256(sk), jwk)
        }
        SigningAlg::EdDsa => {
            let (sk, pk) = Ed25519::generate(&mut OsRng);
            let jwk = public_jwk(JsonWebKey::from(&pk))?;
            (Secret::EdDsa(sk), jwk)
        }
        SigningAlg::Rs256 => {
            let (sk, pk) = Rsa::generate(&mut OsRng, ModulusBits::TwoKibibytes)
                .map_err(|e| format!("RSA key generation failed: {e}"))?;
            let jwk = public_jwk(JsonWebKey::from(pk.as_ref()))?;
            (Secret::Rs256(Box::new(sk.into_inner())), jwk)
        }
    };
    // Public keys only: make sure no private member slipped in.
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        obj.remove(private);
    }
    obj.insert("kid".into(), Value::String(kid.clone()));
    obj.insert("alg".into(), Value::String(alg.name().into()));
    obj.insert("use".into(), Value::String("sig".into()));
    Ok((SigningKeyEntry { kid, secret }, Value::Object(obj)))
}

fn publish(public: &[Value]) -> Result<(String, JwkSet), String> {
    let mut root = Map::new();
    root.insert("keys".into(), Value::Array(public.to_vec()));
    let json = Value::Object(root).to_string();
    let set = JwkSet::from_json(&json, &KeyOptions::default())
        .map_err(|e| format!("tokenwarden rejected our own JWKS: {e}"))?;
    Ok((json, set))
}
