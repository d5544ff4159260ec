//! The audit trail over the REST API: the checkpoint key (public, so that
//! anyone can check an export) and the records of a session or a span of time,
//! with whether they verify.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::parse_time;
use super::caller::Operator;
use super::error::{ApiError, ApiResult};
use crate::audit::trail::{Selection, select};
use crate::domain::audit::Record;
use crate::session::Millis;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_key))
        .routes(routes!(read_trail))
}

#[derive(Serialize, ToSchema)]
struct PublicKey {
    /// Ed25519 public key (64 hex digits) that signs this node's checkpoints.
    public_key: String,
    /// This node's chain.
    node: String,
}

/// The key audit checkpoints are signed with: compare it with an export's.
#[utoipa::path(
    get,
    path = "/audit/public-key",
    tag = "audit",
    security(()),
    responses((status = 200, body = PublicKey)),
)]
async fn public_key(State(app): State<AppState>) -> Json<PublicKey> {
    Json(PublicKey {
        public_key: hex::encode(app.live.audit.public_key()),
        node: app.live.audit.node().to_string(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TrailQuery {
    /// A session's records (its nine-digit ID).
    session: Option<String>,
    /// Made at or after: milliseconds since the epoch or an RFC 3339 date-time.
    from: Option<String>,
    /// Made at or before: milliseconds since the epoch or an RFC 3339 date-time.
    to: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AuditRecord {
    node: String,
    seq: u64,
    at: Millis,
    /// `customer`, `agent:NAME`, `admin:NAME`, `api-key:NAME`, `sso:PROVIDER`, `system`.
    actor: String,
    session: Option<String>,
    kind: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// SHA-256 of the record (hex), as its chain links it.
    hash: String,
}

#[derive(Serialize, ToSchema)]
struct Verification {
    /// The stretch of each chain holding these records verified.
    verified: bool,
    /// Records not yet covered by a signed checkpoint (signed within a minute).
    unattested: u64,
    /// The first thing found wrong, naming the record or checkpoint.
    failure: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Trail {
    records: Vec<AuditRecord>,
    verification: Verification,
}

impl From<Record> for AuditRecord {
    fn from(r: Record) -> Self {
        let c = r.content.expect("selected records are shown whole");
        AuditRecord {
            node: r.node,
            seq: r.seq,
            at: c.at,
            actor: c.actor,
            session: c.session,
            kind: c.kind,
            detail: serde_json::from_str(&c.detail).unwrap_or(serde_json::Value::String(c.detail)),
            hash: hex::encode(r.hash),
        }
    }
}

/// Audit records of a session or a span of time, oldest first per node, and
/// whether they verify against the signed checkpoints.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    params(TrailQuery),
    responses(
        (status = 200, body = Trail),
        (status = 400, body = super::error::ErrorBody),
    ),
)]
async fn read_trail(
    _: Operator,
    State(app): State<AppState>,
    Query(q): Query<TrailQuery>,
) -> ApiResult<Json<Trail>> {
    let selection = Selection {
        session: q.session,
        from: q
            .from
            .as_deref()
            .map(|s| parse_time(s, "from"))
            .transpose()?,
        to: q.to.as_deref().map(|s| parse_time(s, "to")).transpose()?,
    };
    if selection.session.is_none() && selection.from.is_none() && selection.to.is_none() {
        return Err(ApiError::bad_request(
            "give a session, or from and to: the whole trail is `cobrowse audit export`",
        ));
    }
    let (records, verified) =
        select(app.store.as_ref(), &selection, app.live.audit.trusted()).await?;
    let verification = match verified {
        Ok(report) => Verification {
            verified: true,
            unattested: report.unattested,
            failure: None,
        },
        Err(failure) => Verification {
            verified: false,
            unattested: 0,
            failure: Some(failure.to_string()),
        },
    };
    Ok(Json(Trail {
        records: records.into_iter().map(AuditRecord::from).collect(),
        verification,
    }))
}
