//! The demo shop's form endpoint: records what was submitted (field names
//! only, never values) so a person or a test can see whether a submit happened.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::clock::now_ms;
use crate::session::Millis;

const KEPT: usize = 200;

#[derive(Clone, Serialize)]
pub struct Submission {
    form: String,
    fields: Vec<String>,
    at: Millis,
}

#[derive(Default)]
pub struct Submissions(Mutex<VecDeque<Submission>>);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/demo/api/submit", post(submit))
        .route("/demo/api/submissions", get(list))
}

#[derive(Deserialize)]
struct FormName {
    form: String,
}

async fn submit(
    State(app): State<AppState>,
    Query(q): Query<FormName>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !app.config.demo {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let form: String = q
        .form
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let mut kept = app.demo.0.lock().expect("demo lock");
    if kept.len() == KEPT {
        kept.pop_front();
    }
    kept.push_back(Submission {
        form: form.clone(),
        fields: fields.into_iter().map(|(k, _)| k).collect(),
        at: now_ms(),
    });
    Redirect::to(&format!("/demo/thanks.html?form={form}")).into_response()
}

async fn list(State(app): State<AppState>) -> Json<Vec<Submission>> {
    Json(
        app.demo
            .0
            .lock()
            .expect("demo lock")
            .iter()
            .cloned()
            .collect(),
    )
}
