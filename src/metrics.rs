//! Prometheus metrics: what an operator watches (see README "Operations").

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const SESSIONS: &str = "cobrowse_sessions";
pub const CONNECTIONS: &str = "cobrowse_connections";
pub const MESSAGES_RELAYED: &str = "cobrowse_messages_relayed_total";
pub const BYTES_RELAYED: &str = "cobrowse_bytes_relayed_total";
pub const MESSAGES_DROPPED: &str = "cobrowse_messages_dropped_total";
pub const AGENT_INPUT_DROPPED: &str = "cobrowse_agent_input_dropped_total";
pub const PROTOCOL_ERRORS: &str = "cobrowse_protocol_errors_total";
pub const JOIN_REFUSALS: &str = "cobrowse_join_refusals_total";
pub const SESSIONS_CREATED: &str = "cobrowse_sessions_created_total";
pub const SESSION_ENDS: &str = "cobrowse_session_ends_total";
pub const RELAY_LATENCY: &str = "cobrowse_relay_latency_seconds";
pub const WEBHOOK_DELIVERIES: &str = "cobrowse_webhook_deliveries_total";
/// Sign-ins through an OpenID provider, by provider and outcome (`signed_in`,
/// `refused`: the person does not qualify, at sign-in or when checked again,
/// `revoked`: the provider refused to refresh a sign-in, `failed`: the answer was
/// not trusted or the provider could not be reached).
pub const SSO_SIGN_INS: &str = "cobrowse_sso_sign_ins_total";
/// Connections closed as accepted: their address held `connections.per_ip` already.
pub const CONNECTIONS_REFUSED: &str = "cobrowse_connections_refused_total";

/// Audit records kept.
pub const AUDIT_RECORDS: &str = "cobrowse_audit_records_total";
/// Something the audit trail should hold and does not, by `reason`
/// (`queue_full`, `store`, `checkpoint`, `retention`, `tampered`: the
/// database's end of this node's chain is not what this node wrote): alert on any increase.
pub const AUDIT_APPEND_FAILURES: &str = "cobrowse_audit_append_failures_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process (tests start several servers).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(RELAY_LATENCY.into()), &buckets)
                .expect("buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist in tests that embed the server; keep ours readable anyway.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub fn counter_delivery(status: &str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "status" => status.to_string()).increment(1);
}
