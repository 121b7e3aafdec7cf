//! Segments in the engine: reading members' facts, evaluating definitions, and keeping who is in
//! each segment up to date.
//!
//! Evaluation reads from a pooled connection and sends only the differences to the writer
//! (`Command::ApplySegmentChanges`): an entry is an insert that does nothing when the member is
//! already in, an exit a delete, and each logs the change only when it happened, so a stale or
//! repeated evaluation can never count anyone twice. Three things evaluate:
//! - a new or changed definition: the whole program, at once;
//! - a change to a member (a purchase, a return, an event, a profile edit…): that member,
//!   at once, by the [`Updater`] fed from [`Tally::write`];
//! - the nightly insights run: the whole program, after the new numbers are stored.

use crate::reads::program_of;
use crate::{Command, CoreError, Tally};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, SegmentId, TenantId};
use tally_domain::program::Program;
use tally_domain::segments::{Condition, Facts, PurchaseFacts};
use tally_store::queries::segments::{self as store, SegmentRow, Who};
use tally_store::queries::tiers;
use tally_store::{Conn, Database};
use tokio::sync::mpsc;

/// Changes per write command.
const CHUNK: usize = 1000;

/// One entry or exit to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentChange {
    pub segment: SegmentId,
    pub member: MemberId,
    pub enter: bool,
}

fn micros_per_day() -> i64 {
    86_400_000_000
}

/// Every member's facts (one member's with `Who::Member`), as of `now`; closed members have
/// none.
pub async fn load_facts<C: Conn>(
    c: &mut C,
    program: &Program,
    who: Who<'_>,
    now: Timestamp,
) -> Result<BTreeMap<String, Facts>, CoreError> {
    let days_ago = |at_us: i64| (now.as_microsecond() - at_us).max(0) / micros_per_day();
    let plan = tiers::get_plan(c, &program.id).await?;
    let mut out: BTreeMap<String, Facts> = BTreeMap::new();
    // Closed members are in no dynamic segment: they have no facts.
    for p in store::profiles(c, who).await? {
        if p.status == "closed" {
            continue;
        }
        let mut f = Facts::default();
        if let Some(plan) = &plan
            && let Some(level) = crate::tiers::level_of(plan, p.tier.as_deref())
        {
            f.texts.insert("tier", plan.levels[level].name.clone());
        }
        f.texts.insert("status", p.status);
        if let Some(l) = p.locale {
            f.texts.insert("locale", l);
        }
        f.texts.insert(
            "preferred_channel",
            p.preferred_channel.unwrap_or_else(|| "none".into()),
        );
        if let Some(month) = p
            .birthday
            .and_then(|b| b.parse::<jiff::civil::Date>().ok())
            .map(|d| d.month())
        {
            f.numbers.insert("birthday_month", f64::from(month));
        }
        f.numbers
            .insert("enrolled_days_ago", days_ago(p.enrolled_at_us) as f64);
        f.numbers.insert("points_balance", p.balance as f64);
        for (_, field) in CONSENTS {
            f.bools.insert(field, false);
        }
        f.tags = p.tags;
        f.attributes = p.attributes;
        out.insert(p.member_id, f);
    }
    for (member, channel, granted) in store::consents(c, who).await? {
        if let Some(f) = out.get_mut(&member)
            && let Some((_, field)) = CONSENTS.iter().find(|(c, _)| *c == channel)
        {
            f.bools.insert(field, granted);
        }
    }
    for (member, d) in store::insights(c, who).await? {
        let Some(f) = out.get_mut(&member) else {
            continue;
        };
        for (field, value) in [
            ("lifecycle", &d["lifecycle"]),
            ("rfm_segment", &d["rfm"]["segment"]),
        ] {
            if let Some(s) = value.as_str() {
                f.texts.insert(field, s.to_string());
            }
        }
        if let Some(vip) = d["vip"].as_bool() {
            f.bools.insert("vip", vip);
        }
        for (field, value) in [
            ("churn_risk", &d["churn_risk"]),
            ("p_alive", &d["p_alive"]),
            ("clv_minor", &d["clv_12m_minor"]),
            ("value_percentile", &d["value_percentile"]),
            ("expected_purchases_90d", &d["expected_purchases_90d"]),
        ] {
            if let Some(n) = value.as_f64() {
                f.numbers.insert(field, n);
            }
        }
    }
    // One row per line, in purchase order: a new purchase id starts the member's next purchase.
    let mut last_purchase = String::new();
    for l in store::purchase_lines(c, who).await? {
        let Some(f) = out.get_mut(&l.member_id) else {
            continue;
        };
        if l.purchase_id != last_purchase {
            last_purchase = l.purchase_id;
            f.purchases.push(PurchaseFacts {
                days_ago: days_ago(l.occurred_at_us),
                net_minor: l.net_minor,
                location_id: l.location_id,
                ..Default::default()
            });
        }
        if let Some(p) = f.purchases.last_mut() {
            p.skus.extend(l.sku);
            p.categories.extend(l.category);
            p.brands.extend(l.brand);
        }
    }
    Ok(out)
}

/// The channels segments know consent for, and their fields.
const CONSENTS: [(&str, &str); 3] = [
    ("email", "consent.email"),
    ("sms", "consent.sms"),
    ("push", "consent.push"),
];

/// The segment's condition, for a dynamic segment.
fn condition(row: &SegmentRow) -> Result<Option<Condition>, CoreError> {
    row.definition
        .as_ref()
        .map(|d| {
            Condition::parse(d).map_err(|e| {
                CoreError::Internal(format!("stored definition of segment {}: {e}", row.id))
            })
        })
        .transpose()
}

impl<D: Database> Tally<D> {
    /// How many members a definition would hold now, and a few of them: the live count of the
    /// segment builder. Nothing is written.
    pub async fn preview_segment(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        definition: &Condition,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let p = program_of(&mut c, tenant, program).await?;
        let facts = load_facts(&mut c, &p, Who::Program(program), self.clock.now()).await?;
        let matching: Vec<&String> = facts
            .iter()
            .filter(|(_, f)| definition.matches(f))
            .map(|(id, _)| id)
            .collect();
        Ok(serde_json::json!({
            "size": matching.len(),
            "members": facts.len(),
            "sample": matching.iter().take(10).collect::<Vec<_>>(),
        }))
    }

    /// Evaluates a dynamic segment over the whole program and applies the differences.
    /// Answers `{"entered", "left", "size"}`.
    pub async fn evaluate_segment(
        &self,
        tenant: &TenantId,
        segment: &SegmentId,
    ) -> Result<Value, CoreError> {
        let row = crate::reads::found(
            store::get(&mut self.read().await?, tenant, segment).await?,
            "segment",
        )?;
        let (entered, left) = self
            .evaluate_whole(tenant, &row.program_id, vec![row.clone()])
            .await?;
        let size = store::get(&mut self.read().await?, tenant, segment)
            .await?
            .map_or(0, |s| s.size);
        Ok(serde_json::json!({ "entered": entered, "left": left, "size": size }))
    }

    /// Evaluates every active dynamic segment of the program (after the nightly insights run),
    /// over one reading of the members' facts.
    pub async fn evaluate_segments(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<(), CoreError> {
        let active = store::active(&mut self.read().await?, program).await?;
        self.evaluate_whole(tenant, program, active).await?;
        Ok(())
    }

    /// Evaluates `segments` (static ones are skipped; an archived one holds nobody) over every
    /// member's facts, read once, and applies the differences: `(entered, left)`.
    async fn evaluate_whole(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        segments: Vec<SegmentRow>,
    ) -> Result<(usize, usize), CoreError> {
        let mut dynamic = Vec::new();
        for row in segments {
            if let Some(definition) = condition(&row)? {
                dynamic.push((row, definition));
            }
        }
        if dynamic.is_empty() {
            return Ok((0, 0));
        }
        let mut c = self.read().await?;
        let p = program_of(&mut c, tenant, program).await?;
        let facts = load_facts(&mut c, &p, Who::Program(program), self.clock.now()).await?;
        let mut changes = Vec::new();
        for (row, definition) in &dynamic {
            let now_in: BTreeSet<String> = store::member_ids(&mut c, &row.id)
                .await?
                .into_iter()
                .collect();
            let active = row.status == "active";
            for (member, f) in &facts {
                let should = active && definition.matches(f);
                if should != now_in.contains(member) {
                    changes.push(SegmentChange {
                        segment: row.id.clone(),
                        member: MemberId::from_trusted(member.clone()),
                        enter: should,
                    });
                }
            }
            // Members without facts (closed) leave.
            for member in now_in.iter().filter(|m| !facts.contains_key(*m)) {
                changes.push(SegmentChange {
                    segment: row.id.clone(),
                    member: MemberId::from_trusted(member.clone()),
                    enter: false,
                });
            }
        }
        drop(c);
        let evaluated = dynamic.into_iter().map(|(row, _)| row.id).collect();
        let applied = self
            .apply_segment_changes(tenant, program, changes, evaluated)
            .await?;
        if let Some(updater) = &self.segments {
            updater.wake(program);
        }
        Ok(applied)
    }

    /// Re-evaluates the program's dynamic segments for a few members whose facts changed:
    /// the number of entries and exits, or None when the program has no active dynamic segment.
    pub async fn refresh_members(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        members: &[MemberId],
    ) -> Result<Option<usize>, CoreError> {
        let mut c = self.read().await?;
        let segments: Vec<(SegmentRow, Condition)> = store::active(&mut c, program)
            .await?
            .into_iter()
            .filter_map(|s| condition(&s).transpose().map(|d| d.map(|d| (s, d))))
            .collect::<Result<_, _>>()?;
        if segments.is_empty() {
            return Ok(None);
        }
        let p = program_of(&mut c, tenant, program).await?;
        let now = self.clock.now();
        let mut changes = Vec::new();
        for member in members {
            let facts = load_facts(&mut c, &p, Who::Member(member), now).await?;
            // A closed member has no facts: they leave every dynamic segment.
            let f = facts.get(member.as_str());
            let current: BTreeSet<String> = store::keys_of_member(&mut c, member)
                .await?
                .into_iter()
                .collect();
            for (s, definition) in &segments {
                let should = f.is_some_and(|f| definition.matches(f));
                if should != current.contains(&s.key) {
                    changes.push(SegmentChange {
                        segment: s.id.clone(),
                        member: member.clone(),
                        enter: should,
                    });
                }
            }
        }
        drop(c);
        let (entered, left) = self
            .apply_segment_changes(tenant, program, changes, Vec::new())
            .await?;
        Ok(Some(entered + left))
    }

    async fn program_of_member(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<ProgramId, CoreError> {
        let m = crate::reads::member_of(&mut self.read().await?, tenant, member).await?;
        Ok(m.program_id)
    }

    async fn apply_segment_changes(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        changes: Vec<SegmentChange>,
        evaluated: Vec<SegmentId>,
    ) -> Result<(usize, usize), CoreError> {
        let (mut entered, mut left) = (0, 0);
        let mut chunks: Vec<Vec<SegmentChange>> = changes
            .chunks(CHUNK)
            .map(<[SegmentChange]>::to_vec)
            .collect();
        if chunks.is_empty() {
            chunks.push(Vec::new());
        }
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let command = Command::ApplySegmentChanges {
                program: program.clone(),
                changes: chunk,
                evaluated: if i == last {
                    evaluated.clone()
                } else {
                    Vec::new()
                },
            };
            let answer = self.write(tenant, "segments", None, command).await?;
            entered += answer["entered"].as_u64().unwrap_or(0) as usize;
            left += answer["left"].as_u64().unwrap_or(0) as usize;
        }
        Ok((entered, left))
    }
}

/// Members whose facts changed, waiting to be re-evaluated: fed by [`Tally::write`] after each
/// write that changes a member, drained by a thread that takes whatever is queued each time it
/// is free. If the process stops first, the nightly run catches up. The thread ends when the
/// last handle is dropped (its queue closes), and with it its hold on the writers.
#[derive(Clone)]
pub struct Updater {
    tx: mpsc::Sender<Touch>,
    state: Arc<UpdaterState>,
}

/// What the handles and the thread share.
#[derive(Default)]
struct UpdaterState {
    /// Programs found without dynamic segments, and when: skipped for a second, so a program
    /// that has none pays a hash lookup per purchase, not a query. A whole evaluation (a new
    /// or changed segment) takes its program off.
    idle: Mutex<HashMap<ProgramId, Instant>>,
    /// Touches sent but not yet applied, for [`Tally::segments_settled`].
    pending: AtomicUsize,
    /// Woken whenever `pending` drops to zero.
    settled: tokio::sync::Notify,
}

impl UpdaterState {
    fn wake(&self, program: &ProgramId) {
        self.idle.lock().expect("not poisoned").remove(program);
    }

    fn is_idle(&self, program: &ProgramId) -> bool {
        self.idle
            .lock()
            .expect("not poisoned")
            .get(program)
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
    }
}

/// A member whose facts changed; the program when the command knew it.
type Touch = (TenantId, Option<ProgramId>, MemberId);

/// Touched members queued before new ones are dropped (the nightly run catches up).
const UPDATER_QUEUE: usize = 65_536;

impl Updater {
    pub(crate) fn touch(&self, tenant: TenantId, program: Option<ProgramId>, member: MemberId) {
        // A program without dynamic segments costs a lookup here, not a wake of the thread.
        if program.as_ref().is_some_and(|p| self.state.is_idle(p)) {
            return;
        }
        self.state.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.try_send((tenant, program, member)).is_err()
            && self.state.pending.fetch_sub(1, Ordering::SeqCst) == 1
        {
            self.state.settled.notify_waiters();
        }
    }

    /// The program has dynamic segments now: its members' changes count again at once.
    pub(crate) fn wake(&self, program: &ProgramId) {
        self.state.wake(program);
    }

    pub(crate) async fn settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Registered before the check, so a wake between the two is not missed.
            let woken = self.state.settled.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.state.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, woken).await.is_err() {
                return;
            }
        }
    }
}

/// Starts the updater on its own thread (like the writers), so it needs no runtime from the
/// caller. `tally` is a handle without an updater of its own.
pub(crate) fn spawn_updater<D: Database>(tally: Tally<D>) -> Updater {
    let (tx, mut rx) = mpsc::channel::<Touch>(UPDATER_QUEUE);
    let state = Arc::new(UpdaterState::default());
    let shared = state.clone();
    std::thread::Builder::new()
        .name("tally-segments".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a segments runtime");
            rt.block_on(async move {
                // Like the writer: take what is queued, no waiting; under load batches grow.
                while let Some(first) = rx.recv().await {
                    let mut batch = vec![first];
                    while let Ok(next) = rx.try_recv() {
                        batch.push(next);
                    }
                    let count = batch.len();
                    let mut by_program: HashMap<(TenantId, ProgramId), BTreeSet<MemberId>> =
                        HashMap::new();
                    for (tenant, program, member) in batch {
                        let program = match program {
                            Some(p) => p,
                            None => match tally.program_of_member(&tenant, &member).await {
                                Ok(p) => p,
                                Err(e) => {
                                    tracing::warn!(error = %e, "updating segments failed");
                                    continue;
                                }
                            },
                        };
                        by_program
                            .entry((tenant, program))
                            .or_default()
                            .insert(member);
                    }
                    for ((tenant, program), members) in by_program {
                        if shared.is_idle(&program) {
                            continue;
                        }
                        let members: Vec<MemberId> = members.into_iter().collect();
                        match tally.refresh_members(&tenant, &program, &members).await {
                            Ok(None) => {
                                let mut idle = shared.idle.lock().expect("not poisoned");
                                idle.insert(program, Instant::now());
                            }
                            Ok(Some(_)) => shared.wake(&program),
                            Err(e) => tracing::warn!(error = %e, "updating segments failed"),
                        }
                    }
                    if shared.pending.fetch_sub(count, Ordering::SeqCst) == count {
                        shared.settled.notify_waiters();
                    }
                }
            });
        })
        .expect("spawn the segments thread");
    Updater { tx, state }
}
