//! Friend deals (migration 0019): groups members start for an offer, who joined them, and the
//! conditional write that gives out their places.

use super::{to_opt_ts, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, OfferId, ProgramId};

#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    pub id: String,
    pub offer_id: OfferId,
    pub program_id: ProgramId,
    pub initiator: MemberId,
    pub code: String,
    pub size: i64,
    pub joined: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub unlocked_at: Option<Timestamp>,
}

const COLS: &str = "g.id, g.offer_id, g.program_id, g.initiator_id, g.code, g.size, g.joined,
    g.created_at_us, g.expires_at_us, g.unlocked_at_us";

fn decode(r: &Row) -> Result<GroupRow, StoreError> {
    Ok(GroupRow {
        id: r.text(0)?,
        offer_id: OfferId::from_trusted(r.text(1)?),
        program_id: ProgramId::from_trusted(r.text(2)?),
        initiator: MemberId::from_trusted(r.text(3)?),
        code: r.text(4)?,
        size: r.int(5)?,
        joined: r.int(6)?,
        created_at: to_ts(r.int(7)?)?,
        expires_at: to_ts(r.int(8)?)?,
        unlocked_at: to_opt_ts(r.opt_int(9)?)?,
    })
}

/// A new group with its initiator as the first member.
pub async fn insert<C: Conn>(c: &mut C, g: &GroupRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO offer_groups (id, offer_id, program_id, initiator_id, code, size, joined,
             created_at_us, expires_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)",
        &[
            g.id.as_str().into(),
            g.offer_id.as_str().into(),
            g.program_id.as_str().into(),
            g.initiator.as_str().into(),
            g.code.as_str().into(),
            g.size.into(),
            ts(g.created_at),
            ts(g.expires_at),
        ],
    )
    .await?;
    add_member(c, &g.id, &g.offer_id, &g.initiator, g.created_at).await
}

pub async fn add_member<C: Conn>(
    c: &mut C,
    group: &str,
    offer: &OfferId,
    member: &MemberId,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO offer_group_members (group_id, offer_id, member_id, joined_at_us)
         VALUES ($1, $2, $3, $4)",
        &[
            group.into(),
            offer.as_str().into(),
            member.as_str().into(),
            ts(at),
        ],
    )
    .await?;
    Ok(())
}

/// Takes one of the group's places: only while it is open (not full, not unlocked, not past
/// its window), so concurrent joins never overfill it.
pub async fn take_place<C: Conn>(
    c: &mut C,
    group: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE offer_groups SET joined = joined + 1
             WHERE id = $1 AND joined < size AND unlocked_at_us IS NULL AND expires_at_us > $2",
            &[group.into(), ts(now)],
        )
        .await?;
    Ok(changed == 1)
}

pub async fn set_unlocked<C: Conn>(
    c: &mut C,
    group: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE offer_groups SET unlocked_at_us = $2 WHERE id = $1",
        &[group.into(), ts(at)],
    )
    .await?;
    Ok(())
}

pub async fn by_code<C: Conn>(c: &mut C, code: &str) -> Result<Option<GroupRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM offer_groups g WHERE g.code = $1");
    c.query_one(&sql, &[code.into()])
        .await?
        .map(|r| decode(&r))
        .transpose()
}

pub async fn get<C: Conn>(c: &mut C, id: &str) -> Result<Option<GroupRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM offer_groups g WHERE g.id = $1");
    c.query_one(&sql, &[id.into()])
        .await?
        .map(|r| decode(&r))
        .transpose()
}

/// The member's group for the offer that still counts: unlocked, or open and in its window.
pub async fn of_member<C: Conn>(
    c: &mut C,
    offer: &OfferId,
    member: &MemberId,
    now: Timestamp,
) -> Result<Option<GroupRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM offer_groups g JOIN offer_group_members gm ON gm.group_id = g.id
         WHERE gm.offer_id = $1 AND gm.member_id = $2
           AND (g.unlocked_at_us IS NOT NULL OR g.expires_at_us > $3)
         ORDER BY g.seq DESC LIMIT 1"
    );
    c.query_one(
        &sql,
        &[offer.as_str().into(), member.as_str().into(), ts(now)],
    )
    .await?
    .map(|r| decode(&r))
    .transpose()
}

/// Whether a member of the group is the same person as `member`, or shares their email or
/// phone (a second card of one person must not fill a group).
pub async fn has_lookalike<C: Conn>(
    c: &mut C,
    group: &str,
    member: &MemberId,
) -> Result<bool, StoreError> {
    Ok(c.query_one(
        "SELECT 1 FROM offer_group_members gm
             JOIN members other ON other.id = gm.member_id
             JOIN members me ON me.id = $2
             WHERE gm.group_id = $1
               AND (other.person_id = me.person_id
                    OR (me.email IS NOT NULL AND other.email = me.email)
                    OR (me.phone IS NOT NULL AND other.phone = me.phone))",
        &[group.into(), member.as_str().into()],
    )
    .await?
    .is_some())
}

/// The group's members, in the order they joined.
pub async fn members<C: Conn>(c: &mut C, group: &str) -> Result<Vec<MemberId>, StoreError> {
    c.query(
        "SELECT member_id FROM offer_group_members WHERE group_id = $1 ORDER BY joined_at_us, member_id",
        &[group.into()],
    )
    .await?
    .iter()
    .map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
    .collect()
}

/// The name of a group's offer (the share link's page is not signed in to a tenant).
pub async fn offer_name<C: Conn>(c: &mut C, offer: &OfferId) -> Result<Option<String>, StoreError> {
    c.query_one(
        "SELECT name FROM offers WHERE id = $1",
        &[offer.as_str().into()],
    )
    .await?
    .map(|r| r.text(0))
    .transpose()
}
