use crate::{create_workspace, t0, user};
use switchboard_core::{EmailAddress, Role};
use switchboard_store::invitations::{InvitationStatus, NewInvitation};
use switchboard_store::{Store, backend_tests};
use time::Duration;

backend_tests!(
    invitation_is_accepted_once_and_makes_a_member,
    inviting_again_revokes_the_older_link,
    invitations_are_scoped_to_their_workspace,
);

async fn invite(
    store: &Store,
    ws: switchboard_core::WorkspaceId,
    email: &str,
    hash: &str,
) -> switchboard_store::invitations::Invitation {
    let email = EmailAddress::parse(email).unwrap();
    let mut tx = store.begin().await.unwrap();
    let inv = tx
        .insert_invitation(
            ws,
            NewInvitation {
                email: &email,
                role: Role::Agent,
                token_hash: hash,
                invited_by: None,
                expires_at: t0() + Duration::days(7),
            },
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    inv
}

async fn invitation_is_accepted_once_and_makes_a_member(store: Store) {
    let owner = user(&store, "o@example.com").await;
    let ws = create_workspace(&store, "W", "w1", owner).await;
    let inv = invite(&store, ws.id, "new@example.com", "h1").await;
    assert_eq!(
        store
            .invitation_by_token_hash("h1")
            .await
            .unwrap()
            .unwrap()
            .id,
        inv.id
    );
    let joiner = user(&store, "new@example.com").await;
    let mut tx = store.begin().await.unwrap();
    tx.accept_invitation(ws.id, inv.id, joiner, t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.role_in(ws.id, joiner).await.unwrap(),
        Some(Role::Agent)
    );
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .accept_invitation(ws.id, inv.id, joiner, t0())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invitation_unusable");
    drop(tx);
    let inv = store.invitation(ws.id, inv.id).await.unwrap();
    assert_eq!(inv.status(t0()), InvitationStatus::Accepted);
    // A member cannot be invited again.
    let email = EmailAddress::parse("new@example.com").unwrap();
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .insert_invitation(
            ws.id,
            NewInvitation {
                email: &email,
                role: Role::Agent,
                token_hash: "h2",
                invited_by: None,
                expires_at: t0(),
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_member");
}

async fn inviting_again_revokes_the_older_link(store: Store) {
    let owner = user(&store, "o@example.com").await;
    let ws = create_workspace(&store, "W", "w1", owner).await;
    let first = invite(&store, ws.id, "x@example.com", "h1").await;
    let second = invite(&store, ws.id, "x@example.com", "h2").await;
    let open = store.open_invitations(ws.id).await.unwrap();
    assert_eq!(
        open.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(
        store
            .invitation(ws.id, first.id)
            .await
            .unwrap()
            .status(t0()),
        InvitationStatus::Revoked
    );
    assert_eq!(
        second.status(t0() + Duration::days(7)),
        InvitationStatus::Expired
    );
}

async fn invitations_are_scoped_to_their_workspace(store: Store) {
    let a = user(&store, "a@example.com").await;
    let b = user(&store, "b@example.com").await;
    let wa = create_workspace(&store, "A", "wa", a).await;
    let wb = create_workspace(&store, "B", "wb", b).await;
    let inv = invite(&store, wb.id, "x@example.com", "h1").await;
    assert_eq!(
        store.invitation(wa.id, inv.id).await.unwrap_err().code(),
        "not_found"
    );
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.revoke_invitation(wa.id, inv.id, t0())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        tx.accept_invitation(wa.id, inv.id, a, t0())
            .await
            .unwrap_err()
            .code(),
        "invitation_unusable"
    );
    drop(tx);
    assert_eq!(
        store.invitation(wb.id, inv.id).await.unwrap().status(t0()),
        InvitationStatus::Pending
    );
    assert!(store.open_invitations(wa.id).await.unwrap().is_empty());
}
