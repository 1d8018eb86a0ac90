//! `bench_bot`'s command line through the binary: `--help` prints the usage and exits 0, an
//! unknown flag prints the usage and exits 2, and `--postgres` works on a server where the
//! named base database does not exist yet (created through the server's `postgres` database).

use storebot::testing::TestDb;

#[test]
fn help_prints_the_usage_and_an_unknown_flag_exits_2_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let help = storebot_tests::command("bench_bot", dir.path())
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    let usage = storebot_tests::stdout(&help);
    for flag in ["--shoppers", "--journeys", "--rate", "--postgres"] {
        assert!(usage.contains(flag), "{usage}");
    }
    let unknown = storebot_tests::command("bench_bot", dir.path())
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let error = storebot_tests::stderr(&unknown);
    assert!(
        error.contains("--bogus") && error.contains("Usage"),
        "{error}"
    );
    assert!(!error.contains("panicked"), "{error}");
}

#[tokio::test]
async fn postgres_base_database_is_created_when_missing() {
    let test = TestDb::new().await.unwrap();
    if !test.is_postgres() {
        eprintln!("skipped: set STOREBOT_TEST_DATABASE_URL=postgres://… to run it");
        return;
    }
    let mut base = url::Url::parse(test.url()).unwrap();
    let name = format!("{}_base", base.path().trim_start_matches('/'));
    base.set_path(&format!("/{name}"));
    let dir = tempfile::tempdir().unwrap();
    let run = storebot_tests::command("bench_bot", dir.path())
        .args([
            "--shoppers",
            "1",
            "--journeys",
            "1",
            "--postgres",
            base.as_str(),
        ])
        .output()
        .unwrap();
    let found = sea_orm::ConnectionTrait::query_one_raw(
        &test.db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT 1 AS found FROM pg_database WHERE datname = '{name}'"),
        ),
    )
    .await
    .unwrap();
    let _ = sea_orm::ConnectionTrait::execute_unprepared(
        &test.db,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await;
    assert!(run.status.success(), "{}", storebot_tests::stderr(&run));
    assert!(
        storebot_tests::stdout(&run).contains("storebot, PostgreSQL"),
        "{}",
        storebot_tests::stdout(&run)
    );
    assert!(found.is_some(), "{name} was not created");
}
