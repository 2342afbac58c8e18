use crate::t0;
use switchboard_core::{Timestamp, UserId, WorkspaceId};
use switchboard_store::audit::{AuditCursor, AuditFilter, NewAuditEvent};
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    audit_log_pages_newest_first_with_a_cursor,
    audit_log_filters_by_action_actor_and_time,
    audit_log_is_scoped_to_its_workspace,
    anonymising_replaces_personal_fields_with_distinct_random_tokens,
    entries_past_retention_are_deleted,
);

async fn record(store: &Store, ws: WorkspaceId, action: &str, actor: UserId, at: Timestamp) {
    let mut event = NewAuditEvent::new(action).target("user", actor, Some("ada@example.com"));
    event.workspace_id = Some(ws);
    event.actor_user_id = Some(actor);
    event.actor_email = Some("ada@example.com".into());
    event.ip = Some("192.0.2.1".into());
    event.user_agent = Some("TestAgent/1".into());
    store.record_audit(&event, at).await.unwrap();
}

async fn audit_log_pages_newest_first_with_a_cursor(store: Store) {
    let ws = WorkspaceId::new();
    let actor = UserId::new();
    // Several entries share a millisecond, which the cursor must still order.
    for i in 0..7 {
        record(
            &store,
            ws,
            "member.removed",
            actor,
            t0() + Duration::seconds(i / 2),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut filter = AuditFilter::default();
    loop {
        let page = store.audit_events(ws, &filter, 3).await.unwrap();
        assert!(page.events.len() <= 3);
        seen.extend(page.events.iter().map(|e| (e.occurred_at, e.id)));
        match page.next {
            Some(next) => {
                let text = next.encode();
                filter.after = Some(AuditCursor::decode(&text).unwrap());
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
    assert!(AuditCursor::decode("garbage").is_none());
}

async fn audit_log_filters_by_action_actor_and_time(store: Store) {
    let ws = WorkspaceId::new();
    let ada = UserId::new();
    let bob = UserId::new();
    record(&store, ws, "member.removed", ada, t0()).await;
    record(
        &store,
        ws,
        "member.role_changed",
        bob,
        t0() + Duration::hours(1),
    )
    .await;
    record(&store, ws, "token.created", ada, t0() + Duration::hours(2)).await;
    // A wildcard in the prefix is matched literally.
    record(&store, ws, "memberXremoved", ada, t0()).await;

    let count = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .audit_events(ws, &filter, 100)
                .await
                .unwrap()
                .events
                .len()
        }
    };
    assert_eq!(
        count(AuditFilter {
            action_prefix: Some("member.".into()),
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditFilter {
            action_prefix: Some("member_".into()),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(AuditFilter {
            actor_user_id: Some(bob),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(AuditFilter {
            since: Some(t0() + Duration::minutes(30)),
            until: Some(t0() + Duration::hours(2)),
            ..Default::default()
        })
        .await,
        1
    );
}

async fn audit_log_is_scoped_to_its_workspace(store: Store) {
    let a = WorkspaceId::new();
    let b = WorkspaceId::new();
    record(&store, a, "token.created", UserId::new(), t0()).await;
    let page = store
        .audit_events(b, &AuditFilter::default(), 10)
        .await
        .unwrap();
    assert!(page.events.is_empty());
}

async fn anonymising_replaces_personal_fields_with_distinct_random_tokens(store: Store) {
    let ws = WorkspaceId::new();
    let actor = UserId::new();
    record(&store, ws, "member.removed", actor, t0()).await;
    record(
        &store,
        ws,
        "member.removed",
        actor,
        t0() + Duration::seconds(1),
    )
    .await;
    record(
        &store,
        ws,
        "member.removed",
        actor,
        t0() + Duration::days(400),
    )
    .await;
    let now = t0() + Duration::days(400);
    let n = store
        .anonymise_audit_before(now - Duration::days(365), now)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let events = store
        .audit_events(ws, &AuditFilter::default(), 10)
        .await
        .unwrap()
        .events;
    let (recent, old): (Vec<_>, Vec<_>) = events.iter().partition(|e| e.anonymised_at.is_none());
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].actor_email.as_deref(), Some("ada@example.com"));
    assert_eq!(old.len(), 2);
    for e in &old {
        for value in [
            &e.actor_email,
            &e.actor_user_id,
            &e.ip,
            &e.user_agent,
            &e.target_label,
            &e.target_id,
        ] {
            let v = value.as_deref().unwrap();
            assert!(v.starts_with("anon_"), "{v}");
        }
        assert_eq!(e.action, "member.removed");
    }
    // The same email in two rows became two unrelated tokens.
    assert_ne!(old[0].actor_email, old[1].actor_email);
    assert_ne!(old[0].actor_email, old[0].ip);
    // Running again changes nothing more.
    assert_eq!(
        store
            .anonymise_audit_before(now + Duration::seconds(1), now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.anonymise_audit_before(now, now).await.unwrap(), 0);
}

async fn entries_past_retention_are_deleted(store: Store) {
    let ws = WorkspaceId::new();
    record(&store, ws, "token.created", UserId::new(), t0()).await;
    record(
        &store,
        ws,
        "token.revoked",
        UserId::new(),
        t0() + Duration::days(800),
    )
    .await;
    let n = store
        .delete_audit_before(t0() + Duration::days(730))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let events = store
        .audit_events(ws, &AuditFilter::default(), 10)
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "token.revoked");
}
