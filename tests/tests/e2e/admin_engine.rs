//! storebot-admin's segment engine commands (preview, members, recompute, runs), the shopper
//! insight commands (explain, simulate) and `webhook set|info|delete`, through the real binary
//! on a real database (SQLite, or PostgreSQL with `STOREBOT_TEST_DATABASE_URL`), each bad input
//! refused with one sentence and leaving the store as it was.

use serde_json::Value;
use storebot::testing::TestDb;
use storebot_tests::admin::AdminTool;
use storebot_tests::fake_telegram::FakeTelegram;
use storebot_tests::{stderr, stdout};

/// A shop with a catalog, two shoppers with order history (Ann: 12.99 counted, Bo: 8.00) and
/// an auto segment `big` (total check at least 10.00) that alone may see the black tea.
struct Shop {
    _test: TestDb,
    tool: AdminTool,
}

impl Shop {
    async fn new() -> Self {
        let test = TestDb::new().await.expect("test db");
        let tool = AdminTool::new(test.url());
        let shop = Self { _test: test, tool };
        shop.ok(&[
            "catalog",
            "import",
            &shop.write(
                "catalog.csv",
                "sku,product,variant,price,stock,category\n\
                 G-50,Green tea,50 g,4.50,10,Tea\n\
                 G-100,Green tea,100 g,8.00,4,Tea\n\
                 B-50,Black tea,50 g,3.99,5,Tea\n",
            ),
        ]);
        shop.ok(&[
            "orders",
            "import",
            &shop.write(
                "orders.csv",
                "order,customer,name,placed_at,status,sku,quantity,unit_price\n\
                 A1,555,Ann,2026-01-02,delivered,G-50,2,4.50\n\
                 A1,555,Ann,2026-01-02,delivered,B-50,1,3.99\n\
                 A2,555,Ann,2026-02-01,cancelled,G-100,5,8.00\n\
                 B1,777,Bo,2026-03-01,paid,G-100,1,8.00\n",
            ),
        ]);
        let rule = shop.rule("big.json", 1000);
        shop.ok(&["segments", "create", "--name", "big", "--rule", &rule]);
        let black = shop.json(&["catalog", "product", "list"])[0]["id"]
            .as_i64()
            .expect("black tea id")
            .to_string();
        shop.ok(&["availability", "set", &black, "--segment", "big"]);
        shop
    }

    /// Runs a command that must fail with one sentence containing `expected`, print nothing on
    /// standard output and change nothing.
    fn refused(&self, args: &[&str], expected: &str) {
        self.tool.refused(args, expected, snapshot);
    }

    /// A rule file: total check of at least `min` minor units.
    fn rule(&self, name: &str, min: i64) -> String {
        self.write(
            name,
            &format!(r#"{{"version":1,"rule":{{"type":"total_check","min":{min}}}}}"#),
        )
    }
}

impl std::ops::Deref for Shop {
    type Target = AdminTool;

    fn deref(&self) -> &AdminTool {
        &self.tool
    }
}

/// Membership of every segment, the run history and the customers, to compare before and
/// after a refused command.
fn snapshot(tool: &AdminTool) -> Vec<Value> {
    let mut all = vec![
        tool.json(&["segments", "list"]),
        tool.json(&["segments", "runs"]),
        tool.json(&["customers", "list"]),
    ];
    for segment in tool.json(&["segments", "list"]).as_array().expect("list") {
        let name = segment["name"].as_str().expect("name");
        all.push(tool.json(&["segments", "members", name]));
    }
    all
}

fn telegram_ids(selection: &Value) -> Vec<i64> {
    selection["sample"]
        .as_array()
        .expect("sample")
        .iter()
        .map(|shopper| shopper["telegram_user_id"].as_i64().expect("id"))
        .collect()
}

fn member_ids(members: &Value, list: &str) -> Vec<i64> {
    members[list]
        .as_array()
        .expect("members")
        .iter()
        .map(|member| member["telegram_user_id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn preview_recompute_and_runs_show_who_joins_and_what_they_gain() {
    let shop = Shop::new().await;

    // A rule alone: count and sample, nothing saved.
    let loose = shop.rule("loose.json", 0);
    let alone = shop.json(&["segments", "preview", "--rule", &loose]);
    assert_eq!(alone["matching"]["count"], 2);
    assert_eq!(telegram_ids(&alone["matching"]), [555, 777]);
    assert!(alone["joining"].is_null());

    // The stored rule before any recompute: Ann would join and gain the black tea.
    let before = shop.json(&["segments", "preview", "big"]);
    assert_eq!(before["matching"]["count"], 1);
    assert_eq!(before["joining"]["count"], 1);
    assert_eq!(before["joining"]["sample"][0]["telegram_user_id"], 555);
    assert_eq!(
        before["joining"]["sample"][0]["variants"],
        serde_json::json!(["B-50"])
    );
    assert_eq!(before["leaving"]["count"], 0);
    let table = shop.ok(&["segments", "preview", "big"]);
    assert!(table.contains("1 shopper would join."), "{table}");
    assert!(table.contains("gains B-50"), "{table}");

    shop.refused(&["segments", "preview"], "give a SEGMENT to preview");
    shop.refused(
        &[
            "segments",
            "preview",
            "--rule",
            &shop.write(
                "bad.json",
                r#"{"version":1,"rule":{"type":"answer","question":99,"options":[1]}}"#,
            ),
        ],
        "question 99 does not exist",
    );
    shop.refused(
        &["segments", "preview", "ghosts"],
        "segment `ghosts` does not exist",
    );
    shop.ok(&["segments", "create", "--name", "vip", "--kind", "manual"]);
    shop.refused(&["segments", "preview", "vip"], "segment `vip` is manual");
    assert_eq!(shop.json(&["segments", "runs"]), Value::Array(vec![]));

    let run = shop.json(&["segments", "recompute"]);
    assert_eq!(
        (run["segments"].as_u64(), run["joined"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(run["changes"][0]["name"], "big");
    assert_eq!(run["changes"][0]["joined"], 1);
    let again = shop.ok(&["segments", "recompute"]);
    assert!(again.contains("No membership changed."), "{again}");
    assert!(
        again.contains("1 segment recomputed, 0 joined, 0 left"),
        "{again}"
    );
    let runs = shop.json(&["segments", "runs"]);
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    assert_eq!(runs[1]["trigger"], "admin");
    assert_eq!(runs[1]["joined"], 1);
    assert!(
        shop.ok(&["segments", "runs", "--limit", "1"])
            .contains("admin")
    );

    // A looser rule would bring Bo in with the black tea; a stricter one would take Ann out.
    let looser = shop.json(&["segments", "preview", "big", "--rule", &loose]);
    assert_eq!(telegram_ids(&looser["joining"]), [777]);
    assert_eq!(
        looser["joining"]["sample"][0]["variants"],
        serde_json::json!(["B-50"])
    );
    assert_eq!(looser["leaving"]["count"], 0);
    let strict = shop.rule("strict.json", 2000);
    let stricter = shop.json(&["segments", "preview", "big", "--rule", &strict]);
    assert_eq!(stricter["joining"]["count"], 0);
    assert_eq!(telegram_ids(&stricter["leaving"]), [555]);
    let table = shop.ok(&["segments", "preview", "big", "--rule", &strict]);
    assert!(table.contains("loses B-50"), "{table}");
    // Previewing saved nothing: the stored rule still selects Ann alone.
    assert_eq!(
        member_ids(&shop.json(&["segments", "members", "big"]), "members"),
        [555]
    );
}

#[tokio::test]
async fn members_follow_the_merchants_hand_and_imports_are_all_or_nothing() {
    let shop = Shop::new().await;
    shop.ok(&["segments", "recompute"]);
    let big = shop.json(&["segments", "members", "big"]);
    assert_eq!(member_ids(&big, "members"), [555]);
    assert_eq!(big["members"][0]["source"], "rule");

    // Auto segment: remove and add are overrides, and clear hands the decision back.
    let out = shop.json(&["segments", "members", "big", "--remove", "555"]);
    assert!(member_ids(&out, "members").is_empty());
    assert_eq!(member_ids(&out, "excluded"), [555]);
    shop.ok(&["segments", "recompute"]);
    assert!(member_ids(&shop.json(&["segments", "members", "big"]), "members").is_empty());
    let cleared = shop.ok(&["segments", "members", "big", "--clear", "555"]);
    assert!(cleared.contains("decides about"), "{cleared}");
    let included = shop.json(&["segments", "members", "big", "--add", "777"]);
    assert_eq!(member_ids(&included, "members"), [555, 777]);
    assert_eq!(included["members"][1]["override_mode"], "include");
    let table = shop.ok(&["segments", "members", "big"]);
    assert!(table.contains("include override"), "{table}");
    shop.refused(
        &["segments", "members", "big", "--clear", "555"],
        "has no override on `big`",
    );

    // Manual segment: members by hand.
    shop.ok(&["segments", "create", "--name", "vip", "--kind", "manual"]);
    shop.refused(
        &["segments", "members", "vip", "--remove", "555"],
        "customer #1 is not a member of `vip`",
    );
    shop.refused(
        &["segments", "members", "vip", "--clear", "555"],
        "is manual",
    );
    shop.refused(
        &["segments", "members", "vip", "--add", "999"],
        "customer `999` does not exist",
    );
    shop.refused(
        &[
            "segments", "members", "vip", "--add", "555", "--remove", "777",
        ],
        "cannot be used with",
    );
    shop.refused(
        &["segments", "members", "ghosts"],
        "segment `ghosts` does not exist",
    );
    let bad = shop.write("bad.csv", "customer\n555\n999\n777\n@ann\n555\n");
    let before = snapshot(&shop);
    let output = shop.run(&["segments", "members", "vip", "--import", &bad]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(
        message.contains("line 3: customer `999` does not exist"),
        "{message}"
    );
    assert!(
        message.contains("line 6: customer `555` already appears on line 2"),
        "{message}"
    );
    assert_eq!(snapshot(&shop), before);
    shop.refused(
        &[
            "segments",
            "members",
            "vip",
            "--import",
            &shop.write("typo.csv", "custmer\n555\n"),
        ],
        "unknown column `custmer`",
    );

    let good = shop.write("good.csv", "customer,name\n555,Ann\n777,Bo\n");
    let imported = shop.ok(&["segments", "members", "vip", "--import", &good]);
    assert!(
        imported.contains("2 of 2 customers in the file joined `vip`"),
        "{imported}"
    );
    let vip = shop.json(&["segments", "members", "vip"]);
    assert_eq!(member_ids(&vip, "members"), [555, 777]);
    assert!(
        vip["members"]
            .as_array()
            .expect("m")
            .iter()
            .all(|m| m["source"] == "manual")
    );
    let removed = shop.json(&["segments", "members", "vip", "--remove", "777"]);
    assert_eq!(member_ids(&removed, "members"), [555]);

    // customers show lists each segment with its cause.
    let ann = shop.json(&["customers", "show", "555"]);
    let causes: Vec<(String, String)> = ann["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["source"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        causes,
        [
            ("big".to_owned(), "rule".to_owned()),
            ("vip".to_owned(), "manual".to_owned())
        ]
    );
}

#[tokio::test]
async fn explain_and_simulate_show_a_shopper_through_the_rules() {
    let shop = Shop::new().await;
    shop.ok(&["segments", "recompute"]);

    let ann = shop.json(&["customers", "explain", "555", "big"]);
    assert_eq!(ann["member"], true);
    assert_eq!(ann["rule_matches"], true);
    assert_eq!(
        ann["explanation"][0],
        "✓ total check >= 10.00 (total 12.99 EUR in 1 order)"
    );
    assert_eq!(ann["rule_text"], "total check >= 10.00");
    let bo = shop.ok(&["customers", "explain", "777", "big"]);
    assert!(
        bo.contains("Not in `big`. The rule does not match them now."),
        "{bo}"
    );
    assert!(
        bo.contains("✗ total check >= 10.00 (total 8.00 EUR in 1 order)"),
        "{bo}"
    );
    shop.ok(&["segments", "members", "big", "--remove", "555"]);
    let excluded = shop.json(&["customers", "explain", "555", "big"]);
    assert_eq!(
        (
            excluded["member"].as_bool(),
            excluded["override_mode"].as_str()
        ),
        (Some(false), Some("exclude"))
    );
    assert!(
        excluded["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("exclude override")
    );
    shop.ok(&["segments", "members", "big", "--clear", "555"]);

    // The explanation names questions and answers as the merchant wrote them: no ids.
    let pets = shop.json(&["questions", "add", "--text", "Pets?", "--option", "Cat"]);
    let (q, o) = (
        pets["id"].as_i64().expect("q"),
        pets["options"][0]["id"].as_i64().expect("o"),
    );
    let cats = shop.write(
        "cats.json",
        &format!(r#"{{"version":1,"rule":{{"type":"answer","question":{q},"options":[{o}]}}}}"#),
    );
    shop.ok(&["segments", "create", "--name", "cats", "--rule", &cats]);
    let why = shop.ok(&["customers", "explain", "555", "cats"]);
    assert!(
        why.contains(r#"✗ answer "Pets?" is "Cat" (not answered)"#),
        "{why}"
    );
    assert!(
        !why.contains(&format!("question {q}")) && !why.contains(&format!("option {o}")),
        "no ids and no legend: {why}"
    );

    let guest = shop.json(&["customers", "simulate", "777"]);
    let black = guest["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["title"] == "Black tea")
        .expect("black tea");
    assert_eq!(black["visible"], false);
    assert_eq!(
        black["variants"][0]["hidden_because"],
        "the product is restricted to segments the shopper is not in"
    );
    // In a wide terminal the reason is shown whole; in 80 columns it is cut to fit.
    let table = shop.ok_with(&["customers", "simulate", "777"], &[("COLUMNS", "160")]);
    assert!(table.contains("no: the product is restricted"), "{table}");
    let narrow = shop.ok(&["customers", "simulate", "777"]);
    assert!(narrow.contains("no: the product"), "{narrow}");
    assert!(
        narrow.lines().all(|line| line.chars().count() <= 80),
        "{narrow}"
    );
    let member = shop.json(&["customers", "simulate", "555", "--visible-only"]);
    let skus: Vec<&str> = member["products"]
        .as_array()
        .expect("products")
        .iter()
        .flat_map(|p| p["variants"].as_array().expect("variants"))
        .filter_map(|v| v["sku"].as_str())
        .collect();
    assert_eq!(skus, ["B-50", "G-50", "G-100"]);
    assert_eq!(member["visible_categories"], serde_json::json!(["Tea"]));

    shop.refused(
        &["customers", "explain", "555", "ghosts"],
        "segment `ghosts` does not exist",
    );
    shop.refused(
        &["customers", "simulate", "12345"],
        "customer `12345` does not exist",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_set_inspected_and_deleted_at_the_bot_api() {
    let fake = FakeTelegram::start().await.expect("fake telegram");
    let shop = Shop::new().await;
    let api = fake.url();
    let base = [
        ("STOREBOT_TELEGRAM__API_URL", api.as_str()),
        ("STOREBOT_TELEGRAM__TOKEN", "123:abc"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env: Vec<(&str, &str)> = base.to_vec();
        env.extend_from_slice(extra);
        env
    };
    let run = |args: &'static [&'static str], env: Vec<(&str, &str)>| shop.run_with(args, &env);

    let missing_url = run(
        &["webhook", "set"],
        with(&[("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", "s3cret")]),
    );
    assert!(!missing_url.status.success());
    assert!(
        stderr(&missing_url).contains("telegram.webhook.url is not set"),
        "{}",
        stderr(&missing_url)
    );
    let missing_secret = run(
        &[
            "webhook",
            "set",
            "--url",
            "https://shop.example.com/telegram",
        ],
        with(&[]),
    );
    assert!(!missing_secret.status.success());
    assert!(
        stderr(&missing_secret).contains("needs a secret token"),
        "{}",
        stderr(&missing_secret)
    );
    assert!(fake.calls("setWebhook").is_empty());

    let set = run(
        &["webhook", "set"],
        with(&[
            (
                "STOREBOT_TELEGRAM__WEBHOOK__URL",
                "https://shop.example.com/telegram",
            ),
            ("STOREBOT_TELEGRAM__WEBHOOK__SECRET_TOKEN", "s3cret"),
        ]),
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("https://shop.example.com/telegram"));
    assert!(!stdout(&set).contains("s3cret") && !stderr(&set).contains("s3cret"));
    let calls = fake.calls("setWebhook");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body["secret_token"], "s3cret");

    let info = run(&["webhook", "info", "--json"], with(&[]));
    assert!(info.status.success(), "{}", stderr(&info));
    let info: Value = serde_json::from_str(&stdout(&info)).expect("json");
    assert_eq!(info["url"], "https://shop.example.com/telegram");

    let unconfirmed = run(&["webhook", "delete"], with(&[]));
    assert!(!unconfirmed.status.success());
    assert!(
        stderr(&unconfirmed).contains("pass --yes"),
        "{}",
        stderr(&unconfirmed)
    );
    assert!(fake.calls("deleteWebhook").is_empty());
    let deleted = run(&["webhook", "delete", "--yes"], with(&[]));
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(fake.calls("deleteWebhook").len(), 1);
    let info = run(&["webhook", "info"], with(&[]));
    assert!(
        stdout(&info).contains("No webhook is set"),
        "{}",
        stdout(&info)
    );

    let no_token = shop.run_with(
        &["webhook", "info"],
        &[("STOREBOT_TELEGRAM__API_URL", api.as_str())],
    );
    assert!(!no_token.status.success());
    assert!(stdout(&no_token).is_empty());
}
