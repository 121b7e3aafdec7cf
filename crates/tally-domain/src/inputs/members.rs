//! Members: enrolment, profile changes, and how a request names a member.

use super::*;

/// Names a member in a request: by id, by the merchant's own id, or by card number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRef {
    Id(MemberId),
    ExternalId(String),
    CardNumber(String),
}

impl MemberRef {
    /// `{"id"}`, `{"external_id"}` or `{"card_number"}` (exactly one), errors into `f`.
    pub fn parse(o: &Obj<'_>, f: &mut Fields) -> Option<MemberRef> {
        o.only(f, &["id", "external_id", "card_number"]);
        let given = ["id", "external_id", "card_number"]
            .iter()
            .filter(|k| o.has(k))
            .count();
        if given != 1 {
            f.push(
                o.path.clone(),
                "must name the member by exactly one of id, external_id or card_number",
            );
            return None;
        }
        if o.has("id") {
            o.req(f, "id", parse_with(MemberId::parse))
                .map(MemberRef::Id)
        } else if o.has("external_id") {
            o.req(f, "external_id", identifier)
                .map(MemberRef::ExternalId)
        } else {
            o.req(f, "card_number", parse_with(parse_card_number))
                .map(MemberRef::CardNumber)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsentInput {
    pub channel: Channel,
    pub granted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewMember {
    /// When the member joined, for members brought over from another system (not in the
    /// future; checked against the clock when enrolled). Default: now.
    pub enrolled_at: Option<Timestamp>,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub birthday: Option<jiff::civil::Date>,
    pub locale: Option<Locale>,
    pub time_zone: Option<TimeZoneName>,
    pub preferred_channel: Option<Channel>,
    pub consents: Vec<ConsentInput>,
    pub attributes: Map<String, Value>,
    pub tags: Vec<String>,
    /// Another member's referral code: this member was referred by them.
    pub referral_code: Option<String>,
}

const MEMBER_FIELDS: &[&str] = &[
    "external_id",
    "name",
    "email",
    "phone",
    "birthday",
    "locale",
    "time_zone",
    "preferred_channel",
    "consents",
    "attributes",
    "tags",
];

fn consents(o: &Obj<'_>, f: &mut Fields) -> Vec<ConsentInput> {
    let Some(c) = o.obj(f, "consents", false) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in c.map.keys() {
        match Channel::parse(key) {
            Ok(channel) => {
                if let Some(granted) = c.req(f, key, boolean) {
                    out.push(ConsentInput { channel, granted });
                }
            }
            Err(message) => f.push(c.pointer(key), message),
        }
    }
    out
}

fn birthday(v: &Value) -> Result<jiff::civil::Date, String> {
    let d = date(v)?;
    if d.year() < 1900 {
        Err("must be after 1900".into())
    } else {
        Ok(d)
    }
}

impl NewMember {
    pub fn parse(body: &Value) -> Result<NewMember, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        let mut known = MEMBER_FIELDS.to_vec();
        known.extend(["enrolled_at", "referral_code"]);
        o.only(&mut f, &known);
        let member = NewMember {
            enrolled_at: o.opt(&mut f, "enrolled_at", timestamp),
            external_id: o.opt(&mut f, "external_id", identifier),
            name: o.opt(&mut f, "name", text(NAME_CHARS)),
            email: o.opt(&mut f, "email", email),
            phone: o.opt(&mut f, "phone", phone),
            birthday: o.opt(&mut f, "birthday", birthday),
            locale: o.opt(&mut f, "locale", parse_with(Locale::parse)),
            time_zone: o.opt(&mut f, "time_zone", parse_with(TimeZoneName::parse)),
            preferred_channel: o.opt(&mut f, "preferred_channel", parse_with(Channel::parse)),
            consents: consents(&o, &mut f),
            attributes: o.opt(&mut f, "attributes", attributes).unwrap_or_default(),
            tags: o.opt(&mut f, "tags", tags).unwrap_or_default(),
            referral_code: o.opt(&mut f, "referral_code", crate::referrals::code),
        };
        f.finish()?;
        Ok(member)
    }
}

/// A change to a member's profile. `None`: leave as is; `Some(None)`: clear.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberPatch {
    pub external_id: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    pub birthday: Option<Option<jiff::civil::Date>>,
    pub locale: Option<Option<Locale>>,
    pub time_zone: Option<Option<TimeZoneName>>,
    pub preferred_channel: Option<Option<Channel>>,
    pub consents: Vec<ConsentInput>,
    pub attributes: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub status: Option<MemberStatus>,
}

impl MemberPatch {
    pub fn parse(body: &Value) -> Result<MemberPatch, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        let mut known = MEMBER_FIELDS.to_vec();
        known.push("status");
        o.only(&mut f, &known);
        let patch = MemberPatch {
            external_id: o.patch(&mut f, "external_id", identifier),
            name: o.patch(&mut f, "name", text(NAME_CHARS)),
            email: o.patch(&mut f, "email", email),
            phone: o.patch(&mut f, "phone", phone),
            birthday: o.patch(&mut f, "birthday", birthday),
            locale: o.patch(&mut f, "locale", parse_with(Locale::parse)),
            time_zone: o.patch(&mut f, "time_zone", parse_with(TimeZoneName::parse)),
            preferred_channel: o.patch(&mut f, "preferred_channel", parse_with(Channel::parse)),
            consents: consents(&o, &mut f),
            attributes: o.opt(&mut f, "attributes", attributes),
            tags: o.opt(&mut f, "tags", tags),
            status: o.opt(&mut f, "status", parse_with(MemberStatus::parse)),
        };
        f.finish()?;
        Ok(patch)
    }
}
