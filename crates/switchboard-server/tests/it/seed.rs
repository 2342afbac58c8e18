//! Test fixtures made straight through the store: users, workspaces, sessions and tokens,
//! so tenancy tests need not go through the sign-in pages (built and tested elsewhere).

use crate::TestApp;
use reqwest::{Method, RequestBuilder};
use switchboard_core::{Clock, EmailAddress, Role, SessionId, UserId, WorkspaceId, WorkspaceSlug};
use switchboard_server::auth::{csrf, secret_token};
use switchboard_store::sessions::{NewSession, SessionState};
use switchboard_store::tokens::NewApiToken;
use switchboard_store::users::NewUser;

/// A person with a signed-in browser session.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: UserId,
    pub email: String,
    pub session: SessionId,
    /// `sb_session=<token>`, for a `Cookie` header.
    pub cookie: String,
    pub csrf: String,
}

/// A workspace with its owner and an owner-role API token.
#[derive(Clone, Debug)]
pub struct Seeded {
    pub ws: WorkspaceId,
    pub slug: String,
    pub owner: Person,
    /// An API token of the workspace with the owner role.
    pub token: String,
}

pub async fn user(app: &TestApp, email: &str) -> UserId {
    let email = EmailAddress::parse(email).unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let id = tx
        .insert_user(
            NewUser {
                email: &email,
                display_name: email.as_str().split('@').next().unwrap(),
                password_hash: "$argon2id$not-a-real-hash",
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Signs `user` in (a fresh, fully authenticated session working in `ws`).
pub async fn sign_in(app: &TestApp, user: UserId, email: &str, ws: Option<WorkspaceId>) -> Person {
    let token = secret_token::generate("sbs_");
    let now = app.clock.now();
    let mut tx = app.store.begin().await.unwrap();
    let session = tx
        .insert_session(
            NewSession {
                user_id: user,
                token_hash: &secret_token::hash(&token),
                state: SessionState::Active,
                active_workspace_id: ws,
                expires_at: now + time::Duration::days(30),
                ip: Some("127.0.0.1"),
                user_agent: Some("seed"),
            },
            now,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Person {
        id: user,
        email: email.to_owned(),
        session,
        cookie: format!("sb_session={token}"),
        csrf: csrf::token_for_session(&app.state, session),
    }
}

/// A user who is a member of `ws` with `role`, signed in there.
pub async fn member(app: &TestApp, ws: WorkspaceId, email: &str, role: Role) -> Person {
    let id = user(app, email).await;
    let mut tx = app.store.begin().await.unwrap();
    tx.add_member(ws, id, role, app.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    sign_in(app, id, email, Some(ws)).await
}

/// An API token of `ws` with `role`.
pub async fn api_token(app: &TestApp, ws: WorkspaceId, role: Role) -> String {
    let token = secret_token::generate("sbt_");
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_api_token(
        ws,
        NewApiToken {
            name: "seed token",
            role,
            token_hash: &secret_token::hash(&token),
            token_prefix: &token[..12],
            created_by: None,
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    token
}

/// A workspace `slug` owned by `owner@<slug>.example`.
pub async fn seed_workspace(app: &TestApp, slug: &str) -> Seeded {
    let email = format!("owner@{slug}.example");
    let owner = user(app, &email).await;
    let ws = app
        .store
        .create_workspace(
            slug,
            &WorkspaceSlug::parse(slug).unwrap(),
            owner,
            app.clock.now(),
        )
        .await
        .unwrap();
    let owner = sign_in(app, owner, &email, Some(ws.id)).await;
    let token = api_token(app, ws.id, Role::Owner).await;
    Seeded {
        ws: ws.id,
        slug: slug.to_owned(),
        owner,
        token,
    }
}

/// Marks the person's session as just re-authenticated (step-up done).
pub async fn step_up(app: &TestApp, person: &Person) {
    app.store
        .mark_reauthenticated(person.session, app.clock.now())
        .await
        .unwrap();
}

/// An API request authenticated by a bearer token.
pub fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.api().request(method, app.at(path)).bearer_auth(token)
}

/// A request from a signed-in browser (session cookie and CSRF header).
pub fn browser(app: &TestApp, method: Method, path: &str, person: &Person) -> RequestBuilder {
    app.api()
        .request(method, app.at(path))
        .header("cookie", &person.cookie)
        .header("x-csrf-token", &person.csrf)
}
