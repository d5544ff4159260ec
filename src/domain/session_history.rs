//! A session's history as it is kept after the session ends.

use serde::{Deserialize, Serialize};

use crate::session::Millis;

/// Something that happened to a session, as history keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HistoryEvent {
    Created {
        interaction_id: Option<String>,
        channel: Option<String>,
        url: String,
    },
    Activated {
        agent: String,
    },
    PageVisited {
        url: String,
        title: String,
    },
    Control {
        outcome: String,
    },
    ModeChanged {
        mode: String,
        cause: String,
    },
    Ended {
        reason: String,
    },
}

impl HistoryEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            HistoryEvent::Created { .. } => "created",
            HistoryEvent::Activated { .. } => "activated",
            HistoryEvent::PageVisited { .. } => "page_visited",
            HistoryEvent::Control { .. } => "control",
            HistoryEvent::ModeChanged { .. } => "mode_changed",
            HistoryEvent::Ended { .. } => "ended",
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistorySummary {
    pub key: String,
    pub session_id: String,
    pub created_at: Millis,
    pub activated_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub end_reason: Option<String>,
    pub agent: Option<String>,
    pub interaction_id: Option<String>,
    pub channel: Option<String>,
    pub first_url: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TimedEvent {
    pub at: Millis,
    #[serde(flatten)]
    pub event: HistoryEvent,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryDetail {
    #[serde(flatten)]
    pub summary: HistorySummary,
    pub pages: Vec<TimedEvent>,
    pub mode_changes: Vec<TimedEvent>,
    pub events: Vec<TimedEvent>,
}

#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub agent: Option<String>,
    pub end_reason: Option<String>,
    pub limit: u32,
}

impl HistoryDetail {
    /// Splits a session's events into the views people ask for.
    pub fn from_events(summary: HistorySummary, events: Vec<TimedEvent>) -> Self {
        let pick =
            |f: fn(&HistoryEvent) -> bool| events.iter().filter(|e| f(&e.event)).cloned().collect();
        HistoryDetail {
            pages: pick(|e| {
                matches!(
                    e,
                    HistoryEvent::PageVisited { .. } | HistoryEvent::Created { .. }
                )
            }),
            mode_changes: pick(|e| {
                matches!(
                    e,
                    HistoryEvent::ModeChanged { .. } | HistoryEvent::Control { .. }
                )
            }),
            summary,
            events,
        }
    }
}
