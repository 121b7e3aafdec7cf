//! The document's examples for messages (templates), run against the server as part of the
//! tour in `examples.rs` (after a program `p` and a member `m` exist).

use super::examples::{reads_match, run};
use super::*;

/// A message template, replaced, and previewed for the member.
pub(super) async fn templates(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let created = run(
        server,
        spec,
        ids,
        ("createTemplate", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/templates"),
            "admin",
            201,
        ),
    )
    .await;
    let t = created["id"].as_str().unwrap().to_owned();
    run(
        server,
        spec,
        ids,
        ("replaceTemplate", None),
        ("PUT", &format!("/api/v1/templates/{t}"), "admin", 200),
    )
    .await;
    reads_match(
        server,
        spec,
        [
            ("listTemplates", format!("/api/v1/programs/{p}/templates")),
            ("getTemplate", format!("/api/v1/templates/{t}")),
            (
                "previewTemplate",
                format!("/api/v1/templates/{t}/preview?member={m}"),
            ),
        ],
    )
    .await;
}
