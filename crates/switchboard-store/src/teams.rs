//! Teams: named groups of a workspace's members ("Billing", "Spanish") that conversations are
//! assigned to, with or without an agent.
//!
//! Invariants:
//! - a team's members are members of its workspace: `team_members` rows are written from the
//!   membership row in one statement, and the membership is their parent (foreign key), so a
//!   member who leaves the workspace leaves its teams with it;
//! - a conversation's team is a team of its workspace (looked up in `ws` in the statement
//!   that sets it); every change of a conversation's team records its timeline entry
//!   (`team_assigned`/`team_unassigned`) and its live-update event in the same transaction —
//!   deleting a team too, for each conversation it held;
//! - a team created with an `Idempotency-Key` is found again by that key (unique per
//!   workspace), so a retried create answers the first one.

use crate::error::on_unique;
use crate::inbox::{ActivityKind, NewActivity};
use crate::row::{RowExt, found, ms};
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use std::collections::HashMap;
use switchboard_core::{ConversationId, TeamId, Timestamp, UserId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// Its members' user ids, in the order they joined.
    pub member_ids: Vec<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, name, created_at, updated_at";

fn team_from(row: &AnyRow) -> Result<Team> {
    Ok(Team {
        id: row.parsed("id")?,
        name: row.text("name")?,
        member_ids: Vec::new(),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl Tx {
    /// Creates a team; its name is unique in the workspace (`team_exists`).
    pub async fn create_team(
        &mut self,
        ws: WorkspaceId,
        name: &str,
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<Team> {
        let id = TeamId::new();
        let done = sqlx::query(
            "INSERT INTO teams (id, workspace_id, name, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(ws.to_string())
        .bind(name)
        .bind(idempotency_key)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        on_unique(
            done,
            "team_exists",
            "A team with this name exists already (or this Idempotency-Key is in use).",
        )?;
        self.team_changed(ws, id, now);
        Ok(Team {
            id,
            name: name.to_owned(),
            member_ids: Vec::new(),
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn rename_team(
        &mut self,
        ws: WorkspaceId,
        id: TeamId,
        name: &str,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE teams SET name = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(name)
        .bind(ms(now))
        .execute(self.conn())
        .await
        .map_err(StoreError::from);
        found(on_unique(
            done,
            "team_exists",
            "A team with this name exists already.",
        )?)?;
        self.team_changed(ws, id, now);
        Ok(())
    }

    /// Deletes a team. Its conversations are unassigned from it first, each with a
    /// `team_unassigned` timeline entry by `author` and a live-update event. Returns how many
    /// conversations it held.
    pub async fn delete_team(
        &mut self,
        ws: WorkspaceId,
        id: TeamId,
        author: Option<UserId>,
        now: Timestamp,
    ) -> Result<u64> {
        let name: String =
            sqlx::query_scalar("SELECT name FROM teams WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(id.to_string())
                .fetch_optional(self.conn())
                .await?
                .ok_or(StoreError::NotFound)?;
        let held: Vec<String> = sqlx::query_scalar(
            "UPDATE conversations SET team_id = NULL, updated_at = $3 \
             WHERE workspace_id = $1 AND team_id = $2 RETURNING id",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(ms(now))
        .fetch_all(self.conn())
        .await?;
        for raw in &held {
            let conversation: ConversationId = raw
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("conversation id {raw}")))?;
            self.add_activity(
                ws,
                conversation,
                &NewActivity::event(ActivityKind::TeamUnassigned, author, Some(&name)),
                now,
            )
            .await?;
            self.record_event(
                ws,
                "conversation.updated",
                Some(conversation),
                serde_json::json!({ "team_id": null }),
                now,
            );
        }
        let done = sqlx::query("DELETE FROM teams WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        found(done)?;
        self.team_changed(ws, id, now);
        Ok(held.len() as u64)
    }

    /// Adds a member of `ws` to the team; `false` when they were in it already. `NotFound`
    /// for a team of another workspace; `not_a_member` when the user is no member of `ws`.
    pub async fn add_team_member(
        &mut self,
        ws: WorkspaceId,
        team: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> Result<bool> {
        self.team_exists(ws, team).await?;
        // Written from the membership row: no membership, no row.
        let done = sqlx::query(
            "INSERT INTO team_members (team_id, workspace_id, user_id, created_at) \
             SELECT $2, workspace_id, user_id, $4 FROM memberships \
             WHERE workspace_id = $1 AND user_id = $3 \
             ON CONFLICT (team_id, user_id) DO NOTHING",
        )
        .bind(ws.to_string())
        .bind(team.to_string())
        .bind(user.to_string())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 1 {
            self.team_changed(ws, team, now);
            return Ok(true);
        }
        let already: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM team_members WHERE workspace_id = $1 AND team_id = $2 AND user_id = $3",
        )
        .bind(ws.to_string())
        .bind(team.to_string())
        .bind(user.to_string())
        .fetch_optional(self.conn())
        .await?;
        match already {
            Some(_) => Ok(false),
            None => Err(StoreError::conflict(
                "not_a_member",
                "Only members of the workspace can join its teams.",
            )),
        }
    }

    /// Takes a member out of the team (`NotFound` when they were not in it).
    pub async fn remove_team_member(
        &mut self,
        ws: WorkspaceId,
        team: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM team_members WHERE workspace_id = $1 AND team_id = $2 AND user_id = $3",
        )
        .bind(ws.to_string())
        .bind(team.to_string())
        .bind(user.to_string())
        .execute(self.conn())
        .await?;
        found(done)?;
        self.team_changed(ws, team, now);
        Ok(())
    }

    /// Assigns the conversation to a team of `ws`, or takes it off its team with `None`;
    /// records the timeline entry (by `author`) and the live-update event. Returns whether
    /// anything changed (assigning to the team it has already records nothing).
    pub async fn assign_conversation_team(
        &mut self,
        ws: WorkspaceId,
        conversation: ConversationId,
        team: Option<TeamId>,
        author: Option<UserId>,
        now: Timestamp,
    ) -> Result<bool> {
        let before: Option<Option<String>> = sqlx::query_scalar(
            "SELECT team_id FROM conversations WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .fetch_optional(self.conn())
        .await?;
        let before = before.ok_or(StoreError::NotFound)?;
        let (kind, name) = match team {
            Some(team) => {
                let name: String = sqlx::query_scalar(
                    "SELECT name FROM teams WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(team.to_string())
                .fetch_optional(self.conn())
                .await?
                .ok_or(StoreError::NotFound)?;
                (ActivityKind::TeamAssigned, name)
            }
            None => {
                let Some(old) = &before else {
                    return Ok(false);
                };
                let name: Option<String> = sqlx::query_scalar(
                    "SELECT name FROM teams WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(old)
                .fetch_optional(self.conn())
                .await?;
                (ActivityKind::TeamUnassigned, name.unwrap_or_default())
            }
        };
        let team = team.map(|t| t.to_string());
        if before == team {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE conversations SET team_id = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws.to_string())
        .bind(conversation.to_string())
        .bind(team.as_deref())
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        found(done)?;
        self.add_activity(
            ws,
            conversation,
            &NewActivity::event(kind, author, Some(&name)),
            now,
        )
        .await?;
        self.record_event(
            ws,
            "conversation.updated",
            Some(conversation),
            serde_json::json!({ "team_id": team }),
            now,
        );
        Ok(true)
    }

    async fn team_exists(&mut self, ws: WorkspaceId, team: TeamId) -> Result<()> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT id FROM teams WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(team.to_string())
                .fetch_optional(self.conn())
                .await?;
        row.map(|_| ()).ok_or(StoreError::NotFound)
    }

    /// Tells open settings pages and inboxes that the workspace's teams changed.
    fn team_changed(&mut self, ws: WorkspaceId, team: TeamId, now: Timestamp) {
        self.record_event(
            ws,
            "team.changed",
            None,
            serde_json::json!({ "team_id": team.to_string() }),
            now,
        );
    }
}

impl Store {
    /// The workspace's teams, by name, each with its members.
    pub async fn teams(&self, ws: WorkspaceId) -> Result<Vec<Team>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM teams WHERE workspace_id = $1 ORDER BY name, id"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut teams = rows.iter().map(team_from).collect::<Result<Vec<_>>>()?;
        let members = sqlx::query(
            "SELECT team_id, user_id FROM team_members WHERE workspace_id = $1 \
             ORDER BY created_at, user_id",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut by_team: HashMap<TeamId, Vec<UserId>> = HashMap::new();
        for row in &members {
            by_team
                .entry(row.parsed("team_id")?)
                .or_default()
                .push(row.parsed("user_id")?);
        }
        for team in &mut teams {
            team.member_ids = by_team.remove(&team.id).unwrap_or_default();
        }
        Ok(teams)
    }

    /// One team of `ws`, with its members.
    pub async fn team(&self, ws: WorkspaceId, id: TeamId) -> Result<Team> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM teams WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut team = team_from(&row)?;
        team.member_ids = self.team_member_ids(ws, id).await?;
        Ok(team)
    }

    pub async fn team_by_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
    ) -> Result<Option<Team>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM teams WHERE workspace_id = $1 AND idempotency_key = $2"
        ))
        .bind(ws.to_string())
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        match row {
            Some(row) => {
                let mut team = team_from(&row)?;
                team.member_ids = self.team_member_ids(ws, team.id).await?;
                Ok(Some(team))
            }
            None => Ok(None),
        }
    }

    async fn team_member_ids(&self, ws: WorkspaceId, team: TeamId) -> Result<Vec<UserId>> {
        let rows = sqlx::query(
            "SELECT user_id FROM team_members WHERE workspace_id = $1 AND team_id = $2 \
             ORDER BY created_at, user_id",
        )
        .bind(ws.to_string())
        .bind(team.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| r.parsed("user_id")).collect()
    }

    /// Whether `user` is in the team (a team of `ws`).
    pub async fn in_team(&self, ws: WorkspaceId, team: TeamId, user: UserId) -> Result<bool> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM team_members WHERE workspace_id = $1 AND team_id = $2 AND user_id = $3",
        )
        .bind(ws.to_string())
        .bind(team.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.read)
        .await?;
        Ok(row.is_some())
    }
}
