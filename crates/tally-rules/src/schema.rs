//! The documented context an expression sees: one table, read by the checker (so a field exists
//! exactly when it is documented) and served to the API docs and the console editor.
//!
//! Types are written as CEL would name them; `object` marks a map with the fixed fields listed
//! under its path, `list(item)` a list of such objects.

/// (path, CEL type, description). Roots first, then their fields.
const SCHEMA: &[(&str, &str, &str)] = &[
    (
        "purchase",
        "object",
        "The purchase; absent for trigger enrolment",
    ),
    (
        "purchase.total",
        "double",
        "Order total in major units (25.99)",
    ),
    (
        "purchase.total_minor",
        "int",
        "Order total in minor units (2599)",
    ),
    ("purchase.currency", "string", "ISO 4217 code, e.g. \"PLN\""),
    ("purchase.channel", "string", "pos, online or app"),
    ("purchase.location", "string", "Location id, \"\" when none"),
    ("purchase.items", "list(item)", "The order lines"),
    ("purchase.item_count", "int", "Sum of the lines' quantities"),
    (
        "item",
        "object",
        "One order line: in purchase.items and as `item` in per_item effects",
    ),
    ("item.sku", "string", "Stock keeping unit"),
    ("item.name", "string", "Name, \"\" when none"),
    ("item.category", "string", "Category, \"\" when none"),
    ("item.brand", "string", "Brand, \"\" when none"),
    ("item.quantity", "int", "Quantity"),
    ("item.unit_price", "double", "Unit price in major units"),
    (
        "item.amount",
        "double",
        "quantity × unit_price, in major units",
    ),
    (
        "base_points",
        "int",
        "Points the program's base earning gives (0 for enrolment)",
    ),
    ("member", "object", "The member"),
    ("member.id", "string", "Member id (mem_…)"),
    ("member.tier", "string", "Tier, \"\" when none"),
    ("member.tags", "list(string)", "Tags"),
    (
        "member.segments",
        "list(string)",
        "Segments the member is in",
    ),
    (
        "member.attributes",
        "map(string, dyn)",
        "Custom attributes; a missing key is an evaluation error, test with has()",
    ),
    (
        "member.days_since_enrolment",
        "int",
        "Whole days (of 24 hours) since enrolment",
    ),
    (
        "member.purchases_before",
        "int",
        "Purchases recorded before this event",
    ),
    ("member.birthday_month", "int", "1–12, 0 when unknown"),
    (
        "member.is_birthday_month",
        "bool",
        "The event falls in the member's birthday month (local time)",
    ),
    (
        "time",
        "object",
        "When the event occurred, local to the program's time zone",
    ),
    ("time.hour", "int", "0–23"),
    ("time.minute", "int", "0–59"),
    ("time.weekday", "int", "1 = Monday … 7 = Sunday"),
    ("time.day", "int", "Day of the month, 1–31"),
    ("time.month", "int", "1–12"),
    ("time.year", "int", "e.g. 2026"),
    ("time.date", "string", "\"YYYY-MM-DD\""),
    ("event", "object", "The event itself"),
    (
        "event.trigger",
        "string",
        "purchase, enrolment, birthday, anniversary or event",
    ),
    (
        "event.type",
        "string",
        "The custom event's declared type (review_posted); trigger event only",
    ),
    (
        "event.properties",
        "map(string, dyn)",
        "The custom event's properties as declared; an optional one not sent is missing: test \
         with has(); trigger event only",
    ),
];

/// The documented context, for the API docs and the console editor: (path, CEL type, description).
pub fn schema() -> &'static [(&'static str, &'static str, &'static str)] {
    SCHEMA
}

/// The fields of an object, in documented order.
pub(crate) fn fields_of(object: &str) -> Vec<&'static str> {
    SCHEMA
        .iter()
        .filter_map(|(p, _, _)| p.strip_prefix(object)?.strip_prefix('.'))
        .filter(|rest| !rest.contains('.'))
        .collect()
}

/// The names an expression may start from (`item` only inside per_item effects).
pub(crate) const ROOTS: &[&str] = &["purchase", "base_points", "member", "time", "event"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_has_fields_and_every_field_a_known_type() {
        for (path, ty, _) in SCHEMA {
            if *ty == "object" {
                assert!(!fields_of(path).is_empty(), "{path}");
            }
            assert!(
                matches!(
                    *ty,
                    "object"
                        | "int"
                        | "double"
                        | "string"
                        | "bool"
                        | "list(item)"
                        | "list(string)"
                        | "map(string, dyn)"
                ),
                "{path}: {ty}"
            );
        }
        assert_eq!(fields_of("purchase")[0], "total");
    }
}
