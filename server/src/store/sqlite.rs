//! The embedded store (`--store sqlite:PATH`): one SQLite file in WAL mode, so sessions and
//! the blocklist survive a restart. Decisions run in `IMMEDIATE` transactions (atomic even if
//! two processes open the same file); calls run on the blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    throttle_wait_ms, Lifetimes, ProofRecord, Rejection, Rotation, Sealed, Store, StoreError,
    StoreResult, ThrottleKey, TokenHash, THROTTLE_WINDOW_MS,
};
use crate::util::random_b64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS families (
  id TEXT PRIMARY KEY, sub TEXT NOT NULL, scope TEXT NOT NULL,
  created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL);
-- hash: SHA-256 of the token; sealed: the successor XOR a key derived from this token, kept
-- only while the reuse-grace window lasts (forget_seals erases it).
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash BLOB PRIMARY KEY, family TEXT NOT NULL, used_at_ms INTEGER, sealed BLOB);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family);
CREATE INDEX IF NOT EXISTS refresh_tokens_sealed ON refresh_tokens(used_at_ms)
  WHERE sealed IS NOT NULL;
CREATE TABLE IF NOT EXISTS blocklist (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS login_throttle (
  key TEXT PRIMARY KEY, count INTEGER NOT NULL, last_ms INTEGER NOT NULL);
-- DPoP's replay cache: a proof's jti per key, until the proof is out of its window (seconds).
CREATE TABLE IF NOT EXISTS dpop_proofs (
  jkt TEXT NOT NULL, jti TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (jkt, jti))
  WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dpop_proofs_until ON dpop_proofs(until);
";

/// Refresh families, blocklist and throttle in a SQLite database.
pub struct SqliteStore(Arc<Mutex<Connection>>);

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::new(format!("sqlite: {e}"))
}

impl SqliteStore {
    /// Opens (or creates) the database and its schema.
    pub fn open(path: &Path) -> Result<Self, String> {
        let conn = Connection::open(path)
            .map_err(|e| format!("cannot open SQLite database {}: {e}", path.display()))?;
        // secure_delete: erased seals are overwritten in the file, not left in free space.
        conn.busy_timeout(std::time::Duration::from_secs(2))
            .and_then(|_| conn.pragma_update(None, "secure_delete", "ON"))
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(|e| format!("cannot prepare SQLite database {}: {e}", path.display()))?;
        Ok(SqliteStore(Arc::new(Mutex::new(conn))))
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::new(format!("sqlite task: {e}")))?
        .map_err(db_err)
    }
}

fn revoke(tx: &Connection, family: &str) -> rusqlite::Result<bool> {
    tx.execute("DELETE FROM refresh_tokens WHERE family = ?1", [family])?;
    Ok(tx.execute("DELETE FROM families WHERE id = ?1", [family])? > 0)
}

impl Store for SqliteStore {
    async fn create_family(
        &self,
        token: TokenHash,
        sub: &str,
        scope: &str,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<()> {
        let (sub, scope, id) = (sub.to_string(), scope.to_string(), random_b64(16));
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Expired families go first (their tokens with them).
            tx.execute(
                "DELETE FROM refresh_tokens WHERE family IN (SELECT id FROM families
                 WHERE ?1 >= MIN(created_ms + ?2, last_used_ms + ?3))",
                params![now_ms, lt.absolute_ms, lt.idle_ms],
            )?;
            tx.execute(
                "DELETE FROM families WHERE ?1 >= MIN(created_ms + ?2, last_used_ms + ?3)",
                params![now_ms, lt.absolute_ms, lt.idle_ms],
            )?;
            tx.execute(
                "INSERT INTO families (id, sub, scope, created_ms, last_used_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, sub, scope, now_ms],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, family) VALUES (?1, ?2)",
                params![&token[..], id],
            )?;
            tx.commit()
        })
        .await
    }

    async fn rotate(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        sealed: Option<Sealed>,
        now_ms: i64,
        lt: Lifetimes,
    ) -> StoreResult<Result<Rotation, Rejection>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let rec: Option<(String, Option<i64>, Option<Vec<u8>>)> = tx
                .query_row(
                    "SELECT family, used_at_ms, sealed FROM refresh_tokens WHERE hash = ?1",
                    [&presented[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((family, used_at, old_sealed)) = rec else {
                return Ok(Err(Rejection::Unknown));
            };
            let fam: Option<(String, String, i64, i64)> = tx
                .query_row(
                    "SELECT sub, scope, created_ms, last_used_ms FROM families WHERE id = ?1",
                    [&family],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((sub, scope, created, last_used)) = fam else {
                tx.execute(
                    "DELETE FROM refresh_tokens WHERE hash = ?1",
                    [&presented[..]],
                )?;
                tx.commit()?;
                return Ok(Err(Rejection::Unknown));
            };
            if now_ms >= lt.deadline(created, last_used) {
                revoke(&tx, &family)?;
                tx.commit()?;
                return Ok(Err(Rejection::Expired));
            }
            if let Some(used_at) = used_at {
                let sealed_successor = old_sealed.and_then(|v| <Sealed>::try_from(v).ok());
                if let Some(sealed_successor) = sealed_successor
                    .filter(|_| lt.grace_ms > 0 && now_ms.saturating_sub(used_at) <= lt.grace_ms)
                {
                    return Ok(Ok(Rotation::Replayed {
                        sub,
                        scope,
                        sealed_successor,
                    }));
                }
                revoke(&tx, &family)?;
                tx.commit()?;
                return Ok(Err(Rejection::ReuseDetected));
            }
            tx.execute(
                "UPDATE refresh_tokens SET used_at_ms = ?2, sealed = ?3 WHERE hash = ?1",
                params![
                    &presented[..],
                    now_ms,
                    sealed.filter(|_| lt.grace_ms > 0).as_ref().map(|s| &s[..])
                ],
            )?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, family) VALUES (?1, ?2)",
                params![&successor[..], family],
            )?;
            tx.execute(
                "UPDATE families SET last_used_ms = ?2 WHERE id = ?1",
                params![family, now_ms],
            )?;
            tx.commit()?;
            Ok(Ok(Rotation::Rotated { sub, scope }))
        })
        .await
    }

    async fn forget_seals(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        self.run(move |c| {
            let erased = c.execute(
                "UPDATE refresh_tokens SET sealed = NULL
                 WHERE sealed IS NOT NULL AND used_at_ms < ?1",
                [now_ms.saturating_sub(lt.grace_ms.max(0))],
            )?;
            if erased > 0 {
                // The erased pages' old images leave the write-ahead log too (a busy reader
                // postpones that to the next sweep).
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
            Ok(erased as u64)
        })
        .await
    }

    async fn revoke_family_of(&self, token: TokenHash) -> StoreResult<bool> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let family: Option<String> = tx
                .query_row(
                    "SELECT family FROM refresh_tokens WHERE hash = ?1",
                    [&token[..]],
                    |r| r.get(0),
                )
                .optional()?;
            let revoked = match family {
                Some(f) => revoke(&tx, &f)?,
                None => false,
            };
            tx.commit()?;
            Ok(revoked)
        })
        .await
    }

    async fn revoke_all(&self) -> StoreResult<u64> {
        self.run(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM refresh_tokens", [])?;
            let n = tx.execute("DELETE FROM families", [])?;
            tx.commit()?;
            Ok(n as u64)
        })
        .await
    }

    async fn active_families(&self, now_ms: i64, lt: Lifetimes) -> StoreResult<u64> {
        self.run(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM families WHERE ?1 < MIN(created_ms + ?2, last_used_ms + ?3)",
                params![now_ms, lt.absolute_ms, lt.idle_ms],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
        .await
    }

    async fn block_jti(&self, jti: &str, exp_secs: i64, now_secs: i64) -> StoreResult<()> {
        let jti = jti.to_string();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM blocklist WHERE exp <= ?1", [now_secs])?;
            if exp_secs > now_secs {
                tx.execute(
                    "INSERT INTO blocklist (jti, exp) VALUES (?1, ?2)
                     ON CONFLICT(jti) DO UPDATE SET exp = MAX(exp, excluded.exp)",
                    params![jti, exp_secs],
                )?;
            }
            tx.commit()
        })
        .await
    }

    async fn is_blocked(&self, jti: &str, now_secs: i64) -> StoreResult<bool> {
        let jti = jti.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM blocklist WHERE jti = ?1 AND exp > ?2)",
                params![jti, now_secs],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn throttle_attempt(
        &self,
        keys: &[ThrottleKey],
        now_ms: i64,
    ) -> StoreResult<Result<(), i64>> {
        let keys = keys.to_vec();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut wait = None;
            for k in &keys {
                let row: Option<(u32, i64)> = tx
                    .query_row(
                        "SELECT count, last_ms FROM login_throttle WHERE key = ?1",
                        [&k.key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((count, last)) = row {
                    wait = wait.max(throttle_wait_ms(count, last, k.max, now_ms));
                }
            }
            if let Some(wait) = wait {
                return Ok(Err(wait));
            }
            tx.execute(
                "DELETE FROM login_throttle WHERE last_ms <= ?1",
                [now_ms - THROTTLE_WINDOW_MS],
            )?;
            for k in &keys {
                tx.execute(
                    "INSERT INTO login_throttle (key, count, last_ms) VALUES (?1, 1, ?2)
                     ON CONFLICT(key) DO UPDATE SET count = count + 1, last_ms = ?2",
                    params![k.key, now_ms],
                )?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    async fn throttle_success(&self, forget: &str, refund: &str) -> StoreResult<()> {
        let (forget, refund) = (forget.to_string(), refund.to_string());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM login_throttle WHERE key = ?1", [forget])?;
            tx.execute(
                "UPDATE login_throttle SET count = MAX(count - 1, 0) WHERE key = ?1",
                [refund],
            )?;
            tx.commit()
        })
        .await
    }

    async fn record_proof(
        &self,
        jkt: &str,
        jti: &str,
        expires_at_secs: i64,
        now_secs: i64,
        quota: u32,
    ) -> StoreResult<ProofRecord> {
        let (jkt, jti) = (jkt.to_string(), jti.to_string());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // The sweep: expired proofs go first (the index makes it cheap).
            tx.execute("DELETE FROM dpop_proofs WHERE until < ?1", [now_secs])?;
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM dpop_proofs WHERE jkt = ?1 AND jti = ?2",
                    params![jkt, jti],
                    |r| r.get(0),
                )
                .optional()?;
            if seen.is_some() {
                return Ok(ProofRecord::Replayed);
            }
            let live: i64 = tx.query_row(
                "SELECT COUNT(*) FROM dpop_proofs WHERE jkt = ?1",
                [&jkt],
                |r| r.get(0),
            )?;
            if live >= i64::from(quota) {
                return Ok(ProofRecord::OverQuota);
            }
            tx.execute(
                "INSERT INTO dpop_proofs (jkt, jti, until) VALUES (?1, ?2, ?3)",
                params![jkt, jti, expires_at_secs],
            )?;
            tx.commit()?;
            Ok(ProofRecord::Fresh)
        })
        .await
    }

    async fn throttle_clear(&self) -> StoreResult<()> {
        self.run(|c| c.execute("DELETE FROM login_throttle", []).map(|_| ()))
            .await
    }
}
