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

backend_tests!(search_indexes_are_declared);

/// Every full-text index is declared with the table it indexes, and only those exist.
async fn search_indexes_are_declared(store: Store) {
    let live = store.live_search_indexes().await.unwrap();
    let declared: Vec<String> = switchboard_core::inventory::SEARCH_INDEXES
        .iter()
        .map(|i| i.name.to_owned())
        .collect();
    assert_eq!(live, declared);
    for index in switchboard_core::inventory::SEARCH_INDEXES {
        let table = switchboard_core::inventory::table(index.table).unwrap();
        for c in index.columns {
            assert!(table.column(c).is_some(), "{}: {c}", index.name);
        }
    }
}
