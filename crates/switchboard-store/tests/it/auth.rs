//! Storage for authentication: throttling counters, reset links, recovery codes, TOTP
//! replay protection and session renewal, on both backends.

use crate::{t0, user};
use switchboard_store::sessions::{NewSession, SessionState};
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    login_failures_count_within_the_window_and_locks_expire,
    reset_link_works_once_and_not_after_expiry,
    one_reset_retires_the_other_open_links,
    recovery_code_is_consumed_once,
    totp_step_is_claimed_only_forwards,
    renewed_session_has_a_new_token_and_keeps_its_end_unless_told,
);

async fn login_failures_count_within_the_window_and_locks_expire(store: Store) {
    let window = Duration::minutes(15);
    let mut now = t0();
    for expected in 1..=3 {
        let mut tx = store.begin().await.unwrap();
        let n = tx
            .count_login_failure("ip:1.2.3.4", now, now - window)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(n, expected);
        now += Duration::minutes(1);
    }
    let mut tx = store.begin().await.unwrap();
    tx.lock_login("ip:1.2.3.4", now + Duration::minutes(2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.login_locked_until("ip:1.2.3.4", now).await.unwrap(),
        Some(now + Duration::minutes(2))
    );
    assert_eq!(
        store.login_locked_until("ip:5.6.7.8", now).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .login_locked_until("ip:1.2.3.4", now + Duration::minutes(2))
            .await
            .unwrap(),
        None
    );
    // Long after the window and the lock, counting starts afresh.
    now += Duration::minutes(40);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.count_login_failure("ip:1.2.3.4", now, now - window)
            .await
            .unwrap(),
        1
    );
    tx.clear_login_failures("ip:1.2.3.4").await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.count_login_failure("ip:1.2.3.4", now, now - window)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .sweep_login_throttle(now + Duration::hours(1), now + Duration::hours(1))
            .await
            .unwrap(),
        1
    );
}

async fn reset_link_works_once_and_not_after_expiry(store: Store) {
    let u = user(&store, "a@example.com").await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_password_reset(u, "hash-1", t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    tx.insert_password_reset(u, "hash-2", t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.open_password_reset("hash-1", t0()).await.unwrap(),
        Some(u)
    );
    let late = t0() + Duration::hours(1);
    assert_eq!(
        store.open_password_reset("hash-1", late).await.unwrap(),
        None
    );
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.consume_password_reset("hash-2", late).await.unwrap(),
        None
    );
    assert_eq!(
        tx.consume_password_reset("hash-1", t0()).await.unwrap(),
        Some(u)
    );
    assert_eq!(
        tx.consume_password_reset("hash-1", t0()).await.unwrap(),
        None
    );
    tx.commit().await.unwrap();
}

async fn one_reset_retires_the_other_open_links(store: Store) {
    let u = user(&store, "a@example.com").await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_password_reset(u, "hash-1", t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    tx.insert_password_reset(u, "hash-2", t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        tx.consume_password_reset("hash-1", t0()).await.unwrap(),
        Some(u)
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.open_password_reset("hash-2", t0()).await.unwrap(),
        None
    );
}

async fn recovery_code_is_consumed_once(store: Store) {
    let u = user(&store, "a@example.com").await;
    let other = user(&store, "b@example.com").await;
    let hashes: Vec<String> = (0..10).map(|i| format!("code-{i}")).collect();
    let mut tx = store.begin().await.unwrap();
    tx.replace_recovery_codes(u, &hashes, t0()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.unused_recovery_codes(u).await.unwrap(), 10);
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.use_recovery_code(other, "code-1", t0()).await.unwrap());
    assert!(tx.use_recovery_code(u, "code-1", t0()).await.unwrap());
    assert!(!tx.use_recovery_code(u, "code-1", t0()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.unused_recovery_codes(u).await.unwrap(), 9);
    let mut tx = store.begin().await.unwrap();
    tx.replace_recovery_codes(u, &["new".to_owned()], t0())
        .await
        .unwrap();
    assert!(!tx.use_recovery_code(u, "code-2", t0()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.unused_recovery_codes(u).await.unwrap(), 1);
}

async fn totp_step_is_claimed_only_forwards(store: Store) {
    let u = user(&store, "a@example.com").await;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_totp_step(u, 100).await.unwrap());
    assert!(!tx.claim_totp_step(u, 100).await.unwrap());
    assert!(!tx.claim_totp_step(u, 99).await.unwrap());
    assert!(tx.claim_totp_step(u, 101).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.user(u).await.unwrap().totp_last_step, Some(101));
}

async fn renewed_session_has_a_new_token_and_keeps_its_end_unless_told(store: Store) {
    let u = user(&store, "a@example.com").await;
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .insert_session(
            NewSession {
                user_id: u,
                token_hash: "old",
                state: SessionState::PendingMfa,
                active_workspace_id: None,
                expires_at: t0() + Duration::minutes(10),
                ip: Some("127.0.0.1"),
                user_agent: Some("test"),
            },
            t0(),
        )
        .await
        .unwrap();
    tx.renew_session(id, "new", t0(), Some(t0() + Duration::hours(12)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(store.session_by_token_hash("old").await.unwrap().is_none());
    let s = store.session_by_token_hash("new").await.unwrap().unwrap();
    assert_eq!(s.state, SessionState::Active);
    assert_eq!(s.reauthenticated_at, Some(t0()));
    assert_eq!(s.expires_at, t0() + Duration::hours(12));
    let later = t0() + Duration::minutes(30);
    let mut tx = store.begin().await.unwrap();
    tx.renew_session(id, "newer", later, None).await.unwrap();
    tx.commit().await.unwrap();
    let s = store.session_by_token_hash("newer").await.unwrap().unwrap();
    assert_eq!(s.expires_at, t0() + Duration::hours(12));
    assert_eq!(s.reauthenticated_at, Some(later));
}
