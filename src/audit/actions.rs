//! What the trail keeps of an agent's acts in write mode and of the customer
//! page's refusals. Both come from clients, so nothing of a frame is kept
//! as sent: the kind is checked against the protocol's, every string is cut
//! short, and no typed value, chosen option or page text is ever kept.

use serde_json::{Value, json};

use super::Auditor;
use crate::domain::audit::cap;
use crate::live::agent_actor;
use crate::protocol::AGENT_INPUT;
use crate::session::SessionId;

/// Deliberate acts; pointer motion and scrolling are too many and say nothing
/// a dispute turns on.
const KEPT: &[&str] = &[
    "click", "dblclick", "key", "type", "select", "check", "set", "navigate",
];

/// Named keys are kept (Enter, Tab…); a single character is something typed.
fn key_name(m: &Value) -> Option<String> {
    let k = m.get("key").and_then(Value::as_str)?;
    (k.chars().count() > 1).then(|| cap(k, 20))
}

/// The node an action aimed at, as the agent's view numbers it.
fn node(m: &Value) -> Option<u64> {
    m.get("i").and_then(Value::as_u64)
}

/// `None` for frames the trail does not keep (or that are not agent input).
pub fn agent_action(text: &str) -> Option<(&'static str, Value)> {
    let m: Value = serde_json::from_str(text).ok()?;
    let t = m.get("t")?.as_str()?;
    let kind = *KEPT.iter().find(|k| **k == t)?;
    debug_assert!(AGENT_INPUT.contains(&kind));
    let mut detail = json!({ "action": kind, "node": node(&m) });
    match kind {
        "key" => detail["key"] = key_name(&m).into(),
        "navigate" => {
            if let Some(to) = m.get("to").and_then(Value::as_str) {
                detail["to"] = cap(to, 10).into();
            } else if let Some(url) = m.get("url").and_then(Value::as_str) {
                // Where to, not what the address carries.
                let origin = url::Url::parse(url).map(|u| u.origin().ascii_serialization());
                detail["to"] = origin
                    .unwrap_or_else(|_| "unreadable address".into())
                    .into();
            }
        }
        _ => {}
    }
    Some((kind, detail))
}

/// A customer page's `notice`: an agent's action it refused, and why.
pub fn refusal(text: &str) -> Option<Value> {
    let m: Value = serde_json::from_str(text).ok()?;
    if m.get("t")?.as_str()? != "notice" {
        return None;
    }
    let re = m.get("re").and_then(Value::as_str)?;
    let action = AGENT_INPUT.iter().find(|k| **k == re)?;
    let code = m.get("code").and_then(Value::as_str).map(|c| cap(c, 40));
    Some(json!({ "action": action, "code": code, "node": node(&m) }))
}

/// A customer page's `applied`: the element an agent's action reached, as the page
/// describes it (tag, ID, name, selector; never a value), each cut short.
pub fn applied(text: &str) -> Option<Value> {
    let m: Value = serde_json::from_str(text).ok()?;
    if m.get("t")?.as_str()? != "applied" {
        return None;
    }
    let re = m.get("re").and_then(Value::as_str)?;
    let action = KEPT.iter().find(|k| **k == re)?;
    let field = |name: &str, max: usize| m.get(name).and_then(Value::as_str).map(|v| cap(v, max));
    let tag = field("tag", 20).filter(|t| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    Some(json!({
        "action": action,
        "node": node(&m),
        "tag": tag,
        "id": field("id", 64),
        "name": field("name", 64),
        "sel": field("sel", 160),
    }))
}

impl Auditor {
    /// An agent's input relayed to the customer's page in write mode.
    pub fn agent_input(&self, session: SessionId, agent: &str, text: &str) {
        if let Some((_, detail)) = agent_action(text) {
            self.record(
                &agent_actor(agent),
                Some(&session.to_string()),
                "agent.action",
                detail,
            );
        }
    }

    /// An agent's input the server refused (write mode is off).
    pub fn agent_input_refused(&self, session: SessionId, agent: &str, text: &str, why: &str) {
        if let Some((_, mut detail)) = agent_action(text) {
            detail["refused_by"] = "server".into();
            detail["why"] = cap(why, 80).into();
            self.record(
                &agent_actor(agent),
                Some(&session.to_string()),
                "agent.action_refused",
                detail,
            );
        }
    }

    /// What the customer's page said of an agent's action: refused (`notice`), or
    /// applied to the element it describes (`applied`). The page is named as the source.
    pub fn customer_report(&self, session: SessionId, text: &str) {
        let session = session.to_string();
        if let Some(mut detail) = refusal(text) {
            detail["refused_by"] = "customer page".into();
            self.record("customer", Some(&session), "agent.action_refused", detail);
        } else if let Some(mut detail) = applied(text) {
            detail["described_by"] = "customer page".into();
            self.record("customer", Some(&session), "agent.action_applied", detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_and_chosen_values_are_never_kept() {
        let (kind, d) =
            agent_action(r#"{"v":1,"t":"type","s":3,"i":42,"text":"4111 1111"}"#).unwrap();
        assert_eq!(kind, "type");
        assert_eq!(d, json!({ "action": "type", "node": 42 }));
        let (_, d) = agent_action(r#"{"v":1,"t":"select","i":7,"value":"gold"}"#).unwrap();
        assert!(!d.to_string().contains("gold"));
        let (_, d) = agent_action(r#"{"v":1,"t":"key","i":7,"key":"a"}"#).unwrap();
        assert_eq!(d["key"], Value::Null);
        let (_, d) = agent_action(r#"{"v":1,"t":"key","i":7,"key":"Enter"}"#).unwrap();
        assert_eq!(d["key"], "Enter");
    }

    #[test]
    fn navigation_keeps_the_origin_only_and_motion_is_not_kept() {
        let (_, d) =
            agent_action(r#"{"v":1,"t":"navigate","url":"https://shop.example/pay?card=1"}"#)
                .unwrap();
        assert_eq!(d["to"], "https://shop.example");
        assert!(agent_action(r#"{"v":1,"t":"move","i":1}"#).is_none());
        assert!(agent_action(r#"{"v":1,"t":"snapshot"}"#).is_none());
    }

    #[test]
    fn an_applied_action_keeps_a_bounded_description_and_refuses_forged_names() {
        let long = "x".repeat(500);
        let text = format!(
            r#"{{"v":1,"t":"applied","re":"type","i":4,"tag":"input","id":"{long}","name":"card","sel":"form>input","value":"4111"}}"#
        );
        let d = applied(&text).unwrap();
        assert_eq!(
            (d["tag"].as_str(), d["name"].as_str()),
            (Some("input"), Some("card"))
        );
        assert_eq!(d["id"].as_str().unwrap().len(), 64);
        assert!(!d.to_string().contains("4111"));
        let odd = r#"{"v":1,"t":"applied","re":"click","tag":"<script>"}"#;
        assert_eq!(applied(odd).unwrap()["tag"], Value::Null);
        assert!(applied(r#"{"v":1,"t":"applied","re":"move"}"#).is_none());
    }

    #[test]
    fn a_refusal_names_a_known_action_with_its_code_cut_short() {
        let long = "x".repeat(500);
        let text = format!(r#"{{"v":1,"t":"notice","re":"click","i":9,"code":"{long}"}}"#);
        let d = refusal(&text).unwrap();
        assert_eq!(d["action"], "click");
        assert_eq!(d["code"].as_str().unwrap().len(), 40);
        assert!(refusal(r#"{"v":1,"t":"notice","re":"forged","code":"x"}"#).is_none());
    }
}
