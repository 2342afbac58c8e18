//! Privacy requests as records: subject, kind, source, the state machine with its deadlines,
//! and (for erasure) the plan, the sealed identifiers for the residue scan, the resumable
//! progress, the receipt and the residue found.
//!
//! Invariants:
//! - the state only changes through [`Tx::move_request`], which checks the transition with
//!   `switchboard_core::privacy` and writes its audit entry in the same transaction (a pause
//!   for identity verification and its end included);
//! - deadlines are recomputed from the calendar whenever a pause ends or an extension is
//!   recorded, never edited by hand;
//! - a request holds no identifier of its subject in clear: ids of rows, a SHA-256 of an
//!   external id, and the identifiers for the residue scan sealed under the platform key.

use crate::audit::NewAuditEvent;
use crate::row::{RowExt, found, known, ms};
use crate::webhooks::WebhookEventType;
use crate::{Result, Store, StoreError, Tx};
use sqlx::any::AnyRow;
use switchboard_core::clock::from_millis;
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::calendar::{self, Deadlines, Urgency};
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{PrivacyRequestId, Timestamp, UserId, ValidationError, WorkspaceId};
use time::Date;

/// The subject kinds' names as stored.
pub fn subject_kind_str(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Contact => "contact",
        SubjectKind::PlatformUser => "platform_user",
        SubjectKind::Workspace => "workspace",
        SubjectKind::ChannelConnection => "channel_connection",
        SubjectKind::MetaUser => "meta_user",
    }
}

pub fn parse_subject_kind(raw: &str) -> Option<SubjectKind> {
    [
        SubjectKind::Contact,
        SubjectKind::PlatformUser,
        SubjectKind::Workspace,
        SubjectKind::ChannelConnection,
        SubjectKind::MetaUser,
    ]
    .into_iter()
    .find(|k| subject_kind_str(*k) == raw)
}

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewPrivacyRequest {
    pub workspace_id: Option<WorkspaceId>,
    pub kind: RequestKind,
    pub source: RequestSource,
    pub regime: Regime,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<String>,
    pub subject_key_hash: Option<String>,
    pub source_ref: Option<String>,
    pub confirmation_code: Option<String>,
    pub needs_review: bool,
    /// What erasure covers (see `erasure::Plan`); `{}` for a single subject.
    pub plan: serde_json::Value,
    pub created_by: Option<UserId>,
}

/// A request as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrivacyRequest {
    pub id: PrivacyRequestId,
    pub workspace_id: Option<WorkspaceId>,
    pub kind: RequestKind,
    pub source: RequestSource,
    pub regime: Regime,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<String>,
    #[serde(skip)]
    pub subject_key_hash: Option<String>,
    pub confirmation_code: Option<String>,
    pub state: RequestState,
    pub state_reason: Option<String>,
    pub needs_review: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: Timestamp,
    pub deadlines: Deadlines,
    #[serde(with = "time::serde::rfc3339::option")]
    pub extended_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub paused_since: Option<Timestamp>,
    pub paused_days: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub refused_at: Option<Timestamp>,
    pub plan: serde_json::Value,
    pub progress: serde_json::Value,
    pub receipt: Option<serde_json::Value>,
    pub residue: Option<serde_json::Value>,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

impl PrivacyRequest {
    /// How close the request is to its answer deadline on `today` (final requests are on time).
    pub fn urgency(&self, today: Date) -> Urgency {
        if self.state.is_final() {
            return Urgency::OnTime;
        }
        calendar::urgency(self.deadlines.respond_by, today)
    }
}

pub(crate) const COLUMNS: &str = "id, workspace_id, kind, source, regime, subject_kind, subject_id, \
    subject_key_hash, confirmation_code, state, state_reason, needs_review, received_at, \
    acknowledge_by, respond_by, first_deadline, extended_at, paused_since, paused_days, \
    acknowledged_at, completed_at, refused_at, plan, progress, receipt, residue, created_by, \
    created_at, updated_at";

fn date_of(millis: i64) -> Date {
    from_millis(millis).date()
}

fn date_ms(date: Date) -> i64 {
    ms(date.midnight().assume_utc())
}

fn opt_json(row: &AnyRow, col: &str) -> Result<Option<serde_json::Value>> {
    row.opt_text(col)?
        .map(|raw| {
            serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
        })
        .transpose()
}

pub(crate) fn request_from(row: &AnyRow) -> Result<PrivacyRequest> {
    let subject_kind = row.text("subject_kind")?;
    Ok(PrivacyRequest {
        id: row.parsed("id")?,
        workspace_id: row.opt_parsed("workspace_id")?,
        kind: known(row, "kind", RequestKind::parse)?,
        source: known(row, "source", RequestSource::parse)?,
        regime: known(row, "regime", Regime::parse)?,
        subject_kind: parse_subject_kind(&subject_kind)
            .ok_or_else(|| StoreError::Corrupt(format!("subject_kind `{subject_kind}`")))?,
        subject_id: row.opt_text("subject_id")?,
        subject_key_hash: row.opt_text("subject_key_hash")?,
        confirmation_code: row.opt_text("confirmation_code")?,
        state: known(row, "state", RequestState::parse)?,
        state_reason: row.opt_text("state_reason")?,
        needs_review: row.int("needs_review")? == 1,
        received_at: row.time("received_at")?,
        deadlines: Deadlines {
            acknowledge_by: date_of(row.int("acknowledge_by")?),
            respond_by: date_of(row.int("respond_by")?),
            first_deadline: date_of(row.int("first_deadline")?),
        },
        extended_at: row.opt_time("extended_at")?,
        paused_since: row.opt_time("paused_since")?,
        paused_days: row.int("paused_days")?,
        acknowledged_at: row.opt_time("acknowledged_at")?,
        completed_at: row.opt_time("completed_at")?,
        refused_at: row.opt_time("refused_at")?,
        plan: opt_json(row, "plan")?.unwrap_or_default(),
        progress: opt_json(row, "progress")?.unwrap_or_default(),
        receipt: opt_json(row, "receipt")?,
        residue: opt_json(row, "residue")?,
        created_by: row.opt_text("created_by")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A state change to make.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    pub to: RequestState,
    /// Required for `refused` and `extended`.
    pub reason: Option<&'a str>,
    /// Who moves it (actor and client columns); the action and target are filled in.
    pub by: NewAuditEvent,
}

impl Tx {
    /// Records a new request in state `received`, with its deadlines from the calendar, and
    /// audits it.
    pub async fn insert_privacy_request(
        &mut self,
        new: &NewPrivacyRequest,
        by: NewAuditEvent,
        now: Timestamp,
    ) -> Result<PrivacyRequest> {
        self.insert_privacy_request_received(new, now, by, now)
            .await
    }

    /// Like [`Tx::insert_privacy_request`] for a request that reached the business earlier
    /// than it is typed in (an email read the next morning): the calendar counts from
    /// `received`, skipping the workspace's holidays.
    pub async fn insert_privacy_request_received(
        &mut self,
        new: &NewPrivacyRequest,
        received: Timestamp,
        by: NewAuditEvent,
        now: Timestamp,
    ) -> Result<PrivacyRequest> {
        let id = PrivacyRequestId::new();
        let holidays = match new.workspace_id {
            Some(ws) => self.holidays_of(ws).await?,
            None => Vec::new(),
        };
        let d = calendar::deadlines(new.regime, received.date(), 0, false, &holidays);
        sqlx::query(
            "INSERT INTO privacy_requests (id, workspace_id, kind, source, regime, subject_kind, \
             subject_id, subject_key_hash, source_ref, confirmation_code, state, needs_review, \
             received_at, acknowledge_by, respond_by, first_deadline, plan, created_by, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'received', $11, $12, $13, $14, \
             $15, $16, $17, $18, $18)",
        )
        .bind(id.to_string())
        .bind(new.workspace_id.map(|w| w.to_string()))
        .bind(new.kind.as_str())
        .bind(new.source.as_str())
        .bind(new.regime.as_str())
        .bind(subject_kind_str(new.subject_kind))
        .bind(new.subject_id.as_deref())
        .bind(new.subject_key_hash.as_deref())
        .bind(new.source_ref.as_deref())
        .bind(new.confirmation_code.as_deref())
        .bind(i64::from(new.needs_review))
        .bind(ms(received))
        .bind(date_ms(d.acknowledge_by))
        .bind(date_ms(d.respond_by))
        .bind(date_ms(d.first_deadline))
        .bind(new.plan.to_string())
        .bind(new.created_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let mut event = by;
        event.action = "privacy.request.received".into();
        // A request of no workspace (a whole workspace's or an account's deletion) is still
        // logged where it was made, so that workspace's erasure anonymises the entry too.
        event.workspace_id = new.workspace_id.or(event.workspace_id);
        event.target_type = Some("privacy_request".into());
        event.target_id = Some(id.to_string());
        event.target_label = None;
        event.details = serde_json::json!({
            "kind": new.kind.as_str(),
            "source": new.source.as_str(),
            "subject_kind": subject_kind_str(new.subject_kind),
            "regime": new.regime.as_str(),
            "respond_by": d.respond_by.to_string(),
        });
        self.record_audit(&event, now).await?;
        self.privacy_request_any(id).await
    }

    /// The request by id, whatever its workspace (the job and the public status page know
    /// only the id or code), read in this transaction.
    pub async fn privacy_request_any(&mut self, id: PrivacyRequestId) -> Result<PrivacyRequest> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        request_from(&row)
    }

    /// Moves a request to another state: checked against the state machine, reasons
    /// required where the law asks for one, deadlines recomputed (a pause for identity
    /// ends, an extension recorded before the first deadline), audited in this transaction.
    pub async fn move_request(
        &mut self,
        id: PrivacyRequestId,
        change: Move<'_>,
        now: Timestamp,
    ) -> Result<PrivacyRequest> {
        let current = self.privacy_request_any(id).await?;
        let from = current.state;
        let to = change.to;
        from.check_move(to).map_err(invalid)?;
        let reason = match (to, change.reason) {
            (RequestState::Refused | RequestState::Extended, Some(r)) => {
                Some(switchboard_core::privacy::parse_reason(r).map_err(invalid)?)
            }
            (RequestState::Refused | RequestState::Extended, None) => {
                return Err(invalid(
                    ValidationError::new("reason_required", "Say why: a reason is required.")
                        .on("reason"),
                ));
            }
            (_, Some(r)) => Some(switchboard_core::privacy::parse_reason(r).map_err(invalid)?),
            (_, None) => None,
        };
        let today = now.date();
        let mut paused_days = current.paused_days;
        let mut paused_since = current.paused_since;
        let mut details = serde_json::Map::new();
        details.insert("from".into(), from.as_str().into());
        details.insert("to".into(), to.as_str().into());
        if to == RequestState::AwaitingIdentity {
            paused_since = Some(now);
            details.insert("clock".into(), "paused".into());
        } else if let Some(since) = paused_since.take() {
            let days = calendar::paused_days(&[(since.date(), Some(today))], today);
            paused_days += days;
            details.insert("clock".into(), "resumed".into());
            details.insert("paused_days".into(), days.into());
        }
        let extended = current.extended_at.is_some() || to == RequestState::Extended;
        if to == RequestState::Extended {
            calendar::check_extension(
                current.deadlines.first_deadline,
                current.extended_at.is_some(),
                today,
            )
            .map_err(invalid)?;
        }
        let holidays = match current.workspace_id {
            Some(ws) => self.holidays_of(ws).await?,
            None => Vec::new(),
        };
        let d = calendar::deadlines(
            current.regime,
            current.received_at.date(),
            paused_days,
            extended,
            &holidays,
        );
        details.insert("respond_by".into(), d.respond_by.to_string().into());
        let stamp = |s: RequestState| (to == s).then_some(ms(now));
        sqlx::query(
            "UPDATE privacy_requests SET state = $2, state_reason = COALESCE($3, state_reason), \
             paused_since = $4, paused_days = $5, acknowledge_by = $6, respond_by = $7, \
             first_deadline = $8, extended_at = COALESCE(extended_at, $9), \
             acknowledged_at = COALESCE(acknowledged_at, $10), completed_at = COALESCE(completed_at, $11), \
             refused_at = COALESCE(refused_at, $12), updated_at = $13 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(to.as_str())
        .bind(reason.as_deref())
        .bind(paused_since.map(ms))
        .bind(paused_days)
        .bind(date_ms(d.acknowledge_by))
        .bind(date_ms(d.respond_by))
        .bind(date_ms(d.first_deadline))
        .bind(stamp(RequestState::Extended))
        .bind(stamp(RequestState::Acknowledged))
        .bind(stamp(RequestState::Completed))
        .bind(stamp(RequestState::Refused))
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        let mut event = change.by;
        event.action = format!("privacy.request.{}", to.as_str());
        event.workspace_id = current.workspace_id.or(event.workspace_id);
        event.target_type = Some("privacy_request".into());
        event.target_id = Some(id.to_string());
        event.target_label = None;
        // The reason is the operator's words about a person's request: it stays on the request
        // (which anonymisation handles), not in the audit details that outlive it.
        details.insert("reason_given".into(), reason.is_some().into());
        if to.is_final() {
            // The requester is told the outcome, and then their address has no more use.
            let told = self
                .queue_final_notice(id, current.workspace_id, now)
                .await?;
            details.insert("requester_notified".into(), told.into());
        }
        event.details = serde_json::Value::Object(details);
        self.record_audit(&event, now).await?;
        if let (RequestState::Completed, Some(ws)) = (to, current.workspace_id) {
            // An erasure about a contact that completed has deleted the contact (checked: a
            // request can also be closed by hand).
            let erased_contact = (current.kind == RequestKind::Erase
                && current.subject_kind == SubjectKind::Contact)
                .then_some(current.subject_id.as_deref())
                .flatten();
            if let Some(contact) = erased_contact {
                let left: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM contacts WHERE workspace_id = $1 AND id = $2",
                )
                .bind(ws.to_string())
                .bind(contact)
                .fetch_optional(self.conn())
                .await?;
                if left.is_none() {
                    self.record_webhook(ws, WebhookEventType::ContactDeleted, contact, now);
                }
            }
            self.record_webhook(ws, WebhookEventType::PrivacyRequestCompleted, id, now);
        }
        self.privacy_request_any(id).await
    }

    /// Writes the erasure progress (in the transaction of the batch it describes).
    pub async fn set_request_progress(
        &mut self,
        id: PrivacyRequestId,
        progress: &serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        let done =
            sqlx::query("UPDATE privacy_requests SET progress = $2, updated_at = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(progress.to_string())
                .bind(ms(now))
                .execute(self.conn())
                .await?;
        found(done)
    }

    /// Stores the sealed identifiers captured before erasure (only when none are stored).
    pub async fn set_request_needles(
        &mut self,
        id: PrivacyRequestId,
        sealed: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE privacy_requests SET needles = $2, updated_at = $3 WHERE id = $1 AND needles IS NULL",
        )
        .bind(id.to_string())
        .bind(sealed)
        .bind(ms(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records the receipt and the residue found; `clear_needles` when nothing was found (the
    /// identifiers have no more use).
    pub async fn set_request_outcome(
        &mut self,
        id: PrivacyRequestId,
        receipt: &serde_json::Value,
        residue: &serde_json::Value,
        clear_needles: bool,
        now: Timestamp,
    ) -> Result<()> {
        let sql = if clear_needles {
            "UPDATE privacy_requests SET receipt = $2, residue = $3, needles = NULL, updated_at = $4 WHERE id = $1"
        } else {
            "UPDATE privacy_requests SET receipt = $2, residue = $3, updated_at = $4 WHERE id = $1"
        };
        let done = sqlx::query(sql)
            .bind(id.to_string())
            .bind(receipt.to_string())
            .bind(residue.to_string())
            .bind(ms(now))
            .execute(self.conn())
            .await?;
        found(done)
    }

    /// The request a source reference (a callback, a job) created, if any.
    pub async fn privacy_request_by_ref(
        &mut self,
        source_ref: &str,
    ) -> Result<Option<PrivacyRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE source_ref = $1"
        ))
        .bind(source_ref)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(request_from).transpose()
    }

    /// An open request with the same subject key (a Meta user's earlier callback), or the
    /// request a replayed callback created.
    pub async fn privacy_request_by_source(
        &mut self,
        source_ref: &str,
        subject_key_hash: &str,
    ) -> Result<Option<PrivacyRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE source_ref = $1 \
             OR (subject_key_hash = $2 AND state NOT IN ('completed', 'refused')) \
             ORDER BY created_at LIMIT 1"
        ))
        .bind(source_ref)
        .bind(subject_key_hash)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(request_from).transpose()
    }
}

fn invalid(e: ValidationError) -> StoreError {
    StoreError::conflict(e.code, e.message)
}

impl Store {
    /// One of the workspace's requests.
    pub async fn privacy_request(
        &self,
        ws: WorkspaceId,
        id: PrivacyRequestId,
    ) -> Result<PrivacyRequest> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        request_from(&row)
    }

    /// The request by id, whatever its workspace: for the erasure job, which the request's
    /// own id leads to.
    pub async fn privacy_request_any(&self, id: PrivacyRequestId) -> Result<PrivacyRequest> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        request_from(&row)
    }

    /// The request a public confirmation code names.
    pub async fn privacy_request_by_code(&self, code: &str) -> Result<PrivacyRequest> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE confirmation_code = $1"
        ))
        .bind(code)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        request_from(&row)
    }

    /// The workspace's requests, newest first (at most `limit`).
    pub async fn privacy_requests(
        &self,
        ws: WorkspaceId,
        limit: i64,
    ) -> Result<Vec<PrivacyRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE workspace_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(ws.to_string())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(request_from).collect()
    }

    /// Requests no workspace could be found for (a Meta user no connection names), for an
    /// instance operator to look at; never guessed into a workspace.
    pub async fn unlinked_privacy_requests(&self) -> Result<Vec<PrivacyRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM privacy_requests WHERE needs_review = 1 \
             AND state NOT IN ('completed', 'refused') ORDER BY created_at"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(request_from).collect()
    }

    /// Erase requests still open in the workspace (to run again after a hold is released).
    pub async fn open_erasures(&self, ws: WorkspaceId) -> Result<Vec<PrivacyRequestId>> {
        let rows = sqlx::query(
            "SELECT id FROM privacy_requests WHERE workspace_id = $1 AND kind = 'erase' \
             AND state IN ('in_progress', 'extended')",
        )
        .bind(ws.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| r.parsed("id")).collect()
    }

    /// The sealed identifiers captured before erasure, if any.
    pub async fn request_needles(&self, id: PrivacyRequestId) -> Result<Option<Vec<u8>>> {
        sqlx::query("SELECT needles FROM privacy_requests WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?
            .opt_bytes("needles")
    }
}
