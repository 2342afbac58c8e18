//! Erasure, driven only by the personal-data inventory (`switchboard_core::inventory`): this
//! file names no table. For a subject, every table that links to it (directly, or through a
//! [`REFERENCES`] entry) becomes a step; steps run children before parents (the order comes
//! from the live schema's foreign keys and the references), each in bounded batches, and each
//! batch is one transaction that also records the progress, so a process killed mid-way
//! resumes where the last commit left it and the request never ends half-done.
//!
//! What a step does is the table's classification: delete the rows, anonymise the named
//! columns (set to NULL; such columns are nullable), or keep them with the legal reason
//! (counted in the receipt). Files named by a [`STORED_FILES`] column are deleted before
//! their row. A subject under a live legal hold is kept whole and the receipt says which
//! hold; the next run after its release erases it.
//!
//! Order of one request: capture the subject's identifiers (sealed) for the residue scan →
//! [a per-subject key would be destroyed here, once content is sealed under one] → the steps
//! → the residue scan → completed, or open with what was found.

use crate::privacy_requests::{Move, PrivacyRequest};
use crate::residue::{self, ResidueHit};
use crate::row::{RowExt, ms};
use crate::{Backend, Result, Store, StoreError, Tx};
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use switchboard_core::inventory::{
    self, Category, ErasureAction, REFERENCES, STORED_FILES, SubjectKind, TABLES, Table,
};
use switchboard_core::privacy::RequestState;
use switchboard_core::{Clock, PrivacyRequestId, Timestamp, WorkspaceId};
use switchboard_keys::{MasterKey, SealContext, Sealer};

/// Rows per batch transaction: small enough that ingest on SQLite's single writer never waits
/// long behind an erasure, large enough that a 10,000-message contact takes a few dozen.
pub const BATCH: i64 = 500;

/// Index pages one merge transaction of a bulk search-index purge may write (see
/// [`Store::purge_search_index`]): about 2 MB, a few tens of milliseconds of SQLite's one
/// writer.
const MERGE_PAGES: i64 = 500;

/// Whether a subject's erasure takes its search index entries in bulk (SQLite only).
///
/// Why: SQLite's FTS5 index with `secure-delete` removes a deleted row's terms from every
/// segment of the index, term by term, when the transaction commits; with a small
/// vocabulary each removal seeks long doclists in every segment, so a whole workspace's
/// 100,000 messages spent nearly all of their 381 s in the commits of the delete batches
/// (measured: 10,000 messages, 21 batches, 8.5 s of commit against 0.12 s of statements;
/// see docs/PERFORMANCE.md). For a whole workspace (every indexed row of it goes) the rows'
/// terms are instead left as delete markers (secure-delete off inside each batch's
/// transaction only, so a crash never leaves it off), and the index is then merged into one
/// segment in short transactions, which drops the deleted entries for real (SQLite's own
/// `secure_delete` zeroes the freed pages). That merge rewrites the whole index, every
/// workspace's, so a contact's erasure (a few rows of a large index) keeps the per-row path.
fn bulk_search_purge(backend: Backend, subject: SubjectKind) -> bool {
    backend == Backend::Sqlite && subject == SubjectKind::Workspace
}

/// The search indexes over `table` (declared in the inventory).
fn search_indexes_of(table: &str) -> impl Iterator<Item = &'static inventory::SearchIndex> {
    inventory::SEARCH_INDEXES
        .iter()
        .filter(move |i| i.table == table)
}

/// One subject an erasure covers. A contact's request has one part; a Meta user's has one per
/// connection they authorised and one for the Meta user id itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Part {
    pub subject: String,
    pub id: String,
    pub workspace_id: Option<WorkspaceId>,
}

impl Part {
    pub fn new(subject: SubjectKind, id: impl ToString, ws: Option<WorkspaceId>) -> Self {
        Self {
            subject: crate::privacy_requests::subject_kind_str(subject).to_owned(),
            id: id.to_string(),
            workspace_id: ws,
        }
    }

    fn kind(&self) -> Result<SubjectKind> {
        crate::privacy_requests::parse_subject_kind(&self.subject)
            .ok_or_else(|| StoreError::Corrupt(format!("plan names subject `{}`", self.subject)))
    }
}

/// What an erasure request covers, stored as the request's `plan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub parts: Vec<Part>,
    /// Not to be erased before this time (milliseconds): a deleted workspace's grace period,
    /// during which an owner can still restore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

impl Plan {
    /// The plan of a request: its `plan` column, or its one subject.
    pub fn of(request: &PrivacyRequest) -> Result<Plan> {
        if let Ok(plan) = serde_json::from_value::<Plan>(request.plan.clone())
            && !plan.parts.is_empty()
        {
            return Ok(plan);
        }
        let id = request.subject_id.clone().ok_or_else(|| {
            StoreError::Corrupt("a request without parts names no subject".into())
        })?;
        Ok(Plan {
            parts: vec![Part::new(request.subject_kind, id, request.workspace_id)],
            not_before: None,
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Rows deleted and anonymised in one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableCount {
    pub deleted: u64,
    pub anonymised: u64,
}

/// Rows kept on purpose, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Kept {
    pub table: String,
    pub rows: u64,
    pub reason: String,
}

/// Where an erasure stands; written with every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Steps finished (`<part>:<table>.<column>`), so a resumed run skips them.
    pub done: Vec<String>,
    pub tables: BTreeMap<String, TableCount>,
    #[serde(default)]
    pub files_deleted: u64,
    #[serde(default)]
    pub kept: Vec<Kept>,
    /// Parts kept whole because a legal hold covers them (this run).
    #[serde(default)]
    pub held: Vec<String>,
}

/// The receipt: what was erased per table, what was kept and why, and the residue found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    pub tables: BTreeMap<String, TableCount>,
    pub files_deleted: u64,
    pub kept: Vec<Kept>,
    pub residue_hits: usize,
    pub identifiers_scanned: usize,
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything erased, residue scan clean, request completed.
    Completed(Receipt),
    /// Part of the subject is under a legal hold: kept; the request stays open.
    Held(Receipt),
    /// Erased, but the residue scan found identifiers: the request stays open.
    ResidueFound(Receipt, Vec<ResidueHit>),
    /// The request is not an open erasure (already completed, refused, not erase).
    NotRunnable,
    /// Its grace period has not ended (a deleted workspace an owner can still restore).
    NotYet(Timestamp),
}

/// Where files live: the media store, and the directories the residue scan reads (the
/// outbox, logs).
#[derive(Debug, Clone)]
pub struct Environment<'a> {
    pub media_dir: &'a Path,
    pub scan_dirs: Vec<PathBuf>,
    pub master: &'a MasterKey,
    pub clock: &'a dyn Clock,
    /// Rows per batch ([`BATCH`] in production; tests lower it to stop mid-way).
    pub batch: i64,
    /// Stop after this many batches (tests of resumption); `None` runs to the end.
    pub max_batches: Option<u64>,
}

/// How rows of a table are found for a subject.
#[derive(Debug, Clone)]
enum Filter {
    /// `column = <subject id>`
    Column(&'static str),
    /// `column IN (SELECT id FROM parent WHERE <parent filter>)`
    Via {
        column: &'static str,
        parent: &'static str,
        parent_filter: Box<Filter>,
    },
    /// the JSON key of `column` is one of the parent's ids
    Json {
        id_column: &'static str,
        column: &'static str,
        key: &'static str,
        parent: &'static str,
        parent_filter: Box<Filter>,
    },
}

impl Filter {
    fn label(&self) -> String {
        match self {
            Filter::Column(c) => (*c).to_owned(),
            Filter::Via { column, parent, .. } => format!("{column}->{parent}"),
            Filter::Json {
                column,
                key,
                parent,
                ..
            } => format!("{column}.{key}->{parent}"),
        }
    }
}

/// One table's share of erasing one kind of subject.
#[derive(Debug, Clone)]
struct Step {
    table: &'static Table,
    filter: Filter,
    /// The columns this subject owns when the table anonymises fewer than its whole list
    /// for it (`SubjectLink::clears`).
    clears: Option<&'static [&'static str]>,
}

/// The filters that find `table`'s rows for `subject`: its own links, else its references to
/// a parent that is found for the subject.
fn filters_for(table: &Table, subject: SubjectKind, depth: u8) -> Vec<Filter> {
    let direct: Vec<Filter> = table
        .links
        .iter()
        .filter(|l| l.subject == subject)
        .map(|l| Filter::Column(l.column))
        .collect();
    if !direct.is_empty() || depth > 3 {
        return direct;
    }
    let mut via = Vec::new();
    for r in REFERENCES.iter().filter(|r| r.table == table.name) {
        let Some(parent) = inventory::table(r.parent) else {
            continue;
        };
        for pf in filters_for(parent, subject, depth + 1) {
            via.push(match r.json_key {
                None => Filter::Via {
                    column: r.column,
                    parent: parent.name,
                    parent_filter: Box::new(pf),
                },
                Some(key) => Filter::Json {
                    id_column: r.id_column,
                    column: r.column,
                    key,
                    parent: parent.name,
                    parent_filter: Box::new(pf),
                },
            });
        }
    }
    via
}

/// Orders the tables children first: a table comes before every table it refers to (by a
/// foreign key of the live schema or an inventory reference), so batches delete what a
/// cascade would otherwise take uncounted.
fn children_first(edges: &[(String, String)]) -> Vec<&'static Table> {
    let mut edges: Vec<(String, String)> = edges.to_vec();
    for r in REFERENCES {
        edges.push((r.table.to_owned(), r.parent.to_owned()));
    }
    let mut left: Vec<&'static Table> = TABLES.iter().collect();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        // The first table no remaining table refers to (self-references don't count).
        let pick = left
            .iter()
            .position(|t| {
                !edges.iter().any(|(child, parent)| {
                    parent == t.name && child != t.name && left.iter().any(|l| l.name == child)
                })
            })
            .unwrap_or(0);
        out.push(left.remove(pick));
    }
    out
}

/// Builds SQL text with numbered parameters, all text.
#[derive(Default)]
struct Sql {
    params: Vec<String>,
}

impl Sql {
    fn p(&mut self, value: &str) -> String {
        self.params.push(value.to_owned());
        format!("${}", self.params.len())
    }

    fn condition(&mut self, table: &Table, filter: &Filter, part: &Part) -> String {
        let own = match filter {
            Filter::Column(c) => format!("{c} = {}", self.p(&part.id)),
            Filter::Via {
                column,
                parent,
                parent_filter,
            } => {
                let parent_table = inventory::table(parent);
                let inner = match parent_table {
                    Some(pt) => self.condition(pt, parent_filter, part),
                    None => "1 = 0".to_owned(),
                };
                format!("{column} IN (SELECT id FROM {parent} WHERE {inner})")
            }
            // Chosen in Rust (JSON is read there); never reaches SQL.
            Filter::Json { .. } => "1 = 0".to_owned(),
        };
        // Tenant data is reached inside its workspace only.
        match (workspace_column(table), part.workspace_id) {
            (Some(col), Some(ws)) => format!("{own} AND {col} = {}", self.p(&ws.to_string())),
            _ => own,
        }
    }
}

fn workspace_column(table: &Table) -> Option<&'static str> {
    table
        .links
        .iter()
        .find(|l| l.subject == SubjectKind::Workspace && l.column != "id")
        .map(|l| l.column)
}

fn query<'q>(
    sql: &'q str,
    params: &'q [String],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = q.bind(p.as_str());
    }
    q
}

/// The row handle both backends have without a key column of ours.
fn row_handle(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "ctid",
    }
}

/// Turns an FTS5 index's `secure-delete` option on or off inside `tx` (SQLite only).
async fn set_secure_delete(tx: &mut Tx, index: &inventory::SearchIndex, on: bool) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO {i} ({i}, rank) VALUES ('secure-delete', {v})",
        i = index.name,
        v = i64::from(on)
    ))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The file a media key names inside `dir`; `None` for a key that would leave it.
fn file_in(dir: &Path, key: &str) -> Option<PathBuf> {
    let rel = Path::new(key);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(rel))
}

async fn delete_file(path: &Path) -> Result<bool> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot delete a media file: {e}"
        ))),
    }
}

/// Whether a value is worth scanning for: long enough not to match everywhere, and not one
/// of our own ids (a UUID names a row, not a person).
fn is_needle(value: &str) -> bool {
    value.chars().count() >= 4 && uuid::Uuid::parse_str(value).is_err()
}

/// At most this many characters of a value are scanned for (a prefix still finds it).
const NEEDLE_CHARS: usize = 200;

/// Sample values per message-content column (sample message text).
const CONTENT_SAMPLES: i64 = 5;

/// Identifying values per column (names, phones, platform ids).
const IDENTITY_SAMPLES: i64 = 50;

fn seal_context(id: &str) -> SealContext<'_> {
    SealContext {
        table: "privacy_requests",
        column: "needles",
        row: id,
    }
}

impl Store {
    /// Foreign keys of the live schema as `(child, parent)` table pairs.
    pub async fn foreign_keys(&self) -> Result<Vec<(String, String)>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS child, p.\"table\" AS parent FROM sqlite_master m \
                 JOIN pragma_foreign_key_list(m.name) p WHERE m.type = 'table'"
            }
            Backend::Postgres => {
                "SELECT CAST(CAST(c.conrelid AS regclass) AS TEXT) AS child, \
                 CAST(CAST(c.confrelid AS regclass) AS TEXT) AS parent FROM pg_constraint c \
                 JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE c.contype = 'f' AND n.nspname = current_schema()"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| Ok((r.text("child")?, r.text("parent")?)))
            .collect()
    }

    async fn steps_for(&self, subject: SubjectKind) -> Result<Vec<Step>> {
        let fks = self.foreign_keys().await?;
        let mut steps = Vec::new();
        for table in children_first(&fks) {
            for filter in filters_for(table, subject, 0) {
                let clears = match &filter {
                    Filter::Column(column) => table
                        .links
                        .iter()
                        .find(|l| l.subject == subject && l.column == *column)
                        .and_then(|l| l.clears),
                    _ => None,
                };
                steps.push(Step {
                    table,
                    filter,
                    clears,
                });
            }
        }
        Ok(steps)
    }

    /// Runs (or resumes) the erasure of an open erase request to its end: every part's
    /// steps, then the residue scan; completes the request when nothing is found.
    pub async fn run_erasure(
        &self,
        id: PrivacyRequestId,
        env: &Environment<'_>,
    ) -> Result<Outcome> {
        let request = self.privacy_request_any(id).await?;
        if request.kind != switchboard_core::privacy::RequestKind::Erase || request.state.is_final()
        {
            return Ok(Outcome::NotRunnable);
        }
        let plan = Plan::of(&request)?;
        if let Some(at) = plan.not_before
            && at > ms(env.clock.now())
        {
            return Ok(Outcome::NotYet(switchboard_core::clock::from_millis(at)));
        }
        let mut progress: Progress =
            serde_json::from_value(request.progress.clone()).unwrap_or_default();
        // A hold is judged afresh on every run: released holds no longer keep anything.
        progress.held.clear();
        progress
            .kept
            .retain(|k| !k.reason.starts_with("legal hold"));

        if !matches!(
            request.state,
            RequestState::InProgress | RequestState::Extended
        ) {
            let now = env.clock.now();
            let mut tx = self.begin().await?;
            tx.move_request(
                id,
                Move {
                    to: RequestState::InProgress,
                    reason: None,
                    by: system_actor(),
                },
                now,
            )
            .await?;
            tx.commit().await?;
        }

        let needles = self.needles_for(&request, &plan, env).await?;

        let mut batches = 0u64;
        for (i, part) in plan.parts.iter().enumerate() {
            let subject = part.kind()?;
            if let Some(ws) = part.workspace_id {
                let holds = self.holds_covering(ws, subject, &part.id).await?;
                if !holds.is_empty() {
                    for hold in &holds {
                        progress.kept.push(Kept {
                            table: format!("everything of this {}", part.subject),
                            rows: 0,
                            reason: format!(
                                "legal hold {} ({}): {}",
                                hold.id, hold.reference, hold.reason
                            ),
                        });
                    }
                    progress.held.push(format!("{i}"));
                    continue;
                }
            }
            let bulk = bulk_search_purge(self.backend, subject);
            let steps = self.steps_for(subject).await?;
            for step in &steps {
                let name = format!("{i}:{}.{}", step.table.name, step.filter.label());
                if progress.done.contains(&name) {
                    continue;
                }
                loop {
                    if env.max_batches.is_some_and(|max| batches >= max) {
                        return Err(StoreError::Unavailable(
                            "stopped after the batches allowed for this run".into(),
                        ));
                    }
                    batches += 1;
                    let finished = self
                        .erase_batch(id, step, part, &name, &mut progress, env)
                        .await?;
                    if finished {
                        break;
                    }
                }
            }
            if bulk {
                // The bulk path left the deleted rows' terms as delete markers: merge them
                // out now, before the residue scan and the receipt (resumable like a step).
                for index in inventory::SEARCH_INDEXES
                    .iter()
                    .filter(|x| steps.iter().any(|s| s.table.name == x.table))
                {
                    let name = format!("{i}:{}.merge", index.name);
                    if progress.done.contains(&name) {
                        continue;
                    }
                    loop {
                        if env.max_batches.is_some_and(|max| batches >= max) {
                            return Err(StoreError::Unavailable(
                                "stopped after the batches allowed for this run".into(),
                            ));
                        }
                        batches += 1;
                        if self
                            .purge_search_index(id, index, &name, &mut progress, env)
                            .await?
                        {
                            break;
                        }
                    }
                }
            }
        }

        let receipt_of = |progress: &Progress, hits: usize| Receipt {
            tables: progress.tables.clone(),
            files_deleted: progress.files_deleted,
            kept: progress.kept.clone(),
            residue_hits: hits,
            identifiers_scanned: needles.len(),
        };

        if !progress.held.is_empty() {
            let receipt = receipt_of(&progress, 0);
            let now = env.clock.now();
            let mut tx = self.begin().await?;
            tx.set_request_progress(
                id,
                &serde_json::to_value(&progress).unwrap_or_default(),
                now,
            )
            .await?;
            tx.set_request_outcome(
                id,
                &serde_json::to_value(&receipt).unwrap_or_default(),
                &serde_json::json!({ "scanned": false, "why": "part of the subject is under a legal hold" }),
                false,
                now,
            )
            .await?;
            let mut event = system_actor();
            event.action = "privacy.request.held".into();
            event.workspace_id = request.workspace_id;
            event.target_type = Some("privacy_request".into());
            event.target_id = Some(id.to_string());
            tx.record_audit(&event, now).await?;
            tx.commit().await?;
            return Ok(Outcome::Held(receipt));
        }

        self.checkpoint().await;
        let skip = accounts_apart(&plan);
        let mut hits = self.residue_scan_except(None, &needles, &skip).await?;
        hits.extend(residue::scan_files(&env.scan_dirs, &needles).await);
        let receipt = receipt_of(&progress, hits.len());
        let notice = self.request_notice(id, env.master).await?;
        let now = env.clock.now();
        let mut tx = self.begin().await?;
        tx.set_request_outcome(
            id,
            &serde_json::to_value(&receipt).unwrap_or_default(),
            &serde_json::json!({ "scanned": true, "hits": hits, "not_scanned": skip }),
            hits.is_empty(),
            now,
        )
        .await?;
        if hits.is_empty() {
            tx.move_request(
                id,
                Move {
                    to: RequestState::Completed,
                    reason: None,
                    by: system_actor(),
                },
                now,
            )
            .await?;
            // The confirmation is queued by the completing transaction, and only by it.
            if let Some(notice) = &notice {
                tx.queue_completion_notice(id, request.confirmation_code.as_deref(), notice, now)
                    .await?;
            }
            tx.commit().await?;
            Ok(Outcome::Completed(receipt))
        } else {
            let mut event = system_actor();
            event.action = "privacy.request.residue_found".into();
            event.workspace_id = request.workspace_id;
            event.target_type = Some("privacy_request".into());
            event.target_id = Some(id.to_string());
            event.details = serde_json::json!({ "hits": hits.len() });
            tx.record_audit(&event, now).await?;
            tx.commit().await?;
            Ok(Outcome::ResidueFound(receipt, hits))
        }
    }

    /// One batch of one step in one transaction with the progress it makes. Returns whether
    /// the step is finished.
    async fn erase_batch(
        &self,
        id: PrivacyRequestId,
        step: &Step,
        part: &Part,
        name: &str,
        progress: &mut Progress,
        env: &Environment<'_>,
    ) -> Result<bool> {
        let table = step.table;
        let rid = row_handle(self.backend);
        let started = std::time::Instant::now();
        let mut tx = self.begin().await?;
        let now = env.clock.now();
        // The bulk path (see `bulk_search_purge`): this transaction's deletions leave delete
        // markers in the search index; secure-delete is back on before the commit.
        let bulk = bulk_search_purge(self.backend, part.kind()?);
        let markers: Vec<&inventory::SearchIndex> =
            if bulk && table.erasure == ErasureAction::Delete {
                search_indexes_of(table.name).collect()
            } else {
                Vec::new()
            };
        for index in &markers {
            set_secure_delete(&mut tx, index, false).await?;
        }
        let touched: u64 = match (&step.filter, table.erasure) {
            (_, ErasureAction::None) => 0,
            (Filter::Json { .. }, ErasureAction::Delete) => {
                let ids = self.json_matches(&mut tx, step, part, env.batch).await?;
                if !ids.is_empty() {
                    let id_column = match &step.filter {
                        Filter::Json { id_column, .. } => *id_column,
                        _ => "id",
                    };
                    let mut sql = Sql::default();
                    let list: Vec<String> = ids.iter().map(|v| sql.p(v)).collect();
                    let text = format!(
                        "DELETE FROM {} WHERE {id_column} IN ({})",
                        table.name,
                        list.join(", ")
                    );
                    query(&text, &sql.params).execute(tx.conn()).await?;
                }
                let count = progress.tables.entry(table.name.to_owned()).or_default();
                count.deleted += ids.len() as u64;
                ids.len() as u64
            }
            (Filter::Json { .. }, _) => 0,
            (_, ErasureAction::Delete) => {
                let n = match STORED_FILES.iter().find(|f| f.table == table.name) {
                    Some(files) => {
                        let mut sql = Sql::default();
                        let cond = sql.condition(table, &step.filter, part);
                        let text = format!(
                            "SELECT {id}, {key} FROM {t} WHERE {cond} LIMIT {n}",
                            id = files.id_column,
                            key = files.key_column,
                            t = table.name,
                            n = env.batch
                        );
                        let rows = query(&text, &sql.params).fetch_all(tx.conn()).await?;
                        let mut ids = Vec::with_capacity(rows.len());
                        for row in &rows {
                            // The file first: a crash after it leaves a row whose file is
                            // gone, which the resumed run deletes; never a file without a row.
                            if let Some(key) = row.opt_text(files.key_column)?
                                && let Some(path) = file_in(env.media_dir, &key)
                                && delete_file(&path).await?
                            {
                                progress.files_deleted += 1;
                            }
                            ids.push(row.text(files.id_column)?);
                        }
                        if !ids.is_empty() {
                            let mut sql = Sql::default();
                            let list: Vec<String> = ids.iter().map(|v| sql.p(v)).collect();
                            let text = format!(
                                "DELETE FROM {} WHERE {} IN ({})",
                                table.name,
                                files.id_column,
                                list.join(", ")
                            );
                            query(&text, &sql.params).execute(tx.conn()).await?;
                        }
                        ids.len() as u64
                    }
                    None => {
                        let mut sql = Sql::default();
                        let cond = sql.condition(table, &step.filter, part);
                        let text = format!(
                            "DELETE FROM {t} WHERE {rid} IN (SELECT {rid} FROM {t} WHERE {cond} LIMIT {n})",
                            t = table.name,
                            n = env.batch
                        );
                        query(&text, &sql.params)
                            .execute(tx.conn())
                            .await?
                            .rows_affected()
                    }
                };
                let count = progress.tables.entry(table.name.to_owned()).or_default();
                count.deleted += n;
                n
            }
            (_, ErasureAction::Anonymise { columns }) => {
                let columns = step.clears.unwrap_or(columns);
                let mut sql = Sql::default();
                let cond = sql.condition(table, &step.filter, part);
                let any_left: Vec<String> =
                    columns.iter().map(|c| format!("{c} IS NOT NULL")).collect();
                let mut sets: Vec<String> = columns.iter().map(|c| format!("{c} = NULL")).collect();
                if table.column("anonymised_at").is_some() {
                    sets.push(format!("anonymised_at = {}", ms(now)));
                }
                let text = format!(
                    "UPDATE {t} SET {sets} WHERE {rid} IN (SELECT {rid} FROM {t} WHERE ({cond}) AND ({left}) LIMIT {n})",
                    t = table.name,
                    sets = sets.join(", "),
                    left = any_left.join(" OR "),
                    n = env.batch
                );
                let n = query(&text, &sql.params)
                    .execute(tx.conn())
                    .await?
                    .rows_affected();
                let count = progress.tables.entry(table.name.to_owned()).or_default();
                count.anonymised += n;
                n
            }
            (
                _,
                ErasureAction::Retain {
                    reason,
                    period_days,
                },
            ) => {
                let mut sql = Sql::default();
                let cond = sql.condition(table, &step.filter, part);
                let text = format!("SELECT COUNT(*) AS n FROM {} WHERE {cond}", table.name);
                let rows = query(&text, &sql.params)
                    .fetch_one(tx.conn())
                    .await?
                    .int("n")?;
                if rows > 0 {
                    progress.kept.push(Kept {
                        table: table.name.to_owned(),
                        rows: rows as u64,
                        reason: format!("{reason} (kept {period_days} days)"),
                    });
                }
                0
            }
        };
        for index in &markers {
            set_secure_delete(&mut tx, index, true).await?;
        }
        let finished = touched < env.batch as u64;
        if finished {
            progress.done.push(name.to_owned());
        }
        tx.set_request_progress(
            id,
            &serde_json::to_value(&*progress).unwrap_or_default(),
            now,
        )
        .await?;
        tx.commit().await?;
        // How long this batch held the writer (SQLite: ingest waits that long).
        tracing::debug!(
            step = name,
            rows = touched,
            ms = started.elapsed().as_millis() as u64,
            "erasure batch"
        );
        Ok(finished)
    }

    /// One transaction of merging `index` into a single segment, with the progress; returns
    /// whether the merge is complete. Merging applies the delete markers the bulk path left
    /// (the deleted rows' terms are not copied into the merged segment, and the pages that
    /// held them are freed and zeroed by SQLite's `secure_delete`). FTS5 says the index is
    /// fully merged when a merge call changes fewer than two rows.
    async fn purge_search_index(
        &self,
        id: PrivacyRequestId,
        index: &inventory::SearchIndex,
        name: &str,
        progress: &mut Progress,
        env: &Environment<'_>,
    ) -> Result<bool> {
        let now = env.clock.now();
        let started = std::time::Instant::now();
        let mut tx = self.begin().await?;
        let changes = "SELECT total_changes() AS n";
        let before = sqlx::query(changes).fetch_one(tx.conn()).await?.int("n")?;
        sqlx::query(&format!(
            "INSERT INTO {i} ({i}, rank) VALUES ('merge', -{MERGE_PAGES})",
            i = index.name
        ))
        .execute(tx.conn())
        .await?;
        let after = sqlx::query(changes).fetch_one(tx.conn()).await?.int("n")?;
        let finished = after - before < 2;
        if finished {
            progress.done.push(name.to_owned());
        }
        tx.set_request_progress(
            id,
            &serde_json::to_value(&*progress).unwrap_or_default(),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::debug!(
            step = name,
            changes = after - before,
            ms = started.elapsed().as_millis() as u64,
            "erasure batch"
        );
        Ok(finished)
    }

    /// Ids of `step.table` rows whose JSON column names one of the parent's rows for the
    /// part (at most `limit`).
    async fn json_matches(
        &self,
        tx: &mut Tx,
        step: &Step,
        part: &Part,
        limit: i64,
    ) -> Result<Vec<String>> {
        let Filter::Json {
            id_column,
            column,
            key,
            parent,
            parent_filter,
        } = &step.filter
        else {
            return Ok(Vec::new());
        };
        let Some(parent_table) = inventory::table(parent) else {
            return Ok(Vec::new());
        };
        let mut sql = Sql::default();
        let cond = sql.condition(parent_table, parent_filter, part);
        let parent_ids: HashSet<String> = query(
            &format!("SELECT id FROM {parent} WHERE {cond}"),
            &sql.params,
        )
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(|r| r.text("id"))
        .collect::<Result<_>>()?;
        if parent_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        let scope = match (workspace_column(step.table), part.workspace_id) {
            (Some(col), Some(ws)) => format!("{col} = {}", sql.p(&ws.to_string())),
            _ => "1 = 1".to_owned(),
        };
        let text = format!(
            "SELECT {id_column}, {column} FROM {} WHERE {scope}",
            step.table.name
        );
        let mut out = Vec::new();
        for row in query(&text, &sql.params).fetch_all(tx.conn()).await? {
            let raw = row.text(column)?;
            let named = serde_json::from_str::<serde_json::Value>(&raw)
                .ok()
                .and_then(|v| v.get(*key).and_then(|x| x.as_str()).map(str::to_owned));
            if named.is_some_and(|n| parent_ids.contains(&n)) {
                out.push(row.text(id_column)?);
                if out.len() as i64 >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The subject's identifiers, captured once before the first row goes and stored sealed
    /// in the request; later runs read them back.
    async fn needles_for(
        &self,
        request: &PrivacyRequest,
        plan: &Plan,
        env: &Environment<'_>,
    ) -> Result<Vec<String>> {
        let sealer = Sealer::platform(env.master);
        let id = request.id.to_string();
        if let Some(sealed) = self.request_needles(request.id).await? {
            let plain = sealer.open(&sealed, seal_context(&id))?;
            return serde_json::from_slice(&plain)
                .map_err(|e| StoreError::Corrupt(format!("request needles: {e}")));
        }
        let mut needles: Vec<String> = Vec::new();
        for part in &plan.parts {
            let subject = part.kind()?;
            for step in self.steps_for(subject).await? {
                let columns: Vec<&str> = match step.table.erasure {
                    ErasureAction::Delete => step.table.columns.iter().map(|c| c.name).collect(),
                    ErasureAction::Anonymise { columns } => step.clears.unwrap_or(columns).to_vec(),
                    _ => Vec::new(),
                };
                if matches!(step.filter, Filter::Json { .. }) {
                    continue;
                }
                for name in columns {
                    let Some(column) = step.table.column(name) else {
                        continue;
                    };
                    let samples = match column.category {
                        Category::MessageContent => CONTENT_SAMPLES,
                        Category::Identity | Category::ContactDetails => IDENTITY_SAMPLES,
                        _ => continue,
                    };
                    let mut sql = Sql::default();
                    let cond = sql.condition(step.table, &step.filter, part);
                    let text = format!(
                        "SELECT DISTINCT CAST({name} AS TEXT) AS v FROM {} WHERE {cond} AND {name} IS NOT NULL LIMIT {samples}",
                        step.table.name
                    );
                    let rows = match query(&text, &sql.params).fetch_all(&self.read).await {
                        Ok(rows) => rows,
                        // A binary column (sealed credentials) has no text to look for.
                        Err(_) => continue,
                    };
                    for row in rows {
                        let Ok(Some(full)) = row.opt_text("v") else {
                            continue;
                        };
                        let value: String = full.chars().take(NEEDLE_CHARS).collect();
                        if !is_needle(&value) || needles.contains(&value) {
                            continue;
                        }
                        // A value other rows of the same column hold too (two customers
                        // called "Ada Lovelace", a "Thank you!") does not identify this
                        // subject, and stays when they are erased: not scanned for.
                        let mut sql = Sql::default();
                        let cond = sql.condition(step.table, &step.filter, part);
                        let same = sql.p(&full);
                        let text = format!(
                            "SELECT COUNT(*) AS n FROM {} WHERE CAST({name} AS TEXT) = {same} AND NOT ({cond})",
                            step.table.name
                        );
                        let others = query(&text, &sql.params)
                            .fetch_one(&self.read)
                            .await?
                            .int("n")?;
                        if others == 0 {
                            needles.push(value);
                        }
                    }
                }
            }
        }
        let plain = SecretString::from(serde_json::to_string(&needles).unwrap_or_default());
        let sealed = sealer.seal(plain.expose_secret().as_bytes(), seal_context(&id))?;
        let mut tx = self.begin().await?;
        tx.set_request_needles(request.id, &sealed, env.clock.now())
            .await?;
        tx.commit().await?;
        // Another run may have stored its capture first: the stored one is the truth.
        match self.request_needles(request.id).await? {
            Some(stored) if stored != sealed => {
                let plain = sealer.open(&stored, seal_context(&id))?;
                serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("request needles: {e}")))
            }
            _ => Ok(needles),
        }
    }

    /// SQLite keeps old page images in the write-ahead log until a checkpoint: fold it into
    /// the database (where `secure_delete` zeroed the erased rows) and truncate it. Best
    /// effort: a reader holding an old snapshot can keep frames alive until it finishes.
    async fn checkpoint(&self) {
        if self.backend == Backend::Sqlite {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.write)
                .await;
        }
    }
}

/// The tables a plan's residue scan leaves out: when it erases only whole workspaces, the
/// accounts of people who sign in (tables linked to a platform user and not to a workspace).
/// Members keep their accounts when a workspace goes (each is a subject of their own, erased by
/// their own request), and an owner's address or name often contains the workspace's name,
/// which would hold the request open forever.
fn accounts_apart(plan: &Plan) -> Vec<&'static str> {
    let workspace = crate::privacy_requests::subject_kind_str(SubjectKind::Workspace);
    if plan.parts.is_empty() || plan.parts.iter().any(|p| p.subject != workspace) {
        return Vec::new();
    }
    TABLES
        .iter()
        .filter(|t| {
            t.links
                .iter()
                .any(|l| l.subject == SubjectKind::PlatformUser)
                && !t.links.iter().any(|l| l.subject == SubjectKind::Workspace)
        })
        .map(|t| t.name)
        .collect()
}

/// The actor of what the erasure job does by itself.
pub fn system_actor() -> crate::audit::NewAuditEvent {
    let mut e = crate::audit::NewAuditEvent::new("privacy.request");
    e.actor_email = Some("system".into());
    e
}

impl Tx {
    /// Ends a platform user's access at once, in the transaction that records their erasure
    /// request: the account is disabled and every row that lets them in (sessions, recovery
    /// codes, reset links, invitations and API tokens they created: the inventory's tables
    /// linked to a platform user that hold credentials and are deleted on erasure) goes now,
    /// not when the erasure job runs.
    pub async fn revoke_access_of_user(
        &mut self,
        user: switchboard_core::UserId,
        now: Timestamp,
    ) -> Result<u64> {
        self.disable_user(user, now).await?;
        let mut n = 0;
        for table in TABLES {
            let holds_credentials = table
                .columns
                .iter()
                .any(|c| c.category == Category::Credentials);
            if !holds_credentials || table.erasure != ErasureAction::Delete {
                continue;
            }
            for link in table
                .links
                .iter()
                .filter(|l| l.subject == SubjectKind::PlatformUser && l.column != "id")
            {
                n += sqlx::query(&format!(
                    "DELETE FROM {} WHERE {} = $1",
                    table.name, link.column
                ))
                .bind(user.to_string())
                .execute(self.conn())
                .await?
                .rows_affected();
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_steps_take_children_before_parents() {
        let fks = vec![
            ("messages".to_owned(), "conversations".to_owned()),
            ("messages".to_owned(), "contacts".to_owned()),
            ("conversations".to_owned(), "contacts".to_owned()),
            ("contact_identities".to_owned(), "contacts".to_owned()),
            ("media_objects".to_owned(), "messages".to_owned()),
        ];
        let order: Vec<&str> = children_first(&fks).iter().map(|t| t.name).collect();
        let pos = |n: &str| order.iter().position(|t| *t == n).unwrap();
        assert!(pos("media_objects") < pos("messages"));
        assert!(pos("jobs") < pos("messages"));
        assert!(pos("messages") < pos("conversations"));
        assert!(pos("conversations") < pos("contacts"));
        assert_eq!(order.len(), TABLES.len());
    }

    #[test]
    fn a_connection_reaches_media_through_its_messages() {
        let media = inventory::table("media_objects").unwrap();
        let filters = filters_for(media, SubjectKind::ChannelConnection, 0);
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].label(), "message_id->messages");
        let jobs = inventory::table("jobs").unwrap();
        assert_eq!(filters_for(jobs, SubjectKind::Contact, 0).len(), 2);
    }

    #[test]
    fn media_keys_cannot_leave_the_media_dir() {
        let dir = Path::new("/data/media");
        assert!(file_in(dir, "ws/abc").is_some());
        assert!(file_in(dir, "../master.key").is_none());
        assert!(file_in(dir, "/etc/passwd").is_none());
    }

    #[test]
    fn ids_and_short_values_are_not_needles() {
        assert!(!is_needle("Ana"));
        assert!(!is_needle("0192f1c4-7e2a-7cc3-8b7e-2f4f3c1d2e10"));
        assert!(is_needle("+34600111222"));
    }
}
