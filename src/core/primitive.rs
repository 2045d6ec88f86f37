//! The pure-Rust signature primitive (jwt-compact, ed25519-compact): used natively, and in
//! wasm only with the `portable` feature (hosts without WebCrypto). The npm package verifies
//! with WebCrypto instead and links none of this.
//!
//! With the `ring` feature (native only) ring's assembly verifies instead (see
//! `verify_with_ring`); keys are still parsed and checked here at import.
//!
//! Everything here is arithmetic: the policy (algorithm, key selection, signature shape) was
//! decided by [`Verifier`](crate::Verifier) before a call reaches [`verify`].

use crate::core::{error::JwtError, jwk::KeyParams, verify::Algorithm};

/// A key parsed once at import, so that verifying does not parse it again.
#[derive(Clone)]
pub(crate) enum ParsedKey {
    #[cfg(feature = "es256")]
    P256(<jwt_compact::alg::Es256 as jwt_compact::Algorithm>::VerifyingKey),
    #[cfg(feature = "eddsa")]
    Ed25519(ed25519_compact::PublicKey),
    #[cfg(feature = "rsa")]
    Rsa(jwt_compact::alg::RsaPublicKey),
    /// An HMAC secret needs no parsing: it stays in the key's [`KeyParams`].
    Secret,
}

/// Parses checked parameters; refuses a P-256 point off the curve and an RSA key the `rsa`
/// crate cannot use.
#[allow(unused_variables, unreachable_patterns)] // Arms depend on the algorithm features.
pub(crate) fn parse(params: &KeyParams) -> Result<ParsedKey, JwtError> {
    match params {
        #[cfg(feature = "es256")]
        KeyParams::EcP256 { x, y } => {
            use jwt_compact::alg::VerifyingKey as _;
            let mut sec1 = [0u8; 65];
            sec1[0] = 0x04;
            sec1[1..33].copy_from_slice(x);
            sec1[33..].copy_from_slice(y);
            // Rejects points not on the curve and the identity.
            <jwt_compact::alg::Es256 as jwt_compact::Algorithm>::VerifyingKey::from_slice(&sec1)
                .map(ParsedKey::P256)
                .map_err(|_| JwtError::InvalidKey {
                    reason: "not a point on P-256",
                })
        }
        #[cfg(feature = "eddsa")]
        KeyParams::Ed25519(x) => {
            let key = ed25519_compact::PublicKey::new(*x);
            // The core refused small-order and non-canonical encodings; this also refuses a y
            // that is on no point of the curve.
            key.validate().map_err(|_| JwtError::InvalidKey {
                reason: "not a canonical Ed25519 point",
            })?;
            Ok(ParsedKey::Ed25519(key))
        }
        #[cfg(feature = "rsa")]
        KeyParams::Rsa { n, e } => {
            use jwt_compact::jwk::JsonWebKey;
            let jwk = JsonWebKey::Rsa {
                modulus: n.as_slice().into(),
                public_exponent: e.as_slice().into(),
                private_parts: None,
            };
            jwt_compact::alg::RsaPublicKey::try_from(&jwk)
                .map(ParsedKey::Rsa)
                .map_err(|_| JwtError::InvalidKey {
                    reason: "invalid RSA public key",
                })
        }
        _ => Ok(ParsedKey::Secret),
    }
}

/// Whether `signature` is valid for `message` under `key`. The caller checked the signature's
/// length (and for ES256 the range of r and s).
#[allow(unused_variables)]
pub(crate) fn verify(
    alg: Algorithm,
    params: &KeyParams,
    key: &ParsedKey,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, JwtError> {
    use jwt_compact::{Algorithm as _, AlgorithmSignature};

    #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
    if let Some(valid) = verify_with_ring(alg, params, message, signature) {
        return Ok(valid);
    }

    fn parse_signature<S: AlgorithmSignature>(bytes: &[u8]) -> Result<S, JwtError> {
        S::try_from_slice(bytes).map_err(|_| JwtError::MalformedSignature)
    }

    match (key, params, alg) {
        #[cfg(feature = "es256")]
        (ParsedKey::P256(key), _, Algorithm::Es256) => {
            let alg = jwt_compact::alg::Es256;
            Ok(alg.verify_signature(&parse_signature(signature)?, key, message))
        }
        #[cfg(feature = "eddsa")]
        (ParsedKey::Ed25519(key), _, Algorithm::EdDsa) => {
            let alg = jwt_compact::alg::Ed25519;
            Ok(alg.verify_signature(&parse_signature(signature)?, key, message))
        }
        #[cfg(feature = "rsa")]
        (
            ParsedKey::Rsa(key),
            _,
            Algorithm::Rs256
            | Algorithm::Rs384
            | Algorithm::Rs512
            | Algorithm::Ps256
            | Algorithm::Ps384
            | Algorithm::Ps512,
        ) => {
            let rsa = jwt_compact::alg::Rsa::with_name(alg.name());
            Ok(rsa.verify_signature(&parse_signature(signature)?, key, message))
        }
        #[cfg(feature = "hmac")]
        (_, KeyParams::Oct(secret), Algorithm::Hs256) => {
            let key = jwt_compact::alg::Hs256Key::new(secret.as_slice());
            Ok(jwt_compact::alg::Hs256.verify_signature(
                &parse_signature(signature)?,
                &key,
                message,
            ))
        }
        #[cfg(feature = "hmac")]
        (_, KeyParams::Oct(secret), Algorithm::Hs384) => {
            let key = jwt_compact::alg::Hs384Key::new(secret.as_slice());
            Ok(jwt_compact::alg::Hs384.verify_signature(
                &parse_signature(signature)?,
                &key,
                message,
            ))
        }
        #[cfg(feature = "hmac")]
        (_, KeyParams::Oct(secret), Algorithm::Hs512) => {
            let key = jwt_compact::alg::Hs512Key::new(secret.as_slice());
            Ok(jwt_compact::alg::Hs512.verify_signature(
                &parse_signature(signature)?,
                &key,
                message,
            ))
        }
        // `JwkSet::select` only returns a key whose family admits `alg`.
        #[allow(unreachable_patterns)]
        _ => Err(JwtError::KeyAlgMismatch {
            key: "another algorithm family",
            token: alg.name().into(),
        }),
    }
}

/// The assembly-speed primitive (feature `ring`, native only): ring's ECDSA P-256, Ed25519,
/// RSA PKCS#1 v1.5 and PSS, and HMAC, for the same calls [`verify`] gets, after the same
/// policy. `None` for a call ring does not cover (the pure-Rust primitive answers it then).
#[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
fn verify_with_ring(
    alg: Algorithm,
    params: &KeyParams,
    message: &[u8],
    signature: &[u8],
) -> Option<bool> {
    use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
    let verdict = match (params, alg) {
        (KeyParams::EcP256 { x, y }, Algorithm::Es256) => {
            let mut sec1 = [0u8; 65];
            sec1[0] = 0x04;
            sec1[1..33].copy_from_slice(x);
            sec1[33..].copy_from_slice(y);
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &sec1[..])
                .verify(message, signature)
        }
        (KeyParams::Ed25519(x), Algorithm::EdDsa) => {
            UnparsedPublicKey::new(&sig::ED25519, &x[..]).verify(message, signature)
        }
        (KeyParams::Rsa { n, e }, _) => {
            let scheme: &sig::RsaParameters = match alg {
                Algorithm::Rs256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::Rs384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::Rs512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::Ps256 => &sig::RSA_PSS_2048_8192_SHA256,
                Algorithm::Ps384 => &sig::RSA_PSS_2048_8192_SHA384,
                Algorithm::Ps512 => &sig::RSA_PSS_2048_8192_SHA512,
                _ => return None,
            };
            RsaPublicKeyComponents { n, e }.verify(scheme, message, signature)
        }
        #[cfg(feature = "hmac")]
        (KeyParams::Oct(secret), Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512) => {
            let mac = match alg {
                Algorithm::Hs256 => ring::hmac::HMAC_SHA256,
                Algorithm::Hs384 => ring::hmac::HMAC_SHA384,
                _ => ring::hmac::HMAC_SHA512,
            };
            ring::hmac::verify(&ring::hmac::Key::new(mac, secret), message, signature)
        }
        _ => return None,
    };
    Some(verdict.is_ok())
}
