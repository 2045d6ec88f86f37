//! Custody of secrets: a token string that is wiped from memory when dropped and never printed.

use crate::prelude::*;

use core::fmt;

use zeroize::Zeroizing;

/// A secret string (an access or refresh token).
///
/// The bytes are overwritten with zeros when the value is dropped, `Debug` prints
/// `Secret(<redacted>)`, and there is no `Display`: reading the value is explicit
/// ([`Secret::expose`]) so that every place a secret leaves custody is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of `value`; its buffer is zeroized when the `Secret` is dropped.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret value. Call sites are the places where the secret leaves custody.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Length in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let secret = Secret::from("eyJhbGciOiJFUzI1NiJ9.payload.sig");
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("eyJ"), "{printed}");
        assert!(printed.contains("redacted"));
        assert_eq!(secret.expose(), "eyJhbGciOiJFUzI1NiJ9.payload.sig");
        assert_eq!(secret.len(), 32);
    }
}
