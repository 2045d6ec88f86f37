//! `/__test/*` endpoints (only routed with `--test-hooks`).

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::state::{AppState, FaultPlan};
use crate::store::Store;
use crate::util::{json_error, json_response, parse_body, unavailable};

/// The test-hook routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/__test/faults", post(set_faults).get(get_faults))
        .route("/__test/clock", post(set_clock).get(get_clock))
        .route("/__test/revoke", post(revoke))
        .route("/__test/reset", post(reset))
        .route("/__test/stats", get(stats))
        .route("/__test/rotate-keys", post(rotate_keys))
        .route("/__test/dpop-nonce", post(rotate_dpop_nonce))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    count: Option<u32>,
    status: Option<u16>,
    retry_after: Option<u64>,
    delay_ms: Option<u64>,
    #[serde(default)]
    drop: bool,
    #[serde(default)]
    malformed: bool,
}

fn fault_json(f: &FaultPlan) -> serde_json::Value {
    json!({
        "count": f.remaining,
        "status": f.status,
        "retry_after": f.retry_after,
        "delay_ms": f.delay_ms,
        "drop": f.drop,
        "malformed": f.malformed,
    })
}

async fn set_faults(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(spec) = parse_body::<FaultSpec>(&headers, &body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if spec.status.is_some_and(|s| !(100..=599).contains(&s)) {
        return json_error(StatusCode::BAD_REQUEST, "invalid_status");
    }
    if spec.delay_ms.is_some_and(|d| d > 120_000) {
        return json_error(StatusCode::BAD_REQUEST, "delay_too_long");
    }
    let plan = FaultPlan {
        remaining: spec.count.unwrap_or(1),
        status: spec.status,
        retry_after: spec.retry_after,
        delay_ms: spec.delay_ms.unwrap_or(0),
        drop: spec.drop,
        malformed: spec.malformed,
    };
    let plan = if plan.remaining == 0 {
        FaultPlan::default()
    } else {
        plan
    };
    let out = fault_json(&plan);
    *state.faults() = plan;
    json_response(StatusCode::OK, &out)
}

async fn get_faults(State(state): State<AppState>) -> Response {
    let out = fault_json(&state.faults());
    json_response(StatusCode::OK, &out)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClockSpec {
    offset_secs: i64,
}

fn clock_json(state: &AppState) -> serde_json::Value {
    json!({
        "offset_secs": state.clock_offset_secs.load(Ordering::Relaxed),
        "now": state.now_secs(),
    })
}

async fn set_clock(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(spec) = parse_body::<ClockSpec>(&headers, &body) else {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    // Ten years either way is plenty and keeps all date arithmetic far from overflow.
    if spec.offset_secs.abs() > 10 * 366 * 86_400 {
        return json_error(StatusCode::BAD_REQUEST, "offset_out_of_range");
    }
    state
        .clock_offset_secs
        .store(spec.offset_secs, Ordering::Relaxed);
    json_response(StatusCode::OK, &clock_json(&state))
}

async fn get_clock(State(state): State<AppState>) -> Response {
    json_response(StatusCode::OK, &clock_json(&state))
}

async fn revoke(State(state): State<AppState>) -> Response {
    let n = match state.store.revoke_all().await {
        Ok(n) => n,
        Err(_) => return unavailable(),
    };
    state
        .stats
        .revocations
        .fetch_add(n as u64, Ordering::Relaxed);
    json_response(StatusCode::OK, &json!({ "revoked": n }))
}

async fn reset(State(state): State<AppState>) -> Response {
    if let Some(dpop) = &state.dpop {
        dpop.reset();
    }
    match state.reset().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => unavailable(),
    }
}

async fn stats(State(state): State<AppState>) -> Response {
    match state.stats_snapshot().await {
        Ok(s) => {
            let mut body = json!(s);
            if let Some(dpop) = &state.dpop {
                body["dpop"] = dpop.stats();
            }
            json_response(StatusCode::OK, &body)
        }
        Err(_) => unavailable(),
    }
}

/// `POST /__test/dpop-nonce`: a new DPoP nonce (with `--dpop-nonce`); the old one is stale.
async fn rotate_dpop_nonce(State(state): State<AppState>) -> Response {
    match state.dpop.as_ref().and_then(|d| d.rotate_nonce()) {
        Some(nonce) => json_response(StatusCode::OK, &json!({ "nonce": nonce })),
        None => json_error(StatusCode::NOT_FOUND, "dpop_nonce_off"),
    }
}

async fn rotate_keys(State(state): State<AppState>) -> Response {
    match crate::rotate_keys(&state).await {
        Ok(kid) => json_response(StatusCode::OK, &json!({ "kid": kid })),
        Err(e) => {
            eprintln!("error: {e}");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}
