//! Refresh tokens: 256 random bits, base64url. Stores only ever see their SHA-256, and, only
//! with a reuse-grace window (`--reuse-grace-ms` above 0) and only while it lasts, a successor
//! *sealed* with the token it replaced: the successor's bytes XOR SHA-256("tokenwarden grace" ‖
//! presented token). Each presented token seals exactly one successor, so this is a one-time
//! pad whose key only the holder of the presented token can derive. The seal is erased when the
//! window ends, so a copy of the database, even together with every old refresh token, leads
//! to no live token (a copy taken inside a window leads to the successor it seals, as the
//! presented token itself would).

use base64ct::{Base64UrlUnpadded, Encoding};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{Sealed, TokenHash};

/// Longest refresh token accepted from a client (ours are 43 characters).
pub const MAX_TOKEN_LEN: usize = 512;

/// A fresh refresh token: its text (for the client only) and its hash (for the store).
pub struct RefreshToken {
    /// The opaque token.
    pub token: String,
    /// SHA-256 of `token`.
    pub hash: TokenHash,
    raw: [u8; 32],
}

impl RefreshToken {
    /// 256 bits from the OS.
    pub fn generate() -> Self {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = Base64UrlUnpadded::encode_string(&raw);
        RefreshToken {
            hash: hash(&token),
            token,
            raw,
        }
    }

    /// This token sealed with `presented` (see the module docs).
    pub fn sealed_with(&self, presented: &str) -> Sealed {
        xor(self.raw, seal_key(presented))
    }
}

/// What a store holds, inside a grace window, for the rotation of `presented` into
/// `successor` (both token texts); `None` if `successor` is not one of our tokens. For audits
/// and tests that look for seals in a copy of a store.
pub fn sealed_text(successor: &str, presented: &str) -> Option<Sealed> {
    let raw: [u8; 32] = Base64UrlUnpadded::decode_vec(successor)
        .ok()?
        .try_into()
        .ok()?;
    Some(xor(raw, seal_key(presented)))
}

/// SHA-256 of a presented token.
pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn seal_key(presented: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tokenwarden grace\0");
    h.update(presented.as_bytes());
    h.finalize().into()
}

fn xor(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// Opens a successor sealed with `presented`; returns its text.
pub fn unseal(sealed: Sealed, presented: &str) -> String {
    Base64UrlUnpadded::encode_string(&xor(sealed, seal_key(presented)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_needs_the_presented_token() {
        let presented = RefreshToken::generate();
        let successor = RefreshToken::generate();
        let sealed = successor.sealed_with(&presented.token);
        assert_eq!(unseal(sealed, &presented.token), successor.token);
        assert_ne!(unseal(sealed, "another token"), successor.token);
        assert_ne!(&sealed[..], &successor.raw[..]);
        assert_eq!(successor.token.len(), 43);
        assert_eq!(hash(&successor.token), successor.hash);
        assert_eq!(
            sealed_text(&successor.token, &presented.token),
            Some(sealed)
        );
        assert_eq!(sealed_text("not base64url!", &presented.token), None);
    }
}
