//! JSON Web Keys for verification: import, strength checks, and key selection.
//!
//! A key pins its algorithm: an EC P-256 key verifies only `ES256`, an Ed25519 key only
//! `EdDSA`, an RSA key only `RS*`/`PS*` (or exactly its `alg` when the JWK names one), an
//! `oct` key only `HS*`. The token's `alg` can therefore narrow the choice, never widen it,
//! which is what defeats the "HS256 MAC'd with the RSA public key" confusion.

use crate::prelude::*;

use crate::core::{
    b64,
    error::JwtError,
    json::{self, Map, Value},
    verify::Algorithm,
};

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

/// The public parameters of a verification key (or the secret of an `oct` key), checked
/// for size and strength at import: what a signature primitive needs to build its own key.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyParams {
    /// A P-256 point (affine coordinates, big-endian). Whether it lies on the curve is checked
    /// by the primitive when it imports the key.
    EcP256 {
        /// `x`.
        x: [u8; 32],
        /// `y`.
        y: [u8; 32],
    },
    /// An Ed25519 public key: canonical and not of small order.
    Ed25519([u8; 32]),
    /// An RSA public key of 2048 to 8192 bits, big-endian without leading zero bytes.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// An HMAC secret of at least 32 bytes.
    Oct(zeroize::Zeroizing<Vec<u8>>),
}

/// One verification key with the metadata used to select it.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Algorithm>,
    family: KeyFamily,
    params: KeyParams,
    /// The key parsed by the pure-Rust primitive (natively, or in wasm with `portable`).
    #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
    pub(crate) parsed: crate::core::primitive::ParsedKey,
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

    /// The key's checked parameters, for a signature primitive to import.
    pub fn params(&self) -> &KeyParams {
        &self.params
    }

    /// Imports one JWK from JSON text.
    pub fn from_json(json: &str, options: &KeyOptions) -> Result<Self, JwtError> {
        let map = json::parse_object_text(json, "jwk").map_err(as_key_error)?;
        match Self::from_map(map, options)? {
            Some(jwk) => Ok(jwk),
            None => Err(JwtError::InvalidKey {
                reason: "the key is not usable for verifying signatures (\"use\"/\"key_ops\")",
            }),
        }
    }

    /// Imports one JWK. `Ok(None)`: a well-formed key that is not for verification.
    fn from_map(map: Map, options: &KeyOptions) -> Result<Option<Self>, JwtError> {
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
        if family != KeyFamily::Oct && (raw.d.is_some() || raw.other_private_members) {
            return Err(JwtError::InvalidKey {
                reason: "private key material in a verification key",
            });
        }
        let params = import_params(family, &raw, options)?;
        Ok(Some(Self {
            kid: raw.kid,
            alg,
            family,
            #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
            parsed: crate::core::primitive::parse(&params)?,
            params,
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
    /// Any RSA private member other than `d` (RFC 7518 §6.3.2) is present.
    other_private_members: bool,
}

const WRONG_TYPE: JwtError = JwtError::InvalidKey {
    reason: "a member has the wrong type",
};

impl RawJwk {
    /// Reads the members by hand rather than through `serde::Deserialize`: the derived code
    /// brings serde's error formatting (floats included) into the wasm build. A member that is
    /// absent or `null` is `None`; any other type is an error.
    fn from_map(mut map: Map) -> Result<Self, JwtError> {
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
        let other_private_members = ["p", "q", "dp", "dq", "qi", "oth"]
            .iter()
            .any(|name| map.contains_key(name));
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
            other_private_members,
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

/// Checks a key's parameters for size and strength. What needs curve arithmetic (a P-256
/// point on the curve, an RSA modulus that is not a product of primes) is left to the primitive.
#[allow(unused_variables)] // With some algorithm features off, arms are compiled out.
fn import_params(
    family: KeyFamily,
    raw: &RawJwk,
    options: &KeyOptions,
) -> Result<KeyParams, JwtError> {
    let not_compiled = |what: &'static str| JwtError::UnsupportedKey { reason: what };
    match family {
        KeyFamily::EcP256 => {
            if !cfg!(feature = "es256") {
                return Err(not_compiled(
                    "ES256 keys (build without the `es256` feature)",
                ));
            }
            let (x, y) = (member(&raw.x, "x")?, member(&raw.y, "y")?);
            match (<[u8; 32]>::try_from(x), <[u8; 32]>::try_from(y)) {
                (Ok(x), Ok(y)) => Ok(KeyParams::EcP256 { x, y }),
                _ => Err(JwtError::InvalidKey {
                    reason: "P-256 coordinates must be 32 bytes",
                }),
            }
        }
        KeyFamily::Ed25519 => {
            if !cfg!(feature = "eddsa") {
                return Err(not_compiled(
                    "EdDSA keys (build without the `eddsa` feature)",
                ));
            }
            let x =
                <[u8; 32]>::try_from(member(&raw.x, "x")?).map_err(|_| JwtError::InvalidKey {
                    reason: "an Ed25519 public key is 32 bytes",
                })?;
            ed25519_point_check(&x)?;
            Ok(KeyParams::Ed25519(x))
        }
        KeyFamily::Rsa => {
            if !cfg!(feature = "rsa") {
                return Err(not_compiled("RSA keys (build without the `rsa` feature)"));
            }
            let (n, e) = (member(&raw.n, "n")?, member(&raw.e, "e")?);
            let strip =
                |bytes: Vec<u8>| -> Vec<u8> { bytes.into_iter().skip_while(|&b| b == 0).collect() };
            let (n, e) = (strip(n), strip(e));
            let n_bits = n
                .first()
                .map_or(0, |&top| n.len() * 8 - top.leading_zeros() as usize);
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
            // An even exponent, 1, or one wider than the modulus is no RSA key; WebCrypto
            // and the rsa crate would refuse it later, at different moments.
            let e_ok = e.len() <= 8 && e.last().is_some_and(|b| b & 1 == 1) && e != [1];
            if !e_ok {
                return Err(JwtError::InvalidKey {
                    reason: "invalid RSA public key",
                });
            }
            Ok(KeyParams::Rsa { n, e })
        }
        KeyFamily::Oct => {
            let text = raw.k.as_deref().ok_or(JwtError::InvalidKey {
                reason: "an oct key needs \"k\"",
            })?;
            let secret = zeroize::Zeroizing::new(b64::decode(text, "k").map_err(|_| {
                JwtError::InvalidKey {
                    reason: "a key member is not canonical base64url",
                }
            })?);
            oct_params(secret, options)
        }
    }
}

/// An HMAC secret: only with `allow_symmetric` and the `hmac` feature, and at least 32 bytes.
fn oct_params(
    secret: zeroize::Zeroizing<Vec<u8>>,
    options: &KeyOptions,
) -> Result<KeyParams, JwtError> {
    if !options.allow_symmetric {
        return Err(JwtError::SymmetricKeyNotAllowed);
    }
    if !cfg!(feature = "hmac") {
        return Err(JwtError::UnsupportedKey {
            reason: "HMAC keys (build without the `hmac` feature)",
        });
    }
    if secret.len() < 32 {
        return Err(JwtError::WeakKey {
            reason: "HMAC key under 32 bytes",
        });
    }
    Ok(KeyParams::Oct(secret))
}

/// The encodings of the Ed25519 points of small order (libsodium's blocklist, compared with the
/// sign bit of x cleared): 0, 1, the two y of the points of order 8, p - 1, p and p + 1. A
/// signature under such a key can verify for many messages. WebCrypto does not refuse them.
const ED25519_SMALL_ORDER: [[u8; 32]; 7] = {
    let mut list = [[0u8; 32]; 7];
    list[1][0] = 1;
    list[2] = [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ];
    list[3] = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    let mut i = 4;
    while i < 7 {
        let mut j = 1;
        while j < 31 {
            list[i][j] = 0xff;
            j += 1;
        }
        list[i][31] = 0x7f;
        list[i][0] = 0xec + (i as u8 - 4);
        i += 1;
    }
    list
};

/// Refuses Ed25519 keys of small order and non-canonical encodings (y >= p).
fn ed25519_point_check(x: &[u8; 32]) -> Result<(), JwtError> {
    let mut y = *x;
    y[31] &= 0x7f;
    if ED25519_SMALL_ORDER.contains(&y) {
        return Err(JwtError::WeakKey {
            reason: "Ed25519 public key of small order",
        });
    }
    // p = 2^255 - 19: y >= p when bytes 1..31 are all 0xff, the top byte 0x7f and the low
    // byte at least 0xed.
    if y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed {
        return Err(JwtError::InvalidKey {
            reason: "not a canonical Ed25519 point",
        });
    }
    Ok(())
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
        let map = json::parse_object_text(json, "jwk").map_err(as_key_error)?;
        Self::from_map(map, options)
    }

    /// As [`JwkSet::from_json`], from a parsed JSON object.
    pub fn from_map(mut map: Map, options: &KeyOptions) -> Result<Self, JwtError> {
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

    /// A set of one HMAC key from raw secret bytes (jose accepts a `Uint8Array` secret), under
    /// the same rules as an `oct` JWK: `allow_symmetric`, the `hmac` feature, 32 bytes or more.
    pub fn from_secret(secret: &[u8], options: &KeyOptions) -> Result<Self, JwtError> {
        let params = oct_params(zeroize::Zeroizing::new(secret.to_vec()), options)?;
        Ok(Self {
            keys: vec![Jwk {
                kid: None,
                alg: None,
                family: KeyFamily::Oct,
                #[cfg(any(not(target_arch = "wasm32"), feature = "portable"))]
                parsed: crate::core::primitive::parse(&params)?,
                params,
            }],
            single: true,
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

    /// The key at `index` (one that [`JwkSet::select_index`] returned), `NoMatchingKey` when
    /// there is none: `get`, not indexing, so the wasm build links no bounds-check panic.
    pub(crate) fn key(&self, index: usize) -> Result<&Jwk, JwtError> {
        self.keys.get(index).ok_or(JwtError::NoMatchingKey)
    }

    /// Picks the one key for a token with this `kid` and `alg`.
    ///
    /// `kid` narrows the candidates when the token has one (unless the set was imported from a
    /// single key); then the key type (and the key's
    /// own `alg`) must admit `alg`. A candidate that matches by `kid` but is of another
    /// family is reported as [`JwtError::KeyAlgMismatch`], the signature of an algorithm
    /// confusion attempt.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Jwk, JwtError> {
        self.select_index(kid, alg).map(|index| &self.keys[index])
    }

    /// As [`JwkSet::select`], the position of the key in [`JwkSet::keys`] (a primitive that
    /// imported the keys once keeps them in the same order).
    pub fn select_index(&self, kid: Option<&str>, alg: Algorithm) -> Result<usize, JwtError> {
        // One pass, no allocation: the first key matching by `kid`, and the fitting ones.
        let mut first_by_kid = None;
        let mut fitting = None;
        for (i, key) in self.keys.iter().enumerate() {
            if !(self.single || kid.is_none() || key.kid.as_deref() == kid) {
                continue;
            }
            first_by_kid.get_or_insert(key);
            if key.family.admits(alg) && key.alg.is_none_or(|own| own == alg) {
                if fitting.is_some() {
                    return Err(JwtError::MultipleMatchingKeys);
                }
                fitting = Some(i);
            }
        }
        match (fitting, first_by_kid) {
            (Some(one), _) => Ok(one),
            (None, None) => Err(JwtError::NoMatchingKey),
            (None, Some(first)) => Err(JwtError::KeyAlgMismatch {
                key: first.alg.map_or(first.family.name(), Algorithm::name),
                token: alg.name().into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-kept list agrees with ed25519-compact (the primitive the native build trusts):
    /// every listed encoding, with either sign bit, is refused by both, and random keys by neither.
    #[cfg(all(feature = "eddsa", not(target_arch = "wasm32")))]
    #[test]
    fn ed25519_small_order_list_matches_ed25519_compact() {
        for encoding in ED25519_SMALL_ORDER {
            for sign in [0, 0x80] {
                let mut x = encoding;
                x[31] |= sign;
                assert!(ed25519_point_check(&x).is_err(), "{x:02x?}");
                assert!(
                    ed25519_compact::PublicKey::new(x).validate().is_err(),
                    "{x:02x?}"
                );
            }
        }
        for seed in 1..64u8 {
            let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]));
            assert!(ed25519_point_check(&pair.pk).is_ok());
        }
    }

    #[test]
    fn ed25519_non_canonical_y_is_refused() {
        let mut p_plus_2 = [0xff; 32];
        p_plus_2[0] = 0xef;
        p_plus_2[31] = 0x7f;
        assert_eq!(
            ed25519_point_check(&p_plus_2),
            Err(JwtError::InvalidKey {
                reason: "not a canonical Ed25519 point"
            })
        );
    }
}
