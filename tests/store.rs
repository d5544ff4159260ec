//! The same store behaviour on both databases.

mod common;

#[path = "common/store_contract.rs"]
mod contract;

use cobrowse::store::{SqlStore, Store};
use common::services::Postgres;

#[tokio::test]
async fn sqlite_keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("t.sqlite"))
        .await
        .unwrap();
    contract::check(&store).await;
}

#[tokio::test]
#[cfg_attr(
    missing_postgres,
    ignore = "needs PostgreSQL (scripts/test installs it)"
)]
async fn postgres_keeps_the_store_contract() {
    let pg = Postgres::start();
    let store = SqlStore::connect(&pg.url()).await.unwrap();
    contract::check(&store).await;
    // Migrations run once: a second node connecting finds the schema in place.
    let again = SqlStore::connect(&pg.url()).await.unwrap();
    assert_eq!(again.accounts().await.unwrap().len(), 3);
}
