//! Signing keys: generation or loading from a file, rotation, JWKS publication and signing.
//!
//! A key file (`--signing-key PATH`) holds a private JWK, a JWK Set whose first key signs and
//! whose other keys stay published (so tokens signed before a rotation still verify), or a
//! PKCS#8 PEM (`BEGIN PRIVATE KEY`, P-256). Instances given the same file sign with the same
//! key and publish the same JWKS; a key without `kid` gets its RFC 7638 thumbprint, which is
//! the same everywhere. Private material is never logged or published.

use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
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

struct LoadedKey {
    alg: SigningAlg,
    entry: SigningKeyEntry,
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

    /// Loads the key set from a file (see the module docs). The key decides the algorithm.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read signing key {}: {e}", path.display()))?;
        let (current, public) =
            parse_key_file(&text).map_err(|e| format!("signing key {}: {e}", path.display()))?;
        let (jwks_json, verify_set) = publish(&public)?;
        Ok(KeyRing {
            alg: current.alg,
            current: current.entry,
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

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The algorithm a JWK is for (from its `kty`/`crv`), checked against its `alg` if present.
fn jwk_alg(obj: &Map<String, Value>) -> Result<SigningAlg, String> {
    let alg = match (
        obj.get("kty").and_then(Value::as_str),
        obj.get("crv").and_then(Value::as_str),
    ) {
        (Some("EC"), Some("P-256")) => SigningAlg::Es256,
        (Some("OKP"), Some("Ed25519")) => SigningAlg::EdDsa,
        (Some("RSA"), _) => SigningAlg::Rs256,
        _ => return Err("keys must be EC P-256, OKP Ed25519 or RSA JWKs".into()),
    };
    match obj.get("alg").and_then(Value::as_str) {
        Some(a) if a != alg.name() => Err(format!("a {} key says alg {a:?}", alg.name())),
        _ => Ok(alg),
    }
}

/// The published form of a JWK: public members only, with `kid` (given or RFC 7638
/// thumbprint), `alg` and `use: sig`.
fn published_jwk(obj: &Map<String, Value>, alg: SigningAlg) -> Result<(String, Value), String> {
    let jwk: JsonWebKey<'_> =
        serde_json::from_value(Value::Object(obj.clone())).map_err(|_| "malformed JWK")?;
    let mut public = public_jwk(jwk.to_verifying_key())?;
    for private in PRIVATE_MEMBERS {
        public.remove(private);
    }
    let kid = match obj.get("kid").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k.len() <= 128 => k.to_string(),
        Some(_) => return Err("kid must be 1-128 characters".into()),
        None => Base64UrlUnpadded::encode_string(&jwk.thumbprint::<sha2::Sha256>()),
    };
    public.insert("kid".into(), Value::String(kid.clone()));
    public.insert("alg".into(), Value::String(alg.name().into()));
    public.insert("use".into(), Value::String("sig".into()));
    Ok((kid, Value::Object(public)))
}

fn signing_key(obj: &Map<String, Value>) -> Result<(LoadedKey, Value), String> {
    let alg = jwk_alg(obj)?;
    let jwk: JsonWebKey<'_> =
        serde_json::from_value(Value::Object(obj.clone())).map_err(|_| "malformed JWK")?;
    let not_private = || "the first key must be a private key".to_string();
    let secret = match alg {
        SigningAlg::Es256 => {
            Secret::Es256(p256::ecdsa::SigningKey::try_from(&jwk).map_err(|_| not_private())?)
        }
        SigningAlg::EdDsa => {
            Secret::EdDsa(ed25519_compact::SecretKey::try_from(&jwk).map_err(|_| not_private())?)
        }
        SigningAlg::Rs256 => Secret::Rs256(Box::new(
            RsaPrivateKey::try_from(&jwk).map_err(|_| not_private())?,
        )),
    };
    let (kid, public) = published_jwk(obj, alg)?;
    Ok((
        LoadedKey {
            alg,
            entry: SigningKeyEntry { kid, secret },
        },
        public,
    ))
}

fn parse_key_file(text: &str) -> Result<(LoadedKey, Vec<Value>), String> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        use p256::pkcs8::DecodePrivateKey;
        let sk = p256::ecdsa::SigningKey::from_pkcs8_pem(text)
            .map_err(|_| "only PKCS#8 P-256 keys (BEGIN PRIVATE KEY) are read from PEM; use a JWK for Ed25519 or RSA")?;
        let Value::Object(obj) = serde_json::to_value(JsonWebKey::from(&sk))
            .map_err(|_| "could not serialize the key")?
        else {
            return Err("could not serialize the key".into());
        };
        let (key, public) = signing_key(&obj)?;
        return Ok((key, vec![public]));
    }
    let root: Value = serde_json::from_str(text).map_err(|_| "neither JSON nor PEM")?;
    let keys: Vec<Map<String, Value>> = match root {
        Value::Object(mut o) if o.contains_key("keys") => match o.remove("keys") {
            Some(Value::Array(keys)) => keys
                .into_iter()
                .map(|k| match k {
                    Value::Object(o) => Ok(o),
                    _ => Err("every key must be a JSON object".to_string()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("\"keys\" must be an array".into()),
        },
        Value::Object(o) => vec![o],
        _ => return Err("expected a JWK or a JWK Set".into()),
    };
    let (first, rest) = keys.split_first().ok_or("the key set is empty")?;
    let (current, first_public) = signing_key(first)?;
    let mut public = vec![first_public];
    for obj in rest {
        let alg = jwk_alg(obj)?;
        if alg != current.alg {
            return Err("all keys of a set must be for one algorithm".into());
        }
        public.push(published_jwk(obj, alg)?.1);
    }
    let mut kids: Vec<&str> = public.iter().filter_map(|k| k["kid"].as_str()).collect();
    kids.sort_unstable();
    if kids.windows(2).any(|w| w[0] == w[1]) {
        return Err("two keys share a kid".into());
    }
    Ok((current, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_jwk(alg: SigningAlg) -> Value {
        let (entry, _) = generate(alg).unwrap();
        let jwk = match &entry.secret {
            Secret::Es256(k) => JsonWebKey::from(k),
            Secret::EdDsa(k) => JsonWebKey::from(k),
            Secret::Rs256(k) => JsonWebKey::from(k.as_ref()),
        };
        serde_json::to_value(jwk).unwrap()
    }

    #[test]
    fn key_files_give_the_same_kids_and_no_private_members() {
        let a = private_jwk(SigningAlg::Es256);
        let b = private_jwk(SigningAlg::Es256);
        let set = serde_json::json!({ "keys": [a, b] }).to_string();
        let (k1, p1) = parse_key_file(&set).unwrap();
        let (k2, p2) = parse_key_file(&set).unwrap();
        assert_eq!(k1.entry.kid, k2.entry.kid);
        assert_eq!(p1, p2);
        assert_eq!(p1.len(), 2);
        for k in &p1 {
            for private in PRIVATE_MEMBERS {
                assert!(k.get(private).is_none());
            }
            assert_eq!(k["alg"], "ES256");
        }
        // A public key first, a foreign key type, garbage: refused with a message.
        let public_first = serde_json::json!({ "keys": [p1[1], a] }).to_string();
        for bad in [
            public_first.as_str(),
            "{\"kty\":\"oct\",\"k\":\"AAAA\"}",
            "nonsense",
            "{\"keys\":[]}",
        ] {
            let err = parse_key_file(bad).err().unwrap();
            assert!(!err.is_empty());
        }
    }

    #[test]
    fn eddsa_and_rsa_jwks_load() {
        for alg in [SigningAlg::EdDsa, SigningAlg::Rs256] {
            let (k, p) = parse_key_file(&private_jwk(alg).to_string()).unwrap();
            assert_eq!(k.alg, alg);
            assert_eq!(p[0]["alg"], alg.name());
        }
    }
}
