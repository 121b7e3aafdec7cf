//! `tally import purchases`: every bad row is reported with its line number and nothing is
//! written; a good file is recorded once, and importing it again adds nothing.

use std::sync::Arc;
use tally_cli::import;
use tally_core::{Command, Tally};
use tally_domain::SystemClock;
use tally_domain::ids::{ProgramId, TenantId};
use tally_domain::inputs::NewProgram;
use tally_store_any::testing::TestDb;

async fn setup(
    db: &TestDb,
) -> (
    Tally<tally_store_any::AnyDb>,
    TenantId,
    tally_domain::program::Program,
) {
    let tally = Tally::start(db.db.clone(), Arc::new(SystemClock));
    let placeholder = TenantId::generate();
    let tenant = tally
        .write(
            &placeholder,
            "test",
            None,
            Command::CreateTenant {
                name: format!("t-{placeholder}"),
            },
        )
        .await
        .unwrap();
    let tenant = TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
    let program = NewProgram::parse(
        &serde_json::json!({"name": "Shop", "currency": "PLN", "time_zone": "Europe/Warsaw"}),
    )
    .unwrap();
    let program = tally
        .write(&tenant, "test", None, Command::CreateProgram(program))
        .await
        .unwrap();
    let program = tally
        .program(
            &tenant,
            &ProgramId::parse(program["id"].as_str().unwrap()).unwrap(),
        )
        .await
        .unwrap();
    (tally, tenant, program)
}

fn write_csv(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tally-import-test-{}",
        tally_domain::ids::new_ulid()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn every_bad_row_is_reported_with_its_line_and_nothing_is_imported() {
    let db = TestDb::new().await;
    let (tally, tenant, program) = setup(&db).await;
    let path = write_csv(
        "bad.csv",
        "order_id,member_external_id,total,currency,occurred_at,channel\n\
         A-1,c-1,12.99,PLN,2026-05-01,pos\n\
         A-2,c-1,12.999,PLN,2026-05-01,pos\n\
         A-3,c-2,10.00,EUR,2026-05-01,online\n\
         A-4,c-2,10.00,PLN,yesterday,pos\n\
         A-5,,10.00,PLN,2026-05-01,fax\n",
    );
    let err = match import::read_file(&path, &program) {
        Err(e) => e,
        Ok(rows) => panic!("expected errors, got {} rows", rows.len()),
    };
    assert!(
        err.starts_with("4 invalid row(s); nothing was imported"),
        "{err}"
    );
    for expected in [
        "line 3: total",
        "line 4: currency: must be PLN",
        "line 5: occurred_at",
        "line 6: member_external_id",
        "line 6: member_external_id: must be 1 to 128 characters without spaces; channel",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    assert!(!err.contains("line 2"), "the good row is not reported");
    assert_eq!(
        tally
            .program_totals(&tenant, &program.id)
            .await
            .unwrap()
            .members,
        0,
        "nothing written"
    );
}

#[tokio::test]
async fn a_good_file_is_recorded_once_and_a_second_import_adds_nothing() {
    let db = TestDb::new().await;
    let (tally, tenant, program) = setup(&db).await;
    let mut csv = String::from("order_id,member_external_id,total,currency,occurred_at\n");
    for n in 0..2500 {
        csv.push_str(&format!(
            "O-{n},c-{},{}.50,PLN,2026-05-01T10:00:00Z\n",
            n % 40,
            n % 90
        ));
    }
    let path = write_csv("good.csv", &csv);
    let rows = import::read_file(&path, &program).unwrap();
    let first = import::import(
        &tally,
        &tenant,
        &program.id,
        rows,
        Some(&import::bare_profile),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            first.rows,
            first.enrolled,
            first.recorded,
            first.already_present
        ),
        (2500, 40, 2500, 0)
    );
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    let totals = tally.program_totals(&tenant, &program.id).await.unwrap();
    let expected_points: i64 = (0..2500).map(|n| n % 90).sum();
    assert_eq!(
        totals.issued.value(),
        expected_points,
        "1 point per złoty, rounded down"
    );
    assert_eq!(totals.outstanding, totals.issued);

    let rows = import::read_file(&path, &program).unwrap();
    let again = import::import(
        &tally,
        &tenant,
        &program.id,
        rows,
        Some(&import::bare_profile),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.enrolled, again.recorded, again.already_present),
        (0, 0, 2500)
    );
    assert_eq!(
        tally.program_totals(&tenant, &program.id).await.unwrap(),
        totals,
        "nothing added"
    );

    // The same order id with another total is refused, by line number; the rest still imports.
    let path = write_csv(
        "changed.csv",
        "order_id,member_external_id,total,currency,occurred_at\nO-1,c-1,99.00,PLN,2026-05-01T10:00:00Z\nN-1,c-1,5.00,PLN,2026-05-01T10:00:00Z\n",
    );
    let changed = import::import(
        &tally,
        &tenant,
        &program.id,
        import::read_file(&path, &program).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!((changed.recorded, changed.already_present), (1, 0));
    assert_eq!(changed.refused.len(), 1);
    assert!(
        changed.refused[0].starts_with("line 2:"),
        "{:?}",
        changed.refused
    );
    let mut c = tally.read().await.unwrap();
    assert_eq!(
        tally_core::invariants::check_program(&mut c, &program.id)
            .await
            .unwrap(),
        Ok(())
    );
}

#[tokio::test]
async fn an_import_brings_the_programs_segments_up_to_date() {
    let db = TestDb::new().await;
    let (tally, tenant, program) = setup(&db).await;
    let input = tally_domain::segments::SegmentInput::parse(&serde_json::json!({
        "key": "two_or_more",
        "name": "Bought twice or more",
        "definition": {"field": "purchases", "op": "gte", "value": 2}
    }))
    .unwrap();
    let segment = tally
        .write(
            &tenant,
            "test",
            None,
            Command::CreateSegment {
                program: program.id.clone(),
                input,
            },
        )
        .await
        .unwrap();
    let segment = tally_domain::ids::SegmentId::parse(segment["id"].as_str().unwrap()).unwrap();
    let path = write_csv(
        "segments.csv",
        "order_id,member_external_id,total,currency,occurred_at\n\
         S-1,twice,10.00,PLN,2026-05-01T10:00:00Z\n\
         S-2,twice,12.00,PLN,2026-05-02T10:00:00Z\n\
         S-3,once,9.00,PLN,2026-05-02T10:00:00Z\n",
    );
    let report = import::import(
        &tally,
        &tenant,
        &program.id,
        import::read_file(&path, &program).unwrap(),
        Some(&import::bare_profile),
    )
    .await
    .unwrap();
    assert_eq!(report.recorded, 3);
    // No nightly run and no updater: the import itself evaluated the segment.
    let members = tally
        .segment_members(&tenant, &segment, None, None)
        .await
        .unwrap();
    let external: Vec<&str> = members
        .items
        .iter()
        .map(|m| m["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(external, ["twice"]);
}
