//! Where session events are sent, and how each sending went.

use serde::Serialize;

use crate::session::Millis;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub created_at: Millis,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub url: String,
    pub event: String,
    pub status: String,
    pub attempts: u32,
    pub error: Option<String>,
    pub at: Millis,
}
