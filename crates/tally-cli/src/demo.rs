//! `tally demo`: a music shop built from the real CDNOW purchase log (69,659 purchases by
//! 23,570 customers, 1997–1998), with dates shifted so the log ends yesterday.
//!
//! The demo is built into `<file>.partial` and renamed only when complete, so an interrupted
//! run never leaves a half-imported demo behind; a complete one is reused.

use crate::admin::create_key;
use crate::app::{self, Result, core_err};
use crate::import::{self, Row};
use crate::progress::group;
use serde_json::json;
use std::path::{Path, PathBuf};
use tally_core::{Command, Tally};
use tally_domain::ids::TenantId;
use tally_domain::inputs::{MemberRef, NewLocation, NewProgram, NewPurchase, NewReward};
use tally_domain::model::SalesChannel;
use tally_domain::program::Program;
use tally_domain::{Currency, Money, Timestamp};
use tally_store::Conn;
use tally_store_any::AnyDb;

/// The CDNOW log, shipped in the binary so the demo needs no files (1.9 MB).
const CDNOW: &str = include_str!("../../../data/cdnow/CDNOW_master.txt");
const TENANT: &str = "demo";
const ACTOR: &str = "demo";
/// The demo's console operators (signed in through one-time links printed at start).
const OWNER: &str = "owner@vinyl-demo.example";
const CASHIER: &str = "cashier@vinyl-demo.example";

pub async fn run(url: &str, listen: &str, no_serve: bool, fresh: bool) -> Result<()> {
    ensure_built(url, fresh).await?;
    let tally = app::open(url).await?;
    let tenant = tally.tenant(TENANT).await.map_err(core_err)?.id;
    let program = tally
        .programs(&tenant)
        .await
        .map_err(core_err)?
        .into_iter()
        .next()
        .ok_or("the demo has no program")?;
    let (secret, _) = create_key(&tally, &tenant, "demo", "admin").await?;
    let totals = tally
        .program_totals(&tenant, &program.id)
        .await
        .map_err(core_err)?;
    let base = format!("http://{listen}");
    let mut links = Vec::new();
    for email in [OWNER, CASHIER] {
        let email = tally_domain::text::Email::parse(email)?;
        let (operator, _) = tally
            .operator_by_email(&email)
            .await
            .map_err(core_err)?
            .ok_or("the demo has no operators: rebuild it with --fresh")?;
        let purpose = tally_store::queries::operators::LinkPurpose::SignIn;
        links.push(crate::operators::link(&tally, &operator, purpose, &base).await?);
    }
    links.push(wallet_link(&tally, &base).await?);
    print_welcome(
        listen,
        &program,
        &secret,
        totals.members,
        totals.issued.value(),
        &links,
    );
    if no_serve {
        return Ok(());
    }
    let senders = crate::serve::Senders::default();
    crate::serve::serve(tally, listen, false, &base, senders, Vec::new()).await
}

/// Builds the demo into the SQLite file `url` names, unless a complete one is there already.
pub async fn ensure_built(url: &str, fresh: bool) -> Result<()> {
    let path = sqlite_path(url)?;
    if fresh || !is_complete(url).await {
        build(&path).await
    } else {
        eprintln!(
            "Reusing the demo in {} (use --fresh to rebuild).",
            path.display()
        );
        Ok(())
    }
}

/// The demo's tenant and program, and its owner's email.
pub const DEMO_TENANT: &str = TENANT;
pub const DEMO_OWNER: &str = OWNER;

/// A wallet sign-in link for the first CDNOW customer, with a fresh one-time code in it (the demo
/// sends no email).
async fn wallet_link(tally: &Tally<AnyDb>, base: &str) -> Result<String> {
    let profile = synthetic_profile("cdnow-00001");
    let email = tally_domain::text::Email::parse(profile["email"].as_str().unwrap_or_default())?;
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    let command = Command::IssueWalletCode {
        email: email.clone(),
        code_sha256: tally_web::pages::wallet::code_sha256(&email, &code),
        ttl: jiff::SignedDuration::from_hours(1),
    };
    let wallet = TenantId::from_trusted(tally_core::WALLET_TENANT.into());
    tally
        .write(&wallet, ACTOR, None, command)
        .await
        .map_err(core_err)?;
    Ok(format!(
        "{base}/wallet/sign-in?email={}&code={code}",
        tally_web::pages::url_encode(email.as_str())
    ))
}

fn sqlite_path(url: &str) -> Result<PathBuf> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            format!(
                "the demo runs on the embedded database: give --database sqlite://FILE, not `{url}`"
            )
        })
}

async fn is_complete(url: &str) -> bool {
    let Ok(path) = sqlite_path(url) else {
        return false;
    };
    if !path.exists() {
        return false;
    }
    let Ok(tally) = app::open(url).await else {
        return false;
    };
    // A demo built before the console had no operators: it is rebuilt.
    let owner = tally_domain::text::Email::parse(OWNER).expect("a valid email");
    tally.tenant(TENANT).await.is_ok()
        && matches!(tally.operator_by_email(&owner).await, Ok(Some(_)))
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Builds the demo in a file of its own, then writes a copy of it where it belongs: an
/// interrupted build leaves no demo that looks complete.
///
/// A copy (`VACUUM INTO`, one compact file), not a rename: the writer, checkpointer and
/// segment threads close their connections to the partial file shortly after the build's
/// `Tally` is dropped, not at once, and SQLite shares its locks and shared memory between the
/// connections of one process to the same file (inode). Opening the renamed file while those
/// were still open failed with a disk I/O error.
async fn build(path: &Path) -> Result<()> {
    eprintln!("Building the demo music shop from the CDNOW purchase log…");
    build_with(path, async |tally: &Tally<AnyDb>| populate(tally).await).await
}

async fn build_with(
    path: &Path,
    populate: impl AsyncFnOnce(&Tally<AnyDb>) -> Result<()>,
) -> Result<()> {
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    remove_database(&partial);
    let url = format!("sqlite://{}", partial.display());
    let tally = app::open(&url).await?;
    populate(&tally).await?;
    remove_database(path);
    let target = path.to_str().ok_or("the demo's path is not valid UTF-8")?;
    let mut c = tally.read().await.map_err(core_err)?;
    c.batch(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
        .await
        .map_err(|e| format!("writing the demo to {}: {e}", path.display()))?;
    drop(c);
    drop(tally);
    remove_database(&partial);
    Ok(())
}

async fn populate(tally: &Tally<AnyDb>) -> Result<()> {
    let placeholder = TenantId::generate();
    let tenant = tally
        .write(
            &placeholder,
            ACTOR,
            None,
            Command::CreateTenant {
                name: TENANT.into(),
            },
        )
        .await
        .map_err(core_err)?;
    let tenant = TenantId::parse(tenant["id"].as_str().ok_or("tenant id")?)?;
    let program = NewProgram::parse(&json!({
        "name": "Vinyl & Disc Music Shop",
        "points_name": "notes",
        "currency": "USD",
        "time_zone": "America/New_York",
        "earning": {"points_per_unit": "1", "rounding": "down"},
    }))
    .map_err(|e| e.to_string())?;
    let program: Program = tally
        .write_as(&tenant, ACTOR, Command::CreateProgram(program))
        .await
        .map_err(core_err)?;
    for (name, address, lat, lon) in [
        (
            "Downtown",
            "225 Fifth Avenue, New York, NY 10010",
            40.7440,
            -73.9880,
        ),
        (
            "Brooklyn",
            "120 Bedford Avenue, Brooklyn, NY 11249",
            40.7205,
            -73.9570,
        ),
        (
            "Hoboken",
            "84 Washington Street, Hoboken, NJ 07030",
            40.7372,
            -74.0300,
        ),
    ] {
        let location = NewLocation::parse(&json!({"name": name, "address": address, "latitude": lat, "longitude": lon, "time_zone": "America/New_York"}))
            .map_err(|e| e.to_string())?;
        tally
            .write(
                &tenant,
                ACTOR,
                None,
                Command::CreateLocation {
                    program: program.id.clone(),
                    location,
                },
            )
            .await
            .map_err(core_err)?;
    }
    for (name, description, cost, stock) in [
        (
            "Tote bag",
            "Heavy cotton tote with the shop's logo.",
            50,
            Some(200),
        ),
        (
            "$5 off your next order",
            "Take $5 off any order of $20 or more.",
            100,
            None,
        ),
        (
            "Limited-edition vinyl",
            "A signed pressing from this month's featured artist.",
            400,
            Some(25),
        ),
        (
            "Concert tickets for two",
            "Two tickets to a show at our partner venue.",
            1000,
            Some(10),
        ),
    ] {
        let reward = NewReward::parse(
            &json!({"name": name, "description": description, "cost_points": cost, "stock": stock}),
        )
        .map_err(|e| e.to_string())?;
        tally
            .write(
                &tenant,
                ACTOR,
                None,
                Command::CreateReward {
                    program: program.id.clone(),
                    reward,
                },
            )
            .await
            .map_err(core_err)?;
    }
    for (email, name, role) in [
        (OWNER, "Olivia Owner", "owner"),
        (CASHIER, "Carlos Cashier", "cashier"),
    ] {
        crate::operators::create(tally, &tenant, email, name, role, "en", None).await?;
    }
    let rows = cdnow_rows(program.time_zone.as_str(), Timestamp::now())?;
    // Each customer joined on the day of their first purchase.
    let mut first_purchase: std::collections::HashMap<String, Timestamp> = Default::default();
    for row in &rows {
        let at = row.purchase.occurred_at.unwrap_or_else(Timestamp::now);
        first_purchase
            .entry(row.external_id.clone())
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    let profile = |external_id: &str| {
        let mut body = synthetic_profile(external_id);
        if let Some(at) = first_purchase.get(external_id) {
            body["enrolled_at"] = json!(at.to_string());
        }
        body
    };
    let report = import::import(tally, &tenant, &program.id, rows, Some(&profile)).await?;
    eprintln!("{report}");
    redeem_some(tally, &tenant, &program).await?;
    earning_setup(tally, &tenant, &program).await?;
    // Nothing else writes while the demo is built: the whole history goes into the snapshot.
    let command = Command::AdvanceProgramTotals {
        program: program.id.clone(),
        margin: jiff::SignedDuration::ZERO,
    };
    tally
        .write(&tenant, ACTOR, None, command)
        .await
        .map_err(core_err)?;
    // What the nightly job would find: every customer's lifecycle, value and next purchase.
    let insights = tally
        .run_insights(&tenant, ACTOR, &program.id, None)
        .await
        .map_err(core_err)?
        .ok_or("another run holds the demo program")?;
    eprintln!("{}", insights_line(&insights));
    demo_segments(tally, &tenant, &program).await
}

/// Segments a music shop would keep an eye on, evaluated over the CDNOW customers.
async fn demo_segments(tally: &Tally<AnyDb>, tenant: &TenantId, program: &Program) -> Result<()> {
    let segments = [
        json!({"key": "vip_at_risk", "name": "VIPs at risk",
               "description": "The most valuable customers whose rhythm has slipped: win them back.",
               "definition": {"all": [
                   {"field": "vip", "op": "eq", "value": true},
                   {"field": "lifecycle", "op": "in", "value": ["at_risk", "lapsed"]}]}}),
        json!({"key": "regulars", "name": "Regulars",
               "description": "Five or more purchases in the last year.",
               "definition": {"field": "purchases", "op": "gte", "value": 5, "days": 365}}),
        json!({"key": "one_and_done", "name": "Bought once, long ago",
               "description": "A single purchase more than six months ago.",
               "definition": {"all": [
                   {"field": "purchases", "op": "eq", "value": 1},
                   {"field": "days_since_last_purchase", "op": "gt", "value": 180}]}}),
    ];
    let mut sizes = Vec::new();
    for body in segments {
        let input =
            tally_domain::segments::SegmentInput::parse(&body).map_err(|e| e.to_string())?;
        let name = input.name.clone();
        let command = Command::CreateSegment {
            program: program.id.clone(),
            input,
        };
        let created = tally
            .write(tenant, ACTOR, None, command)
            .await
            .map_err(core_err)?;
        let id = tally_domain::ids::SegmentId::parse(created["id"].as_str().unwrap_or_default())?;
        let evaluated = tally
            .evaluate_segment(tenant, &id)
            .await
            .map_err(core_err)?;
        sizes.push(format!(
            "{name} {}",
            group(evaluated["size"].as_u64().unwrap_or(0))
        ));
    }
    eprintln!("Segments: {}", sizes.join(", "));
    Ok(())
}

/// One line about an insights run: the BG/NBD fit and the lifecycle distribution.
fn insights_line(summary: &serde_json::Value) -> String {
    let bgnbd = &summary["models"]["bgnbd"]["parameters"];
    let stages = &summary["lifecycle"];
    let count = |stage: &str| group(stages[stage].as_u64().unwrap_or(0));
    format!(
        "Customer insights for {} customers in {} ms: BG/NBD r={:.3} alpha={:.3} a={:.3} b={:.3} (weeks); \
         active {}, at risk {}, lapsed {}, lost {}; {} VIPs",
        group(summary["customers"].as_u64().unwrap_or(0)),
        summary["duration_ms"],
        bgnbd["r"].as_f64().unwrap_or(f64::NAN),
        bgnbd["alpha"].as_f64().unwrap_or(f64::NAN),
        bgnbd["a"].as_f64().unwrap_or(f64::NAN),
        bgnbd["b"].as_f64().unwrap_or(f64::NAN),
        count("active"),
        count("at_risk"),
        count("lapsed"),
        count("lost"),
        group(summary["vip"].as_u64().unwrap_or(0)),
    )
}

/// After the history is in: a few earning rules, tiers, an expiry policy and a stamp card, as a
/// music shop would set them up, so new purchases in the demo show them at work. (Set after the import so
/// the import takes the fast set-based path; the tiers follow from the next purchase.)
async fn earning_setup(tally: &Tally<AnyDb>, tenant: &TenantId, program: &Program) -> Result<()> {
    let rules = [
        json!({"name": "Welcome bonus", "trigger": "enrolment", "effect": {"bonus": 50}}),
        json!({"name": "Double points at weekends", "trigger": "purchase", "effect": {"multiplier": 2},
               "schedule": {"days": ["sat", "sun"]}}),
        json!({"name": "Big basket", "trigger": "purchase", "condition": "purchase.total >= 100.0",
               "effect": {"bonus": 25}, "limits": {"per_member": {"day": 25}}}),
        json!({"name": "Jazz club", "trigger": "purchase",
               "effect": {"per_item": {"condition": "item.category == 'jazz'", "points": "item.quantity * 5"}},
               "audience": {"channels": ["pos"]}}),
    ];
    for document in rules {
        let command = Command::CreateRule {
            program: program.id.clone(),
            document,
            status: "active".into(),
        };
        tally
            .write(tenant, ACTOR, None, command)
            .await
            .map_err(core_err)?;
    }
    let plan = tally_domain::tiers::TierPlan::parse(&json!({
        "metric": "points_earned", "window": "rolling_12_months", "grace_days": 30,
        "levels": [{"name": "Member", "threshold": 0}, {"name": "Silver", "threshold": 200, "multiplier": 1.25},
                   {"name": "Gold", "threshold": 1000, "multiplier": 1.5}]}))
    .map_err(|e| e.to_string())?;
    let command = Command::SetTierPlan {
        program: program.id.clone(),
        plan,
    };
    tally
        .write(tenant, ACTOR, None, command)
        .await
        .map_err(core_err)?;
    let policy = tally_domain::expiry::ExpiryPolicy::parse(
        &json!({"kind": "end_of_period", "period": "year", "months_after": 12}),
    )
    .map_err(|e| e.to_string())?;
    let command = Command::SetExpiryPolicy {
        program: program.id.clone(),
        policy,
    };
    tally
        .write(tenant, ACTOR, None, command)
        .await
        .map_err(core_err)?;
    // A record-shop punch card: every purchase of 10 dollars or more, at most one a day, and a
    // stamp from the till screen's QR code; six give 60 points.
    let card = tally_domain::stamps::StampCardDoc::parse(&json!({
        "name": "Record card", "stamps_required": 6, "reward": {"points": 60},
        "qualifying_purchase": {"min_total_minor": 1000}, "max_per_day": 1, "qr_stamps": true}))
    .map_err(|e| e.to_string())?;
    let command = Command::CreateStampCard {
        program: program.id.clone(),
        card,
    };
    tally
        .write(tenant, ACTOR, None, command)
        .await
        .map_err(core_err)?;
    Ok(())
}

/// Some customers have redeemed rewards (and used some of the codes), so the dashboard's top
/// rewards and the members' redemptions show something: every 23rd customer tries one reward,
/// chosen by number; those without enough points are refused, as at a real till.
async fn redeem_some(tally: &Tally<AnyDb>, tenant: &TenantId, program: &Program) -> Result<()> {
    let rewards = tally
        .rewards(tenant, &program.id, None, None)
        .await
        .map_err(core_err)?
        .items;
    if rewards.is_empty() {
        return Ok(());
    }
    for customer in (1..=23_570).step_by(23) {
        let reward = &rewards[customer % rewards.len().min(3)];
        let request = tally_domain::inputs::RedeemRequest::parse(&json!({
            "member": {"external_id": format!("cdnow-{customer:05}")},
            "reward_id": reward.id,
        }))
        .map_err(|e| e.to_string())?;
        let command = Command::Redeem {
            program: program.id.clone(),
            request,
        };
        match tally.write(tenant, ACTOR, None, command).await {
            Ok(answer) if customer % 2 == 0 => {
                let id = answer["id"].as_str().unwrap_or_default();
                let redemption = tally_domain::ids::RedemptionId::parse(id)?;
                let consume = Command::ConsumeRedemption { redemption };
                tally
                    .write(tenant, ACTOR, None, consume)
                    .await
                    .map_err(core_err)?;
            }
            Ok(_) | Err(tally_core::CoreError::Domain(_)) => {}
            Err(e) => return Err(core_err(e)),
        }
    }
    Ok(())
}

const FIRST_NAMES: [&str; 24] = [
    "Anna", "James", "Maria", "Robert", "Zofia", "Michael", "Emily", "David", "Łucja", "Daniel",
    "Sarah", "Piotr", "Laura", "Kevin", "Grace", "Tomasz", "Olivia", "Marcus", "Julia", "Andrew",
    "Nina", "Peter", "Chloe", "Samuel",
];
const LAST_NAMES: [&str; 24] = [
    "Smith",
    "Kowalska",
    "Johnson",
    "Nowak",
    "Williams",
    "Brown",
    "Wiśniewska",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Wójcik",
    "Rodriguez",
    "Wilson",
    "Martinez",
    "Anderson",
    "Taylor",
    "Thomas",
    "Kamińska",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Harris",
];

/// A made-up but stable profile for CDNOW customer `cdnow-NNNNN`: the same customer gets the same
/// name, email, birthday, preferred channel and consents on every build.
fn synthetic_profile(external_id: &str) -> serde_json::Value {
    let n: usize = external_id
        .trim_start_matches("cdnow-")
        .parse()
        .unwrap_or(0);
    // A multiplicative hash spreads neighbouring customer numbers over the lists.
    let h = n.wrapping_mul(2_654_435_761) % 1_000_003;
    let first = FIRST_NAMES[h % FIRST_NAMES.len()];
    let last = LAST_NAMES[(h / 31) % LAST_NAMES.len()];
    let email_name = tally_domain::search::fold(&format!("{first}.{last}"));
    let birthday = format!(
        "{}-{:02}-{:02}",
        1950 + h % 50,
        1 + h % 12,
        1 + (h / 7) % 28
    );
    let channel = ["email", "sms", "email", "push"][h % 4];
    json!({
        "external_id": external_id,
        "name": format!("{first} {last}"),
        "email": format!("{email_name}.{n}@example.com"),
        "birthday": birthday,
        "preferred_channel": channel,
        "consents": { "email": !h.is_multiple_of(5), "sms": h.is_multiple_of(3) },
    })
}

/// The CDNOW log as import rows: customer `00001` is member `cdnow-00001`, line 2 of the file
/// is order `cdnow-2`, and every date moves by the same number of days, so that the last is the
/// day before `now` in the program's time zone (each purchase at noon).
fn cdnow_rows(time_zone: &str, now: Timestamp) -> Result<Vec<Row>> {
    let usd = Currency::parse("USD")?;
    let tz = jiff::tz::TimeZone::get(time_zone).map_err(|e| e.to_string())?;
    let yesterday = now
        .to_zoned(tz.clone())
        .date()
        .yesterday()
        .map_err(|e| e.to_string())?;
    let mut parsed = Vec::new();
    for (i, line) in CDNOW.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [customer, date, _cds, dollars] = fields[..] else {
            return Err(format!("CDNOW line {}: expected 4 fields", i + 1));
        };
        let date = jiff::civil::Date::strptime("%Y%m%d", date)
            .map_err(|e| format!("CDNOW line {}: {e}", i + 1))?;
        let amount_minor = tally_domain::money::parse_decimal_minor(dollars, usd)
            .map_err(|e| format!("CDNOW line {}: {e}", i + 1))?;
        parsed.push((i + 1, customer, date, amount_minor));
    }
    let last = parsed
        .iter()
        .map(|(_, _, d, _)| *d)
        .max()
        .ok_or("the CDNOW log is empty")?;
    let shift = yesterday.since(last).map_err(|e| e.to_string())?;
    parsed
        .into_iter()
        .map(|(line, customer, date, amount_minor)| {
            let day = date.checked_add(shift).map_err(|e| e.to_string())?;
            let occurred_at = day
                .at(12, 0, 0, 0)
                .to_zoned(tz.clone())
                .map_err(|e| e.to_string())?
                .timestamp();
            let external_id = format!("cdnow-{customer}");
            Ok(Row {
                purchase: NewPurchase {
                    order_id: format!("cdnow-{line}"),
                    member: MemberRef::ExternalId(external_id.clone()),
                    total: Money {
                        amount_minor,
                        currency: usd,
                    },
                    lines: Vec::new(),
                    channel: SalesChannel::Online,
                    location_id: None,
                    occurred_at: Some(occurred_at),
                },
                external_id,
            })
        })
        .collect()
}

fn print_welcome(
    listen: &str,
    program: &Program,
    secret: &str,
    members: i64,
    issued: i64,
    links: &[String],
) {
    let base = format!("http://{listen}");
    let p = &program.id;
    let auth = format!("-H 'Authorization: Bearer {secret}'");
    println!(
        r#"
Tally demo: "{name}" — {members} members, {issued} {points} issued from the CDNOW purchase log.

  Console (owner, one-time sign-in link, valid 1 hour):
    {owner_link}
  Cashier screen (one-time sign-in link, valid 1 hour):
    {cashier_link}
  A member's wallet (sign-in code included, valid 1 hour; open it on a phone too):
    {wallet_link}
  API key (admin, shown once): {secret}
  Program:                     {p}
  API docs (interactive):      {base}/api/v1/docs

Try it:
  curl -s {base}/api/v1/programs/{p}/totals {auth}
  curl -s '{base}/api/v1/programs/{p}/members?limit=2' {auth}
  curl -s '{base}/api/v1/programs/{p}/members/lookup?external_id=cdnow-00001' {auth}
  curl -s -X POST {base}/api/v1/programs/{p}/purchases {auth} \
       -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-order-1' \
       -d '{{"order_id": "demo-order-1", "member": {{"external_id": "cdnow-00001"}}, "total": {{"amount_minor": 2599, "currency": "USD"}}}}'
  curl -s {base}/api/v1/programs/{p}/rewards {auth}
  curl -s {base}/api/v1/programs/{p}/insights {auth}
  curl -s '{base}/api/v1/programs/{p}/insights/members?stage=at_risk&limit=3' {auth}
"#,
        name = program.name,
        members = group(members as u64),
        issued = group(issued.max(0) as u64),
        points = program.points_name,
        owner_link = links.first().map_or("", String::as_str),
        cashier_link = links.get(1).map_or("", String::as_str),
        wallet_link = links.get(2).map_or("", String::as_str),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole log is shipped and read: 69,659 purchases by 23,570 customers, the last on the
    /// day before today, each day moved by the same number of days, nothing lost in the amounts.
    #[test]
    fn the_cdnow_log_ends_yesterday_with_every_purchase() {
        let now: Timestamp = "2026-12-05T03:00:00Z".parse().unwrap();
        let rows = cdnow_rows("America/New_York", now).unwrap();
        assert_eq!(rows.len(), 69_659);
        let customers: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.external_id.as_str()).collect();
        assert_eq!(customers.len(), 23_570);
        let orders: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.purchase.order_id.as_str()).collect();
        assert_eq!(orders.len(), rows.len(), "one order id per line");

        let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let days: Vec<jiff::civil::DateTime> = rows
            .iter()
            .map(|r| {
                r.purchase
                    .occurred_at
                    .unwrap()
                    .to_zoned(tz.clone())
                    .datetime()
            })
            .collect();
        // 03:00 UTC is still the 4th in New York: its yesterday is the 3rd.
        let last = days.iter().max().unwrap();
        assert_eq!(last.to_string(), "2026-12-03T12:00:00");
        // The log runs from 1997-01-01 to 1998-06-30: 545 days.
        let first = days.iter().min().unwrap();
        assert_eq!(first.date().until(last.date()).unwrap().get_days(), 545);
        assert!(
            days.iter()
                .all(|d| d.time() == jiff::civil::time(12, 0, 0, 0))
        );

        let total: i64 = rows.iter().map(|r| r.purchase.total.amount_minor).sum();
        let usd = Currency::parse("USD").unwrap();
        let raw: i64 = CDNOW
            .lines()
            .skip(1)
            .map(|l| {
                let dollars = l.split_whitespace().nth(3).unwrap();
                tally_domain::money::parse_decimal_minor(dollars, usd).unwrap()
            })
            .sum();
        assert_eq!(total, raw);
        assert!(total > 0);
    }

    /// The demo's file opens at once after it is built, while the build's `Tally` still
    /// writes to the partial file (as its segment updater may: a renamed file failed here with
    /// a disk I/O error), and the partial file is gone.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_demo_opens_as_soon_as_it_is_built() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("tally-demo-{nanos}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo.db");
        for round in 0..3 {
            build_with(&path, async |tally: &Tally<AnyDb>| {
                let create = async |tally: &Tally<AnyDb>, name: String| {
                    let command = Command::CreateTenant { name };
                    let placeholder = TenantId::generate();
                    tally.write(&placeholder, ACTOR, None, command).await
                };
                create(tally, format!("{TENANT} {round}"))
                    .await
                    .map_err(core_err)?;
                // Writes that go on after the build is done.
                let late = tally.clone();
                tokio::spawn(async move {
                    for n in 0..50 {
                        let _ = create(&late, format!("late {round} {n}")).await;
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                });
                Ok(())
            })
            .await
            .unwrap();
            let tally = app::open(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let built = tally.tenant(&format!("{TENANT} {round}")).await;
            assert!(built.is_ok(), "round {round}: {built:?}");
            assert!(!dir.join("demo.db.partial").exists());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
