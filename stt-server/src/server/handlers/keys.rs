//! Key management over HTTP (section 6), for the operator's admin key only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::AppState;
use crate::server::auth;
use crate::server::error::{ApiError, Result};
use crate::server::request::read_json;
use crate::server::storage::accounts::{Limits, Plan};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    #[serde(default)]
    name: String,
    /// An existing account to add the key to; without it, a new account of its own with
    /// the limits below.
    account: Option<String>,
    plan: Option<Plan>,
    monthly_minutes: Option<u64>,
    concurrency: Option<u32>,
    max_upload_mb: Option<u64>,
}

/// `POST /v1/keys` (operator): the raw key is in this answer only.
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    auth::authenticate_admin(&state.config, &headers)?;
    let spec: NewKey = read_json(request).await?;
    let limits = Limits::of_plan(
        spec.plan.unwrap_or(Plan::Free),
        spec.monthly_minutes,
        spec.max_upload_mb,
        spec.concurrency,
    );
    let (key, raw) = state
        .db
        .create_key(spec.account.as_deref(), spec.name, limits)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no account {:?}", spec.account)))?;
    let mut body = serde_json::to_value(key).map_err(|e| ApiError::internal(e.to_string()))?;
    body["key"] = Value::String(raw);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/keys` (operator).
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    auth::authenticate_admin(&state.config, &headers)?;
    let keys = state.db.keys().await.map_err(ApiError::internal)?;
    Ok(Json(json!({"keys": keys})))
}

/// `DELETE /v1/keys/{id}` (operator).
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    auth::authenticate_admin(&state.config, &headers)?;
    match state.db.revoke_key(&id).await.map_err(ApiError::internal)? {
        true => Ok(Json(json!({"id": id, "revoked": true}))),
        false => Err(ApiError::not_found(format!("no key {id:?}"))),
    }
}
