//! Who is calling (a key, or an anonymous IP where allowed) and whether they may start one
//! more transcription: daily count, monthly minutes, uploads and requests at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use chrono::{Datelike, TimeZone, Utc};

use super::config::ServeConfig;
use super::error::{ApiError, MB};
use super::storage::db::{ApiKey, Db, Plan, hex};

#[derive(Debug, Clone)]
pub enum Caller {
    Key(ApiKey),
    Anonymous(IpAddr),
}

impl Caller {
    /// The name usage and jobs are kept under.
    pub fn subject(&self) -> String {
        match self {
            Caller::Key(key) => format!("key:{}", key.id),
            Caller::Anonymous(ip) => format!("ip:{ip}"),
        }
    }

    pub fn max_upload_bytes(&self, config: &ServeConfig) -> u64 {
        let own = match self {
            Caller::Key(key) => key.max_upload_mb * MB,
            Caller::Anonymous(_) => config.anonymous_max_upload_mb * MB,
        };
        own.min(config.max_upload_bytes())
    }

    fn concurrency(&self, config: &ServeConfig) -> u32 {
        match self {
            Caller::Key(key) => key.concurrency,
            Caller::Anonymous(_) => config.anonymous_concurrency,
        }
    }
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

pub fn authenticate(
    db: &Db,
    config: &ServeConfig,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<Caller, ApiError> {
    match bearer(headers)? {
        Some(raw) => match db.key_by_raw(raw).map_err(ApiError::internal)? {
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

/// Requests in progress per subject.
#[derive(Default)]
pub struct InFlight(Mutex<HashMap<String, u32>>);

/// A request slot; the count goes down when it is dropped.
pub struct Slot {
    in_flight: Arc<InFlight>,
    subject: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.in_flight.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.subject) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.subject);
            }
        }
    }
}

/// Leave to start a transcription: the slot it occupies and the minutes it may use.
pub struct Admission {
    _slot: Slot,
    pub budget_minutes: Option<u64>,
}

pub fn admit(
    db: &Db,
    config: &ServeConfig,
    in_flight: &Arc<InFlight>,
    caller: &Caller,
) -> Result<Admission, ApiError> {
    let subject = caller.subject();
    let now = Utc::now();
    let budget_minutes = match caller {
        Caller::Anonymous(_) => {
            let day_start = Utc
                .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
                .single()
                .unwrap_or(now);
            let (count, _) = db
                .usage_since(&subject, day_start.timestamp())
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
        Caller::Key(key) => match key.monthly_minutes {
            None => None,
            Some(quota) => {
                let month_start = Utc
                    .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                    .single()
                    .unwrap_or(now);
                let (_, used) = db
                    .usage_since(&subject, month_start.timestamp())
                    .map_err(ApiError::internal)?;
                if used >= quota {
                    return Err(ApiError::new(
                        StatusCode::PAYMENT_REQUIRED,
                        format!("No credits remaining: {used} of {quota} minutes used this month"),
                    ));
                }
                Some(quota - used)
            }
        },
    };

    let unfinished_jobs = db.unfinished_jobs(&subject).map_err(ApiError::internal)?;
    let mut counts = in_flight.0.lock().unwrap_or_else(|e| e.into_inner());
    let running = counts.get(&subject).copied().unwrap_or(0);
    let limit = caller.concurrency(config);
    if running + unfinished_jobs >= limit {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests at once: the limit is {limit}; wait for one to finish"),
        )
        .retry_after(5));
    }
    *counts.entry(subject.clone()).or_default() += 1;
    Ok(Admission {
        _slot: Slot {
            in_flight: Arc::clone(in_flight),
            subject,
        },
        budget_minutes,
    })
}

/// Makes a key: the raw secret is returned once and only its hash is stored. Limits not
/// given come from the plan.
pub fn create_key(
    db: &Db,
    name: String,
    plan: Plan,
    monthly_minutes: Option<u64>,
    concurrency: Option<u32>,
    max_upload_mb: Option<u64>,
) -> Result<(ApiKey, String), String> {
    let (plan_minutes, plan_upload, plan_concurrency) = plan.defaults();
    let mut secret = [0u8; 24];
    rand::fill(&mut secret);
    let raw = format!("stt_{}", hex(&secret));
    let key = ApiKey {
        id: format!("key_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        name,
        plan,
        monthly_minutes: monthly_minutes.or(plan_minutes),
        max_upload_mb: max_upload_mb.unwrap_or(plan_upload),
        concurrency: concurrency.unwrap_or(plan_concurrency).max(1),
        created: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        revoked: false,
    };
    db.insert_key(&key, &raw)?;
    Ok((key, raw))
}
