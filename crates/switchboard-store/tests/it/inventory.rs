//! The personal-data inventory must describe the live schema exactly, on both backends.

use std::collections::BTreeSet;
use switchboard_core::inventory::TABLES;
use switchboard_store::{Store, backend_tests};

backend_tests!(inventory_covers_the_live_schema);

async fn inventory_covers_the_live_schema(store: Store) {
    let live = store.live_columns().await.unwrap();
    assert!(live.len() > 20, "schema looks empty: {live:?}");
    let live: BTreeSet<(String, String)> = live.into_iter().map(|c| (c.table, c.column)).collect();
    let declared: BTreeSet<(String, String)> = TABLES
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(|c| (t.name.to_owned(), c.name.to_owned()))
        })
        .collect();
    let unclassified: Vec<_> = live.difference(&declared).collect();
    assert!(
        unclassified.is_empty(),
        "columns missing from switchboard_core::inventory: {unclassified:?}"
    );
    let stale: Vec<_> = declared.difference(&live).collect();
    assert!(
        stale.is_empty(),
        "inventory names columns the schema lacks: {stale:?}"
    );
}
