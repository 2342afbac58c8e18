use crate::{create_workspace, t0, user};
use switchboard_core::{EmailAddress, Role, WorkspaceSlug};
use switchboard_store::users::NewUser;
use switchboard_store::{Store, backend_tests};

backend_tests!(
    workspace_is_created_with_its_owner,
    slugs_and_emails_are_unique,
    last_owner_cannot_be_removed_or_demoted,
    membership_is_scoped_to_its_workspace,
    counting_users_serialises_concurrent_first_sign_ups,
);

async fn workspace_is_created_with_its_owner(store: Store) {
    let owner = user(&store, "owner@example.com").await;
    let slug = WorkspaceSlug::parse("acme").unwrap();
    let ws = store
        .create_workspace("Acme", &slug, owner, t0())
        .await
        .unwrap();
    assert_eq!(store.workspace_by_slug(&slug).await.unwrap(), ws);
    assert_eq!(
        store.role_in(ws.id, owner).await.unwrap(),
        Some(Role::Owner)
    );
    let mine = store.workspaces_of(owner).await.unwrap();
    assert_eq!(mine, vec![(ws.clone(), Role::Owner)]);
    let members = store.members(ws.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].email, "owner@example.com");
}

async fn slugs_and_emails_are_unique(store: Store) {
    let owner = user(&store, "a@example.com").await;
    let slug = WorkspaceSlug::parse("acme").unwrap();
    store
        .create_workspace("Acme", &slug, owner, t0())
        .await
        .unwrap();
    let err = store
        .create_workspace("Acme 2", &slug, owner, t0())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "slug_taken");
    // Nothing half-written: still one workspace.
    assert_eq!(store.all_workspaces().await.unwrap().len(), 1);

    let mut tx = store.begin().await.unwrap();
    let email = EmailAddress::parse("A@example.com").unwrap();
    let err = tx
        .insert_user(
            NewUser {
                email: &email,
                display_name: "Dup",
                password_hash: "x",
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "email_taken");
}

async fn last_owner_cannot_be_removed_or_demoted(store: Store) {
    let owner = user(&store, "o@example.com").await;
    let agent = user(&store, "g@example.com").await;
    let ws = create_workspace(&store, "W", "w1", owner).await;
    let mut tx = store.begin().await.unwrap();
    tx.add_member(ws.id, agent, Role::Agent, t0())
        .await
        .unwrap();
    assert_eq!(
        tx.set_member_role(ws.id, owner, Role::Admin)
            .await
            .unwrap_err()
            .code(),
        "last_owner"
    );
    assert_eq!(
        tx.remove_member(ws.id, owner).await.unwrap_err().code(),
        "last_owner"
    );
    tx.set_member_role(ws.id, agent, Role::Owner).await.unwrap();
    tx.set_member_role(ws.id, owner, Role::Admin).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.role_in(ws.id, owner).await.unwrap(),
        Some(Role::Admin)
    );
}

async fn membership_is_scoped_to_its_workspace(store: Store) {
    let a = user(&store, "a@example.com").await;
    let b = user(&store, "b@example.com").await;
    let wa = create_workspace(&store, "A", "wa", a).await;
    let wb = create_workspace(&store, "B", "wb", b).await;
    assert_eq!(store.role_in(wb.id, a).await.unwrap(), None);
    assert!(
        store
            .members(wa.id)
            .await
            .unwrap()
            .iter()
            .all(|m| m.user_id == a)
    );
    let mut tx = store.begin().await.unwrap();
    // Removing someone from a workspace they are not in finds nothing.
    assert_eq!(
        tx.remove_member(wa.id, b).await.unwrap_err().code(),
        "not_found"
    );
}

/// The first sign-up checks "no account yet" and inserts in one transaction; a second
/// transaction asking the same question waits for the first and sees its account.
async fn counting_users_serialises_concurrent_first_sign_ups(store: Store) {
    let mut first = store.begin().await.unwrap();
    assert_eq!(first.count_users().await.unwrap(), 0);
    let email = EmailAddress::parse("first@example.com").unwrap();
    first
        .insert_user(
            NewUser {
                email: &email,
                display_name: "First",
                password_hash: "x",
            },
            t0(),
        )
        .await
        .unwrap();

    let second_store = store.clone();
    let second = tokio::spawn(async move {
        let mut tx = second_store.begin().await.unwrap();
        tx.count_users().await.unwrap()
    });
    if store.backend() == switchboard_store::Backend::Postgres {
        // Wait (bounded) until the second transaction is queued behind the first's lock.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.waiting_advisory_locks().await.unwrap() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "second transaction never waited"
            );
            tokio::task::yield_now().await;
        }
    }
    first.commit().await.unwrap();
    assert_eq!(
        second.await.unwrap(),
        1,
        "the second sign-up saw the first account"
    );
}
