//! Signed checkpoints: the heads of the chains at a moment, signed with the
//! server's Ed25519 key. A checkpoint fixes every record up to each head; one
//! left by retention also names the last record it deleted of each chain, so
//! that what remains still starts from something signed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::encoding::Encoder;
use super::{GENESIS, Hash};
use crate::session::Millis;

/// Why a checkpoint was signed.
pub const PERIODIC: &str = "periodic";
pub const SESSION_END: &str = "session_end";
pub const RETENTION: &str = "retention";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Head {
    pub node: String,
    pub seq: u64,
    #[serde(with = "hex32")]
    #[schema(value_type = String)]
    pub hash: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checkpoint {
    /// The node that signed it; each node keeps its own chain of checkpoints.
    pub node: String,
    pub seq: u64,
    pub at: Millis,
    pub reason: String,
    pub heads: Vec<Head>,
    /// Retention only: the last deleted record of each chain it shortened.
    pub pruned: Vec<Head>,
    /// Digest of the signed payload of this node's previous checkpoint.
    #[serde(with = "hex32")]
    #[schema(value_type = String)]
    pub prev: Hash,
    /// The Ed25519 public key that signed it.
    #[serde(with = "hex32")]
    #[schema(value_type = String)]
    pub key: [u8; 32],
    #[serde(with = "hex64")]
    #[schema(value_type = String)]
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// The signed bytes: every field but the signature.
    pub fn payload(&self) -> Vec<u8> {
        let mut e = Encoder::new(b"cobrowse-audit-checkpoint-v1");
        e.str(&self.node);
        e.int(self.seq);
        e.int(self.at);
        e.str(&self.reason);
        for heads in [&self.heads, &self.pruned] {
            e.int(heads.len() as u64);
            for h in heads {
                e.str(&h.node);
                e.int(h.seq);
                e.bytes32(&h.hash);
            }
        }
        e.bytes32(&self.prev);
        e.bytes32(&self.key);
        e.into_bytes()
    }

    /// What the next checkpoint of the same node links to.
    pub fn digest(&self) -> Hash {
        use sha2::Digest;
        sha2::Sha256::digest(self.payload()).into()
    }

    pub fn signature_valid(&self) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.key) else {
            return false;
        };
        key.verify_strict(&self.payload(), &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the audit key must be 64 hex digits (an Ed25519 seed)")]
    Malformed,
}

/// The key checkpoints are signed with.
pub struct CheckpointKey(SigningKey);

impl CheckpointKey {
    pub fn generate(rng: &mut impl rand::Rng) -> Self {
        CheckpointKey(SigningKey::from_bytes(&rng.random()))
    }

    /// The key file's text: the seed in hex.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::Malformed)?;
        Ok(CheckpointKey(SigningKey::from_bytes(&seed)))
    }

    pub fn to_text(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs the next checkpoint after `previous` (this node's last one, if any).
    pub fn sign(
        &self,
        node: &str,
        previous: Option<&Checkpoint>,
        at: Millis,
        reason: &str,
        heads: Vec<Head>,
        pruned: Vec<Head>,
    ) -> Checkpoint {
        let mut c = Checkpoint {
            node: node.to_string(),
            seq: previous.map_or(1, |p| p.seq + 1),
            at,
            reason: reason.to_string(),
            heads,
            pruned,
            prev: previous.map_or(GENESIS, Checkpoint::digest),
            key: self.public(),
            signature: [0; 64],
        };
        c.signature = self.0.sign(&c.payload()).to_bytes();
        c
    }
}

macro_rules! hex_array {
    ($name:ident, $n:literal) => {
        /// Fixed-size bytes as hex in JSON.
        pub mod $name {
            use serde::{Deserialize, Deserializer, Serializer, de::Error};

            pub fn serialize<S: Serializer>(b: &[u8; $n], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(b))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; $n], D::Error> {
                let text = String::deserialize(d)?;
                let mut out = [0u8; $n];
                hex::decode_to_slice(&text, &mut out)
                    .map_err(|_| D::Error::custom(concat!($n, " hex-encoded bytes expected")))?;
                Ok(out)
            }
        }
    };
}

hex_array!(hex32, 32);
hex_array!(hex64, 64);
