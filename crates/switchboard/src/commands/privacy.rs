//! `switchboard privacy ...`: record a request, run an erasure now (resuming one that was
//! cut short), show and list requests (and the Meta callbacks no connection matched), place
//! and release legal holds, scan for an identifier by hand; and `switchboard bench erase`.
//! Every change is audited with the actor `cli`.

use super::{cli_event, open_store};
use crate::cli::{
    BenchEraseArgs, HoldCommand, PrivacyCommand, PrivacyEraseArgs, PrivacyListArgs,
    PrivacyRequestArgs, PrivacyScanArgs, PrivacyShowArgs,
};
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use std::path::{Path, PathBuf};
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{Clock, ContactId, LegalHoldId, PrivacyRequestId, SystemClock, WorkspaceId};
use switchboard_keys::MasterKey;
use switchboard_store::erasure::{Environment, Outcome};
use switchboard_store::legal_holds::{HoldScope, NewHold};
use switchboard_store::privacy_requests::{Move, NewPrivacyRequest, PrivacyRequest};
use switchboard_store::{Store, StoreError};

pub async fn run(config: &Config, command: PrivacyCommand) -> Result<()> {
    if let PrivacyCommand::Data(command) = command {
        return super::privacy_data::run(config, command).await;
    }
    let store = open_store(config).await?;
    let result = dispatch(config, &store, command).await;
    store.close().await;
    result
}

async fn dispatch(config: &Config, store: &Store, command: PrivacyCommand) -> Result<()> {
    match command {
        PrivacyCommand::Request(args) => request(store, args).await,
        PrivacyCommand::Erase(args) => erase(config, store, args).await,
        PrivacyCommand::Show(args) => show(store, args).await,
        PrivacyCommand::List(args) => list(store, args).await,
        PrivacyCommand::Hold(cmd) => hold(store, cmd).await,
        PrivacyCommand::Scan(args) => scan(config, store, args).await,
        PrivacyCommand::Data(command) => super::privacy_data::run(config, command).await,
    }
}

async fn workspace_id(
    store: &Store,
    slug: &switchboard_core::WorkspaceSlug,
) -> Result<WorkspaceId> {
    match store.workspace_by_slug(slug).await {
        Ok(ws) => Ok(ws.id),
        Err(StoreError::NotFound) => bail!(
            "no workspace with slug `{slug}`; `switchboard workspace list` shows the workspaces"
        ),
        Err(e) => Err(e.into()),
    }
}

fn view(r: &PrivacyRequest) -> serde_json::Value {
    let today = SystemClock.now().date();
    json!({
        "id": r.id,
        "kind": r.kind,
        "state": r.state,
        "state_reason": r.state_reason,
        "source": r.source,
        "subject_kind": switchboard_store::privacy_requests::subject_kind_str(r.subject_kind),
        "subject_id": r.subject_id,
        "received_at": r.received_at.date().to_string(),
        "respond_by": r.deadlines.respond_by.to_string(),
        "urgency": switchboard_server::privacy::api::urgency_str(r.urgency(today)),
        "needs_review": r.needs_review,
        "confirmation_code": r.confirmation_code,
        "progress": r.progress,
        "receipt": r.receipt,
        "residue": r.residue,
    })
}

async fn request(store: &Store, args: PrivacyRequestArgs) -> Result<()> {
    let ws = workspace_id(store, &args.workspace).await?;
    let kind = RequestKind::parse(&args.kind).ok_or_else(|| {
        anyhow!("--kind is erase, export, restrict, lift_restriction, object or rectify")
    })?;
    let regime = Regime::parse(&args.regime).ok_or_else(|| anyhow!("--regime is gdpr or ccpa"))?;
    let contact: ContactId = args
        .contact
        .parse()
        .map_err(|_| anyhow!("--contact is a contact id"))?;
    match store.contact(ws, contact).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            bail!("workspace `{}` has no contact {contact}", args.workspace)
        }
        Err(e) => return Err(e.into()),
    }
    let now = SystemClock.now();
    let mut tx = store.begin().await?;
    let r = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: Some(ws),
                kind,
                source: RequestSource::ManualIntake,
                regime,
                subject_kind: SubjectKind::Contact,
                subject_id: Some(contact.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: None,
                needs_review: false,
                plan: json!({}),
                created_by: None,
            },
            cli_event("privacy.request"),
            now,
        )
        .await?;
    let r = if kind == RequestKind::Erase {
        let moved = tx
            .move_request(
                r.id,
                Move {
                    to: RequestState::InProgress,
                    reason: None,
                    by: cli_event("privacy.request"),
                },
                now,
            )
            .await?;
        switchboard_server::privacy::enqueue_erasure(&mut tx, r.id, Some(ws), now).await?;
        moved
    } else {
        r
    };
    tx.commit().await?;
    if args.json.json {
        return output::json(&json!({ "id": r.id, "state": r.state }));
    }
    output::line(format!(
        "Recorded {} request {} ({}); answer due by {}.{}",
        r.kind,
        r.id,
        r.state,
        r.deadlines.respond_by,
        if kind == RequestKind::Erase {
            " The erasure runs in `switchboard serve`'s workers, or now with `switchboard privacy erase`."
        } else {
            ""
        }
    ))
}

/// The erasure environment of the instance: media in `<data dir>/media`, and the residue scan
/// also reads the mail outbox and log files there.
fn scan_paths(data_dir: &Path) -> Vec<PathBuf> {
    let mut paths = vec![
        data_dir.join("media"),
        data_dir.join("outbox"),
        data_dir.join("logs"),
    ];
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                paths.push(path);
            }
        }
    }
    paths
}

fn load_master(config: &Config) -> Result<MasterKey> {
    MasterKey::load_or_create(&config.data_dir, config.master_key.as_ref())
        .context("cannot load the master key")
}

async fn erase(config: &Config, store: &Store, args: PrivacyEraseArgs) -> Result<()> {
    let id: PrivacyRequestId = args
        .request
        .parse()
        .map_err(|_| anyhow!("--request is a request id"))?;
    let master = load_master(config)?;
    let media_dir = config.data_dir.join("media");
    let env = Environment {
        media_dir: &media_dir,
        scan_dirs: scan_paths(&config.data_dir),
        master: &master,
        clock: &SystemClock,
        batch: i64::from(args.batch_size),
        max_batches: None,
    };
    let outcome = match store.run_erasure(id, &env).await {
        Err(StoreError::NotFound) => bail!("no privacy request {id}"),
        other => other?,
    };
    let r = store.privacy_request_any(id).await?;
    if args.json.json {
        return output::json(&view(&r));
    }
    match outcome {
        Outcome::Completed(receipt) => output::line(format!(
            "Request {id} completed: {} tables touched, {} files deleted, residue scan clean ({} identifiers).",
            receipt.tables.len(),
            receipt.files_deleted,
            receipt.identifiers_scanned
        )),
        Outcome::Held(receipt) => output::line(format!(
            "Request {id} stays open: kept under legal hold: {}",
            receipt
                .kept
                .iter()
                .map(|k| k.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Outcome::ResidueFound(_, hits) => output::line(format!(
            "Request {id} stays open: the residue scan found identifiers in {}",
            hits.iter()
                .map(|h| h.place.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Outcome::NotRunnable => output::line(format!(
            "Request {id} is {} ({}): nothing to erase.",
            r.state, r.kind
        )),
        Outcome::NotYet(at) => output::line(format!(
            "Request {id} waits for its grace period: not erased before {at}."
        )),
    }
}

async fn show(store: &Store, args: PrivacyShowArgs) -> Result<()> {
    let id: PrivacyRequestId = args
        .request
        .parse()
        .map_err(|_| anyhow!("--request is a request id"))?;
    let r = match store.privacy_request_any(id).await {
        Err(StoreError::NotFound) => bail!("no privacy request {id}"),
        other => other?,
    };
    if args.json.json {
        return output::json(&view(&r));
    }
    output::line(serde_json::to_string_pretty(&view(&r)).unwrap_or_default())
}

async fn list(store: &Store, args: PrivacyListArgs) -> Result<()> {
    let requests = match (&args.workspace, args.unlinked) {
        (Some(slug), false) => {
            let ws = workspace_id(store, slug).await?;
            store.privacy_requests(ws, 1000).await?
        }
        (None, true) => store.unlinked_privacy_requests().await?,
        _ => bail!("give --workspace SLUG, or --unlinked for Meta callbacks no connection matched"),
    };
    if args.json.json {
        return output::json(&json!({ "data": requests.iter().map(view).collect::<Vec<_>>() }));
    }
    if requests.is_empty() {
        return output::line("No requests.");
    }
    let today = SystemClock.now().date();
    for r in &requests {
        output::line(format!(
            "{}  {:<8} {:<12} due {} {:<8}  {}",
            r.id,
            r.kind.as_str(),
            r.state.as_str(),
            r.deadlines.respond_by,
            switchboard_server::privacy::api::urgency_str(r.urgency(today)),
            r.confirmation_code.as_deref().unwrap_or("")
        ))?;
    }
    Ok(())
}

async fn hold(store: &Store, command: HoldCommand) -> Result<()> {
    let now = SystemClock.now();
    match command {
        HoldCommand::Place(args) => {
            let ws = workspace_id(store, &args.workspace).await?;
            let scope = HoldScope::parse(&args.scope)
                .ok_or_else(|| anyhow!("--scope is contact, conversation or workspace"))?;
            let reason = switchboard_core::privacy::parse_reason(&args.reason)
                .map_err(|e| anyhow!(e.message))?;
            let scope_id = match (scope, &args.id) {
                (HoldScope::Workspace, _) => ws.to_string(),
                (_, Some(id)) => id.clone(),
                (_, None) => bail!("--id names the contact or conversation"),
            };
            let mut tx = store.begin().await?;
            let hold = match tx
                .place_hold(
                    ws,
                    &NewHold {
                        scope,
                        scope_id: &scope_id,
                        reason: &reason,
                        reference: args.reference.trim(),
                        placed_by: None,
                    },
                    cli_event("privacy.hold"),
                    now,
                )
                .await
            {
                Err(StoreError::NotFound) => bail!("no {} {scope_id} in that workspace", scope),
                other => other?,
            };
            tx.commit().await?;
            if args.json.json {
                return output::json(&serde_json::to_value(&hold)?);
            }
            output::line(format!(
                "Placed legal hold {} on {} {}.",
                hold.id, scope, scope_id
            ))
        }
        HoldCommand::Release(args) => {
            let ws = workspace_id(store, &args.workspace).await?;
            let id: LegalHoldId = args
                .hold
                .parse()
                .map_err(|_| anyhow!("--hold is a hold id"))?;
            let open = store.open_erasures(ws).await?;
            let mut tx = store.begin().await?;
            let hold = match tx
                .release_hold(ws, id, None, cli_event("privacy.hold"), now)
                .await
            {
                Err(StoreError::NotFound) => bail!("no live hold {id} in that workspace"),
                other => other?,
            };
            for request in open {
                switchboard_server::privacy::enqueue_erasure(&mut tx, request, Some(ws), now)
                    .await?;
            }
            tx.commit().await?;
            if args.json.json {
                return output::json(&serde_json::to_value(&hold)?);
            }
            output::line(format!(
                "Released legal hold {}; open erase requests run again.",
                hold.id
            ))
        }
        HoldCommand::List(args) => {
            let ws = workspace_id(store, &args.workspace).await?;
            let holds = store.holds(ws).await?;
            if args.json.json {
                return output::json(&json!({ "data": holds }));
            }
            for h in &holds {
                output::line(format!(
                    "{}  {} {}  {}  {} ({})",
                    h.id,
                    h.scope,
                    h.scope_id,
                    if h.released_at.is_some() {
                        "released"
                    } else {
                        "live"
                    },
                    h.reference,
                    h.reason
                ))?;
            }
            Ok(())
        }
    }
}

async fn scan(config: &Config, store: &Store, args: PrivacyScanArgs) -> Result<()> {
    let ws = workspace_id(store, &args.workspace).await?;
    let needle = args.needle.trim().to_owned();
    if needle.chars().count() < 3 {
        bail!("--needle is at least 3 characters (shorter ones match everywhere)");
    }
    let needles = vec![needle];
    let mut hits = store.residue_scan_in(Some(ws), &needles).await?;
    hits.extend(
        switchboard_store::residue::scan_files(&scan_paths(&config.data_dir), &needles).await,
    );
    if args.json.json {
        return output::json(&json!({ "hits": hits, "clean": hits.is_empty() }));
    }
    if hits.is_empty() {
        return output::line(
            "No residue: the text is in no table, media file, outbox message or log.",
        );
    }
    for h in &hits {
        output::line(format!("{}: {}", h.place, h.rows))?;
    }
    Ok(())
}

/// `switchboard bench erase`: a contact with `--messages` messages and `--media` stored media
/// files on a scratch database, erased through the same code as a request; prints the time.
pub async fn bench_erase(args: BenchEraseArgs) -> Result<()> {
    use switchboard_core::channel::{
        AccountRef, ChannelKind, ExternalContact, InboundMessage, MediaKind, MediaRef,
        MessageContent,
    };
    use switchboard_store::connections::NewConnection;
    use switchboard_store::media::StoredMedia;
    use switchboard_store::messages::Direction;

    let dir = tempfile::tempdir().context("cannot create a scratch directory")?;
    let (url, db) = match &args.postgres_server {
        Some(server) => {
            let name = format!("sbbench_{}", uuid_simple());
            let admin = Store::connect(server).await?;
            admin
                .execute_admin(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.close().await;
            (
                switchboard_store::testing::with_database(server, &name),
                Some((server.clone(), name)),
            )
        }
        None => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            None,
        ),
    };
    let store = Store::open(&url).await?;
    let master = MasterKey::generate();
    let now = SystemClock.now();
    let owner = {
        let mut tx = store.begin().await?;
        let email = switchboard_core::EmailAddress::parse("bench@example.com")?;
        let id = tx
            .insert_user(
                switchboard_store::users::NewUser {
                    email: &email,
                    display_name: "Bench",
                    password_hash: "$argon2id$bench",
                },
                now,
            )
            .await?;
        tx.commit().await?;
        id
    };
    let ws = store
        .create_workspace(
            "Bench",
            &switchboard_core::WorkspaceSlug::parse("bench")?,
            owner,
            now,
        )
        .await?
        .id;
    let credentials = secrecy::SecretString::from(r#"{"access_token":"bench"}"#.to_owned());
    let mut tx = store.begin().await?;
    let conn = tx
        .insert_connection(
            ws,
            &NewConnection {
                kind: ChannelKind::WhatsApp,
                name: "Bench",
                account_id: "bench-phone",
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &json!({}),
            },
            &master,
            now,
        )
        .await?;
    tx.commit().await?;
    let media_dir = dir.path().join("media");
    std::fs::create_dir_all(media_dir.join(ws.to_string()))?;
    if let Some(n) = args.workspace_messages {
        return bench_erase_workspace(&args, &store, &master, &media_dir, ws, conn.id, n, db).await;
    }
    let seeded = std::time::Instant::now();
    let mut contact = None;
    let total = u64::from(args.messages);
    let mut i = 0u64;
    while i < total {
        let mut tx = store.begin().await?;
        for _ in 0..1000.min(total - i) {
            let with_media = i < u64::from(args.media);
            let content = if with_media {
                MessageContent::Media {
                    kind: MediaKind::Image,
                    media: MediaRef::PlatformId(format!("m{i}")),
                    mime_type: Some("image/jpeg".into()),
                    caption: None,
                    filename: None,
                    sha256: None,
                }
            } else {
                MessageContent::Text {
                    body: format!("bench message number {i} from the customer"),
                }
            };
            let msg = InboundMessage {
                account: AccountRef {
                    kind: ChannelKind::WhatsApp,
                    account_id: "bench-phone".into(),
                },
                external_id: format!("wamid.bench.{i}"),
                contact: ExternalContact {
                    external_id: "99911122233".into(),
                    display_name: Some("Bench Customer".into()),
                    username: None,
                    phone: Some("+99911122233".into()),
                },
                sent_at: now,
                content,
                reply_to: None,
                referral: None,
            };
            let done = tx
                .ingest_message(ws, conn.id, &msg, Direction::Inbound, now)
                .await?;
            contact = Some(done.contact_id);
            if let Some(media) = done.media {
                let key = format!("{ws}/{media}");
                std::fs::write(media_dir.join(&key), vec![0u8; 4096])?;
                tx.mark_media_stored(
                    ws,
                    media,
                    &StoredMedia {
                        storage_key: &key,
                        content_type: "image/jpeg",
                        size_bytes: 4096,
                        sha256: "00",
                    },
                    now,
                )
                .await?;
            }
            i += 1;
        }
        tx.commit().await?;
    }
    let contact = contact.ok_or_else(|| anyhow!("--messages is at least 1"))?;
    let seeding = seeded.elapsed();
    let mut tx = store.begin().await?;
    let r = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: Some(ws),
                kind: RequestKind::Erase,
                source: RequestSource::Operator,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::Contact,
                subject_id: Some(contact.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: None,
                needs_review: false,
                plan: json!({}),
                created_by: None,
            },
            cli_event("privacy.request"),
            now,
        )
        .await?;
    tx.commit().await?;
    let env = Environment {
        media_dir: &media_dir,
        scan_dirs: vec![media_dir.clone()],
        master: &master,
        clock: &SystemClock,
        batch: switchboard_store::erasure::BATCH,
        max_batches: None,
    };
    let started = std::time::Instant::now();
    let outcome = store.run_erasure(r.id, &env).await?;
    let took = started.elapsed();
    store.close().await;
    if let Some((server, name)) = db {
        let admin = Store::connect(&server).await?;
        admin
            .execute_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin.close().await;
    }
    let Outcome::Completed(receipt) = outcome else {
        bail!("the erasure did not complete: {outcome:?}");
    };
    let backend = if args.postgres_server.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let result = json!({
        "backend": backend,
        "messages": args.messages,
        "media": args.media,
        "seconds": took.as_secs_f64(),
        "seeding_seconds": seeding.as_secs_f64(),
        "rows_deleted": receipt.tables.values().map(|c| c.deleted).sum::<u64>(),
        "files_deleted": receipt.files_deleted,
        "residue_hits": receipt.residue_hits,
    });
    if args.json.json {
        return output::json(&result);
    }
    output::line(format!(
        "Erased a contact with {} messages and {} media files in {:.3} s (erasure, residue scan of every text column and the media dir; goal < 1 s) on {}.",
        args.messages,
        args.media,
        took.as_secs_f64(),
        backend
    ))
}

/// `bench erase --workspace-messages N`: seeds the workspace with `n` messages and erases it
/// whole through the inventory (every table linked to the workspace), timing the erasure and
/// its residue scan.
#[allow(clippy::too_many_arguments)]
async fn bench_erase_workspace(
    args: &BenchEraseArgs,
    store: &Store,
    master: &MasterKey,
    media_dir: &std::path::Path,
    ws: switchboard_core::WorkspaceId,
    conn: switchboard_core::ConnectionId,
    n: u64,
    db: Option<(String, String)>,
) -> Result<()> {
    use switchboard_store::erasure::{Part, Plan};
    let now = SystemClock.now();
    let seeded = std::time::Instant::now();
    store
        .seed_inbox(
            ws,
            conn,
            switchboard_store::seed::SeedPlan {
                conversations: n.div_ceil(10),
                messages: n,
                teams: 0,
                now,
            },
        )
        .await?;
    let seeding = seeded.elapsed();
    let plan = Plan {
        parts: vec![Part::new(SubjectKind::Workspace, ws, Some(ws))],
        not_before: None,
    };
    let mut tx = store.begin().await?;
    let r = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: None,
                kind: RequestKind::Erase,
                source: RequestSource::WorkspaceDeactivation,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::Workspace,
                subject_id: Some(ws.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: None,
                needs_review: false,
                plan: plan.to_json(),
                created_by: None,
            },
            cli_event("privacy.request"),
            now,
        )
        .await?;
    tx.commit().await?;
    let env = Environment {
        media_dir,
        scan_dirs: vec![media_dir.to_path_buf()],
        master,
        clock: &SystemClock,
        batch: switchboard_store::erasure::BATCH,
        max_batches: None,
    };
    let started = std::time::Instant::now();
    let outcome = store.run_erasure(r.id, &env).await?;
    let took = started.elapsed();
    store.close().await;
    if let Some((server, name)) = db {
        let admin = Store::connect(&server).await?;
        admin
            .execute_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin.close().await;
    }
    let Outcome::Completed(receipt) = outcome else {
        bail!("the erasure did not complete: {outcome:?}");
    };
    let backend = if args.postgres_server.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let result = json!({
        "backend": backend,
        "workspace_messages": n,
        "seconds": took.as_secs_f64(),
        "seeding_seconds": seeding.as_secs_f64(),
        "rows_deleted": receipt.tables.values().map(|c| c.deleted).sum::<u64>(),
        "rows_anonymised": receipt.tables.values().map(|c| c.anonymised).sum::<u64>(),
        "residue_hits": receipt.residue_hits,
    });
    if args.json.json {
        return output::json(&result);
    }
    output::line(format!(
        "Erased a workspace of {n} messages in {:.3} s (inventory erasure and residue scan; goal < 60 s for 1,000,000) on {backend}.",
        took.as_secs_f64()
    ))
}

fn uuid_simple() -> String {
    format!("{:x}", rand::random::<u64>())
}
