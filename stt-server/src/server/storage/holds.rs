//! Requests and minutes held by work in progress, as rows every server sharing the database
//! counts: a caller's limits hold across all of them. A row belongs to the server (`node`)
//! that made it, which renews it while it lives; the rows of a server that died expire.
//! Checks and the hold they lead to run under the caller's lock (`SubjectLock`), so two
//! requests at once on two servers cannot both take the last minute.

use super::db::{Db, now_unix, usage_since};
use super::jobs::unfinished_jobs;
use super::sql::{DbResult, Transaction, params};

/// How long a hold outlives the last renewal by its server.
pub const HOLD_SECONDS: i64 = 60;

/// A transaction holding one caller's lock.
pub struct SubjectLock {
    tx: Transaction,
    subject: String,
}

impl Db {
    pub async fn lock_subject(&self, subject: &str) -> DbResult<SubjectLock> {
        Ok(SubjectLock {
            tx: self
                .engine
                .begin_locked(&format!("subject {subject}"))
                .await?,
            subject: subject.to_string(),
        })
    }

    pub async fn release_hold(&self, id: &str) -> DbResult<()> {
        self.engine
            .execute("DELETE FROM holds WHERE id = $1", params![id])
            .await
            .map(drop)
    }

    /// Keeps `node`'s holds alive for `HOLD_SECONDS` more, and deletes any that expired.
    pub async fn renew_holds(&self, node: &str) -> DbResult<()> {
        let now = now_unix();
        self.engine
            .execute(
                "UPDATE holds SET expires_unix = $2 WHERE node = $1",
                params![node, now + HOLD_SECONDS],
            )
            .await?;
        self.engine
            .execute("DELETE FROM holds WHERE expires_unix < $1", params![now])
            .await
            .map(drop)
    }
}

impl SubjectLock {
    /// (transcriptions, credits) since `since_unix`.
    pub async fn usage_since(&mut self, since_unix: i64) -> DbResult<(u64, u64)> {
        usage_since(&mut self.tx, &self.subject, since_unix).await
    }

    /// Jobs not yet completed or failed.
    pub async fn unfinished_jobs(&mut self) -> DbResult<u32> {
        unfinished_jobs(&mut self.tx, &self.subject).await
    }

    /// (requests, minutes) held now.
    pub async fn held(&mut self) -> DbResult<(u32, u64)> {
        let rows = self
            .tx
            .query(
                "SELECT CAST(COALESCE(SUM(slots), 0) AS BIGINT),
                        CAST(COALESCE(SUM(minutes), 0) AS BIGINT)
                 FROM holds WHERE subject = $1 AND expires_unix >= $2",
                params![self.subject.as_str(), now_unix()],
            )
            .await?;
        let row = rows.first().ok_or("no row from SUM")?;
        Ok((row.count(0)?, row.count(1)?))
    }

    /// A new hold of `slots` requests and `minutes` for `node`; returns its id.
    pub async fn hold(&mut self, node: &str, slots: u32, minutes: u64) -> DbResult<String> {
        let id = uuid::Uuid::new_v4().to_string();
        self.tx
            .execute(
                "INSERT INTO holds (id, subject, node, slots, minutes, expires_unix)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                params![
                    id.as_str(),
                    self.subject.as_str(),
                    node,
                    i64::from(slots),
                    minutes as i64,
                    now_unix() + HOLD_SECONDS
                ],
            )
            .await?;
        Ok(id)
    }

    /// `minutes` more on hold `id`.
    pub async fn add_minutes(&mut self, id: &str, minutes: u64) -> DbResult<()> {
        self.tx
            .execute(
                "UPDATE holds SET minutes = minutes + $2 WHERE id = $1",
                params![id, minutes as i64],
            )
            .await
            .map(drop)
    }

    pub async fn commit(self) -> DbResult<()> {
        self.tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::super::db::tests::test_db;

    #[tokio::test]
    async fn holds_are_counted_per_subject_until_released_or_expired() {
        let (db, dir) = test_db().await;
        let mut lock = db.lock_subject("key:a").await.unwrap();
        assert_eq!(lock.held().await.unwrap(), (0, 0));
        let first = lock.hold("n1", 1, 0).await.unwrap();
        lock.add_minutes(&first, 5).await.unwrap();
        lock.hold("n2", 1, 3).await.unwrap();
        assert_eq!(lock.held().await.unwrap(), (2, 8));
        lock.commit().await.unwrap();

        // A lock dropped without commit keeps nothing it wrote.
        let mut lock = db.lock_subject("key:a").await.unwrap();
        lock.hold("n1", 1, 100).await.unwrap();
        drop(lock);
        let mut lock = db.lock_subject("key:a").await.unwrap();
        assert_eq!(lock.held().await.unwrap(), (2, 8));
        drop(lock);

        db.release_hold(&first).await.unwrap();
        // n2 stops renewing: once its holds expire they no longer count, and are deleted.
        db.engine
            .execute("UPDATE holds SET expires_unix = 0 WHERE node = 'n2'", &[])
            .await
            .unwrap();
        db.renew_holds("n1").await.unwrap();
        let mut lock = db.lock_subject("key:a").await.unwrap();
        assert_eq!(lock.held().await.unwrap(), (0, 0));
        drop(lock);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn checks_and_holds_under_the_lock_never_overspend() {
        let (db, dir) = test_db().await;
        // Twelve requests at once, as on many servers, each wanting 1 of 5 minutes.
        let requests = (0..12).map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut lock = db.lock_subject("key:q").await.unwrap();
                let (_, held) = lock.held().await.unwrap();
                tokio::task::yield_now().await;
                if held + 1 > 5 {
                    return false;
                }
                lock.hold(&format!("n{i}"), 0, 1).await.unwrap();
                lock.commit().await.unwrap();
                true
            })
        });
        let mut granted = 0;
        for request in requests {
            granted += usize::from(request.await.unwrap());
        }
        assert_eq!(granted, 5);
        let mut lock = db.lock_subject("key:q").await.unwrap();
        assert_eq!(lock.held().await.unwrap(), (0, 5));
        drop(lock);
        let _ = std::fs::remove_dir_all(dir);
    }
}
