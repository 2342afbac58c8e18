//! The privacy engine's store half: erasure driven by the inventory, resumable in batches,
//! legal holds, and the residue scan (canary tests: unique values in every field the
//! inventory lists, erased, scanned for, and everybody else untouched row for row).

use crate::channels_fixtures::{Fixture, fixture, text_from};
use crate::{clock, t0};
use sqlx::Row;
use std::path::Path;
use switchboard_core::channel::{MediaKind, MediaRef, MessageContent};
use switchboard_core::inventory::{SubjectKind, TABLES};
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{ContactId, PrivacyRequestId, WorkspaceId};
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::consent::{ConsentKind, NewOptIn};
use switchboard_store::erasure::{Environment, Outcome};
use switchboard_store::jobs::NewJob;
use switchboard_store::legal_holds::{HoldScope, NewHold};
use switchboard_store::media::StoredMedia;
use switchboard_store::messages::Direction;
use switchboard_store::privacy_requests::NewPrivacyRequest;
use switchboard_store::testing::columns_containing;
use switchboard_store::{Store, backend_tests};

backend_tests!(
    canary_contact_is_erased_everywhere_and_others_are_untouched,
    erasure_stopped_mid_way_resumes_and_finishes_with_exact_counts,
    legal_hold_keeps_the_contact_until_released,
    residue_scan_finds_what_is_left,
    request_moves_only_by_the_state_machine,
    platform_user_loses_access_at_once_and_is_erased,
    erasing_the_operator_who_recorded_a_request_keeps_what_the_request_needs,
    whole_workspace_erasure_leaves_no_terms_in_the_search_index,
);

/// What the canary contact holds: each value unique in the database.
struct Canary {
    contact: ContactId,
    values: Vec<String>,
    media_key: String,
}

/// A contact with unique values in every field the inventory lists for contacts: name,
/// platform id, phone, message text, a caption, a stored media file, a consent record, an
/// audit row about them, a queued send and a pending download naming their rows.
async fn seed_contact(store: &Store, f: &Fixture, tag: &str, media_dir: &Path) -> Canary {
    let wa_id = format!("999{}", &uuid::Uuid::new_v4().as_u128().to_string()[..9]);
    let name = format!("Canary {tag} Quintessa");
    let text = format!("canary-text-{tag}-{}", uuid::Uuid::new_v4().simple());
    let caption = format!("canary-caption-{tag}-{}", uuid::Uuid::new_v4().simple());
    let mut msg = text_from(&wa_id, &format!("wamid.{tag}.1"), &text, t0());
    msg.contact.display_name = Some(name.clone());
    msg.contact.username = Some(format!("canary_user_{tag}"));
    let first = f.ingest(store, &msg, Direction::Inbound).await;
    let mut media_msg = text_from(&wa_id, &format!("wamid.{tag}.2"), "", t0());
    media_msg.contact.display_name = Some(name.clone());
    media_msg.content = MessageContent::Media {
        kind: MediaKind::Image,
        media: MediaRef::PlatformId(format!("media-{tag}")),
        mime_type: Some("image/jpeg".into()),
        caption: Some(caption.clone()),
        filename: None,
        sha256: None,
    };
    let second = f.ingest(store, &media_msg, Direction::Inbound).await;
    let media = second.media.unwrap();
    let key = format!("{}/{media}", f.ws);
    std::fs::create_dir_all(media_dir.join(f.ws.to_string())).unwrap();
    std::fs::write(media_dir.join(&key), format!("JPEG bytes of {text}")).unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.mark_media_stored(
        f.ws,
        media,
        &StoredMedia {
            storage_key: &key,
            content_type: "image/jpeg",
            size_bytes: 10,
            sha256: "00",
        },
        t0(),
    )
    .await
    .unwrap();
    tx.record_opt_in(
        f.ws,
        &NewOptIn {
            contact: first.contact_id,
            connection: f.conn.id,
            kind: ConsentKind::WhatsappMarketing,
            source: "website_form",
            proof: Some(&format!("canary-proof-{tag}")),
            granted_at: t0(),
            recorded_by: None,
        },
        t0(),
    )
    .await
    .unwrap();
    let event = NewAuditEvent::new("consent.recorded").target(
        "contact",
        first.contact_id,
        Some(&format!("canary-label-{tag}")),
    );
    let mut event = event;
    event.workspace_id = Some(f.ws);
    tx.record_audit(&event, t0()).await.unwrap();
    // A queued send naming one of their messages, and a pending download naming the media.
    let mut send = NewJob::new(
        "send_message",
        serde_json::json!({"workspace_id": f.ws, "message_id": first.message_id}),
        t0(),
    );
    send.workspace_id = Some(f.ws);
    tx.enqueue(send, t0()).await.unwrap();
    let mut download = NewJob::new(
        "media_download",
        serde_json::json!({"workspace_id": f.ws, "connection_id": f.conn.id, "media_id": media}),
        t0(),
    );
    download.workspace_id = Some(f.ws);
    tx.enqueue(download, t0()).await.unwrap();
    tx.commit().await.unwrap();
    Canary {
        contact: first.contact_id,
        values: vec![
            name,
            wa_id.clone(),
            format!("+{wa_id}"),
            format!("canary_user_{tag}"),
            text,
            caption,
            format!("canary-proof-{tag}"),
            format!("canary-label-{tag}"),
        ],
        media_key: key,
    }
}

/// Every row of every table, as text, that matches `column = value` (rows of other people).
async fn dump(store: &Store, rows_of: &[(&str, &str, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (table, column, value) in rows_of {
        let sql = format!("SELECT * FROM {table} WHERE {column} = $1 ORDER BY 1");
        let rows = sqlx::query(&sql)
            .bind(value)
            .fetch_all(&store_read(store).await)
            .await
            .unwrap();
        for row in rows {
            let mut cells = vec![table.to_string()];
            for i in 0..row.len() {
                let cell = row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| format!("{v:?}"))
                    .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                    .or_else(|_| {
                        row.try_get::<Option<Vec<u8>>, _>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .unwrap_or_else(|_| "?".into());
                cells.push(cell);
            }
            out.push(cells.join("|"));
        }
    }
    out
}

async fn store_read(store: &Store) -> sqlx::AnyPool {
    switchboard_store::testing::read_pool(store)
}

/// The rows of `contact` in the tables that link to contacts, and every row of `other_ws`.
fn rows_of(contact: ContactId, other_ws: WorkspaceId) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for t in TABLES {
        for l in t.links {
            if l.subject == SubjectKind::Contact && l.column != "target_id" {
                out.push((t.name, l.column, contact.to_string()));
            }
            if l.subject == SubjectKind::Workspace && t.name != "privacy_requests" {
                out.push((t.name, l.column, other_ws.to_string()));
            }
        }
    }
    out
}

async fn erase_request(store: &Store, ws: WorkspaceId, contact: ContactId) -> PrivacyRequestId {
    let mut tx = store.begin().await.unwrap();
    let r = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: Some(ws),
                kind: RequestKind::Erase,
                source: RequestSource::Operator,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::Contact,
                subject_id: Some(contact.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: None,
                needs_review: false,
                plan: serde_json::json!({}),
                created_by: None,
            },
            NewAuditEvent::new("x"),
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    r.id
}

fn env<'a>(
    f: &'a Fixture,
    dir: &'a Path,
    clock: &'a switchboard_core::ManualClock,
) -> Environment<'a> {
    Environment {
        media_dir: dir,
        scan_dirs: vec![dir.to_path_buf()],
        master: &f.master,
        clock,
        batch: switchboard_store::erasure::BATCH,
        max_batches: None,
    }
}

async fn canary_contact_is_erased_everywhere_and_others_are_untouched(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let other_ws = {
        let master = switchboard_keys::MasterKey::generate();
        let ws = crate::channels_fixtures::workspace(&store, "other").await;
        let conn = crate::channels_fixtures::connect(
            &store,
            ws,
            &master,
            switchboard_core::channel::ChannelKind::WhatsApp,
            "other-phone-number-id",
            "other-token",
        )
        .await;
        Fixture { ws, conn, master }
    };
    let canary = seed_contact(&store, &f, "victim", dir.path()).await;
    let bystander = seed_contact(&store, &f, "bystander", dir.path()).await;
    let elsewhere = seed_contact(&store, &other_ws, "elsewhere", dir.path()).await;
    for v in &canary.values {
        assert!(
            !columns_containing(&store, v).await.is_empty(),
            "{v} seeded"
        );
    }
    let before = dump(&store, &rows_of(bystander.contact, other_ws.ws)).await;
    assert!(before.len() > 10, "{before:?}");

    let id = erase_request(&store, f.ws, canary.contact).await;
    let clock = clock();
    let outcome = store
        .run_erasure(id, &env(&f, dir.path(), &clock))
        .await
        .unwrap();
    let Outcome::Completed(receipt) = outcome else {
        panic!("not completed: {outcome:?}");
    };
    assert_eq!(receipt.residue_hits, 0);
    assert!(receipt.identifiers_scanned >= 6, "{receipt:?}");
    assert_eq!(receipt.tables["messages"].deleted, 2);
    assert_eq!(receipt.tables["media_objects"].deleted, 1);
    assert_eq!(receipt.tables["contacts"].deleted, 1);
    assert_eq!(receipt.tables["contact_identities"].deleted, 1);
    assert_eq!(receipt.tables["consent_records"].deleted, 1);
    assert_eq!(receipt.tables["conversations"].deleted, 1);
    assert_eq!(receipt.tables["jobs"].deleted, 2);
    assert_eq!(receipt.tables["audit_log"].anonymised, 1);
    assert_eq!(receipt.files_deleted, 1);

    // Nothing of the canary anywhere: every column of the inventory, the media file.
    for v in &canary.values {
        assert_eq!(
            columns_containing(&store, v).await,
            Vec::<String>::new(),
            "{v}"
        );
    }
    assert!(!dir.path().join(&canary.media_key).exists());
    // The bystander and the other workspace, row for row; their files stay.
    let after = dump(&store, &rows_of(bystander.contact, other_ws.ws)).await;
    assert_eq!(before, after);
    assert!(dir.path().join(&bystander.media_key).exists());
    assert!(dir.path().join(&elsewhere.media_key).exists());
    for v in bystander.values.iter().chain(&elsewhere.values) {
        assert!(!columns_containing(&store, v).await.is_empty(), "{v} kept");
    }

    let request = store.privacy_request(f.ws, id).await.unwrap();
    assert_eq!(request.state, RequestState::Completed);
    assert!(request.completed_at.is_some());
    assert!(request.receipt.is_some());
    // The identifiers kept for the scan are gone with the request's completion.
    assert_eq!(store.request_needles(id).await.unwrap(), None);
    // A second run does nothing.
    assert_eq!(
        store
            .run_erasure(id, &env(&f, dir.path(), &clock))
            .await
            .unwrap(),
        Outcome::NotRunnable
    );
}

async fn erasure_stopped_mid_way_resumes_and_finishes_with_exact_counts(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let canary = seed_contact(&store, &f, "victim", dir.path()).await;
    // More messages than one batch holds.
    for i in 0..7 {
        let msg = text_from(
            &canary.values[1],
            &format!("wamid.more.{i}"),
            &format!("more canary text {i}"),
            t0(),
        );
        f.ingest(&store, &msg, Direction::Inbound).await;
    }
    let id = erase_request(&store, f.ws, canary.contact).await;
    let clock = clock();
    let mut e = env(&f, dir.path(), &clock);
    e.batch = 2;
    e.max_batches = Some(3);
    // Three batches, then the "process" stops: some rows are gone, the request is open.
    assert!(store.run_erasure(id, &e).await.is_err());
    let mid = store.privacy_request(f.ws, id).await.unwrap();
    assert_eq!(mid.state, RequestState::InProgress);
    let messages_left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE contact_id = $1")
            .bind(canary.contact.to_string())
            .fetch_one(&store_read(&store).await)
            .await
            .unwrap();
    assert!(messages_left > 0 && messages_left <= 9, "{messages_left}");
    // Resumed: finishes, and every row is counted exactly once.
    e.max_batches = None;
    let Outcome::Completed(receipt) = store.run_erasure(id, &e).await.unwrap() else {
        panic!("not completed");
    };
    assert_eq!(receipt.tables["messages"].deleted, 9);
    assert_eq!(receipt.tables["jobs"].deleted, 2);
    assert_eq!(receipt.tables["contacts"].deleted, 1);
    for v in &canary.values {
        assert!(columns_containing(&store, v).await.is_empty(), "{v}");
    }
}

async fn legal_hold_keeps_the_contact_until_released(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let canary = seed_contact(&store, &f, "held", dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    let hold = tx
        .place_hold(
            f.ws,
            &NewHold {
                scope: HoldScope::Contact,
                scope_id: &canary.contact.to_string(),
                reason: "Court order in a payment dispute",
                reference: "Case 2026/123",
                placed_by: None,
            },
            NewAuditEvent::new("x"),
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let id = erase_request(&store, f.ws, canary.contact).await;
    let clock = clock();
    let Outcome::Held(receipt) = store
        .run_erasure(id, &env(&f, dir.path(), &clock))
        .await
        .unwrap()
    else {
        panic!("not held");
    };
    assert!(
        receipt
            .kept
            .iter()
            .any(|k| k.reason.contains("Case 2026/123")),
        "{receipt:?}"
    );
    for v in &canary.values {
        assert!(
            !columns_containing(&store, v).await.is_empty(),
            "{v} survives the hold"
        );
    }
    assert!(dir.path().join(&canary.media_key).exists());
    assert_eq!(
        store.privacy_request(f.ws, id).await.unwrap().state,
        RequestState::InProgress
    );
    assert_eq!(store.open_erasures(f.ws).await.unwrap(), vec![id]);

    let mut tx = store.begin().await.unwrap();
    tx.release_hold(f.ws, hold.id, None, NewAuditEvent::new("x"), t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let Outcome::Completed(receipt) = store
        .run_erasure(id, &env(&f, dir.path(), &clock))
        .await
        .unwrap()
    else {
        panic!("not completed after release");
    };
    assert!(
        receipt
            .kept
            .iter()
            .all(|k| !k.reason.contains("legal hold"))
    );
    for v in &canary.values {
        assert!(columns_containing(&store, v).await.is_empty(), "{v}");
    }
    assert!(!dir.path().join(&canary.media_key).exists());
}

async fn residue_scan_finds_what_is_left(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let canary = seed_contact(&store, &f, "scan", dir.path()).await;
    let hits = store
        .residue_scan(&[canary.values[4].clone()])
        .await
        .unwrap();
    let places: Vec<&str> = hits.iter().map(|h| h.place.as_str()).collect();
    assert!(places.contains(&"messages.text"), "{places:?}");
    let files = switchboard_store::residue::scan_files(
        &[dir.path().to_path_buf()],
        &[canary.values[4].clone()],
    )
    .await;
    assert_eq!(files.len(), 1);
    // LIKE's wildcards are taken literally.
    assert!(
        store
            .residue_scan(&["%".into()])
            .await
            .unwrap()
            .iter()
            .all(|h| h.place != "messages.text")
    );
    assert!(
        store
            .residue_scan(&["zz-not-there-zz".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn request_moves_only_by_the_state_machine(store: Store) {
    use switchboard_store::privacy_requests::Move;
    let f = fixture(&store, "acme").await;
    let id = erase_request(&store, f.ws, ContactId::new()).await;
    let by = || NewAuditEvent::new("x");
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .move_request(
            id,
            Move {
                to: RequestState::Completed,
                reason: None,
                by: by(),
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_transition");
    drop(tx);
    // Waiting for identity pauses the clock: four days later the deadline moved by four days.
    let mut tx = store.begin().await.unwrap();
    let r0 = tx.privacy_request_any(id).await.unwrap();
    tx.move_request(
        id,
        Move {
            to: RequestState::AwaitingIdentity,
            reason: None,
            by: by(),
        },
        t0(),
    )
    .await
    .unwrap();
    let r = tx
        .move_request(
            id,
            Move {
                to: RequestState::Acknowledged,
                reason: None,
                by: by(),
            },
            t0() + time::Duration::days(4),
        )
        .await
        .unwrap();
    assert_eq!(r.paused_days, 4);
    assert!(r.deadlines.respond_by > r0.deadlines.respond_by);
    // Extension needs a reason, and is refused after the first deadline.
    let err = tx
        .move_request(
            id,
            Move {
                to: RequestState::Extended,
                reason: None,
                by: by(),
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "reason_required");
    let late = time::macros::datetime!(2026-03-01 09:00 UTC);
    let err = tx
        .move_request(
            id,
            Move {
                to: RequestState::Extended,
                reason: Some("complex request"),
                by: by(),
            },
            late,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "extension_too_late");
    let r = tx
        .move_request(
            id,
            Move {
                to: RequestState::Extended,
                reason: Some("complex request"),
                by: by(),
            },
            t0(),
        )
        .await
        .unwrap();
    assert!(r.extended_at.is_some());
    assert!(r.deadlines.respond_by > r.deadlines.first_deadline);
    tx.commit().await.unwrap();
    // Every transition is in the audit log.
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE target_id = $1 AND action LIKE 'privacy.request.%'",
    )
    .bind(id.to_string())
    .fetch_one(&store_read(&store).await)
    .await
    .unwrap();
    assert_eq!(n, 4);
}

async fn platform_user_loses_access_at_once_and_is_erased(store: Store) {
    use switchboard_store::sessions::{NewSession, SessionState};
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let agent = crate::user(&store, "agent.canary.7788@example.com").await;
    let mut tx = store.begin().await.unwrap();
    tx.add_member(f.ws, agent, switchboard_core::Role::Agent, t0())
        .await
        .unwrap();
    tx.insert_session(
        NewSession {
            user_id: agent,
            token_hash: "canary-session-hash-7788",
            state: SessionState::Active,
            active_workspace_id: Some(f.ws),
            expires_at: t0() + time::Duration::hours(2),
            ip: Some("203.0.113.77"),
            user_agent: Some("canary-agent-browser"),
        },
        t0(),
    )
    .await
    .unwrap();
    let mut event = NewAuditEvent::new("auth.sign_in");
    event.workspace_id = Some(f.ws);
    event.actor_user_id = Some(agent);
    event.actor_email = Some("agent.canary.7788@example.com".into());
    event.ip = Some("203.0.113.77".into());
    tx.record_audit(&event, t0()).await.unwrap();
    // The request's own transaction ends their access.
    let r = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: Some(f.ws),
                kind: RequestKind::Erase,
                source: RequestSource::SelfService,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::PlatformUser,
                subject_id: Some(agent.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: None,
                needs_review: false,
                plan: serde_json::json!({}),
                created_by: Some(agent),
            },
            NewAuditEvent::new("x"),
            t0(),
        )
        .await
        .unwrap();
    tx.revoke_access_of_user(agent, t0()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.sessions_of(agent).await.unwrap().is_empty());

    let clock = clock();
    let outcome = store
        .run_erasure(r.id, &env(&f, dir.path(), &clock))
        .await
        .unwrap();
    let Outcome::Completed(receipt) = outcome else {
        panic!("not completed: {outcome:?}");
    };
    assert_eq!(receipt.tables["users"].deleted, 1);
    assert_eq!(receipt.tables["memberships"].deleted, 1);
    assert!(receipt.tables["audit_log"].anonymised >= 1, "{receipt:?}");
    for v in [
        "agent.canary.7788@example.com",
        "203.0.113.77",
        "canary-agent-browser",
    ] {
        assert_eq!(
            columns_containing(&store, v).await,
            Vec::<String>::new(),
            "{v}"
        );
    }
    // The request stays, as the proof, without naming who typed it in.
    let kept = store.privacy_request(f.ws, r.id).await.unwrap();
    assert_eq!(kept.state, RequestState::Completed);
    assert_eq!(kept.created_by, None);
}

async fn erasing_the_operator_who_recorded_a_request_keeps_what_the_request_needs(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let operator = crate::user(&store, "operator.leaving@example.com").await;
    let new_request = |kind, subject_kind, subject_id: String, by| NewPrivacyRequest {
        workspace_id: Some(f.ws),
        kind,
        source: RequestSource::ManualIntake,
        regime: Regime::Gdpr,
        subject_kind,
        subject_id: Some(subject_id),
        subject_key_hash: None,
        source_ref: None,
        confirmation_code: None,
        needs_review: false,
        plan: serde_json::json!({}),
        created_by: Some(by),
    };
    let mut tx = store.begin().await.unwrap();
    tx.add_member(f.ws, operator, switchboard_core::Role::Admin, t0())
        .await
        .unwrap();
    // The operator records a customer's request received by email...
    let customers = tx
        .insert_privacy_request(
            &new_request(
                RequestKind::Export,
                SubjectKind::Contact,
                switchboard_core::ContactId::new().to_string(),
                operator,
            ),
            NewAuditEvent::new("x"),
            t0(),
        )
        .await
        .unwrap();
    tx.set_request_intake(
        f.ws,
        customers.id,
        "customer.asking@example.net",
        &serde_json::json!({"phone": "+15550001234"}),
        t0(),
    )
    .await
    .unwrap();
    // ...then leaves and has their own account erased.
    let theirs = tx
        .insert_privacy_request(
            &new_request(
                RequestKind::Erase,
                SubjectKind::PlatformUser,
                operator.to_string(),
                operator,
            ),
            NewAuditEvent::new("x"),
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let clock = clock();
    let outcome = store
        .run_erasure(theirs.id, &env(&f, dir.path(), &clock))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    // The customer's request no longer says who typed it in, but still knows whom to answer.
    let kept = store.privacy_request(f.ws, customers.id).await.unwrap();
    assert_eq!(kept.created_by, None);
    let (email, details) = store.request_intake(f.ws, customers.id).await.unwrap();
    assert_eq!(email.as_deref(), Some("customer.asking@example.net"));
    assert_eq!(details.unwrap()["phone"], "+15550001234");
}

/// The raw pages of SQLite's message search index hold `needle` (the terms of a deleted row
/// stay there as long as only a delete marker hides them). Always false on PostgreSQL, whose
/// GIN index is no table of its own.
async fn search_pages_hold(store: &Store, needle: &str) -> bool {
    if store.backend() != switchboard_store::Backend::Sqlite {
        return false;
    }
    let pool = store_read(store).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .ok();
    let blocks: Vec<Vec<u8>> = sqlx::query_scalar("SELECT block FROM message_search_data")
        .fetch_all(&pool)
        .await
        .unwrap();
    blocks
        .iter()
        .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

/// A whole workspace goes through the bulk search-index path on SQLite (delete markers,
/// then a merge): stopped mid-way and resumed, it completes, no term of its messages is left
/// in the index's pages, and another workspace's messages are still found.
async fn whole_workspace_erasure_leaves_no_terms_in_the_search_index(store: Store) {
    use switchboard_store::erasure::{Part, Plan};
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(&store, "acme").await;
    let other = {
        let master = switchboard_keys::MasterKey::generate();
        let ws = crate::channels_fixtures::workspace(&store, "other").await;
        let conn = crate::channels_fixtures::connect(
            &store,
            ws,
            &master,
            switchboard_core::channel::ChannelKind::WhatsApp,
            "other-phone-number-id",
            "other-token",
        )
        .await;
        Fixture { ws, conn, master }
    };
    let canary = seed_contact(&store, &f, "victim", dir.path()).await;
    // A random term of its own per message: the index stores a term after the prefix it
    // shares with the term before it, so the last 24 characters are there verbatim.
    let terms: Vec<String> = (0..12)
        .map(|_| format!("zz{}", uuid::Uuid::new_v4().simple()))
        .collect();
    let tails: Vec<&str> = terms.iter().map(|t| &t[t.len() - 24..]).collect();
    for (i, term) in terms.iter().enumerate() {
        let msg = text_from(
            &canary.values[1],
            &format!("wamid.bulk.{i}"),
            &format!("order {term} please"),
            t0(),
        );
        f.ingest(&store, &msg, Direction::Inbound).await;
    }
    let kept = text_from("34600999888", "wamid.kept", "order keepword please", t0());
    other.ingest(&store, &kept, Direction::Inbound).await;
    if store.backend() == switchboard_store::Backend::Sqlite {
        for tail in &tails {
            assert!(search_pages_hold(&store, tail).await, "{tail} indexed");
        }
    }

    let plan = Plan {
        parts: vec![Part::new(SubjectKind::Workspace, f.ws, Some(f.ws))],
        not_before: None,
    };
    let mut tx = store.begin().await.unwrap();
    let r = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: None,
                kind: RequestKind::Erase,
                source: RequestSource::WorkspaceDeactivation,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::Workspace,
                subject_id: Some(f.ws.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: None,
                needs_review: false,
                plan: plan.to_json(),
                created_by: None,
            },
            NewAuditEvent::new("x"),
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let clock = clock();
    let mut e = env(&f, dir.path(), &clock);
    e.batch = 4;
    e.max_batches = Some(40);
    // Stopped mid-way (some messages gone, maybe only as delete markers), then resumed.
    assert!(store.run_erasure(r.id, &e).await.is_err());
    e.max_batches = None;
    let outcome = store.run_erasure(r.id, &e).await.unwrap();
    let Outcome::Completed(receipt) = outcome else {
        panic!("not completed: {outcome:?}");
    };
    assert_eq!(receipt.tables["messages"].deleted, 14);
    let request = store.privacy_request_any(r.id).await.unwrap();
    let done: Vec<String> =
        serde_json::from_value(request.progress["done"].clone()).unwrap_or_default();
    assert_eq!(
        done.iter().any(|d| d == "0:message_search.merge"),
        store.backend() == switchboard_store::Backend::Sqlite,
        "{done:?}"
    );
    for tail in &tails {
        assert!(
            !search_pages_hold(&store, tail).await,
            "{tail} left in the index"
        );
    }
    for v in &canary.values {
        assert!(columns_containing(&store, v).await.is_empty(), "{v}");
    }
    let hits = store
        .search_messages(other.ws, "keepword", 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
}
