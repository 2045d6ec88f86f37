//! Refresh tokens: 256 random bits, base64url. Stores only ever see their SHA-256, and, for the
//! reuse-grace window, a successor *sealed* with the token it replaced: the successor's bytes
//! XOR SHA-256("tokenwarden grace" ‖ presented token). Each presented token seals exactly one
//! successor, so this is a one-time pad whose key only the holder of the presented token can
//! derive; a copy of the database hands out no usable token.

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
    }
}
