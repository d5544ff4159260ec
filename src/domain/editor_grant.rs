//! Grants for the visual restrictions editor.

use serde::{Deserialize, Serialize};

use crate::session::Millis;

/// What an editor token is: the one-time `link` in the URL fragment, or the
/// `session` token the overlay gets for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditorTokenKind {
    Link,
    Session,
}

impl EditorTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EditorTokenKind::Link => "link",
            EditorTokenKind::Session => "session",
        }
    }

    /// The kind [`EditorTokenKind::as_str`] names, if it names one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "link" => Some(EditorTokenKind::Link),
            "session" => Some(EditorTokenKind::Session),
            _ => None,
        }
    }
}

/// A grant for the visual restrictions editor: which administrator, which
/// site origin and page, which rule set it may save into, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EditorToken {
    #[serde(skip)]
    pub token_hash: String,
    pub kind: EditorTokenKind,
    pub account: String,
    pub origin: String,
    pub url: String,
    pub rule_set: String,
    pub url_pattern: String,
    pub expires_at: Millis,
}
