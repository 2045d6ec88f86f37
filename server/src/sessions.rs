//! Refresh tokens: 256 random bits, base64url: a 96-bit *family tag*, drawn at login and shared by
//! every token of that login's family, then 160 bits drawn for each token. Stores only ever see
//! a token's [`hash`]: the family tag, then 160 bits of the token's SHA-256. The tag is what lets
//! a store keep a family's records together (Redis Cluster: one hash slot per family) without
//! reading anything first; it is not secret and leads to no token. Only
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

/// Bytes of the family tag at the start of a token (16 base64url characters).
pub const FAMILY_TAG_LEN: usize = 12;

/// A fresh refresh token: its text (for the client only) and its hash (for the store).
pub struct RefreshToken {
    /// The opaque token.
    pub token: String,
    /// The family tag and 160 bits of SHA-256 of `token` (see [`hash`]).
    pub hash: TokenHash,
    raw: [u8; 32],
}

impl RefreshToken {
    /// The first token of a new family: 256 bits from the OS (the tag among them).
    pub fn generate() -> Self {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        Self::from_raw(raw)
    }

    /// The successor of `presented`: the same family tag, 160 new bits from the OS. (A
    /// presented text that is not one of our tokens gets a fresh tag: the store finds no family
    /// for it anyway.)
    pub fn successor_of(presented: &str) -> Self {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        if let Some(tag) = family_tag(presented) {
            raw[..FAMILY_TAG_LEN].copy_from_slice(&tag);
        }
        Self::from_raw(raw)
    }

    fn from_raw(raw: [u8; 32]) -> Self {
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

/// The family tag of a token text: its first 16 characters, decoded.
fn family_tag(token: &str) -> Option<[u8; FAMILY_TAG_LEN]> {
    let head = token.get(..16)?;
    Base64UrlUnpadded::decode_vec(head).ok()?.try_into().ok()
}

/// What stores see of a presented token: its family tag (zeros if it has none: the text is not
/// one of our tokens), then the first 160 bits of its SHA-256.
pub fn hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    if let Some(tag) = family_tag(token) {
        out[..FAMILY_TAG_LEN].copy_from_slice(&tag);
    }
    let digest = Sha256::digest(token.as_bytes());
    out[FAMILY_TAG_LEN..].copy_from_slice(&digest[..32 - FAMILY_TAG_LEN]);
    out
}

/// The family tag a store reads from a token hash.
pub fn family_of(hash: &TokenHash) -> &[u8] {
    &hash[..FAMILY_TAG_LEN]
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

    #[test]
    fn a_family_shares_its_tag_and_nothing_else() {
        let first = RefreshToken::generate();
        let second = RefreshToken::successor_of(&first.token);
        let other = RefreshToken::generate();
        assert_eq!(family_of(&first.hash), family_of(&second.hash));
        assert_ne!(family_of(&first.hash), family_of(&other.hash));
        assert_eq!(first.token[..16], second.token[..16]);
        assert_ne!(first.token[16..], second.token[16..]);
        assert_ne!(first.hash, second.hash);
        assert_eq!(hash(&second.token), second.hash);
        // A text that is not ours: no tag, a hash all the same, and a successor of a new family.
        assert_eq!(family_of(&hash("short")), &[0u8; FAMILY_TAG_LEN][..]);
        assert_ne!(hash("short"), hash("shorter"));
        assert_eq!(RefreshToken::successor_of("short").token.len(), 43);
    }
}
