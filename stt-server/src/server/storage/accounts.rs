//! Accounts and their API keys. An account carries the plan and limits, its keys share them;
//! keys are stored as hashes. Usage, holds and jobs are kept under the account
//! (`Caller::subject`), so every key of one account counts against the same quota.

use serde::{Deserialize, Serialize};

use super::db::{Db, hash_key, hex};
use super::sql::{Conn, DbResult, Row, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Paid,
}

impl Plan {
    /// The seed's limits: (monthly minutes, upload MB, requests at once).
    pub fn defaults(self) -> (Option<u64>, u64, u32) {
        match self {
            Plan::Free => (Some(600), 500, 2),
            Plan::Paid => (None, 2048, 5),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Paid => "paid",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "paid" {
            Plan::Paid
        } else {
            Plan::Free
        }
    }
}

/// What the operator decides for an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    pub plan: Plan,
    /// Minutes of audio a calendar month (UTC); `None` is unlimited.
    pub monthly_minutes: Option<u64>,
    pub max_upload_mb: u64,
    pub concurrency: u32,
}

impl Limits {
    /// `plan`'s limits, each replaced by the one given.
    pub fn of_plan(
        plan: Plan,
        monthly_minutes: Option<u64>,
        max_upload_mb: Option<u64>,
        concurrency: Option<u32>,
    ) -> Self {
        let (minutes, upload, at_once) = plan.defaults();
        Self {
            plan,
            monthly_minutes: monthly_minutes.or(minutes),
            max_upload_mb: max_upload_mb.unwrap_or(upload),
            concurrency: concurrency.unwrap_or(at_once).max(1),
        }
    }
}

/// Which emails the user wants. Kept for the user; this server sends none (it has no mail
/// transport), but a deployment that adds one reads them here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailPreferences {
    pub job_completed: bool,
    pub usage_alerts: bool,
    pub product_updates: bool,
}

impl Default for EmailPreferences {
    fn default() -> Self {
        Self {
            job_completed: false,
            usage_alerts: true,
            product_updates: false,
        }
    }
}

/// What the user may change of their account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: String,
    pub email: Option<String>,
    pub email_preferences: EmailPreferences,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    #[serde(flatten)]
    pub profile: Profile,
    #[serde(flatten)]
    pub limits: Limits,
    pub created: String,
}

/// A key with its account's limits.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    #[serde(rename = "account")]
    pub account_id: String,
    /// The raw key's first characters, to tell keys apart (none for keys made before accounts).
    pub prefix: Option<String>,
    #[serde(flatten)]
    pub limits: Limits,
    pub created: String,
    pub revoked: bool,
}

/// Why a user's key was not revoked.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyRevocation {
    Revoked,
    /// Not a key of this account, or revoked already.
    NotFound,
    /// The account would have no key left to sign in with.
    LastKey,
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

const ACCOUNT_COLUMNS: &str = "id, name, email, email_preferences, plan, monthly_minutes, \
    max_upload_mb, concurrency, created";

fn limits_from_row(row: &Row, first: usize) -> DbResult<Limits> {
    Ok(Limits {
        plan: Plan::parse(&row.text(first)?),
        monthly_minutes: row.opt_int(first + 1)?.map(|m| m.max(0) as u64),
        max_upload_mb: row.count(first + 2)?,
        concurrency: row.count(first + 3)?,
    })
}

fn account_from_row(row: &Row) -> DbResult<Account> {
    Ok(Account {
        id: row.text(0)?,
        profile: Profile {
            name: row.text(1)?,
            email: row.opt_text(2)?,
            // Preferences saved by an older release lack the newer names: defaults fill them.
            email_preferences: serde_json::from_str(&row.text(3)?).unwrap_or_default(),
        },
        limits: limits_from_row(row, 4)?,
        created: row.text(8)?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.name, k.account_id, k.prefix, a.plan, a.monthly_minutes, \
    a.max_upload_mb, a.concurrency, k.created, k.revoked";
const KEYS_WITH_ACCOUNTS: &str = "keys k JOIN accounts a ON a.id = k.account_id";

fn key_from_row(row: &Row) -> DbResult<ApiKey> {
    Ok(ApiKey {
        id: row.text(0)?,
        name: row.text(1)?,
        account_id: row.text(2)?,
        prefix: row.opt_text(3)?,
        limits: limits_from_row(row, 4)?,
        created: row.text(8)?,
        revoked: row.int(9)? != 0,
    })
}

async fn insert_account(conn: &mut Conn, account: &Account) -> DbResult<()> {
    let preferences =
        serde_json::to_string(&account.profile.email_preferences).map_err(|e| e.to_string())?;
    let sql = format!(
        "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    let limits = &account.limits;
    conn.execute(
        &sql,
        params![
            account.id.as_str(),
            account.profile.name.as_str(),
            account.profile.email.clone(),
            preferences,
            limits.plan.as_str(),
            limits.monthly_minutes.map(|m| m as i64),
            limits.max_upload_mb as i64,
            i64::from(limits.concurrency),
            account.created.as_str()
        ],
    )
    .await
    .map(drop)
}

/// Stores a new key of `account` and returns it with its raw secret, shown this once.
async fn insert_key(
    conn: &mut Conn,
    account: &Account,
    name: String,
) -> DbResult<(ApiKey, String)> {
    let mut secret = [0u8; 24];
    rand::fill(&mut secret);
    let raw = format!("stt_{}", hex(&secret));
    let key = ApiKey {
        id: new_id("key"),
        name,
        account_id: account.id.clone(),
        prefix: Some(raw[..8].to_string()),
        limits: account.limits.clone(),
        created: now_rfc3339(),
        revoked: false,
    };
    conn.execute(
        "INSERT INTO keys (id, name, hash, account_id, prefix, created)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            key.id.as_str(),
            key.name.as_str(),
            hash_key(&raw),
            key.account_id.as_str(),
            key.prefix.clone(),
            key.created.as_str()
        ],
    )
    .await?;
    Ok((key, raw))
}

impl Db {
    pub async fn create_account(&self, profile: Profile, limits: Limits) -> DbResult<Account> {
        let account = Account {
            id: new_id("acct"),
            profile,
            limits,
            created: now_rfc3339(),
        };
        insert_account(&mut self.engine.conn().await?, &account).await?;
        Ok(account)
    }

    pub async fn accounts(&self) -> DbResult<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created, id");
        let rows = self.engine.query(&sql, &[]).await?;
        rows.iter().map(account_from_row).collect()
    }

    pub async fn account(&self, id: &str) -> DbResult<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row = self.engine.query_opt(&sql, params![id]).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Whether the account exists.
    pub async fn update_profile(&self, id: &str, profile: &Profile) -> DbResult<bool> {
        let preferences =
            serde_json::to_string(&profile.email_preferences).map_err(|e| e.to_string())?;
        let changed = self
            .engine
            .execute(
                "UPDATE accounts SET name = $2, email = $3, email_preferences = $4 WHERE id = $1",
                params![
                    id,
                    profile.name.as_str(),
                    profile.email.clone(),
                    preferences
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    /// The operator's change of plan or limits; whether the account exists.
    pub async fn update_limits(&self, id: &str, limits: &Limits) -> DbResult<bool> {
        let changed = self
            .engine
            .execute(
                "UPDATE accounts SET plan = $2, monthly_minutes = $3, max_upload_mb = $4,
                 concurrency = $5 WHERE id = $1",
                params![
                    id,
                    limits.plan.as_str(),
                    limits.monthly_minutes.map(|m| m as i64),
                    limits.max_upload_mb as i64,
                    i64::from(limits.concurrency)
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    /// A new key: of `account` when given (`None` when it does not exist), otherwise of a new
    /// account of its own with `limits`, named like the key.
    pub async fn create_key(
        &self,
        account: Option<&str>,
        name: String,
        limits: Limits,
    ) -> DbResult<Option<(ApiKey, String)>> {
        let mut tx = self.engine.begin_locked("accounts").await?;
        let account = match account {
            Some(id) => {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
                match tx.query(&sql, params![id]).await?.first() {
                    Some(row) => account_from_row(row)?,
                    None => return Ok(None),
                }
            }
            None => {
                let account = Account {
                    id: new_id("acct"),
                    profile: Profile {
                        name: name.clone(),
                        email: None,
                        email_preferences: EmailPreferences::default(),
                    },
                    limits,
                    created: now_rfc3339(),
                };
                insert_account(&mut tx, &account).await?;
                account
            }
        };
        let created = insert_key(&mut tx, &account, name).await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    /// Every key, revoked ones included (the operator's list).
    pub async fn keys(&self) -> DbResult<Vec<ApiKey>> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM {KEYS_WITH_ACCOUNTS} ORDER BY k.created, k.id");
        let rows = self.engine.query(&sql, &[]).await?;
        rows.iter().map(key_from_row).collect()
    }

    /// The keys of `account` that still work.
    pub async fn account_keys(&self, account: &str) -> DbResult<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM {KEYS_WITH_ACCOUNTS}
             WHERE k.account_id = $1 AND k.revoked = 0 ORDER BY k.created, k.id"
        );
        let rows = self.engine.query(&sql, params![account]).await?;
        rows.iter().map(key_from_row).collect()
    }

    pub async fn key_by_raw(&self, raw: &str) -> DbResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM {KEYS_WITH_ACCOUNTS} WHERE k.hash = $1");
        let row = self.engine.query_opt(&sql, params![hash_key(raw)]).await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// The operator's revocation; whether a key with this id existed (revoking twice is not
    /// an error).
    pub async fn revoke_key(&self, id: &str) -> DbResult<bool> {
        let changed = self
            .engine
            .execute("UPDATE keys SET revoked = 1 WHERE id = $1", params![id])
            .await?;
        Ok(changed > 0)
    }

    /// A user's revocation of one of their account's keys, never its last.
    pub async fn revoke_account_key(&self, account: &str, id: &str) -> DbResult<KeyRevocation> {
        let mut tx = self
            .engine
            .begin_locked(&format!("keys of {account}"))
            .await?;
        let active = tx
            .query(
                "SELECT id FROM keys WHERE account_id = $1 AND revoked = 0",
                params![account],
            )
            .await?;
        let ids = active
            .iter()
            .map(|row| row.text(0))
            .collect::<DbResult<Vec<_>>>()?;
        if !ids.iter().any(|known| known == id) {
            return Ok(KeyRevocation::NotFound);
        }
        if ids.len() == 1 {
            return Ok(KeyRevocation::LastKey);
        }
        tx.execute("UPDATE keys SET revoked = 1 WHERE id = $1", params![id])
            .await?;
        tx.commit().await?;
        Ok(KeyRevocation::Revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::super::db::tests::test_db;
    use super::*;

    #[tokio::test]
    async fn keys_share_their_accounts_limits_and_the_last_key_stays() {
        let (db, dir) = test_db().await;
        let limits = Limits::of_plan(Plan::Free, None, None, Some(3));
        let (first, raw) = db
            .create_key(None, "laptop".into(), limits)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.limits.monthly_minutes, Some(600));
        assert_eq!(first.limits.concurrency, 3);
        assert_eq!(first.prefix.as_deref(), Some(&raw[..8]));
        let account = db.account(&first.account_id).await.unwrap().unwrap();
        assert_eq!(account.profile.name, "laptop");

        let paid = Limits::of_plan(Plan::Paid, None, None, None);
        assert!(db.update_limits(&account.id, &paid).await.unwrap());
        let (second, _) = db
            .create_key(
                Some(&account.id),
                "ci".into(),
                Limits::of_plan(Plan::Free, None, None, None),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.limits, paid, "a key takes its account's limits");
        assert_eq!(db.key_by_raw(&raw).await.unwrap().unwrap().limits, paid);
        assert!(
            db.create_key(Some("acct_none"), String::new(), paid.clone())
                .await
                .unwrap()
                .is_none()
        );

        let other = db
            .create_account(account.profile.clone(), paid)
            .await
            .unwrap();
        assert_eq!(
            db.revoke_account_key(&other.id, &first.id).await.unwrap(),
            KeyRevocation::NotFound
        );
        assert_eq!(
            db.revoke_account_key(&account.id, &first.id).await.unwrap(),
            KeyRevocation::Revoked
        );
        assert_eq!(
            db.revoke_account_key(&account.id, &second.id)
                .await
                .unwrap(),
            KeyRevocation::LastKey
        );
        let left: Vec<String> = db
            .account_keys(&account.id)
            .await
            .unwrap()
            .into_iter()
            .map(|key| key.id)
            .collect();
        assert_eq!(left, vec![second.id]);
        assert!(db.key_by_raw(&raw).await.unwrap().unwrap().revoked);
        let _ = std::fs::remove_dir_all(dir);
    }
}
