//! Who is calling (a key, or an anonymous IP where allowed) and whether they may start one
//! more transcription: daily count, monthly minutes, uploads and requests at once.

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode, header};
use chrono::{Datelike, TimeZone, Utc};

use super::config::ServeConfig;
use super::error::{ApiError, MB};
use super::storage::accounts::ApiKey;
use super::storage::db::{Db, credits};
use super::storage::holds::SubjectLock;

#[derive(Debug, Clone)]
pub enum Caller {
    Key(ApiKey),
    Anonymous(IpAddr),
}

impl Caller {
    /// The name usage, jobs and holds are kept under: the key's account, or the IP.
    pub fn subject(&self) -> String {
        match self {
            Caller::Key(key) => account_subject(&key.account_id),
            Caller::Anonymous(ip) => format!("ip:{ip}"),
        }
    }

    /// The account whose workspace keeps this caller's transcripts (none when anonymous).
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Key(key) => Some(&key.account_id),
            Caller::Anonymous(_) => None,
        }
    }

    pub fn max_upload_bytes(&self, config: &ServeConfig) -> u64 {
        let own = match self {
            Caller::Key(key) => key.limits.max_upload_mb * MB,
            Caller::Anonymous(_) => config.anonymous_max_upload_mb * MB,
        };
        own.min(config.max_upload_bytes())
    }

    /// Minutes a month, when the caller has a quota.
    pub fn monthly_minutes(&self) -> Option<u64> {
        match self {
            Caller::Key(key) => key.limits.monthly_minutes,
            Caller::Anonymous(_) => None,
        }
    }

    fn concurrency(&self, config: &ServeConfig) -> u32 {
        match self {
            Caller::Key(key) => key.limits.concurrency,
            Caller::Anonymous(_) => config.anonymous_concurrency,
        }
    }
}

pub fn account_subject(account: &str) -> String {
    format!("account:{account}")
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("invalid Authorization header"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "invalid Authorization header: expected `Bearer <key>`",
        ));
    }
    Ok(Some(token.trim()))
}

pub async fn authenticate(
    db: &Db,
    config: &ServeConfig,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<Caller, ApiError> {
    match bearer(headers)? {
        Some(raw) => match db.key_by_raw(raw).await.map_err(ApiError::internal)? {
            Some(key) if key.revoked => Err(ApiError::unauthorized("this API key was revoked")),
            Some(key) => Ok(Caller::Key(key)),
            None => Err(ApiError::unauthorized("invalid API key")),
        },
        None if config.anonymous => Ok(Caller::Anonymous(peer)),
        None => Err(ApiError::unauthorized(
            "missing API key: send `Authorization: Bearer <key>`",
        )),
    }
}

/// The key of an account, for the workspace API (`/api/v1/`): anonymous callers have no
/// workspace, and the operator's admin key belongs to no account.
pub async fn authenticate_account(
    db: &Db,
    config: &ServeConfig,
    headers: &HeaderMap,
) -> Result<ApiKey, ApiError> {
    let Some(raw) = bearer(headers)? else {
        return Err(ApiError::unauthorized(
            "missing API key: the workspace API needs `Authorization: Bearer <key>`",
        ));
    };
    if config.admin_key.as_deref() == Some(raw) {
        return Err(ApiError::unauthorized(
            "the operator's admin key belongs to no account; use an account's key",
        ));
    }
    match db.key_by_raw(raw).await.map_err(ApiError::internal)? {
        Some(key) if key.revoked => Err(ApiError::unauthorized("this API key was revoked")),
        Some(key) => Ok(key),
        None => Err(ApiError::unauthorized("invalid API key")),
    }
}

/// Whether the operator's key was sent (for `/v1/keys`).
pub fn authenticate_admin(config: &ServeConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(admin) = &config.admin_key else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "key management over HTTP is disabled; start the server with STT_ADMIN_KEY",
        ));
    };
    match bearer(headers)? {
        Some(sent) if sent == admin => Ok(()),
        _ => Err(ApiError::unauthorized(
            "this needs the operator's admin key",
        )),
    }
}

/// A row of `holds` (a request slot, or minutes): deleted when this is dropped; renewed
/// meanwhile by the server's heartbeat (`AppState::node`), so it expires if the server dies.
pub struct Hold {
    db: Db,
    id: String,
    runtime: tokio::runtime::Handle,
}

impl Hold {
    fn new(db: &Db, id: String) -> Self {
        Self {
            db: db.clone(),
            id,
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        self.runtime.spawn(async move {
            if let Err(error) = db.release_hold(&id).await {
                eprintln!("stt: cannot release hold {id} (it will expire): {error}");
            }
        });
    }
}

/// Leave to start a transcription: the slot it occupies and the minutes it may use.
pub struct Admission {
    _slot: Hold,
    pub budget_minutes: Option<u64>,
}

/// Checks `caller`'s limits (daily count when anonymous, monthly minutes, requests at once,
/// counted across every server on the database) and takes a request slot.
pub async fn admit(
    db: &Db,
    config: &ServeConfig,
    node: &str,
    caller: &Caller,
) -> Result<Admission, ApiError> {
    let subject = caller.subject();
    let now = Utc::now();
    let mut lock = db
        .lock_subject(&subject)
        .await
        .map_err(ApiError::internal)?;
    let (running, held) = lock.held().await.map_err(ApiError::internal)?;
    let budget_minutes = match caller {
        Caller::Anonymous(_) => {
            let day_start = Utc
                .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
                .single()
                .unwrap_or(now);
            let (count, _) = lock
                .usage_since(day_start.timestamp())
                .await
                .map_err(ApiError::internal)?;
            if count >= u64::from(config.anonymous_daily) {
                let tomorrow = day_start + chrono::Duration::days(1);
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "anonymous limit reached: {} transcriptions a day per IP; use an API key",
                        config.anonymous_daily
                    ),
                )
                .retry_after((tomorrow - now).num_seconds().max(1) as u64));
            }
            None
        }
        Caller::Key(key) => match key.limits.monthly_minutes {
            None => None,
            Some(quota) => {
                let used = month_usage(&mut lock).await?;
                if used + held >= quota {
                    let held = match held {
                        0 => String::new(),
                        _ => format!(" and {held} held by requests in progress"),
                    };
                    return Err(ApiError::new(
                        StatusCode::PAYMENT_REQUIRED,
                        format!(
                            "No credits remaining: {used} of {quota} minutes used this month{held}"
                        ),
                    ));
                }
                Some(quota - used - held)
            }
        },
    };

    let unfinished_jobs = lock.unfinished_jobs().await.map_err(ApiError::internal)?;
    let limit = caller.concurrency(config);
    if running + unfinished_jobs >= limit {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests at once: the limit is {limit}; wait for one to finish"),
        )
        .retry_after(5));
    }
    let id = lock.hold(node, 1, 0).await.map_err(ApiError::internal)?;
    lock.commit().await.map_err(ApiError::internal)?;
    Ok(Admission {
        _slot: Hold::new(db, id),
        budget_minutes,
    })
}

/// Credits used since the start of the month (UTC).
async fn month_usage(lock: &mut SubjectLock) -> Result<u64, ApiError> {
    let now = Utc::now();
    let month_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let (_, used) = lock
        .usage_since(month_start.timestamp())
        .await
        .map_err(ApiError::internal)?;
    Ok(used)
}

/// Minutes held until the work is done and its usage recorded (drop it after recording): a
/// quota is checked against usage plus every hold, so no number of requests at once, on any
/// number of servers, can spend more than it.
pub struct Reservation {
    hold: Hold,
    subject: String,
    pub minutes: u64,
}

impl Reservation {
    /// Holds, out of `quota` minutes a month, the minutes of audio lasting `seconds` (all
    /// that remain when its length is not known before decoding); 402 when they do not.
    pub async fn take(
        db: &Db,
        node: &str,
        subject: &str,
        quota: u64,
        seconds: Option<f64>,
    ) -> Result<Self, ApiError> {
        let mut lock = db.lock_subject(subject).await.map_err(ApiError::internal)?;
        let used = month_usage(&mut lock).await?;
        let (_, others) = lock.held().await.map_err(ApiError::internal)?;
        let free = quota.saturating_sub(used + others);
        let wanted = seconds.map_or(free, credits);
        if free == 0 || wanted > free {
            let held = match others {
                0 => String::new(),
                _ => format!(" ({others} held by requests in progress)"),
            };
            let needs = match seconds {
                Some(_) => format!("this audio needs {wanted} minutes"),
                None => "this audio needs at least 1 minute".to_string(),
            };
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                format!("not enough credits: {needs}, {free} remain{held}"),
            ));
        }
        let id = lock
            .hold(node, 0, wanted)
            .await
            .map_err(ApiError::internal)?;
        lock.commit().await.map_err(ApiError::internal)?;
        Ok(Self {
            hold: Hold::new(db, id),
            subject: subject.to_string(),
            minutes: wanted,
        })
    }

    /// Holds `minutes` more of `quota` for work that grows as it runs (a live stream); `false`
    /// when they are not there.
    pub async fn extend(&mut self, quota: u64, minutes: u64) -> Result<bool, ApiError> {
        let db = &self.hold.db;
        let mut lock = db
            .lock_subject(&self.subject)
            .await
            .map_err(ApiError::internal)?;
        let used = month_usage(&mut lock).await?;
        let (_, all_held) = lock.held().await.map_err(ApiError::internal)?;
        if used + all_held + minutes > quota {
            return Ok(false);
        }
        lock.add_minutes(&self.hold.id, minutes)
            .await
            .map_err(ApiError::internal)?;
        lock.commit().await.map_err(ApiError::internal)?;
        self.minutes += minutes;
        Ok(true)
    }
}
