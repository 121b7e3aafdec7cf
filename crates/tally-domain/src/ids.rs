//! Prefixed, sortable identifiers (`mem_01J…`), as svix and Stripe use them: the prefix tells a
//! reader what an id names, and a wrong kind of id is refused at the edge instead of silently
//! finding nothing.
//!
//! The body is a ULID (48-bit millisecond time + 80 random bits, Crockford base32), so ids
//! created together sort together and index pages stay warm.

use rand::Rng;
use std::time::{SystemTime, UNIX_EPOCH};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_LEN: usize = 26;

/// Makes a new ULID body (26 Crockford base32 characters).
pub fn new_ulid() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let random: u128 = rand::rng().random::<u128>() & ((1u128 << 80) - 1);
    let mut value = (ms << 80) | random;
    let mut out = [0u8; BODY_LEN];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

fn is_ulid_body(body: &str) -> bool {
    body.len() == BODY_LEN && body.bytes().all(|b| CROCKFORD.contains(&b))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, new_ulid()))
            }

            /// Accepts only `<prefix>_<ulid>`; anything else is not an id of this kind.
            pub fn parse(raw: &str) -> Result<Self, String> {
                match raw.strip_prefix(concat!($prefix, "_")) {
                    Some(body) if is_ulid_body(body) => Ok(Self(raw.to_owned())),
                    _ => Err(format!("must be an id starting with `{}_`", $prefix)),
                }
            }

            /// Wraps a value read back from our own database; it was valid when written.
            pub fn from_trusted(raw: String) -> Self {
                Self(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(/// A merchant or coalition operator: the unit of isolation.
    TenantId, "ten");
prefixed_id!(/// A tenant's loyalty scheme.
    ProgramId, "prg");
prefixed_id!(/// A wallet account: one human across tenants.
    PersonId, "per");
prefixed_id!(/// A person's membership of one program.
    MemberId, "mem");
prefixed_id!(/// A store.
    LocationId, "loc");
prefixed_id!(/// An item of the reward catalog.
    RewardId, "rwd");
prefixed_id!(/// One redemption of a reward by a member.
    RedemptionId, "red");
prefixed_id!(/// A recorded purchase (order).
    PurchaseId, "pur");
prefixed_id!(/// A recorded (partial) return of a purchase.
    ReturnId, "ret");
prefixed_id!(/// An immutable ledger transfer.
    TransferId, "trf");
prefixed_id!(/// A tenant API key (the secret itself is never stored).
    ApiKeyId, "key");
prefixed_id!(/// A person who runs a program in the console: owner, manager or cashier.
    OperatorId, "opr");
prefixed_id!(/// An earning rule (its versions share the id).
    RuleId, "rul");
prefixed_id!(/// A recorded custom event (`review_posted`, `check_in`…).
    EventId, "evt");
prefixed_id!(/// A stamp card (digital punch card) of a program.
    StampCardId, "stc");
prefixed_id!(/// One member referring another.
    ReferralId, "ref");
prefixed_id!(/// A segment of a program's members.
    SegmentId, "seg");
prefixed_id!(/// A pool of voucher codes with their terms.
    VoucherPoolId, "vpl");
prefixed_id!(/// A charity partner of a program, to which members give points.
    CharityId, "cha");
prefixed_id!(/// An offer or deal of a program.
    OfferId, "ofr");
prefixed_id!(/// A message template of a program.
    TemplateId, "tpl");
prefixed_id!(/// One message to one member (the outbox's row), also its stable `Message-ID`.
    MessageId, "msg");
prefixed_id!(/// A one-off campaign: one message to a segment's members.
    CampaignId, "cmp");
prefixed_id!(/// A program's webhook endpoint in the merchant's systems.
    WebhookId, "whk");
prefixed_id!(/// One event for one webhook endpoint; its `webhook-id`, the same on every attempt.
    WebhookDeliveryId, "whm");
prefixed_id!(/// A member's browser that agreed to push notifications.
    PushSubscriptionId, "psb");
prefixed_id!(/// A journey: a trigger and the steps that follow it.
    JourneyId, "jny");
prefixed_id!(/// One member's way through a journey.
    JourneyRunId, "jrn");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_time() {
        let a = MemberId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MemberId::generate();
        assert_eq!(MemberId::parse(a.as_str()).unwrap(), a);
        assert!(a < b, "{a} should sort before {b}");
    }

    #[test]
    fn wrong_prefix_or_body_is_refused() {
        let program = ProgramId::generate();
        assert!(MemberId::parse(program.as_str()).is_err());
        assert!(MemberId::parse("mem_short").is_err());
        assert!(
            MemberId::parse("mem_01ARZ3NDEKTSV4RRFFQ69G5FAu").is_err(),
            "lowercase"
        );
    }
}
