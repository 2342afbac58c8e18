//! What the privacy deadline calendar reads from the database: each workspace's public
//! holidays (skipped like weekends), the recomputation of open requests' deadlines when they
//! change, the requests a daily digest lists, and the digest's once-a-day mark.
//!
//! Invariants:
//! - every deadline is computed by `switchboard_core::privacy::calendar` from the request's
//!   receipt, pauses and extension and the workspace's holidays — adding or removing a holiday
//!   recomputes the open requests of that workspace in the same transaction;
//! - a workspace's digest for a day is marked by inserting its `(workspace, day)` key, which
//!   only one transaction can do, so it is sent once whatever the number of processes.

use crate::privacy_requests::PrivacyRequest;
use crate::row::{RowExt, ms};
use crate::{Result, Store, StoreError, Tx};
use switchboard_core::privacy::calendar;
use switchboard_core::{PrivacyRequestId, Timestamp, WorkspaceId};
use time::Date;

/// A public holiday of a workspace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Holiday {
    pub day: Date,
    pub name: String,
}

fn day_text(day: Date) -> String {
    day.to_string()
}

fn parse_day(raw: &str) -> Result<Date> {
    Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| StoreError::Corrupt(format!("holiday day `{raw}`: {e}")))
}

fn date_ms(date: Date) -> i64 {
    ms(date.midnight().assume_utc())
}

impl Tx {
    /// The workspace's holidays, as the calendar takes them.
    pub async fn holidays_of(&mut self, ws: WorkspaceId) -> Result<Vec<Date>> {
        let rows = sqlx::query("SELECT day FROM privacy_holidays WHERE workspace_id = $1")
            .bind(ws.to_string())
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(|r| parse_day(&r.text("day")?)).collect()
    }

    /// Adds a holiday (`holiday_exists` when the day is listed) and recomputes the deadlines
    /// of the workspace's open requests.
    pub async fn add_holiday(
        &mut self,
        ws: WorkspaceId,
        day: Date,
        name: &str,
        now: Timestamp,
    ) -> Result<usize> {
        let done = sqlx::query(
            "INSERT INTO privacy_holidays (workspace_id, day, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, day) DO NOTHING",
        )
        .bind(ws.to_string())
        .bind(day_text(day))
        .bind(name)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::conflict(
                "holiday_exists",
                format!("{day} is already listed as a holiday."),
            ));
        }
        self.recompute_deadlines(ws, now).await
    }

    /// Removes a holiday and recomputes the deadlines of the workspace's open requests.
    pub async fn remove_holiday(
        &mut self,
        ws: WorkspaceId,
        day: Date,
        now: Timestamp,
    ) -> Result<usize> {
        let done = sqlx::query("DELETE FROM privacy_holidays WHERE workspace_id = $1 AND day = $2")
            .bind(ws.to_string())
            .bind(day_text(day))
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.recompute_deadlines(ws, now).await
    }

    /// Recomputes every open request's deadlines in the workspace from the calendar (receipt,
    /// whole days paused so far, extension, holidays); returns how many changed.
    pub async fn recompute_deadlines(&mut self, ws: WorkspaceId, _now: Timestamp) -> Result<usize> {
        let holidays = self.holidays_of(ws).await?;
        let rows = sqlx::query(
            "SELECT id, regime, received_at, paused_days, extended_at, acknowledge_by, respond_by, \
             first_deadline FROM privacy_requests WHERE workspace_id = $1 \
             AND state NOT IN ('completed', 'refused')",
        )
        .bind(ws.to_string())
        .fetch_all(self.conn())
        .await?;
        let mut changed = 0;
        for row in &rows {
            let regime =
                crate::row::known(row, "regime", switchboard_core::privacy::Regime::parse)?;
            let received = row.time("received_at")?.date();
            let extended = row.opt_int("extended_at")?.is_some();
            let d = calendar::deadlines(
                regime,
                received,
                row.int("paused_days")?,
                extended,
                &holidays,
            );
            let now_values = [
                date_ms(d.acknowledge_by),
                date_ms(d.respond_by),
                date_ms(d.first_deadline),
            ];
            let stored = [
                row.int("acknowledge_by")?,
                row.int("respond_by")?,
                row.int("first_deadline")?,
            ];
            if now_values == stored {
                continue;
            }
            sqlx::query(
                "UPDATE privacy_requests SET acknowledge_by = $3, respond_by = $4, first_deadline = $5 \
                 WHERE workspace_id = $1 AND id = $2",
            )
            .bind(ws.to_string())
            .bind(row.text("id")?)
            .bind(now_values[0])
            .bind(now_values[1])
            .bind(now_values[2])
            .execute(self.conn())
            .await?;
            changed += 1;
        }
        Ok(changed)
    }

    /// Marks the workspace's digest for `day` as sent; false when it already was (by this or
    /// another process), in which case nothing may be sent.
    pub async fn mark_digest_sent(
        &mut self,
        ws: WorkspaceId,
        day: Date,
        requests: i64,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO privacy_digests (workspace_id, day, requests, sent_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, day) DO NOTHING",
        )
        .bind(ws.to_string())
        .bind(day_text(day))
        .bind(requests)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// The workspace's holidays, earliest first.
    pub async fn holidays(&self, ws: WorkspaceId) -> Result<Vec<Holiday>> {
        let rows = sqlx::query(
            "SELECT day, name FROM privacy_holidays WHERE workspace_id = $1 ORDER BY day",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Holiday {
                    day: parse_day(&r.text("day")?)?,
                    name: r.text("name")?,
                })
            })
            .collect()
    }

    /// Workspaces with an open request due on or before `by` (the digest job's list; it then
    /// reads each workspace's own requests through [`Store::due_requests`]).
    pub async fn workspaces_with_due_requests(&self, by: Date) -> Result<Vec<WorkspaceId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT workspace_id FROM privacy_requests WHERE workspace_id IS NOT NULL \
             AND state NOT IN ('completed', 'refused') AND respond_by <= $1",
        )
        .bind(date_ms(by))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| r.parsed("workspace_id")).collect()
    }

    /// The workspace's open requests due on or before `by`, soonest first.
    pub async fn due_requests(&self, ws: WorkspaceId, by: Date) -> Result<Vec<PrivacyRequest>> {
        let mut due = Vec::new();
        let rows = sqlx::query(
            "SELECT id FROM privacy_requests WHERE workspace_id = $1 \
             AND state NOT IN ('completed', 'refused') AND respond_by <= $2 \
             ORDER BY respond_by, id",
        )
        .bind(ws.to_string())
        .bind(date_ms(by))
        .fetch_all(&self.read)
        .await?;
        for row in &rows {
            let id: PrivacyRequestId = row.parsed("id")?;
            due.push(self.privacy_request(ws, id).await?);
        }
        Ok(due)
    }
}
