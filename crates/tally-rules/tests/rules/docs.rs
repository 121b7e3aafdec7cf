//! The operators' guide (`docs/rules.md`) documents every name an expression can use.

#[test]
fn the_guide_lists_every_path_of_the_context() {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md"))
            .expect("docs/rules.md");
    let missing: Vec<&str> = tally_rules::schema()
        .iter()
        .filter(|(_, kind, _)| *kind != "object")
        .map(|(path, _, _)| *path)
        .filter(|path| !guide.contains(&format!("`{path}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/rules.md does not document {missing:?}"
    );
}
