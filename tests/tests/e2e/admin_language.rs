//! The rule language through the real `storebot-admin` binary on a real database (SQLite, or
//! PostgreSQL with `STOREBOT_TEST_DATABASE_URL`): rules written with `--where` and in files,
//! shown in words everywhere, mistakes pointed at with a caret and changing nothing, and the
//! exported document read back by `apply`; products, customers and user groups by their names.

use serde_json::Value;
use storebot::testing::TestDb;
use storebot_tests::admin::AdminTool;

/// A shop with a question, a catalog, a manual segment `Staff` and two shoppers with orders:
/// Ann (555) paid 12.99 in January 2026, Bo (777) 8.00 in March.
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
            "questions",
            "add",
            "--text",
            "What do you drink?",
            "--option",
            "Coffee",
            "--option",
            "Tea",
        ]);
        shop.ok(&[
            "catalog",
            "import",
            &shop.write(
                "catalog.csv",
                "sku,product,variant,price,stock,category\n\
                 G-50,Green tea,50 g,4.50,10,Tea\n\
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
                 B1,777,Bo,2026-03-01,paid,G-50,1,8.00\n",
            ),
        ]);
        shop.ok(&["segments", "create", "--name", "Staff", "--kind", "manual"]);
        shop
    }

    fn refused(&self, args: &[&str], expected: &str) -> String {
        self.tool.refused(args, expected, snapshot)
    }
}

impl std::ops::Deref for Shop {
    type Target = AdminTool;

    fn deref(&self) -> &AdminTool {
        &self.tool
    }
}

fn snapshot(tool: &AdminTool) -> Vec<Value> {
    [&["segments", "list"][..], &["questions", "list", "--all"]]
        .iter()
        .map(|args| tool.json(args))
        .collect()
}

const COFFEE: &str = r#"answer "What do you drink?" is "Coffee" and average check >= 5.00 from 2026-01-01 and not in segment "Staff""#;

#[tokio::test]
async fn a_rule_in_words_is_saved_as_ids_and_shown_in_words() {
    let shop = Shop::new().await;
    let created = shop.json(&["segments", "create", "--name", "coffee", "--where", COFFEE]);
    assert_eq!(created["kind"], "auto");
    // One JSON style: the rule as an object, its words beside it.
    assert_eq!(created["rule"]["rule"]["type"], "all");
    assert_eq!(created["rule_text"], COFFEE);
    let listed = shop.json(&["segments", "list"]);
    let listed = listed
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["name"] == "coffee"))
        .expect("coffee listed");
    assert_eq!(listed["rule"]["version"], 1);
    assert_eq!(listed["rule_text"], COFFEE);

    let shown = shop.json(&["segments", "show", "coffee"]);
    assert_eq!(shown["rule_text"], COFFEE);
    // Stored as ids and minor units, as before.
    let stored = &shown["rule"]["rule"];
    assert_eq!(stored["type"], "all");
    assert_eq!(stored["rules"][1]["min"], 500);
    assert!(stored["rules"][0]["question"].is_i64(), "{stored}");
    let text = shop.ok(&["segments", "show", "coffee"]);
    assert!(text.contains(&format!("  rule: {COFFEE}")), "{text}");

    // `list` shows the rule cut to its column: in a wide terminal at the list's own length, in
    // 80 columns (the width without a terminal) shorter still, every line fitting.
    let list = shop.ok_with(&["segments", "list"], &[("COLUMNS", "200")]);
    assert!(
        list.contains(r#"answer "What do you drink?" is "Coffee" and ave…"#),
        "{list}"
    );
    let narrow = shop.ok(&["segments", "list"]);
    assert!(
        narrow.lines().all(|line| line.chars().count() <= 80),
        "{narrow}"
    );
    let coffee = narrow
        .lines()
        .find(|line| line.contains("coffee"))
        .expect("the coffee row");
    assert!(
        coffee.contains(r#"answer "What"#) && coffee.ends_with('…'),
        "{narrow}"
    );

    // A rule file in words works as --where does; editing replaces the rule.
    let file = shop.write(
        "rule.txt",
        "order count >= 1\n  and (bought sku \"G-50\" or bought product \"Black tea\")\n",
    );
    shop.ok(&["segments", "edit", "coffee", "--rule", &file]);
    assert_eq!(
        shop.json(&["segments", "show", "coffee"])["rule_text"],
        r#"order count >= 1 and (bought sku "G-50" or bought product "Black tea")"#
    );
    shop.ok(&[
        "segments",
        "edit",
        "coffee",
        "--where",
        "total check between 10.00 and 20.00",
    ]);
    assert_eq!(
        shop.json(&["segments", "show", "coffee"])["rule"]["rule"],
        serde_json::json!({"type": "total_check", "min": 1000, "max": 2000})
    );

    // Preview says which rule it previews, and who it selects.
    let preview = shop.ok(&[
        "segments",
        "preview",
        "--where",
        "total check >= 10.00 and last interaction from 2025-12-01",
    ]);
    assert!(
        preview.contains("Rule: total check >= 10.00 and last interaction from 2025-12-01"),
        "{preview}"
    );
    assert!(preview.contains("matches 1 shopper"), "{preview}");
    let json = shop.json(&["segments", "preview", "coffee"]);
    assert_eq!(json["rule_text"], "total check between 10.00 and 20.00");
    assert_eq!(json["matching"]["count"], 1);

    // Explain: each node in words with the shopper's money, no ids.
    shop.ok(&["segments", "recompute"]);
    let why = shop.ok(&["customers", "explain", "777", "coffee"]);
    assert!(
        why.contains("✗ total check between 10.00 and 20.00 (total 8.00 EUR in 1 order)"),
        "{why}"
    );
}

#[tokio::test]
async fn mistakes_point_at_the_word_and_save_nothing() {
    let shop = Shop::new().await;
    let create = |rule: &str, expected: &str| {
        shop.refused(
            &["segments", "create", "--name", "x", "--where", rule],
            expected,
        )
    };
    let message = create(
        r#"answer "What do you drnk?" is "Coffee""#,
        r#"no question is called "What do you drnk?"; the closest is "What do you drink?""#,
    );
    assert!(
        message.contains(
            "\n  answer \"What do you drnk?\" is \"Coffee\"\n         ^^^^^^^^^^^^^^^^^^^\n"
        ),
        "the caret is under the question: {message}"
    );
    for (rule, expected) in [
        (
            r#"answer "What do you drink?" is "Cofee""#,
            r#"has no answer "Cofee"; the closest is "Coffee""#,
        ),
        (
            r#"bought product "Green te""#,
            r#"no product is called "Green te"; the closest is "Green tea""#,
        ),
        (
            r#"bought sku "G-5""#,
            r#"no variant has the SKU "G-5"; the closest is "G-50""#,
        ),
        (
            r#"in segment "Stuff""#,
            r#"no segment is called "Stuff"; the closest is "Staff""#,
        ),
        (
            "first interaction from 31.12.2025",
            "`31.12.2025` is not a date like 2026-11-01",
        ),
        (
            "average check >= 20,00",
            "`20,00` is not an amount like 12.50",
        ),
        ("(order count >= 1", "this `(` is never closed"),
        ("order count >= 1)", "this `)` closes no `(`"),
    ] {
        let message = create(rule, expected);
        assert!(message.contains('^'), "a caret for {rule}: {message}");
    }
    // A rule in a file says which file.
    let file = shop.write("bad.txt", "order count >= 1 and\nin segment \"Stuff\"\n");
    let message = shop.refused(
        &["segments", "create", "--name", "x", "--rule", &file],
        "bad.txt: no segment is called \"Stuff\"",
    );
    assert!(message.contains("(line 2)"), "{message}");
    // A cycle is said with names.
    shop.ok(&[
        "segments",
        "create",
        "--name",
        "a",
        "--where",
        "order count >= 1",
    ]);
    shop.ok(&[
        "segments",
        "create",
        "--name",
        "b",
        "--where",
        r#"in segment "a""#,
    ]);
    shop.refused(
        &["segments", "edit", "a", "--where", r#"in segment "b""#],
        r#"segments refer to each other in a circle: "a" → "b" → "a""#,
    );
}

#[tokio::test]
async fn export_writes_rules_in_words_and_apply_reads_them_back() {
    let shop = Shop::new().await;
    shop.ok(&["segments", "create", "--name", "coffee", "--where", COFFEE]);
    let exported = shop.dir().join("store.toml");
    let exported = exported.to_str().expect("utf-8 path");
    shop.ok(&["export", "-o", exported]);
    let text = std::fs::read_to_string(exported).expect("exported");
    assert!(text.contains(COFFEE), "{text}");
    let again = shop.ok(&["apply", exported]);
    assert!(again.contains("Nothing to change"), "{again}");

    // A changed rule shows as before → after, in words.
    let changed = text.replace(">= 5.00", ">= 6.00");
    let changed_file = shop.write("changed.toml", &changed);
    let planned = shop.ok(&["apply", &changed_file, "--dry-run"]);
    assert!(
        planned.contains(
            "average check >= 5.00 from 2026-01-01 and not in segment \"Staff\" → answer"
        ),
        "{planned}"
    );
    assert!(planned.contains("average check >= 6.00"), "{planned}");
    shop.ok(&["apply", &changed_file, "--yes"]);
    let shown = shop.json(&["segments", "show", "coffee"]);
    assert_eq!(shown["rule"]["rule"]["rules"][1]["min"], 600);

    // A mistake in the document points at the word and applies nothing.
    let typo = shop.write(
        "typo.toml",
        &changed.replace(
            r#"answer "What do you drink?""#,
            r#"answer "What do you drnk?""#,
        ),
    );
    let message = shop.refused(
        &["apply", &typo, "--yes"],
        r#"segment `coffee`: no question is called "What do you drnk?""#,
    );
    assert!(message.contains('^'), "{message}");
}

#[tokio::test]
async fn products_customers_and_groups_are_named_as_the_merchant_knows_them() {
    let shop = Shop::new().await;
    // A product by title, by a variant's SKU, or by id.
    let by_title = shop.json(&["availability", "set", "Green tea", "--segment", "Staff"]);
    let by_sku = shop.json(&["availability", "show", "G-50"]);
    assert_eq!(by_title, by_sku);
    let id = by_sku["product_id"].to_string();
    assert_eq!(shop.json(&["availability", "show", &id]), by_sku);
    shop.refused(
        &["availability", "set", "Sencha", "--all"],
        "product with the id, title or SKU `Sencha` does not exist",
    );

    // A customer by name; a name two shoppers share lists both.
    shop.ok(&["segments", "members", "Staff", "--add", "Bo"]);
    let bo = shop.json(&["customers", "show", "bo"]);
    assert_eq!(bo["telegram_user_id"], 777);
    shop.ok(&[
        "orders",
        "import",
        &shop.write(
            "more.csv",
            "order,customer,name,placed_at,status,sku,quantity,unit_price\n\
             C1,556,Ann,2026-04-01,paid,G-50,1,4.50\n",
        ),
    ]);
    let message = shop.refused(
        &["customers", "show", "Ann"],
        "several customers are called `Ann`: ",
    );
    assert!(
        message.contains("(Telegram 555)") && message.contains("(Telegram 556)"),
        "{message}"
    );

    // Hand-set user groups: set, shown, removed; a bad change changes nothing.
    let groups = |tool: &AdminTool| tool.json(&["customers", "groups", "555"]);
    let set = shop.json(&[
        "customers",
        "groups",
        "555",
        "--add",
        "wholesale",
        "--add",
        "club",
    ]);
    assert_eq!(set["hand_set"], serde_json::json!(["club", "wholesale"]));
    let shown = shop.ok(&["customers", "show", "555"]);
    assert!(shown.contains("user groups: club, wholesale"), "{shown}");
    shop.tool.refused(
        &[
            "customers",
            "groups",
            "555",
            "--remove",
            "club",
            "--remove",
            "nope",
        ],
        "the customer has no hand-set group `nope`",
        groups,
    );
    shop.tool.refused(
        &["customers", "groups", "555", "--add", "  "],
        "a user group needs a name",
        groups,
    );
    let removed = shop.json(&["customers", "groups", "555", "--remove", "club"]);
    assert_eq!(removed["hand_set"], serde_json::json!(["wholesale"]));
}

#[tokio::test]
async fn under_json_a_refusal_is_one_object_on_standard_error() {
    let shop = Shop::new().await;
    let before = snapshot(&shop);
    let refusal = |args: &[&str]| -> Value {
        let output = shop.run(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(
            storebot_tests::stdout(&output).is_empty(),
            "{args:?} printed {}",
            storebot_tests::stdout(&output)
        );
        serde_json::from_str(&storebot_tests::stderr(&output))
            .unwrap_or_else(|error| panic!("{args:?}: not one JSON object ({error})"))
    };
    let bad_rule = refusal(&[
        "segments",
        "create",
        "--name",
        "x",
        "--where",
        "order count >= 1 and\nin segment \"Stuff\"",
        "--json",
    ]);
    assert_eq!(bad_rule["error"]["code"], "rule");
    assert_eq!(
        bad_rule["error"]["problems"],
        serde_json::json!([{
            "line": 2,
            "column": 12,
            "message": "no segment is called \"Stuff\"; the closest is \"Staff\"",
        }])
    );
    let unknown = refusal(&["customers", "show", "nobody", "--json"]);
    assert_eq!(unknown["error"]["code"], "not_found");
    assert_eq!(
        unknown["error"]["message"],
        "customer `nobody` does not exist"
    );
    assert_eq!(unknown["error"]["problems"], serde_json::json!([]));
    assert_eq!(snapshot(&shop), before);
}
