//! The bytes that are hashed and signed: a domain tag, then each field in a
//! fixed order, integers as 8 bytes big-endian and strings length-prefixed,
//! so that no two different records can encode alike (see docs/audit.md).

use sha2::{Digest, Sha256};

use super::Hash;

pub(super) struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    pub(super) fn new(tag: &[u8]) -> Self {
        let mut e = Encoder {
            bytes: Vec::with_capacity(256),
        };
        e.raw(tag);
        e
    }

    pub(super) fn int(&mut self, n: u64) {
        self.bytes.extend_from_slice(&n.to_be_bytes());
    }

    pub(super) fn raw(&mut self, b: &[u8]) {
        self.int(b.len() as u64);
        self.bytes.extend_from_slice(b);
    }

    pub(super) fn str(&mut self, s: &str) {
        self.raw(s.as_bytes());
    }

    /// Absent is the byte 0; present is 1, then the string.
    pub(super) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.bytes.push(0),
            Some(s) => {
                self.bytes.push(1);
                self.str(s);
            }
        }
    }

    pub(super) fn bytes32(&mut self, h: &Hash) {
        self.bytes.extend_from_slice(h);
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub(super) fn finish(self) -> Hash {
        Sha256::digest(&self.bytes).into()
    }
}
