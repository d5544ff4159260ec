//! Every promise played by an attacker: a hostile page, a raw-protocol client, a forged
//! token, a slow or malicious network peer. Each module is one kind of attacker; each test
//! fails if the promise it names breaks. `docs/security.md` maps them to the threat model.

#[path = "../common/mod.rs"]
mod common;
mod flood;
mod forged_admin;
mod fuzz;
mod headers;
mod interaction;
mod proxy;
mod resume_oracle;
mod slowloris;
mod webhooks;
mod websocket;
