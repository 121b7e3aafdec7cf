//! The `tally` binary as an operator runs it, against the test database (SQLite, or a schema
//! of the PostgreSQL database in `TALLY_TEST_DATABASE_URL`): migrate, tenants, programs, keys,
//! an import, and both exports. Bad arguments end with a message and a failing exit status.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use tally_store_any::testing::TestDb;

/// What one run of `tally` printed, and whether it succeeded.
struct Run {
    output: Output,
    args: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> String {
        assert!(
            self.output.status.success(),
            "`tally {}` failed: {}",
            self.args,
            self.stderr()
        );
        String::from_utf8(self.output.stdout.clone()).expect("UTF-8 output")
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.ok()).expect("JSON on standard output")
    }

    /// Asserts that the run failed, and returns what it said on standard error.
    #[track_caller]
    fn fails(&self) -> String {
        assert!(
            !self.output.status.success(),
            "`tally {}` should have failed: {}",
            self.args,
            String::from_utf8_lossy(&self.output.stdout)
        );
        self.stderr()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Runs `tally --database URL ARGS…` in `dir` (which holds no `tally.toml`).
fn tally(dir: &Path, url: &str, args: &[&str]) -> Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .current_dir(dir)
        .env_remove("TALLY_DATABASE_URL")
        .arg("--database")
        .arg(url)
        .args(args)
        .output()
        .expect("run the tally binary");
    Run {
        output,
        args: args.join(" "),
    }
}

fn empty_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tally-cli-test-{}",
        tally_domain::ids::new_ulid().to_lowercase()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The rows of a CSV file as maps from its header's names.
fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("a CSV file");
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn an_operator_sets_up_a_program_imports_and_exports_from_the_command_line() {
    let db = TestDb::new().await;
    let (dir, url) = (empty_dir(), db.url());
    let run = |args: &[&str]| tally(&dir, &url, args);

    // The test database is migrated already: migrating again changes nothing and succeeds.
    run(&["migrate"]).ok();
    run(&["migrate"]).ok();

    let tenant = run(&["tenants", "create", "Vinyl Shop"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        run(&["tenants", "list"])
            .ok()
            .lines()
            .any(|l| l == format!("{tenant}\tVinyl Shop"))
    );

    // Programs: created by the tenant's name, listed by its id.
    let program = run(&[
        "programs",
        "create",
        "--tenant",
        "Vinyl Shop",
        "--name",
        "Records",
        "--currency",
        "USD",
        "--points-per-unit",
        "2",
    ])
    .json();
    let program_id = program["id"].as_str().unwrap().to_owned();
    assert_eq!(program["currency"], "USD");
    assert_eq!(
        run(&["programs", "list", "--tenant", &tenant]).ok(),
        format!("{program_id}\tRecords\tUSD\n")
    );

    // Keys: the secret is shown once, the list shows its prefix only, and a revoked key says so.
    let created = run(&[
        "keys", "create", "--tenant", &tenant, "--name", "till", "--scope", "write",
    ]);
    let key = created.json();
    assert!(created.stderr().contains("not shown again"));
    let (secret, key_id) = (
        key["secret"].as_str().unwrap().to_owned(),
        key["key"]["id"].as_str().unwrap().to_owned(),
    );
    let prefix = key["key"]["prefix"].as_str().unwrap();
    assert!(secret.starts_with(prefix), "{secret} starts with {prefix}");
    let listed = run(&["keys", "list", "--tenant", &tenant]).ok();
    assert_eq!(
        listed,
        format!("{key_id}\ttill\twrite\t{prefix}…\tactive\n")
    );
    assert!(!listed.contains(&secret), "the list never shows a secret");
    assert_eq!(
        run(&["keys", "revoke", "--tenant", &tenant, &key_id]).ok(),
        format!("revoked {key_id}\n")
    );
    let listed = run(&["keys", "list", "--tenant", &tenant]).ok();
    assert!(
        listed.starts_with(&format!("{key_id}\ttill\twrite\t{prefix}…\trevoked ")),
        "{listed}"
    );

    // Bad arguments: a message naming what is wrong, a failing status, nothing written.
    assert!(
        run(&["keys", "create", "--tenant", &tenant, "--scope", "owner"])
            .fails()
            .contains("scope `owner` must be read, write or admin")
    );
    assert!(
        run(&["programs", "list", "--tenant", "Nobody"])
            .fails()
            .contains("no tenant `Nobody`")
    );
    assert!(
        run(&[
            "programs",
            "create",
            "--tenant",
            &tenant,
            "--name",
            "Bad",
            "--currency",
            "ABCD"
        ])
        .fails()
        .contains("currency")
    );
    let refused = run(&["keys", "revoke", "--tenant", &tenant, "not-a-key-id"]).fails();
    assert!(
        refused.starts_with("error: ") && refused.contains("not-a-key-id"),
        "{refused}"
    );
    assert_eq!(
        run(&["keys", "list", "--tenant", &tenant])
            .ok()
            .lines()
            .count(),
        1
    );
    assert_eq!(
        run(&["programs", "list", "--tenant", &tenant])
            .ok()
            .lines()
            .count(),
        1
    );

    // An import that enrols the members it does not know, then both exports.
    let file = dir.join("purchases.csv");
    std::fs::write(
        &file,
        "order_id,member_external_id,total,currency,occurred_at\n\
         A-1,c-1,10.00,USD,2026-05-01T10:00:00Z\n\
         A-2,c-2,5.00,USD,2026-05-02T10:00:00Z\n\
         A-3,c-1,7.00,USD,2026-05-03T10:00:00Z\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let import = [
        "import",
        "purchases",
        file,
        "--tenant",
        &tenant,
        "--program",
        &program_id,
    ];
    let report = run(&[&import[..], &["--enroll-unknown"]].concat()).ok();
    assert!(
        report.contains("3 purchases recorded, 0 already present, 2 members enrolled, 0 refused"),
        "{report}"
    );
    assert!(
        run(&import)
            .ok()
            .contains("0 purchases recorded, 3 already present")
    );

    let target = ["--tenant", &tenant, "--program", &program_id];
    // `tally export WHAT` into a file of the test's directory.
    let export = |what: &str| {
        let file = dir.join(format!("{what}.csv"));
        run(&[
            &["export", what][..],
            &target,
            &["--out", file.to_str().unwrap()],
        ]
        .concat())
        .ok();
        file
    };
    let members_csv = export("members");
    let mut members = read_csv(&members_csv);
    members.sort_by(|a, b| a["external_id"].cmp(&b["external_id"]));
    let balances: Vec<(&str, &str)> = members
        .iter()
        .map(|m| (m["external_id"].as_str(), m["available"].as_str()))
        .collect();
    assert_eq!(
        balances,
        [("c-1", "34"), ("c-2", "10")],
        "2 points per dollar"
    );
    assert!(
        members
            .iter()
            .all(|m| m["status"] == "active" && m["id"].starts_with("mem_"))
    );
    // Without `--out`, the same CSV on standard output.
    assert_eq!(
        run(&[&["export", "members"][..], &target].concat()).ok(),
        std::fs::read_to_string(&members_csv).unwrap()
    );

    let ledger = read_csv(&export("ledger"));
    assert_eq!(ledger.len(), 3, "one transfer per purchase");
    assert!(ledger.iter().all(|t| t["kind"] == "earn"));
    let amounts: Vec<&str> = ledger.iter().map(|t| t["amount"].as_str()).collect();
    // The export is in ledger order, and an import records a file's rows in the file's order.
    assert_eq!(
        amounts,
        ["20", "10", "14"],
        "in the order they were recorded"
    );
    assert!(ledger.iter().all(|t| t["reason"].contains("A-")));
    let _ = std::fs::remove_dir_all(&dir);
}
