//! The rules engine of Tally: rules are data.
//!
//! A rule is a versioned JSON document an operator writes (see [`RuleDoc`]): a trigger, an
//! optional condition, one effect, optional limits, schedule and audience, a priority. This crate
//! parses and validates it ([`RuleDoc::parse`]), compiles its CEL expressions once
//! ([`RuleSet::compile`]), and evaluates a rule set against an event ([`RuleSet::evaluate`]),
//! returning what each rule would award and why. It is pure: no IO, no clock, no async. The
//! caller (tally-core) stores rules, gathers usage for limits and posts ledger transfers.
//!
//! # Expressions
//!
//! Conditions and point formulas are [CEL](https://cel.dev), evaluated by the `cel` crate: it
//! always terminates. Simple expressions (comparisons, arithmetic and `in` over fields) also
//! compile into a native tree that computes the same value without the interpreter; the
//! interpreter stays the definition and decides whenever the tree meets an error. The crate has no type checker, so this one has its own: every
//! name, field, operator and function is checked when the rule is saved, with a message naming
//! the place. Allowed: `size`, `contains`, `startsWith`, `endsWith`, `int`, `double`, `string`,
//! `has`, the macros `all`, `exists`, `exists_one`, `map`, `filter`, `in`, `?:`, arithmetic,
//! comparison and logic. Ints and doubles do not mix in arithmetic (cel refuses it at run time):
//! write `purchase.total * 2.0`. They do compare: `purchase.total > 100` is fine.
//!
//! Bounds: a source is at most 1,000 characters and 300 AST nodes after macro expansion, with
//! macros nested at most 2 deep; purchases have at most 500 items, so an evaluation is bounded.
//!
//! # The context
//!
//! | path | type | |
//! |---|---|---|
//! | `purchase.total` | double | order total in major units |
//! | `purchase.total_minor` | int | order total in minor units |
//! | `purchase.currency`, `purchase.channel` | string | |
//! | `purchase.location` | string | "" when none |
//! | `purchase.items` | list(item) | the lines |
//! | `purchase.item_count` | int | sum of quantities |
//! | `item.sku`, `.name`, `.category`, `.brand` | string | "" when none |
//! | `item.quantity` | int | |
//! | `item.unit_price`, `item.amount` | double | major units; amount = quantity × unit price |
//! | `base_points` | int | what base earning gives (0 for enrolment) |
//! | `member.id`, `member.tier` | string | tier "" when none |
//! | `member.tags`, `member.segments` | list(string) | |
//! | `member.attributes` | map(string, dyn) | a missing key is an evaluation error: use `has()` |
//! | `member.days_since_enrolment`, `member.purchases_before` | int | |
//! | `member.birthday_month` | int | 0 when unknown |
//! | `member.is_birthday_month` | bool | |
//! | `time.hour`, `.minute`, `.weekday` (1 = Monday), `.day`, `.month`, `.year` | int | local |
//! | `time.date` | string | local "YYYY-MM-DD" |
//! | `event.trigger` | string | |
//! | `event.type` | string | the custom event's type (trigger event only) |
//! | `event.properties` | map(string, dyn) | its properties; a missing key is an evaluation error: use `has()` (trigger event only) |
//!
//! `item` exists only in a per_item effect; `purchase` only for trigger purchase;
//! `event.type` and `event.properties` only for trigger event, whose rule names its type in
//! `event_type` (`{"trigger": "event", "event_type": "check_in"}`). The
//! same table, with descriptions, is [`schema()`].
//!
//! # Points
//!
//! Double results are rounded with the program's rounding (down = floor, up = ceil, nearest =
//! half up), then clamped to 0..=1,000,000,000. A per_item effect sums the items' results and
//! rounds once. A multiplier m awards base × (m − 1) extra, rounded the same way (base 41 at
//! 2.5: 61.5, so 62 with nearest, 61 with down). Caps apply in order: per_event, the per-member
//! windows, then the budget.

mod check;
mod doc;
mod eval;
mod facts;
mod json;
mod native;
mod schedule;
mod schema;
mod types;

pub use doc::{Audience, Effect, Limits, RuleDoc, Schedule, Trigger};
pub use eval::{Decision, Grant, MAX_POINTS, Outcome, RuleRef, RuleSet, Usage};
pub use facts::{CustomFacts, Event, ItemFacts, MemberFacts, PurchaseFacts};
pub use schedule::{Windows, windows};
pub use schema::schema;
