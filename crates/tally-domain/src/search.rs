//! Search terms for finding members by name or email: lower-case words with the diacritics of
//! Polish and the other Latin alphabets folded away, so "lukasz" finds "Łukasz". Terms are
//! matched by prefix in an index (`term >= q AND term < q || U+10FFFF`), which stays fast at
//! millions of members where `LIKE '%q%'` would scan.

/// Most terms kept per member: a name of many words is not a reason for unbounded rows.
pub const MAX_TERMS: usize = 8;
/// Longest term kept; longer words are cut (a prefix search still finds them).
pub const MAX_TERM_CHARS: usize = 40;

/// Folds one character: lower case, without diacritics.
fn fold_char(c: char) -> char {
    match c {
        'ą' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' => 'a',
        'ć' | 'ç' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'ę' | 'è' | 'é' | 'ê' | 'ë' | 'ě' | 'ē' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ł' | 'ľ' | 'ĺ' => 'l',
        'ń' | 'ñ' | 'ň' => 'n',
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' | 'ō' => 'o',
        'ř' | 'ŕ' => 'r',
        'ś' | 'š' | 'ş' | 'ß' => 's',
        'ť' | 'ţ' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// Lower-cases and folds a piece of text (the form both terms and queries take).
pub fn fold(text: &str) -> String {
    text.trim().to_lowercase().chars().map(fold_char).collect()
}

/// The terms a member is found by: each word of the name, and the whole email.
pub fn member_terms(name: Option<&str>, email: Option<&str>) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let words = name
        .into_iter()
        .flat_map(|n| n.split(|c: char| c.is_whitespace() || c == '-' || c == ','));
    for word in words.chain(email) {
        let term: String = fold(word).chars().take(MAX_TERM_CHARS).collect();
        if !term.is_empty() && !terms.contains(&term) {
            terms.push(term);
        }
    }
    terms.truncate(MAX_TERMS);
    terms
}

/// The exclusive upper bound of a prefix range: every term starting with `prefix` sorts below it.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_to_searchable_words() {
        assert_eq!(
            member_terms(Some("Łukasz Żółć-Nowak"), Some("lz@example.com")),
            vec!["lukasz", "zolc", "nowak", "lz@example.com"]
        );
        assert_eq!(fold("  ANNA Kowalska "), "anna kowalska");
    }

    #[test]
    fn duplicate_and_empty_words_are_dropped_and_terms_are_bounded() {
        assert_eq!(member_terms(Some("Ann  ann"), None), vec!["ann"]);
        let many = "a b c d e f g h i j k";
        assert_eq!(member_terms(Some(many), None).len(), MAX_TERMS);
        let long = "x".repeat(100);
        assert_eq!(member_terms(Some(&long), None)[0].len(), MAX_TERM_CHARS);
    }

    #[test]
    fn a_prefix_range_holds_exactly_the_words_with_that_prefix() {
        let end = prefix_end("kow");
        for inside in ["kow", "kowalska", "kowz"] {
            assert!(inside >= "kow" && inside < end.as_str(), "{inside}");
        }
        for outside in ["kov", "kox", "ko"] {
            assert!(!(outside >= "kow" && outside < end.as_str()), "{outside}");
        }
    }
}
