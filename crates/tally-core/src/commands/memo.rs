//! What a batch's purchases read once for all of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::inputs::MemberRef;
use tally_domain::program::Program;
use tally_store::queries::member_states::{Extras, KeyedState, MemberState};

/// What a batch's purchases read once for all of them: their programs, and the members of a run
/// of purchases with their state (see `usecases::purchases::read_ahead`), so that a run of
/// purchases of one program costs a few statements of reading instead of one or two each.
///
/// It stays true while only purchases run: a purchase changes nothing of its program (the
/// rules' revision included) and, in the programs read ahead, no member but its own, whose
/// entry it takes. The writer empties the memo before any other command, which may change
/// either.
#[derive(Clone, Default)]
pub struct BatchMemo(Arc<Mutex<Memo>>);

#[derive(Default)]
struct Memo {
    programs: Vec<(TenantId, Program)>,
    members: Vec<ReadAhead>,
    /// Order ids of the purchases read ahead (each named once in its run), with the content
    /// hash and answer of those recorded before.
    orders: HashMap<(ProgramId, String), Option<(String, String)>>,
}

struct ReadAhead {
    tenant: TenantId,
    program: ProgramId,
    member: KeyedState,
}

impl std::fmt::Debug for BatchMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let memo = self.0.lock().expect("never poisoned");
        f.debug_struct("BatchMemo")
            .field("programs", &memo.programs.len())
            .field("members", &memo.members.len())
            .finish()
    }
}

impl BatchMemo {
    pub(crate) fn program(&self, tenant: &TenantId, id: &ProgramId) -> Option<Program> {
        let memo = self.0.lock().expect("never poisoned");
        let found = memo
            .programs
            .iter()
            .find(|(t, p)| t == tenant && &p.id == id);
        found.map(|(_, p)| p.clone())
    }

    pub(crate) fn keep_program(&self, tenant: &TenantId, program: &Program) {
        let mut memo = self.0.lock().expect("never poisoned");
        memo.programs.push((tenant.clone(), program.clone()));
    }

    /// Keeps what a run of purchases read ahead: their members and their orders.
    pub(crate) fn keep_read_ahead(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        members: Vec<KeyedState>,
        orders: impl IntoIterator<Item = (String, Option<(String, String)>)>,
    ) {
        let mut memo = self.0.lock().expect("never poisoned");
        memo.members
            .extend(members.into_iter().map(|member| ReadAhead {
                tenant: tenant.clone(),
                program: program.clone(),
                member,
            }));
        let orders = orders
            .into_iter()
            .map(|(o, known)| ((program.clone(), o), known));
        memo.orders.extend(orders);
    }

    /// The state read ahead for the member a purchase names, with what is known of its order;
    /// `None` when it was not read ahead. A member's state serves one purchase: the entry is
    /// taken even when the order was not read ahead, so a later purchase of the same member
    /// reads anew, after this one's writes.
    pub(crate) fn take_member(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        named: &MemberRef,
        order_id: &str,
    ) -> Option<(MemberId, MemberState, Extras)> {
        let mut memo = self.0.lock().expect("never poisoned");
        let at = memo.members.iter().position(|r| {
            &r.tenant == tenant
                && &r.program == program
                && match named {
                    MemberRef::Id(id) => &r.member.id == id,
                    MemberRef::ExternalId(x) => r.member.external_id.as_ref() == Some(x),
                    MemberRef::CardNumber(x) => &r.member.card_number == x,
                }
        })?;
        let ReadAhead { member, .. } = memo.members.swap_remove(at);
        let order = memo
            .orders
            .remove(&(program.clone(), order_id.to_string()))?;
        let mut extras = member.extras;
        extras.order = order;
        Some((member.id, member.state, extras))
    }

    pub(crate) fn forget(&self) {
        let mut memo = self.0.lock().expect("never poisoned");
        *memo = Memo::default();
    }
}
