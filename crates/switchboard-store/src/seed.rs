//! Bulk filling of a workspace for benchmarks and load tests (`switchboard bench inbox` on a
//! scratch database, `switchboard bench seed` into a workspace of the instance): contacts,
//! identities, conversations (optionally spread over new teams) and text messages written in
//! large multi-row inserts, many rows per transaction, through the same tables (and so the
//! same indexes, search index and triggers) as real traffic. Platform ids carry a per-run tag,
//! so a workspace can be seeded more than once. Not used by the product itself.

use crate::row::ms;
use crate::{Result, Store};
use switchboard_core::{
    ConnectionId, ContactId, ConversationId, MessageId, TeamId, Timestamp, WorkspaceId,
};

/// Rows per INSERT statement (well under both backends' parameter limits).
const BATCH: usize = 400;

/// What to write: `conversations` conversations (one contact each) holding `messages`
/// messages in all, spread evenly, their times ending at `now`.
#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    pub conversations: u64,
    pub messages: u64,
    /// New teams to create; conversation `i` goes to team `i % (teams + 1)`, the last share
    /// to no team.
    pub teams: u32,
    pub now: Timestamp,
}

/// What [`Store::seed_inbox`] wrote.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The conversation ids, in order.
    pub conversations: Vec<ConversationId>,
    /// The teams it created, in order.
    pub teams: Vec<TeamId>,
}

const WORDS: &[&str] = &[
    "order",
    "shipping",
    "refund",
    "size",
    "blue",
    "shirt",
    "delivery",
    "tracking",
    "invoice",
    "payment",
    "card",
    "address",
    "lisbon",
    "berlin",
    "madrid",
    "paris",
    "tomorrow",
    "today",
    "thanks",
    "hello",
    "please",
    "available",
    "stock",
    "price",
    "discount",
    "coupon",
    "return",
    "exchange",
    "broken",
    "late",
    "package",
    "courier",
    "receipt",
    "account",
    "password",
    "email",
    "phone",
    "store",
    "opening",
    "hours",
    "weekend",
    "gift",
    "wrap",
    "color",
    "red",
    "green",
    "black",
    "white",
    "small",
    "medium",
    "large",
    "shoes",
    "jacket",
    "dress",
    "hat",
];

fn text_for(n: u64) -> String {
    // A cheap deterministic spread of words, so searches hit realistic fractions of rows.
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let mut words = Vec::with_capacity(8);
    for _ in 0..8 {
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let i = usize::try_from(x % WORDS.len() as u64).unwrap_or(0);
        words.push(WORDS.get(i).copied().unwrap_or("order"));
    }
    format!("{} #{n}", words.join(" "))
}

impl Store {
    /// Writes `plan` into `ws` on `connection`.
    pub async fn seed_inbox(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        plan: SeedPlan,
    ) -> Result<Seeded> {
        let n = usize::try_from(plan.conversations).unwrap_or(usize::MAX);
        let contacts: Vec<ContactId> = (0..n).map(|_| ContactId::new()).collect();
        let conversations: Vec<ConversationId> = (0..n).map(|_| ConversationId::new()).collect();
        let per = plan.messages / plan.conversations.max(1);
        // Platform ids are unique per connection: a run tag lets a workspace be seeded again.
        let run = ConversationId::new().to_string();
        let mut teams = Vec::new();
        if plan.teams > 0 {
            let mut tx = self.begin().await?;
            for t in 0..plan.teams {
                let tag = run.chars().rev().take(6).collect::<String>();
                let team = tx
                    .create_team(
                        ws,
                        &format!("Seeded team {} ({tag})", t + 1),
                        None,
                        plan.now,
                    )
                    .await?;
                teams.push(team.id);
            }
            tx.commit().await?;
        }
        let team_of = |i: usize| -> Option<String> {
            teams.get(i % (teams.len() + 1)).map(ToString::to_string)
        };
        let start = ms(plan.now) - i64::try_from(plan.messages).unwrap_or(0) * 1000;
        for chunk in 0..n.div_ceil(BATCH) {
            let range = chunk * BATCH..((chunk + 1) * BATCH).min(n);
            let mut tx = self.begin().await?;
            let rows = range.len();
            let values = |cols: usize| {
                (0..rows)
                    .map(|r| {
                        let ps: Vec<String> =
                            (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
                        format!("({})", ps.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let sql = format!(
                "INSERT INTO contacts (id, workspace_id, display_name, created_at, updated_at) VALUES {}",
                values(5)
            );
            let mut q = sqlx::query(&sql);
            for i in range.clone() {
                q = q
                    .bind(contacts.get(i).map(ToString::to_string))
                    .bind(ws.to_string())
                    .bind(format!("Customer {i}"))
                    .bind(start)
                    .bind(start);
            }
            q.execute(tx.conn()).await?;
            let sql = format!(
                "INSERT INTO contact_identities (id, workspace_id, contact_id, connection_id, kind, \
                 external_id, created_at) VALUES {}",
                values(7)
            );
            let mut q = sqlx::query(&sql);
            for i in range.clone() {
                q = q
                    .bind(ContactId::new().to_string())
                    .bind(ws.to_string())
                    .bind(contacts.get(i).map(ToString::to_string))
                    .bind(connection.to_string())
                    .bind("whatsapp")
                    .bind(format!("seed.{run}.{i}"))
                    .bind(start);
            }
            q.execute(tx.conn()).await?;
            let sql = format!(
                "INSERT INTO conversations (id, workspace_id, contact_id, connection_id, status, \
                 created_at, updated_at, activity_at, last_message_at, last_inbound_at, waiting_since, \
                 unread_count, team_id) VALUES {}",
                values(13)
            );
            let mut q = sqlx::query(&sql);
            for i in range.clone() {
                let last = start + i64::try_from((i as u64 + 1) * per).unwrap_or(0) * 1000;
                let status = ["open", "open", "pending", "resolved", "snoozed"]
                    .get(i % 5)
                    .copied()
                    .unwrap_or("open");
                q = q
                    .bind(conversations.get(i).map(ToString::to_string))
                    .bind(ws.to_string())
                    .bind(contacts.get(i).map(ToString::to_string))
                    .bind(connection.to_string())
                    .bind(status)
                    .bind(start)
                    .bind(last)
                    .bind(last)
                    .bind(last)
                    .bind(last)
                    .bind((i % 2 == 0).then_some(last))
                    .bind(i64::from(i % 3 == 0))
                    .bind(team_of(i));
            }
            q.execute(tx.conn()).await?;
            tx.commit().await?;
        }
        // Messages: conversation i holds messages i*per .. (i+1)*per, in time order.
        let total = plan.messages;
        let mut next = 0u64;
        while next < total {
            let end = (next + 4 * BATCH as u64).min(total);
            let mut tx = self.begin().await?;
            let mut k = next;
            while k < end {
                let stop = (k + BATCH as u64).min(end);
                let rows = usize::try_from(stop - k).unwrap_or(0);
                let cols = 13;
                let values = (0..rows)
                    .map(|r| {
                        let ps: Vec<String> =
                            (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
                        format!("({})", ps.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO messages (id, workspace_id, conversation_id, connection_id, contact_id, \
                     direction, external_id, content, text, status, status_rank, created_at, updated_at) \
                     VALUES {values}"
                );
                let mut q = sqlx::query(&sql);
                for m in k..stop {
                    let c =
                        usize::try_from((m / per.max(1)).min(plan.conversations.saturating_sub(1)))
                            .unwrap_or(0);
                    let text = text_for(m);
                    let inbound = m % 2 == 0;
                    let at = start + i64::try_from(m).unwrap_or(0) * 1000;
                    q = q
                        .bind(MessageId::new().to_string())
                        .bind(ws.to_string())
                        .bind(conversations.get(c).map(ToString::to_string))
                        .bind(connection.to_string())
                        .bind(contacts.get(c).map(ToString::to_string))
                        .bind(if inbound { "inbound" } else { "outbound" })
                        .bind(format!("seed.{run}.{m}"))
                        .bind(serde_json::json!({"type": "text", "body": text}).to_string())
                        .bind(text)
                        .bind(if inbound { "received" } else { "delivered" })
                        .bind(if inbound { 0_i64 } else { 2 })
                        .bind(at)
                        .bind(at);
                }
                q.execute(tx.conn()).await?;
                k = stop;
            }
            tx.commit().await?;
            next = end;
        }
        // Fresh statistics, as a database that grew over time has.
        sqlx::query("ANALYZE").execute(&self.write).await?;
        Ok(Seeded {
            conversations,
            teams,
        })
    }
}
