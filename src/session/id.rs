//! Session IDs: the nine digits a customer reads out to the agent.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A live session's public number. It identifies, it never authorises: the
/// customer proves itself with a separate secret token, the agent by signing in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct SessionId(u32);

const FIRST: u32 = 100_000_000;
const LAST: u32 = 999_999_999;

impl SessionId {
    /// Draws a random ID. Uniqueness among live sessions is the caller's job
    /// (it alone knows which are live, on one node or in Redis).
    pub fn random(rng: &mut impl Rng) -> Self {
        SessionId(rng.random_range(FIRST..=LAST))
    }

    pub fn value(self) -> u32 {
        self.0
    }

    /// The ID as the customer sees it: `123 456 789`.
    pub fn spaced(self) -> String {
        let s = self.0.to_string();
        format!("{} {} {}", &s[0..3], &s[3..6], &s[6..9])
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a session ID is nine digits, for example 123 456 789")]
pub struct BadSessionId;

impl FromStr for SessionId {
    type Err = BadSessionId;

    /// Accepts what a person types: spaces and dashes between the digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
            .collect();
        if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadSessionId);
        }
        let n: u32 = digits.parse().map_err(|_| BadSessionId)?;
        if n < FIRST {
            return Err(BadSessionId);
        }
        Ok(SessionId(n))
    }
}

impl TryFrom<String> for SessionId {
    type Error = BadSessionId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.to_string()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn random_ids_have_nine_digits_and_are_not_sequential() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let ids: Vec<SessionId> = (0..1000).map(|_| SessionId::random(&mut rng)).collect();
        assert!(ids.iter().all(|id| id.to_string().len() == 9));
        let sequential = ids.windows(2).filter(|w| w[1].0 == w[0].0 + 1).count();
        assert_eq!(sequential, 0);
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(
            "123 456 789".parse::<SessionId>().unwrap().value(),
            123_456_789
        );
        assert_eq!(
            "123-456-789".parse::<SessionId>().unwrap().value(),
            123_456_789
        );
        assert_eq!(
            " 123456789 ".parse::<SessionId>().unwrap().spaced(),
            "123 456 789"
        );
        assert_eq!("12345678".parse::<SessionId>(), Err(BadSessionId));
        assert_eq!("1234567890".parse::<SessionId>(), Err(BadSessionId));
        assert_eq!("12345678x".parse::<SessionId>(), Err(BadSessionId));
        assert_eq!("012345678".parse::<SessionId>(), Err(BadSessionId));
    }
}
