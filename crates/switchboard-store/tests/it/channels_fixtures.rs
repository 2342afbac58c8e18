//! Shared set-up for the channel tests: a workspace with a WhatsApp connection, and inbound
//! messages in the normalized shape the parsers produce.

use crate::{create_workspace, t0, user};
use secrecy::SecretString;
use switchboard_core::channel::{
    AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
};
use switchboard_core::{Timestamp, WorkspaceId};
use switchboard_keys::MasterKey;
use switchboard_store::Store;
use switchboard_store::connections::{Connection, NewConnection};
use switchboard_store::messages::{Direction, Ingested};

pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-secret-access-token-123";

pub struct Fixture {
    pub ws: WorkspaceId,
    pub conn: Connection,
    pub master: MasterKey,
}

pub async fn workspace(store: &Store, slug: &str) -> WorkspaceId {
    let owner = user(store, &format!("{slug}@example.com")).await;
    create_workspace(store, slug, slug, owner).await.id
}

pub async fn connect(
    store: &Store,
    ws: WorkspaceId,
    master: &MasterKey,
    kind: ChannelKind,
    account_id: &str,
    token: &str,
) -> Connection {
    let credentials = SecretString::from(format!(r#"{{"access_token":"{token}"}}"#));
    let mut tx = store.begin().await.unwrap();
    let conn = tx
        .insert_connection(
            ws,
            &NewConnection {
                kind,
                name: "Support line",
                account_id,
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: Some("meta-user-1"),
                settings: &serde_json::json!({"waba_id": "WABA1"}),
            },
            master,
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    conn
}

/// A workspace `slug` with a WhatsApp connection.
pub async fn fixture(store: &Store, slug: &str) -> Fixture {
    let master = MasterKey::generate();
    let ws = workspace(store, slug).await;
    let conn = connect(
        store,
        ws,
        &master,
        ChannelKind::WhatsApp,
        PHONE_NUMBER_ID,
        TOKEN,
    )
    .await;
    Fixture { ws, conn, master }
}

pub fn text_from(wa_id: &str, external_id: &str, body: &str, at: Timestamp) -> InboundMessage {
    InboundMessage {
        account: AccountRef {
            kind: ChannelKind::WhatsApp,
            account_id: PHONE_NUMBER_ID.into(),
        },
        external_id: external_id.into(),
        contact: ExternalContact {
            external_id: wa_id.into(),
            display_name: Some("Ana".into()),
            username: None,
            phone: Some(format!("+{wa_id}")),
        },
        sent_at: at,
        content: MessageContent::Text { body: body.into() },
        reply_to: None,
        referral: None,
    }
}

impl Fixture {
    /// Ingests `message` in a transaction of its own and commits.
    pub async fn ingest(
        &self,
        store: &Store,
        message: &InboundMessage,
        direction: Direction,
    ) -> Ingested {
        let mut tx = store.begin().await.unwrap();
        let done = tx
            .ingest_message(self.ws, self.conn.id, message, direction, t0())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        done
    }
}
