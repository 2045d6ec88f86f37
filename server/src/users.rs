//! Demo users: Argon2id hashes computed once at start-up and constant-time comparison (the
//! login throttle lives in the store, the bound on concurrent hashing in the state).

use std::collections::HashMap;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::config::{PasswordCost, UserSpec};

struct UserRecord {
    salt: [u8; 16],
    hash: [u8; 32],
    scope: String,
}

/// The user directory.
pub struct Users {
    argon: Argon2<'static>,
    users: HashMap<String, UserRecord>,
    /// Used for unknown user names so that they cost the same time as known ones.
    dummy: UserRecord,
}

impl Users {
    /// Hashes every password (the plain texts are dropped by the caller).
    pub fn new(specs: &[UserSpec], cost: PasswordCost) -> Result<Self, String> {
        let params = Params::new(cost.m_kib, cost.t, cost.p, Some(32))
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let make = |password: &[u8], scope: &str| -> Result<UserRecord, String> {
            let mut salt = [0u8; 16];
            OsRng.fill_bytes(&mut salt);
            let mut hash = [0u8; 32];
            argon
                .hash_password_into(password, &salt, &mut hash)
                .map_err(|e| format!("argon2 failed: {e}"))?;
            Ok(UserRecord {
                salt,
                hash,
                scope: scope.to_string(),
            })
        };
        let mut users = HashMap::new();
        for u in specs {
            if users.contains_key(&u.username) {
                return Err(format!("user {:?} is given twice", u.username));
            }
            users.insert(u.username.clone(), make(u.password.as_bytes(), &u.scope)?);
        }
        let dummy = make(b"not a password of anyone", "")?;
        Ok(Users {
            argon,
            users,
            dummy,
        })
    }

    /// Checks a password; returns the user's scope on success. Takes the same time for
    /// unknown users.
    pub fn verify(&self, username: &str, password: &str) -> Option<String> {
        let (rec, known) = match self.users.get(username) {
            Some(r) => (r, true),
            None => (&self.dummy, false),
        };
        let mut out = [0u8; 32];
        if self
            .argon
            .hash_password_into(password.as_bytes(), &rec.salt, &mut out)
            .is_err()
        {
            return None;
        }
        let ok: bool = out.ct_eq(&rec.hash).into();
        (ok && known).then(|| rec.scope.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_passwords() {
        let specs = vec![UserSpec::parse("alice:s3cret:with:colons").unwrap()];
        let users = Users::new(&specs, PasswordCost::cheap_for_tests()).unwrap();
        assert_eq!(
            users.verify("alice", "s3cret:with:colons").as_deref(),
            Some("read write")
        );
        assert!(users.verify("alice", "s3cret").is_none());
        assert!(users.verify("bob", "s3cret:with:colons").is_none());
    }
}
