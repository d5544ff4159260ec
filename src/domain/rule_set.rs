//! Rule sets: what to mask, disable and block on the pages a URL pattern names.

use serde::{Deserialize, Serialize};

use super::url_pattern::url_matches;
use crate::session::Millis;

/// The three lists a rule set holds, as CSS selectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub mask: Vec<String>,
    pub disable: Vec<String>,
    pub block: Vec<String>,
}

impl Rules {
    pub fn extend(&mut self, other: &Rules) {
        self.mask.extend(other.mask.iter().cloned());
        self.disable.extend(other.disable.iter().cloned());
        self.block.extend(other.block.iter().cloned());
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleSet {
    pub id: i64,
    pub name: String,
    /// A URL with `*` wildcards, e.g. `https://shop.example/checkout*`.
    pub url_pattern: String,
    pub rules: Rules,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: Millis,
}

/// One saved state of a rule set: who changed it, when, and to what. A
/// deletion is a version too (`deleted`, with the content it had).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleSetVersion {
    pub version: i64,
    pub name: String,
    pub url_pattern: String,
    pub rules: Rules,
    pub changed_by: String,
    pub changed_at: Millis,
    pub deleted: bool,
}

/// The union of the rules of every set whose pattern matches the page.
pub fn rules_for(sets: &[RuleSet], url: &str) -> Rules {
    let mut rules = Rules::default();
    for set in sets.iter().filter(|s| url_matches(&s.url_pattern, url)) {
        rules.extend(&set.rules);
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_matching_sets_are_merged() {
        let set = |p: &str, m: &str| RuleSet {
            id: 1,
            name: p.into(),
            url_pattern: p.into(),
            rules: Rules {
                mask: vec![m.into()],
                ..Rules::default()
            },
            version: 1,
            updated_by: "x".into(),
            updated_at: 0,
        };
        let sets = [
            set("*", "#a"),
            set("*/checkout*", "#b"),
            set("*/account*", "#c"),
        ];
        assert_eq!(
            rules_for(&sets, "https://s/checkout").mask,
            vec!["#a", "#b"]
        );
    }
}
