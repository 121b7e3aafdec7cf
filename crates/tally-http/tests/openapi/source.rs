//! The routes `src/routes/mod.rs` declares, read from its text.

use super::*;

/// The routes `src/routes/mod.rs` declares, read from its text: each `.route("…", get(…).post(…))`
/// with the prefix of the router it belongs to (`.nest("/api/v1", api)`).
pub(crate) fn routes_in_source() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(format!("{MANIFEST_DIR}/src/routes/mod.rs"))
        .expect("read routes/mod.rs");
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
        // The pages the caller merges in (the console) are HTML, not part of the API document.
        .replace(".merge(pages)", "");
    for unsupported in [
        ".merge(",
        ".route_service(",
        ".nest_service(",
        "fallback_service(",
    ] {
        assert!(
            !code.contains(unsupported),
            "routes/mod.rs uses `{unsupported}`: teach this test to read it"
        );
    }

    // Where each `Router::new()` starts, and the name it is bound to (`let api = Router::new()`).
    let mut routers: Vec<(usize, String)> = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find("Router::new()") {
        let at = from + found;
        let before = code[..at].trim_end();
        let name = before
            .strip_suffix('=')
            .and_then(|b| {
                b.trim_end()
                    .rsplit(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
            })
            .unwrap_or("")
            .to_owned();
        routers.push((at, name));
        from = at + 1;
    }
    let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
    for call in calls(&code, ".nest(") {
        let prefix = first_string(&call).expect("a nest prefix");
        let target = call
            .rsplit(',')
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(')')
            .trim()
            .to_owned();
        prefixes.insert(target, prefix);
    }

    let mut routes = BTreeSet::new();
    let mut from = 0;
    while let Some(found) = code[from..].find(".route(") {
        let at = from + found;
        let call = balanced(&code[at + ".route".len()..]);
        let path = first_string(call).expect("a route path");
        let router = routers
            .iter()
            .rev()
            .find(|(start, _)| *start < at)
            .map(|(_, name)| name.clone())
            .unwrap_or_default();
        let prefix = prefixes.get(&router).cloned().unwrap_or_default();
        let methods = method_calls(call);
        assert!(!methods.is_empty(), "no method router in .route({call}");
        for method in methods {
            routes.insert((method, format!("{prefix}{path}")));
        }
        from = at + 1;
    }
    assert!(
        routes.len() > 10,
        "the scan of routes/mod.rs found only {routes:?}"
    );
    routes
}

/// The text inside the parentheses that start `s`.
pub(crate) fn balanced(s: &str) -> &str {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[1..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {s}")
}

pub(crate) fn calls(code: &str, needle: &str) -> Vec<String> {
    code.match_indices(needle)
        .map(|(at, _)| balanced(&code[at + needle.len() - 1..]).to_owned())
        .collect()
}

pub(crate) fn first_string(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let end = start + s[start..].find('"')?;
    Some(s[start..end].to_owned())
}

/// `get(`, `post(`, … called as method routers (not as `x::get(` or `foo_get(`).
pub(crate) fn method_calls(call: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for method in HTTP_METHODS {
        for (at, _) in call.match_indices(&format!("{method}(")) {
            let before = call[..at].chars().next_back();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                out.insert(method.to_uppercase());
            }
        }
    }
    out
}
