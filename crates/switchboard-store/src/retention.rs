//! Retention settings and the statements the retention sweep and the channel-disconnect
//! erasure run. Which tables they touch, and by which columns, comes from the personal-data
//! inventory (`switchboard_core::inventory`); this module only turns an inventory entry into
//! SQL, so a new swept table needs no change here.
//!
//! Invariants:
//! - every statement is scoped by `workspace_id`;
//! - deletion goes in bounded batches, each its own short transaction, so on SQLite (one
//!   writer) ingestion waits at most one batch;
//! - rows covered by [`RetentionExclusions`] are never deleted; a rule that cannot express an
//!   exclusion (no such column) is suspended for that workspace instead.

use crate::row::{RowExt, ms};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use switchboard_core::channel::ChannelKind;
use switchboard_core::inventory::{self, SubjectKind, SweepRule, Table};
use switchboard_core::retention::{RetentionExclusions, RetentionRule, RetentionRules};
use switchboard_core::{
    ConnectionId, ContactId, EmailAddress, MediaObjectId, Timestamp, UserId, WorkspaceId,
};

/// Which rows of a swept table a rule applies to: one connection's (per-channel rules), or
/// the whole workspace's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepScope {
    Connection(ConnectionId),
    Workspace,
}

/// The rows one rule makes expire: `table`'s rows under `rule` in `scope` whose age column
/// is before `cutoff`.
#[derive(Clone, Copy, Debug)]
pub struct Expiring {
    pub table: &'static Table,
    pub rule: &'static SweepRule,
    pub scope: SweepScope,
    pub cutoff: Timestamp,
}

/// Where a rule's sweep got to: the age and id of the last row deleted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SweepPosition {
    pub age: i64,
    pub id: String,
}

/// A workspace's privacy settings beyond retention.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrivacySettings {
    /// Where data subjects write (shown on the public data-deletion page).
    pub contact_email: Option<String>,
}

/// The `WHERE` clause that selects a rule's expired rows, and its bound values after
/// `$1` (workspace), `$2` (cutoff) and, per scope, `$3` (connection).
struct Expired {
    clause: String,
    binds: Vec<String>,
}

/// The clause for `rule` on `table`, or `None` when an exclusion cannot be expressed on this
/// table (the rule is then suspended).
fn expired_clause(
    table: &Table,
    rule: &SweepRule,
    scope: SweepScope,
    held: &RetentionExclusions,
) -> Option<Expired> {
    if held.workspace {
        return None;
    }
    let mut clause = format!("workspace_id = $1 AND {} < $2", rule.age_column);
    let mut binds = Vec::new();
    let mut next = 3;
    if let SweepScope::Connection(_) = scope {
        let column = rule.connection_column?;
        clause.push_str(&format!(" AND {column} = $3"));
        next = 4;
    }
    if !held.contacts.is_empty() {
        let column = table
            .links
            .iter()
            .find(|l| l.subject == SubjectKind::Contact)?
            .column;
        clause.push_str(&not_in(column, &mut next, held.contacts.len()));
        binds.extend(held.contacts.iter().map(ToString::to_string));
    }
    if !held.conversations.is_empty() {
        let column = rule.conversation_column?;
        clause.push_str(&not_in(column, &mut next, held.conversations.len()));
        binds.extend(held.conversations.iter().map(ToString::to_string));
    }
    Some(Expired { clause, binds })
}

/// The column naming a row's conversation, as the table's sweep rules give it.
fn conversation_column(table: &Table) -> Option<&'static str> {
    match table.retention {
        inventory::Retention::Swept(rules) => rules.iter().find_map(|r| r.conversation_column),
        _ => None,
    }
}

fn not_in(column: &str, next: &mut usize, n: usize) -> String {
    let params: Vec<String> = (0..n).map(|i| format!("${}", *next + i)).collect();
    *next += n;
    format!(" AND {column} NOT IN ({})", params.join(", "))
}

fn bind_expired<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    ws: WorkspaceId,
    cutoff: Timestamp,
    scope: SweepScope,
    expired: &'q Expired,
) -> Query<'q, Any, AnyArguments<'q>> {
    q = q.bind(ws.to_string()).bind(ms(cutoff));
    if let SweepScope::Connection(c) = scope {
        q = q.bind(c.to_string());
    }
    for b in &expired.binds {
        q = q.bind(b.as_str());
    }
    q
}

impl Store {
    /// The workspace's retention rules.
    pub async fn retention_rules(&self, ws: WorkspaceId) -> Result<RetentionRules> {
        let rows = sqlx::query(
            "SELECT data_class, channel, days FROM retention_rules WHERE workspace_id = $1 \
             ORDER BY data_class, channel",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut rules = Vec::with_capacity(rows.len());
        for row in &rows {
            let class = row.text("data_class")?;
            let channel = row.text("channel")?;
            rules.push(
                RetentionRule::parse(&class, Some(&channel), row.int("days")?)
                    .map_err(|e| StoreError::Corrupt(e.message))?,
            );
        }
        RetentionRules::new(rules).map_err(|e| StoreError::Corrupt(e.message))
    }

    /// The workspaces that have at least one retention rule (the sweep's work list).
    pub async fn workspaces_with_retention(&self) -> Result<Vec<WorkspaceId>> {
        let rows =
            sqlx::query("SELECT DISTINCT workspace_id FROM retention_rules ORDER BY workspace_id")
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(|r| r.parsed("workspace_id")).collect()
    }

    pub async fn privacy_settings(&self, ws: WorkspaceId) -> Result<PrivacySettings> {
        let row = sqlx::query(
            "SELECT contact_email FROM workspace_privacy_settings WHERE workspace_id = $1",
        )
        .bind(ws.to_string())
        .fetch_optional(&self.read)
        .await?;
        Ok(PrivacySettings {
            contact_email: match row {
                Some(r) => r.opt_text("contact_email")?,
                None => None,
            },
        })
    }

    /// How many rows the rule would delete now (the preview).
    pub async fn count_expired(
        &self,
        ws: WorkspaceId,
        what: &Expiring,
        held: &RetentionExclusions,
    ) -> Result<i64> {
        let Some(expired) = expired_clause(what.table, what.rule, what.scope, held) else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {}",
            what.table.name, expired.clause
        );
        let q = bind_expired(sqlx::query(&sql), ws, what.cutoff, what.scope, &expired);
        let row = q.fetch_one(&self.read).await?;
        row.int("n")
    }

    /// Deletes up to `limit` expired rows in one short transaction, oldest first, after
    /// `after` (the position the previous batch of this rule ended at); returns how many went
    /// (fewer than `limit`: the rule is done for now) and where this batch ended. Walking on
    /// from the last position, rather than from the start of the range each time, keeps a
    /// long sweep linear on PostgreSQL, whose index still holds the dead entries of earlier
    /// batches until vacuum. Rows that reference the deleted ones go by the schema's
    /// cascades (a conversation's messages, a message's media rows); the caller removes media
    /// files left without a row.
    pub async fn delete_expired_batch(
        &self,
        ws: WorkspaceId,
        what: &Expiring,
        held: &RetentionExclusions,
        limit: i64,
        after: Option<&SweepPosition>,
    ) -> Result<(u64, Option<SweepPosition>)> {
        let Some(expired) = expired_clause(what.table, what.rule, what.scope, held) else {
            return Ok((0, None));
        };
        let age = what.rule.age_column;
        let next =
            3 + usize::from(matches!(what.scope, SweepScope::Connection(_))) + expired.binds.len();
        let resume = match after {
            // A row comparison, so both databases use it as an index bound rather than a
            // filter over the rows already deleted.
            Some(_) => format!(" AND ({age}, id) > (${a}, ${b})", a = next, b = next + 1),
            None => String::new(),
        };
        let sql = format!(
            "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE {c}{resume} \
             ORDER BY {age}, id LIMIT {limit}) RETURNING {age} AS age, id",
            t = what.table.name,
            c = expired.clause,
            limit = limit.max(1),
        );
        let mut tx = self.begin().await?;
        let mut q = bind_expired(sqlx::query(&sql), ws, what.cutoff, what.scope, &expired);
        if let Some(p) = after {
            q = q.bind(p.age).bind(p.id.as_str());
        }
        let rows = q.fetch_all(tx.conn()).await?;
        tx.commit().await?;
        let mut last: Option<SweepPosition> = None;
        for row in &rows {
            let here = SweepPosition {
                age: row.int("age")?,
                id: row.text("id")?,
            };
            if last
                .as_ref()
                .is_none_or(|l| (here.age, &here.id) > (l.age, &l.id))
            {
                last = Some(here);
            }
        }
        Ok((rows.len() as u64, last))
    }

    /// Of the media object ids given (all in `ws`), those that still have a row, whatever
    /// its state.
    pub async fn media_ids_present(
        &self,
        ws: WorkspaceId,
        ids: &[MediaObjectId],
    ) -> Result<Vec<MediaObjectId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT id FROM media_objects WHERE workspace_id = $1 AND id IN ({})",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(ws.to_string());
        for id in ids {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(|r| r.parsed("id")).collect()
    }

    /// Clears what the inventory says a disconnected connection's own row must not keep
    /// (its `Anonymise` columns: credentials, webhook secret, the Meta user who authorised it).
    pub async fn anonymise_connection(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
    ) -> Result<()> {
        for (table, column) in inventory::linked(SubjectKind::ChannelConnection) {
            let inventory::ErasureAction::Anonymise { columns } = table.erasure else {
                continue;
            };
            if columns.is_empty() {
                continue;
            }
            let sets: Vec<String> = columns.iter().map(|c| format!("{c} = NULL")).collect();
            let sql = format!(
                "UPDATE {} SET {} WHERE workspace_id = $1 AND {column} = $2",
                table.name,
                sets.join(", ")
            );
            sqlx::query(&sql)
                .bind(ws.to_string())
                .bind(connection.to_string())
                .execute(&self.write)
                .await?;
        }
        Ok(())
    }

    /// Removes up to `limit` rows of the disconnected `connection`'s data, children before
    /// parents (the inventory declares a table after those it references, so its reverse
    /// order deletes messages before their conversations and identities last), each batch in
    /// its own transaction. A contact left with no row anywhere after its rows went is
    /// deleted in the same transaction. Returns how many rows went: 0 means done. Resumable:
    /// it keeps no state but the rows still there.
    pub async fn erase_connection_batch(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        held: &RetentionExclusions,
        limit: i64,
        now: Timestamp,
    ) -> Result<u64> {
        if held.workspace {
            return Ok(0);
        }
        let tables: Vec<(&'static Table, &'static str)> =
            inventory::linked(SubjectKind::ChannelConnection)
                .filter(|(t, column)| {
                    *column != "id" && t.erasure == inventory::ErasureAction::Delete
                })
                .collect();
        for (table, column) in tables.into_iter().rev() {
            let contact_column = table
                .links
                .iter()
                .find(|l| l.subject == SubjectKind::Contact)
                .map(|l| l.column);
            let mut clause = format!("workspace_id = $1 AND {column} = $2");
            let mut binds: Vec<String> = Vec::new();
            let mut next = 3;
            if !held.contacts.is_empty() {
                let Some(c) = contact_column else {
                    // Cannot tell whose rows these are: keep them while anything is held.
                    continue;
                };
                clause.push_str(&not_in(c, &mut next, held.contacts.len()));
                binds.extend(held.contacts.iter().map(ToString::to_string));
            }
            if !held.conversations.is_empty() {
                let Some(conv) = conversation_column(table) else {
                    continue;
                };
                clause.push_str(&not_in(conv, &mut next, held.conversations.len()));
                binds.extend(held.conversations.iter().map(ToString::to_string));
            }
            let returning = contact_column.unwrap_or("workspace_id");
            // Tables without an id (statuses parked for a message) are small: one statement.
            let sql = if table.column("id").is_some() {
                format!(
                    "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE {clause} LIMIT {n}) \
                     RETURNING {returning} AS owner",
                    t = table.name,
                    n = limit.max(1)
                )
            } else {
                format!(
                    "DELETE FROM {t} WHERE {clause} RETURNING {returning} AS owner",
                    t = table.name
                )
            };
            let mut tx = self.begin().await?;
            let mut q = sqlx::query(&sql)
                .bind(ws.to_string())
                .bind(connection.to_string());
            for b in &binds {
                q = q.bind(b.as_str());
            }
            let rows = q.fetch_all(tx.conn()).await?;
            if rows.is_empty() {
                continue;
            }
            let deleted = rows.len() as u64;
            if contact_column.is_some() {
                let mut owners: Vec<String> = rows
                    .iter()
                    .map(|r| r.text("owner"))
                    .collect::<Result<_>>()?;
                owners.sort();
                owners.dedup();
                tx.delete_contacts_without_data(ws, &owners, held, now)
                    .await?;
            }
            tx.commit().await?;
            return Ok(deleted);
        }
        Ok(0)
    }
}

impl Tx {
    /// Replaces the workspace's retention rules with `rules`.
    pub async fn replace_retention_rules(
        &mut self,
        ws: WorkspaceId,
        rules: &RetentionRules,
        by: Option<UserId>,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query("DELETE FROM retention_rules WHERE workspace_id = $1")
            .bind(ws.to_string())
            .execute(self.conn())
            .await?;
        for rule in rules.rules() {
            sqlx::query(
                "INSERT INTO retention_rules (workspace_id, data_class, channel, days, updated_at, \
                 updated_by) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ws.to_string())
            .bind(rule.class.as_str())
            .bind(rule.channel_name())
            .bind(i64::from(rule.days))
            .bind(ms(now))
            .bind(by.map(|u| u.to_string()))
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Sets (or clears) the workspace's privacy contact address.
    pub async fn set_privacy_contact_email(
        &mut self,
        ws: WorkspaceId,
        email: Option<&EmailAddress>,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO workspace_privacy_settings (workspace_id, contact_email, updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT (workspace_id) DO UPDATE SET \
             contact_email = excluded.contact_email, updated_at = excluded.updated_at",
        )
        .bind(ws.to_string())
        .bind(email.map(|e| e.as_str().to_owned()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes those of `contacts` that have no row left in any table linked to contacts
    /// (identities, conversations, messages, consent, ...), unless held; each is a
    /// `contact.deleted` webhook event.
    pub(crate) async fn delete_contacts_without_data(
        &mut self,
        ws: WorkspaceId,
        contacts: &[String],
        held: &RetentionExclusions,
        now: Timestamp,
    ) -> Result<u64> {
        let mut deleted = 0;
        let Some((subject_table, id_column)) = inventory::linked(SubjectKind::Contact)
            .find(|(t, c)| *c == "id" && t.erasure == inventory::ErasureAction::Delete)
        else {
            return Ok(0);
        };
        let mut exists = String::new();
        for (table, column) in inventory::linked(SubjectKind::Contact) {
            if table.name == subject_table.name {
                continue;
            }
            exists.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM {} x WHERE x.{column} = {}.{id_column})",
                table.name, subject_table.name
            ));
        }
        for contact in contacts {
            let id: ContactId = contact
                .parse()
                .map_err(|_| StoreError::Corrupt("a contact id".to_owned()))?;
            if held.contacts.contains(&id) {
                continue;
            }
            let sql = format!(
                "DELETE FROM {t} WHERE workspace_id = $1 AND {id_column} = $2{exists}",
                t = subject_table.name
            );
            let done = sqlx::query(&sql)
                .bind(ws.to_string())
                .bind(contact.as_str())
                .execute(self.conn())
                .await?;
            if done.rows_affected() > 0 {
                self.record_webhook(ws, WebhookEventType::ContactDeleted, id, now);
            }
            deleted += done.rows_affected();
        }
        Ok(deleted)
    }
}

/// The connections whose rows a per-channel rule of a workspace covers, with their kind.
pub type ScopedConnections = Vec<(ConnectionId, ChannelKind)>;

impl Store {
    /// Every connection of the workspace (disconnected ones too: their rows may still wait
    /// for the disconnect erasure), with its kind.
    pub async fn connection_kinds(&self, ws: WorkspaceId) -> Result<ScopedConnections> {
        let rows = sqlx::query(
            "SELECT id, kind FROM channel_connections WHERE workspace_id = $1 ORDER BY id",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.parsed("id")?, r.valid("kind", ChannelKind::parse)?)))
            .collect()
    }
}
