//! JSON Web Keys for verification: import, strength checks, and key selection.
//!
//! A key pins its algorithm: an EC P-256 key verifies only `ES256`, an Ed25519 key only
//! `EdDSA`, an RSA key only `RS*`/`PS*` (or exactly its `alg` when the JWK names one), an
//! `oct` key only `HS*`. The token's `alg` can therefore narrow the choice, never widen it,
//! which is what defeats the "HS256 MAC'd with the RSA public key" confusion.

use serde_json::{Map, Value};

use crate::core::{b64, error::JwtError, json, verify::Algorithm};

/// Options for importing keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// Accept `oct` (HMAC) keys. Off by default: a shared secret shipped to a browser is
    /// no longer a secret. Also requires the `hmac` Cargo feature.
    pub allow_symmetric: bool,
}

/// The algorithm family a key belongs to, from its `kty` and `crv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// `kty: EC`, `crv: P-256`: ES256.
    EcP256,
    /// `kty: OKP`, `crv: Ed25519`: EdDSA.
    Ed25519,
    /// `kty: RSA`: RS256/384/512 and PS256/384/512.
    Rsa,
    /// `kty: oct`: HS256/384/512.
    Oct,
}

impl KeyFamily {
    fn name(self) -> &'static str {
        match self {
            Self::EcP256 => "EC P-256 (ES256)",
            Self::Ed25519 => "Ed25519 (EdDSA)",
            Self::Rsa => "RSA (RS*/PS*)",
            Self::Oct => "oct (HS*)",
        }
    }

    fn admits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            Self::EcP256 => alg == Es256,
            Self::Ed25519 => alg == EdDsa,
            Self::Rsa => matches!(alg, Rs256 | Rs384 | Rs512 | Ps256 | Ps384 | Ps512),
            Self::Oct => matches!(alg, Hs256 | Hs384 | Hs512),
        }
    }
}

/// Imported key material, ready to verify.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    #[cfg(feature = "es256")]
    P256(<jwt_compact::alg::Es256 as jwt_compact::Algorithm>::VerifyingKey),
    #[cfg(feature = "eddsa")]
    Ed25519(ed25519_compact::PublicKey),
    #[cfg(feature = "rsa")]
    Rsa(jwt_compact::alg::RsaPublicKey),
    #[cfg(feature = "hmac")]
    Oct(zeroize::Zeroizing<Vec<u8>>),
}

/// One verification key with the metadata used to select it.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Algorithm>,
    family: KeyFamily,
    pub(crate) material: KeyMaterial,
}

impl core::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Key material is left out: for `oct` keys it is a secret.
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's `alg`, when the JWK names one.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The algorithm family the key is for.
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// Imports one JWK from JSON text.
    pub fn from_json(json: &str, options: &KeyOptions) -> Result<Self, JwtError> {
        let map = json::parse_object(json.as_bytes(), "jwk").map_err(as_key_error)?;
        match Self::from_map(map, options)? {
            Some(jwk) => Ok(jwk),
            None => Err(JwtError::InvalidKey {
                reason: "the key is not usable for verifying signatures (\"use\"/\"key_ops\")",
            }),
        }
    }

    /// Imports one JWK. `Ok(None)`: a well-formed key that is not for verification.
    fn from_map(map: Map<String, Value>, options: &KeyOptions) -> Result<Option<Self>, JwtError> {
        let raw = RawJwk::from_map(map)?;
        if let Some(key_use) = &raw.key_use {
            if key_use != "sig" {
                return Ok(None);
            }
        }
        if let Some(ops) = &raw.key_ops {
            if !ops.iter().any(|op| op == "verify") {
                return Ok(None);
            }
        }
        let alg = match raw.alg.as_deref() {
            None => None,
            Some(name) => Some(Algorithm::from_name(name).ok_or(JwtError::UnsupportedKey {
                reason: "the key's \"alg\" is not a supported JWS algorithm",
            })?),
        };
        let family = match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("EC", Some("P-256")) => KeyFamily::EcP256,
            ("EC", _) => {
                return Err(JwtError::UnsupportedKey {
                    reason: "only the P-256 curve is supported for EC keys",
                })
            }
            ("OKP", Some("Ed25519")) => KeyFamily::Ed25519,
            ("OKP", _) => {
                return Err(JwtError::UnsupportedKey {
                    reason: "only Ed25519 is supported for OKP keys",
                })
            }
            ("RSA", _) => KeyFamily::Rsa,
            ("oct", _) => KeyFamily::Oct,
            _ => {
                return Err(JwtError::UnsupportedKey {
                    reason: "unknown \"kty\"",
                })
            }
        };
        if let Some(alg) = alg {
            if !family.admits(alg) {
                return Err(JwtError::InvalidKey {
                    reason: "the key's \"alg\" does not fit its key type",
                });
            }
        }
        if family != KeyFamily::Oct && raw.d.is_some() {
            return Err(JwtError::InvalidKey {
                reason: "private key material in a verification key",
            });
        }
        let material = import_material(family, &raw, options)?;
        Ok(Some(Self {
            kid: raw.kid,
            alg,
            family,
            material,
        }))
    }
}

fn as_key_error(err: JwtError) -> JwtError {
    match err {
        JwtError::DuplicateMember { .. } => JwtError::InvalidKey {
            reason: "duplicate member name",
        },
        _ => JwtError::InvalidKey {
            reason: "not a JSON object",
        },
    }
}

// Which members are read depends on the algorithm features compiled in.
#[allow(dead_code)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    k: Option<zeroize::Zeroizing<String>>,
    d: Option<zeroize::Zeroizing<String>>,
}

const WRONG_TYPE: JwtError = JwtError::InvalidKey {
    reason: "a member has the wrong type",
};

impl RawJwk {
    /// Reads the members by hand rather than through `serde::Deserialize`: the derived code
    /// brings serde's error formatting (floats included) into the wasm build. A member that is
    /// absent or `null` is `None`; any other type is an error.
    fn from_map(mut map: Map<String, Value>) -> Result<Self, JwtError> {
        let mut text = |name: &str| match map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(WRONG_TYPE),
        };
        let kty = text("kty")?.ok_or(WRONG_TYPE)?;
        let kid = text("kid")?;
        let key_use = text("use")?;
        let alg = text("alg")?;
        let crv = text("crv")?;
        let x = text("x")?;
        let y = text("y")?;
        let n = text("n")?;
        let e = text("e")?;
        let k = text("k")?.map(zeroize::Zeroizing::new);
        let d = text("d")?.map(zeroize::Zeroizing::new);
        let key_ops = match map.remove("key_ops") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(op) => Ok(op),
                        _ => Err(WRONG_TYPE),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(WRONG_TYPE),
        };
        Ok(Self {
            kty,
            kid,
            key_use,
            key_ops,
            alg,
            crv,
            x,
            y,
            n,
            e,
            k,
            d,
        })
    }
}

fn member(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, JwtError> {
    let text = value.as_deref().ok_or(JwtError::InvalidKey {
        reason: "a required key member is missing",
    })?;
    b64::decode(text, name).map_err(|_| JwtError::InvalidKey {
        reason: "a key member is not canonical base64url",
    })
}

#[allow(unused_variables)] // With some algorithm features off, arms are compiled out.
fn import_material(
    family: KeyFamily,
    raw: &RawJwk,
    options: &KeyOptions,
) -> Result<KeyMaterial, JwtError> {
    let not_compiled = |what: &'static str| JwtError::UnsupportedKey { reason: what };
    match family {
        KeyFamily::EcP256 => {
            #[cfg(feature = "es256")]
            {
                use jwt_compact::alg::VerifyingKey as _;
                let (x, y) = (member(&raw.x, "x")?, member(&raw.y, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JwtError::InvalidKey {
                        reason: "P-256 coordinates must be 32 bytes",
                    });
                }
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                // Rejects points not on the curve and the identity.
                let key =
                    <jwt_compact::alg::Es256 as jwt_compact::Algorithm>::VerifyingKey::from_slice(
                        &sec1,
                    )
                    .map_err(|_| JwtError::InvalidKey {
                        reason: "not a point on P-256",
                    })?;
                Ok(KeyMaterial::P256(key))
            }
            #[cfg(not(feature = "es256"))]
            Err(not_compiled(
                "ES256 keys (build without the `es256` feature)",
            ))
        }
        KeyFamily::Ed25519 => {
            #[cfg(feature = "eddsa")]
            {
                let x = member(&raw.x, "x")?;
                let key = ed25519_compact::PublicKey::from_slice(&x).map_err(|_| {
                    JwtError::InvalidKey {
                        reason: "an Ed25519 public key is 32 bytes",
                    }
                })?;
                match key.validate() {
                    Ok(()) => Ok(KeyMaterial::Ed25519(key)),
                    Err(ed25519_compact::Error::WeakPublicKey) => Err(JwtError::WeakKey {
                        reason: "Ed25519 public key of small order",
                    }),
                    Err(_) => Err(JwtError::InvalidKey {
                        reason: "not a canonical Ed25519 point",
                    }),
                }
            }
            #[cfg(not(feature = "eddsa"))]
            Err(not_compiled(
                "EdDSA keys (build without the `eddsa` feature)",
            ))
        }
        KeyFamily::Rsa => {
            #[cfg(feature = "rsa")]
            {
                use jwt_compact::jwk::JsonWebKey;
                let (n, e) = (member(&raw.n, "n")?, member(&raw.e, "e")?);
                let n_bits = n.iter().position(|&b| b != 0).map_or(0, |first| {
                    (n.len() - first) * 8 - n[first].leading_zeros() as usize
                });
                if n_bits < 2048 {
                    return Err(JwtError::WeakKey {
                        reason: "RSA modulus under 2048 bits",
                    });
                }
                if n_bits > 8192 {
                    // Bounds the cost of one verification (an attacker-supplied JWKS must not
                    // make verifying a token take seconds).
                    return Err(JwtError::UnsupportedKey {
                        reason: "RSA modulus over 8192 bits",
                    });
                }
                let jwk = JsonWebKey::Rsa {
                    modulus: n.into(),
                    public_exponent: e.into(),
                    private_parts: None,
                };
                let key = jwt_compact::alg::RsaPublicKey::try_from(&jwk).map_err(|_| {
                    JwtError::InvalidKey {
                        reason: "invalid RSA public key",
                    }
                })?;
                Ok(KeyMaterial::Rsa(key))
            }
            #[cfg(not(feature = "rsa"))]
            Err(not_compiled("RSA keys (build without the `rsa` feature)"))
        }
        KeyFamily::Oct => {
            if !options.allow_symmetric {
                return Err(JwtError::SymmetricKeyNotAllowed);
            }
            #[cfg(feature = "hmac")]
            {
                let text = raw.k.as_deref().ok_or(JwtError::InvalidKey {
                    reason: "an oct key needs \"k\"",
                })?;
                let secret = zeroize::Zeroizing::new(b64::decode(text, "k").map_err(|_| {
                    JwtError::InvalidKey {
                        reason: "a key member is not canonical base64url",
                    }
                })?);
                if secret.len() < 32 {
                    return Err(JwtError::WeakKey {
                        reason: "HMAC key under 32 bytes",
                    });
                }
                Ok(KeyMaterial::Oct(secret))
            }
            #[cfg(not(feature = "hmac"))]
            Err(not_compiled("HMAC keys (build without the `hmac` feature)"))
        }
    }
}

/// A set of verification keys (a JWKS, or one key).
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    /// Imported from one JWK (or a raw secret) rather than a set: the caller chose the key,
    /// so the token's `kid` is not used to look it up (as jose does for a single key).
    single: bool,
}

impl JwkSet {
    /// Imports a JWK Set (`{"keys": [...]}`) or a single JWK from JSON text.
    ///
    /// In a set, keys whose `use`/`key_ops` exclude verification and keys of unknown `kty`
    /// are skipped (a JWKS may hold encryption keys); malformed, weak or private keys are an
    /// error for the whole set, so a misconfiguration is noticed at import, not at login.
    pub fn from_json(json: &str, options: &KeyOptions) -> Result<Self, JwtError> {
        let map = json::parse_object(json.as_bytes(), "jwk").map_err(as_key_error)?;
        Self::from_map(map, options)
    }

    /// As [`JwkSet::from_json`], from a parsed JSON object.
    pub fn from_map(mut map: Map<String, Value>, options: &KeyOptions) -> Result<Self, JwtError> {
        if !map.contains_key("keys") {
            let key = Jwk::from_map(map, options)?.ok_or(JwtError::InvalidKey {
                reason: "the key is not usable for verifying signatures (\"use\"/\"key_ops\")",
            })?;
            return Ok(Self {
                keys: vec![key],
                single: true,
            });
        }
        let Some(Value::Array(entries)) = map.remove("keys") else {
            return Err(JwtError::InvalidKey {
                reason: "\"keys\" must be an array",
            });
        };
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let Value::Object(entry) = entry else {
                return Err(JwtError::InvalidKey {
                    reason: "\"keys\" must hold objects",
                });
            };
            match Jwk::from_map(entry, options) {
                Ok(Some(key)) => keys.push(key),
                Ok(None) | Err(JwtError::UnsupportedKey { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(Self {
            keys,
            single: false,
        })
    }

    /// A set holding the given keys.
    pub fn from_keys(keys: Vec<Jwk>) -> Self {
        Self {
            keys,
            single: false,
        }
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Picks the one key for a token with this `kid` and `alg`.
    ///
    /// `kid` narrows the candidates when the token has one (unless the set was imported from a
    /// single key); then the key type (and the key's
    /// own `alg`) must admit `alg`. A candidate that matches by `kid` but is of another
    /// family is reported as [`JwtError::KeyAlgMismatch`], the signature of an algorithm
    /// confusion attempt.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Jwk, JwtError> {
        let by_kid: Vec<&Jwk> = self
            .keys
            .iter()
            .filter(|key| self.single || kid.is_none() || key.kid.as_deref() == kid)
            .collect();
        let fitting: Vec<&Jwk> = by_kid
            .iter()
            .copied()
            .filter(|key| key.family.admits(alg) && key.alg.is_none_or(|own| own == alg))
            .collect();
        match (fitting.as_slice(), by_kid.as_slice()) {
            ([one], _) => Ok(one),
            ([], []) => Err(JwtError::NoMatchingKey),
            ([], [first, ..]) => Err(JwtError::KeyAlgMismatch {
                key: first.alg.map_or(first.family.name(), Algorithm::name),
                token: alg.name().into(),
            }),
            _ => Err(JwtError::MultipleMatchingKeys),
        }
    }
}
