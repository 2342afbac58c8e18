//! The opt-in ledger and the template catalogue.

use crate::channels_fixtures::{fixture, text_from};
use crate::t0;
use switchboard_store::consent::{ConsentKind, NewOptIn};
use switchboard_store::messages::Direction;
use switchboard_store::templates::TemplateSpec;
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    opt_in_is_recorded_once_and_withdrawn_with_history,
    template_sync_replaces_the_catalogue,
);

async fn opt_in_is_recorded_once_and_withdrawn_with_history(store: Store) {
    let f = fixture(&store, "acme").await;
    let contact = f
        .ingest(
            &store,
            &text_from("346", "wamid.1", "hi", t0()),
            Direction::Inbound,
        )
        .await
        .contact_id;
    let kind = ConsentKind::WhatsappMarketing;
    assert!(
        !store
            .has_opt_in(f.ws, contact, f.conn.id, kind)
            .await
            .unwrap()
    );
    let new = NewOptIn {
        contact,
        connection: f.conn.id,
        kind,
        source: "website_form",
        proof: Some("https://shop.example/signup, checkbox 'WhatsApp offers'"),
        granted_at: t0(),
        recorded_by: None,
    };
    let mut tx = store.begin().await.unwrap();
    let id = tx.record_opt_in(f.ws, &new, t0()).await.unwrap();
    assert_eq!(tx.record_opt_in(f.ws, &new, t0()).await.unwrap(), id);
    tx.commit().await.unwrap();
    assert!(
        store
            .has_opt_in(f.ws, contact, f.conn.id, kind)
            .await
            .unwrap()
    );
    assert!(
        !store
            .has_opt_in(f.ws, contact, f.conn.id, ConsentKind::WhatsappUtility)
            .await
            .unwrap()
    );

    let later = t0() + Duration::days(3);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.withdraw_opt_in(f.ws, contact, f.conn.id, kind, later)
            .await
            .unwrap()
    );
    assert!(
        !tx.withdraw_opt_in(f.ws, contact, f.conn.id, kind, later)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(
        !store
            .has_opt_in(f.ws, contact, f.conn.id, kind)
            .await
            .unwrap()
    );

    // Granted again: the ledger keeps both periods.
    let mut tx = store.begin().await.unwrap();
    let again = tx.record_opt_in(f.ws, &new, later).await.unwrap();
    tx.commit().await.unwrap();
    assert_ne!(again, id);
    let ledger = store.consent_records(f.ws, contact).await.unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(
        ledger.iter().filter(|r| r.withdrawn_at.is_some()).count(),
        1
    );
    assert_eq!(
        ConsentKind::for_template_category("MARKETING"),
        Some(ConsentKind::WhatsappMarketing)
    );
}

fn spec(name: &str, language: &str, status: &str) -> TemplateSpec {
    TemplateSpec {
        name: name.into(),
        language: language.into(),
        category: "UTILITY".into(),
        status: status.into(),
        body: "Your order {{1}} ships on {{2}}.".into(),
        parameter_count: 2,
    }
}

async fn template_sync_replaces_the_catalogue(store: Store) {
    let f = fixture(&store, "acme").await;
    let mut tx = store.begin().await.unwrap();
    tx.replace_templates(
        f.ws,
        f.conn.id,
        &[
            spec("order_update", "en", "APPROVED"),
            spec("order_update", "es", "PENDING"),
        ],
        t0(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let t = store
        .template(f.ws, f.conn.id, "order_update", "en")
        .await
        .unwrap()
        .unwrap();
    assert!(t.is_approved());
    assert_eq!(t.spec.parameter_count, 2);
    assert!(
        !store
            .template(f.ws, f.conn.id, "order_update", "es")
            .await
            .unwrap()
            .unwrap()
            .is_approved()
    );

    let mut tx = store.begin().await.unwrap();
    tx.replace_templates(f.ws, f.conn.id, &[spec("welcome", "en", "APPROVED")], t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = store.templates(f.ws, f.conn.id).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].spec.name, "welcome");
    assert!(
        store
            .template(f.ws, f.conn.id, "order_update", "en")
            .await
            .unwrap()
            .is_none()
    );
}
