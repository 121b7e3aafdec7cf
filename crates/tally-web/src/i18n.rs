//! Every word the console shows comes from a message catalogue (`messages/en.txt`,
//! `messages/pl.txt`: `key = text` lines, `{name}` placeholders), and numbers, money and dates
//! are written the way each language writes them. Tests keep the catalogues complete: both have
//! the same keys, and every key a template or page uses exists.

use std::collections::HashMap;
use std::sync::OnceLock;
use tally_domain::{Currency, Timestamp};

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Pl,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Pl];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
        }
    }

    /// `pl`, `pl-PL`, `PL` → Polish; anything else we do not speak → `None`.
    pub fn parse(raw: &str) -> Option<Lang> {
        let primary = raw.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The first language of an `Accept-Language` header that we speak (quality order is the
    /// order browsers send them in).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        header
            .split(',')
            .filter_map(|part| Lang::parse(part.split(';').next().unwrap_or("")))
            .next()
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../messages/en.txt"),
            Lang::Pl => include_str!("../messages/pl.txt"),
        }
    }

    fn catalogue(self) -> &'static HashMap<&'static str, &'static str> {
        static EN: OnceLock<HashMap<&str, &str>> = OnceLock::new();
        static PL: OnceLock<HashMap<&str, &str>> = OnceLock::new();
        let cell = match self {
            Lang::En => &EN,
            Lang::Pl => &PL,
        };
        cell.get_or_init(|| parse_catalogue(self.source()))
    }

    /// The text of `key`, if the catalogue has it.
    pub fn lookup(self, key: &str) -> Option<&'static str> {
        self.catalogue().get(key).copied()
    }

    /// The text of `key`; a missing key shows as `?key?` (and fails the catalogue tests).
    pub fn t(self, key: &str) -> &'static str {
        self.lookup(key).unwrap_or_else(|| {
            tracing::warn!(key, lang = self.code(), "missing message");
            "?"
        })
    }

    /// The text of `key` with `{name}` placeholders filled in.
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The plural category of `n`: English has one/other; Polish one/few/many (CLDR rules for
    /// integers: few = ends in 2–4 but not 12–14).
    pub fn plural(self, n: i64) -> &'static str {
        let n = n.unsigned_abs();
        match self {
            Lang::En => {
                if n == 1 {
                    "one"
                } else {
                    "other"
                }
            }
            Lang::Pl => {
                if n == 1 {
                    "one"
                } else if (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100)) {
                    "few"
                } else {
                    "many"
                }
            }
        }
    }

    /// `key.one` / `key.few` / `key.many` / `key.other` for `n`, with `{n}` filled in.
    pub fn count(self, key: &str, n: i64) -> String {
        let full = format!("{key}.{}", self.plural(n));
        self.tf(&full, &[("n", &self.number(n))])
    }

    /// 1234567 → `1,234,567` (en) or `1 234 567` (pl, with a no-break space).
    pub fn number(self, n: i64) -> String {
        let sep = match self {
            Lang::En => ",",
            Lang::Pl => "\u{a0}",
        };
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(ch);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// Money in minor units, as people of this language write it: `$1,234.50`, `1 234,50 zł`.
    pub fn money(self, amount_minor: i64, currency: Currency) -> String {
        let per = currency.minor_per_major();
        let major = self.number((amount_minor / per).abs());
        let sign = if amount_minor < 0 { "-" } else { "" };
        let digits = usize::from(currency.minor_digits());
        let amount = if digits == 0 {
            major
        } else {
            let minor = (amount_minor % per).abs();
            let point = if self == Lang::En { "." } else { "," };
            format!("{major}{point}{minor:0digits$}")
        };
        let code = currency.code();
        match (self, code) {
            (Lang::En, "USD") => format!("{sign}${amount}"),
            (Lang::En, "GBP") => format!("{sign}£{amount}"),
            (Lang::En, "EUR") => format!("{sign}€{amount}"),
            (Lang::Pl, "PLN") => format!("{sign}{amount}\u{a0}zł"),
            (Lang::Pl, "EUR") => format!("{sign}{amount}\u{a0}€"),
            _ => format!("{sign}{amount}\u{a0}{code}"),
        }
    }

    /// Money as typed into a form (no symbol, no grouping): `1234.50` (en), `1234,50` (pl).
    pub fn money_plain(self, amount_minor: i64, currency: Currency) -> String {
        let per = currency.minor_per_major();
        let digits = usize::from(currency.minor_digits());
        let sign = if amount_minor < 0 { "-" } else { "" };
        let major = (amount_minor / per).abs();
        if digits == 0 {
            return format!("{sign}{major}");
        }
        let point = if self == Lang::En { "." } else { "," };
        format!(
            "{sign}{major}{point}{:0digits$}",
            (amount_minor % per).abs()
        )
    }

    /// A day: `23 Nov 2026` (en), `23.11.2026` (pl).
    pub fn date(self, date: jiff::civil::Date) -> String {
        match self {
            Lang::En => date.strftime("%-d %b %Y").to_string(),
            Lang::Pl => date.strftime("%d.%m.%Y").to_string(),
        }
    }

    /// A moment in a time zone: `23 Nov 2026, 14:05`.
    pub fn datetime(self, at: Timestamp, zone: &jiff::tz::TimeZone) -> String {
        let local = at.to_zoned(zone.clone());
        format!("{}, {}", self.date(local.date()), local.strftime("%H:%M"))
    }

    /// A decimal amount typed into a form, in the `12.50` form the domain parsers take. Spaces
    /// group thousands; when both `.` and `,` appear the later one is the decimal point; a lone
    /// `,` is the decimal point (`25,00` at a Polish till), except in English where groups of
    /// exactly three digits after it mean thousands (`1,500`).
    pub fn normalise_decimal(self, raw: &str) -> String {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
            .collect();
        match (s.rfind('.'), s.rfind(',')) {
            (Some(dot), Some(comma)) if comma > dot => s.replace('.', "").replace(',', "."),
            (Some(_), Some(_)) => s.replace(',', ""),
            (None, Some(_)) => {
                let groups: Vec<&str> = s.split(',').collect();
                let thousands = self == Lang::En && groups[1..].iter().all(|g| g.len() == 3);
                if thousands {
                    s.replace(',', "")
                } else {
                    s.replace(',', ".")
                }
            }
            _ => s,
        }
    }
}

/// Matches `text` against a catalogue pattern with `{name}` holes; returns the holes' values.
fn match_pattern(pattern: &str, text: &str) -> Option<Vec<(String, String)>> {
    let mut values = Vec::new();
    let mut rest = text;
    let mut pieces = pattern.split('{');
    let first = pieces.next()?;
    rest = rest.strip_prefix(first)?;
    for piece in pieces {
        let (name, literal) = piece.split_once('}')?;
        // The hole takes everything up to the next literal text (or to the end).
        let end = if literal.is_empty() {
            rest.len()
        } else {
            rest.find(literal)?
        };
        values.push((name.to_owned(), rest[..end].to_owned()));
        rest = &rest[end + literal.len()..];
    }
    rest.is_empty().then_some(values)
}

impl Lang {
    /// A field message of the domain's parsers (written in English for the API) in this language,
    /// through the `domain.*` entries of the catalogues; an unknown message stays as it is.
    pub fn field_message(self, message: &str) -> String {
        for key in keys(Lang::En)
            .into_iter()
            .filter(|k| k.starts_with("domain."))
        {
            if let Some(values) = match_pattern(Lang::En.t(key), message) {
                let args: Vec<(&str, &str)> = values
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                return self.tf(key, &args);
            }
        }
        message.to_owned()
    }
}

fn parse_catalogue(source: &'static str) -> HashMap<&'static str, &'static str> {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// Every key of a catalogue, for the tests that keep the catalogues in step.
pub fn keys(lang: Lang) -> Vec<&'static str> {
    let mut keys: Vec<_> = lang.catalogue().keys().copied().collect();
    keys.sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polish_plurals_follow_cldr() {
        let cases = [
            (1, "one"),
            (2, "few"),
            (4, "few"),
            (5, "many"),
            (12, "many"),
            (22, "few"),
            (112, "many"),
            (0, "many"),
        ];
        for (n, category) in cases {
            assert_eq!(Lang::Pl.plural(n), category, "{n}");
        }
        assert_eq!(Lang::En.plural(1), "one");
        assert_eq!(Lang::En.plural(0), "other");
        assert_eq!(Lang::Pl.count("unit.points", 22), "22 punkty");
        assert_eq!(Lang::Pl.count("unit.points", 25), "25 punktów");
        assert_eq!(Lang::En.count("unit.points", 1), "1 point");
    }

    #[test]
    fn money_and_numbers_are_written_per_language() {
        let usd = Currency::parse("USD").unwrap();
        let pln = Currency::parse("PLN").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Lang::En.money(123_456_789, usd), "$1,234,567.89");
        assert_eq!(Lang::Pl.money(123_456, pln), "1\u{a0}234,56\u{a0}zł");
        assert_eq!(Lang::En.money(-5, usd), "-$0.05");
        assert_eq!(Lang::En.money(1200, jpy), "1,200\u{a0}JPY");
        assert_eq!(Lang::Pl.number(-1_000), "-1\u{a0}000");
    }

    #[test]
    fn dates_and_typed_decimals() {
        let d = jiff::civil::date(2026, 2, 3);
        assert_eq!(Lang::En.date(d), "3 Feb 2026");
        assert_eq!(Lang::Pl.date(d), "03.02.2026");
        assert_eq!(Lang::Pl.normalise_decimal(" 1 234,50 "), "1234.50");
        assert_eq!(Lang::En.normalise_decimal("1,234.50"), "1234.50");
        assert_eq!(Lang::En.normalise_decimal("25,00"), "25.00");
        assert_eq!(Lang::En.normalise_decimal("1,500"), "1500");
        assert_eq!(Lang::Pl.normalise_decimal("1,5"), "1.5");
        assert_eq!(Lang::Pl.normalise_decimal("1.234,5"), "1234.5");
    }

    #[test]
    fn the_domains_field_messages_are_translated_with_their_values() {
        assert_eq!(
            Lang::Pl.field_message("must be between 1 and 1000000000"),
            "musi być między 1 a 1000000000"
        );
        assert_eq!(
            Lang::Pl.field_message("`abc` is not an email address"),
            "„abc” to nie jest adres e-mail"
        );
        assert_eq!(Lang::Pl.field_message("is required"), "pole wymagane");
        assert_eq!(Lang::En.field_message("is required"), "is required");
        assert_eq!(
            Lang::Pl.field_message("something new"),
            "something new",
            "unknown: as it is"
        );
        assert_eq!(
            match_pattern("a {x} b {y}", "a 1 b 2"),
            Some(vec![("x".into(), "1".into()), ("y".into(), "2".into())])
        );
        assert_eq!(match_pattern("a {x} b", "a 1 c"), None);
    }

    /// Every English `domain.*` entry is a message the parsers really write (its longest fixed
    /// part appears in tally-domain's or the use cases' source), so the catalogue cannot drift
    /// from them silently.
    #[test]
    fn every_domain_message_in_the_catalogue_exists_in_the_domain() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut source = String::new();
        let dirs = [
            "tally-domain/src",
            "tally-domain/src/inputs",
            "tally-core/src/usecases",
        ];
        for dir in dirs.map(|d| crates.join(d)) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "rs") {
                    source.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
        // As the strings read once compiled: `\"` is `"`.
        let source = source.replace("\\\"", "\"");
        for key in keys(Lang::En)
            .into_iter()
            .filter(|k| k.starts_with("domain."))
        {
            let pattern = Lang::En.t(key);
            let longest = pattern
                .split(['{', '}'])
                .step_by(2)
                .max_by_key(|piece| piece.len())
                .unwrap_or("");
            assert!(
                source.contains(longest),
                "{key}: `{longest}` is not in the parsers"
            );
        }
    }

    #[test]
    fn languages_are_recognised_from_tags_and_headers() {
        assert_eq!(Lang::parse("pl-PL"), Some(Lang::Pl));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(
            Lang::from_accept_language("de-DE,pl;q=0.8,en;q=0.5"),
            Some(Lang::Pl)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }

    #[test]
    fn both_catalogues_have_the_same_keys_and_no_empty_texts() {
        assert_eq!(keys(Lang::En), keys(Lang::Pl));
        for lang in Lang::ALL {
            for key in keys(lang) {
                assert!(!lang.t(key).is_empty(), "{key} is empty in {}", lang.code());
            }
        }
    }
}

#[cfg(test)]
mod catalogue_use {
    use super::*;

    /// Every `t("…")` key in the templates and the code exists in both catalogues; `tk("prefix",
    /// …)` prefixes have entries.
    #[test]
    fn every_key_the_pages_use_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates", "src", "src/pages"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut checked = 0;
        for source in &sources {
            for (call, prefix_only) in [
                (".t(\"", false),
                (".tf(\"", false),
                (".tk(\"", true),
                (".count(\"", true),
            ] {
                for piece in source.split(call).skip(1) {
                    let key = &piece[..piece.find('"').unwrap()];
                    if key.is_empty() || key.contains('{') || key.contains(' ') {
                        continue;
                    }
                    for lang in Lang::ALL {
                        let found = if prefix_only {
                            keys(lang).iter().any(|k| k.starts_with(&format!("{key}.")))
                        } else {
                            lang.lookup(key).is_some()
                        };
                        assert!(found, "`{key}` is missing in {}", lang.code());
                    }
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 100,
            "only {checked} keys found: is the scan broken?"
        );
    }
}
