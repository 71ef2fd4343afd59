//! The transcript workspace (`/api/v1/`, the seed's REST API): the caller's account, its
//! stored transcripts (`transcripts`), keys, usage and this server as its one "cloud"
//! instance. Every endpoint needs an account's key and sees only that account: another
//! account's ids answer 404, as unknown ones do, so they cannot be probed.

mod chat;
mod transcripts;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::{Json, Router};
use chrono::{Datelike, TimeZone, Utc};
use serde_json::{Value, json};

use crate::server::AppState;
use crate::server::auth::{self, account_subject};
use crate::server::error::{ApiError, Result};
use crate::server::request::read_json;
use crate::server::request::workspace::{profile_update, usage_days};
use crate::server::storage::accounts::{Account, ApiKey, KeyRevocation};

/// The workspace's routes, each with and without its trailing slash.
pub fn routes() -> Router<Arc<AppState>> {
    let routes: [(&str, MethodRouter<Arc<AppState>>); 12] = [
        (
            "/api/v1/account",
            routing::get(account)
                .put(update_account)
                .patch(update_account),
        ),
        (
            "/api/v1/transcripts",
            routing::get(transcripts::list).post(transcripts::create),
        ),
        (
            "/api/v1/transcripts/{id}",
            routing::get(transcripts::detail).delete(transcripts::delete),
        ),
        ("/api/v1/transcripts/{id}/chat", routing::post(chat::chat)),
        (
            "/api/v1/transcripts/{id}/analyze",
            routing::post(chat::analyze),
        ),
        (
            "/api/v1/transcripts/{id}/generate",
            routing::post(chat::generate),
        ),
        (
            "/api/v1/transcripts/{id}/export/{format}",
            routing::get(transcripts::export),
        ),
        ("/api/v1/keys", routing::get(list_keys).post(create_key)),
        ("/api/v1/keys/{id}", routing::delete(revoke_key)),
        ("/api/v1/usage", routing::get(usage)),
        ("/api/v1/cloud", routing::get(cloud)),
        ("/api/v1", routing::get(index)),
    ];
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, method)| {
            router
                .route(path, method.clone())
                .route(&format!("{path}/"), method)
        })
}

async fn caller_key(state: &AppState, headers: &HeaderMap) -> Result<ApiKey> {
    auth::authenticate_account(&state.db, &state.config, headers).await
}

/// `GET /api/v1/`: what is here.
async fn index() -> Json<Value> {
    Json(json!({
        "account": "/api/v1/account/",
        "transcripts": "/api/v1/transcripts/",
        "keys": "/api/v1/keys/",
        "usage": "/api/v1/usage/",
        "cloud": "/api/v1/cloud/",
    }))
}

async fn own_account(state: &AppState, key: &ApiKey) -> Result<Account> {
    state
        .db
        .account(&key.account_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unauthorized("this key's account was deleted"))
}

fn start_of_month() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// The account as its owner sees it: profile, plan and limits, and this month's usage.
async fn account_body(state: &AppState, key: &ApiKey) -> Result<Value> {
    let account = own_account(state, key).await?;
    let month = start_of_month();
    let days = state
        .db
        .usage_by_day(&account_subject(&account.id), month.timestamp())
        .await
        .map_err(ApiError::internal)?;
    let seconds: f64 = days.iter().map(|day| day.2).sum();
    let credits: u64 = days.iter().map(|day| day.3).sum();
    let mut body = serde_json::to_value(&account).map_err(|e| ApiError::internal(e.to_string()))?;
    body["period_start"] = json!(month.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    body["minutes_used"] = json!(minutes(seconds));
    body["credits_used"] = json!(credits);
    body["credits_remaining"] = json!(
        account
            .limits
            .monthly_minutes
            .map(|quota| quota.saturating_sub(credits))
    );
    Ok(body)
}

/// Minutes to the hundredth.
fn minutes(seconds: f64) -> f64 {
    (seconds / 60.0 * 100.0).round() / 100.0
}

/// `GET /api/v1/account/`.
async fn account(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>> {
    let key = caller_key(&state, &headers).await?;
    Ok(Json(account_body(&state, &key).await?))
}

/// `PUT` or `PATCH /api/v1/account/`: name, email and email preferences; the plan and
/// limits are the operator's (`stt accounts update`).
async fn update_account(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
) -> Result<Json<Value>> {
    let key = caller_key(&state, &headers).await?;
    let body: Value = read_json(request).await?;
    let account = own_account(&state, &key).await?;
    let profile = profile_update(&body, account.profile)?;
    state
        .db
        .update_profile(&account.id, &profile)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(account_body(&state, &key).await?))
}

/// A key as its account sees it: never the secret, nor the hash.
fn key_summary(key: &ApiKey) -> Value {
    json!({"id": key.id, "name": key.name, "prefix": key.prefix, "created": key.created})
}

/// `GET /api/v1/keys/`: the account's working keys.
async fn list_keys(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>> {
    let key = caller_key(&state, &headers).await?;
    let keys = state
        .db
        .account_keys(&key.account_id)
        .await
        .map_err(ApiError::internal)?;
    let results: Vec<Value> = keys.iter().map(key_summary).collect();
    Ok(Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    name: String,
}

const MAX_KEY_NAME_CHARS: usize = 200;

/// `POST /api/v1/keys/`: a new key of the caller's account; the raw key is in this answer
/// only.
async fn create_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let key = caller_key(&state, &headers).await?;
    // An empty body is a key without a name.
    let bytes = axum::body::to_bytes(request.into_body(), crate::server::request::MAX_JSON_BYTES)
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
    let spec: NewKey = match bytes.iter().all(u8::is_ascii_whitespace) {
        true => NewKey {
            name: String::new(),
        },
        false => serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?,
    };
    let name = spec.name.trim().to_string();
    if name.chars().count() > MAX_KEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "invalid `name`: at most {MAX_KEY_NAME_CHARS} characters, no control characters"
        )));
    }
    let (created, raw) = state
        .db
        .create_key(Some(&key.account_id), name, key.limits.clone())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unauthorized("this key's account was deleted"))?;
    let mut body = key_summary(&created);
    body["key"] = Value::String(raw);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /api/v1/keys/{id}/`: revokes one of the account's keys, never its last.
async fn revoke_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let key = caller_key(&state, &headers).await?;
    match state
        .db
        .revoke_account_key(&key.account_id, &id)
        .await
        .map_err(ApiError::internal)?
    {
        KeyRevocation::Revoked => Ok(StatusCode::NO_CONTENT),
        KeyRevocation::NotFound => Err(ApiError::not_found(format!("no key {id:?}"))),
        KeyRevocation::LastKey => Err(ApiError::new(
            StatusCode::CONFLICT,
            "this is the account's last key: create another before revoking it",
        )),
    }
}

/// `GET /api/v1/usage/`: requests, minutes and credits by UTC day, today last.
async fn usage(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let key = caller_key(&state, &headers).await?;
    let days = usage_days(query.as_deref())? as i64;
    let today = Utc::now().timestamp().div_euclid(86_400);
    let first = today - days + 1;
    let recorded = state
        .db
        .usage_by_day(&account_subject(&key.account_id), first * 86_400)
        .await
        .map_err(ApiError::internal)?;
    let (mut requests, mut seconds, mut credits) = (0, 0.0, 0);
    let days: Vec<Value> = (first..=today)
        .map(|day| {
            let (_, day_requests, day_seconds, day_credits) = recorded
                .iter()
                .copied()
                .find(|row| row.0 == day)
                .unwrap_or((day, 0, 0.0, 0));
            requests += day_requests;
            seconds += day_seconds;
            credits += day_credits;
            let date = chrono::DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default();
            json!({
                "date": date.format("%Y-%m-%d").to_string(),
                "requests": day_requests,
                "minutes": minutes(day_seconds),
                "credits": day_credits,
            })
        })
        .collect();
    Ok(Json(json!({
        "days": days,
        "total": {"requests": requests, "minutes": minutes(seconds), "credits": credits},
    })))
}

/// `GET /api/v1/cloud/`: the seed lists private cloud instances; here there is one, this
/// server, described as its health check does.
async fn cloud(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>> {
    caller_key(&state, &headers).await?;
    let models: Vec<&str> = state
        .catalog
        .models
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let gpu_available = state
        .workers
        .as_ref()
        .is_some_and(|workers| matches!(workers.device, stt_core::Device::Cuda(_)));
    let instance = json!({
        "id": state.node,
        "name": "this server",
        "status": "running",
        "version": env!("CARGO_PKG_VERSION"),
        "role": format!("{:?}", state.config.role).to_lowercase(),
        "models": models,
        "gpu_available": gpu_available,
    });
    Ok(Json(
        json!({"count": 1, "next": null, "previous": null, "results": [instance]}),
    ))
}
