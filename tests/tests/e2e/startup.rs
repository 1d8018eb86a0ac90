use std::io::Write;

use sea_orm::ConnectionTrait;
use storebot::testing::TestDb;
use storebot_tests::{command, stderr, stdout};

/// Every start-up failure is one sentence on one line: no backtrace, no debug dump.
fn assert_one_sentence(message: &str) {
    let lines: Vec<&str> = message
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn bot_without_a_token_says_how_to_set_one() {
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot", dir.path()).output().expect("runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_one_sentence(&message);
    assert!(message.contains("STOREBOT_TELEGRAM__TOKEN"), "{message}");
    assert!(message.contains("--config"), "{message}");
    // It stopped before touching the database.
    assert!(!dir.path().join("storebot.db").exists());
}

#[test]
fn an_incomplete_payments_configuration_is_refused_in_one_sentence_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    for (env, key) in [
        (
            vec![("STOREBOT_PAYMENTS__PROVIDER", "telegram")],
            "payments.provider_token is required",
        ),
        (
            vec![
                ("STOREBOT_PAYMENTS__PROVIDER", "stars"),
                ("STOREBOT_PAYMENTS__STARS_PER_UNIT", "50"),
                ("STOREBOT_PAYMENTS__PROVIDER_TOKEN", "284685063:TEST:leak"),
            ],
            "payments.provider_token must not be set",
        ),
        (
            vec![("STOREBOT_PAYMENTS__PROVIDER", "stars")],
            "payments.stars_per_unit is required",
        ),
        (vec![("STOREBOT_PAYMENTS__PROVIDER", "paypal")], "paypal"),
    ] {
        let output = command("storebot", dir.path())
            .arg("run")
            .env("STOREBOT_TELEGRAM__TOKEN", "123456:TEST")
            .envs(env)
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{key}");
        let message = stderr(&output);
        assert_one_sentence(&message);
        assert!(message.contains(key), "{message}");
        assert!(!message.contains("TEST:leak"), "{message}");
        // Refused before touching the database.
        assert!(!dir.path().join("storebot.db").exists());
    }
}

#[test]
fn misspelt_key_in_a_config_file_is_named_with_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("shop.toml");
    let mut file = std::fs::File::create(&path).expect("create");
    writeln!(file, "[segments]\nrefresh_intervall = \"1m\"").expect("write");
    for binary in ["storebot", "storebot-admin"] {
        let output = command(binary, dir.path())
            .args(["--config", path.to_str().expect("utf-8"), "migrate"])
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{binary}");
        let message = stderr(&output);
        assert_one_sentence(&message);
        assert!(message.contains("refresh_intervall"), "{binary}: {message}");
        assert!(message.contains("shop.toml"), "{binary}: {message}");
    }
}

#[test]
fn config_file_can_also_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("shop.toml");
    std::fs::write(&path, "[store]\ncurency = \"EUR\"\n").expect("write");
    let output = command("storebot", dir.path())
        .arg("migrate")
        .env("STOREBOT_CONFIG", &path)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("curency"), "{}", stderr(&output));
}

#[test]
fn unknown_database_scheme_lists_the_ones_that_work() {
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot", dir.path())
        .arg("migrate")
        .env("STOREBOT_DATABASE__URL", "mysql://shop:pw@localhost/shop")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_one_sentence(&message);
    assert!(message.contains("`mysql`"), "{message}");
    assert!(
        message.contains("sqlite://") && message.contains("postgres://"),
        "{message}"
    );
}

#[test]
fn unreachable_database_server_is_one_sentence_without_the_password() {
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot-admin", dir.path())
        .arg("migrate")
        // Port 9 (discard) has no PostgreSQL behind it on any test machine.
        .env(
            "STOREBOT_DATABASE__URL",
            "postgres://shop:secret-pw@127.0.0.1:9/shop",
        )
        .env("STOREBOT_DATABASE__CONNECT_TIMEOUT", "2s")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_one_sentence(&message);
    assert!(message.contains("can't reach the database"), "{message}");
    assert!(message.contains("127.0.0.1:9"), "{message}");
    assert!(!message.contains("secret-pw"), "{message}");
}

#[tokio::test]
async fn schema_newer_than_the_binary_is_refused() {
    let test = TestDb::new().await.expect("test db");
    test.db
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) \
             VALUES ('m29990101_000001_from_the_future', 0)",
        )
        .await
        .expect("fake a newer migration");
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot", dir.path())
        .arg("migrate")
        .env("STOREBOT_DATABASE__URL", test.url())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_one_sentence(&message);
    assert!(message.contains("newer than this storebot"), "{message}");
    assert!(
        message.contains("m29990101_000001_from_the_future"),
        "{message}"
    );
}

#[tokio::test]
async fn admin_migrate_reports_the_schema_as_json() {
    let test = TestDb::new().await.expect("test db");
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot-admin", dir.path())
        .args(["migrate", "--json"])
        .env("STOREBOT_DATABASE__URL", test.url())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let applied = report["applied"].as_array().expect("applied list");
    assert_eq!(applied.len(), storebot::store::known_migrations().len());
}

#[test]
fn default_database_is_an_sqlite_file_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("dir");
    let output = command("storebot", dir.path())
        .arg("migrate")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.path().join("storebot.db").exists());
}
