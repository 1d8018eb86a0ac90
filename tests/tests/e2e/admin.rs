//! `storebot-admin` driven through its flags on a real database (SQLite, or PostgreSQL with
//! `STOREBOT_TEST_DATABASE_URL`): each command's happy path, and each bad input refused with
//! one sentence and a non-zero exit, leaving the store exactly as it was.

use std::path::Path;

use serde_json::Value;
use storebot::testing::TestDb;
use storebot_tests::admin::AdminTool;
use storebot_tests::{stderr, stdout};

/// A test database and the admin tool on it.
struct Shop {
    _test: TestDb,
    tool: AdminTool,
}

impl Shop {
    async fn new() -> Self {
        let test = TestDb::new().await.expect("test db");
        let tool = AdminTool::new(test.url());
        Self { _test: test, tool }
    }

    /// Runs a command that must fail with one sentence containing `expected` and change
    /// nothing.
    fn refused(&self, args: &[&str], expected: &str) {
        self.tool.refused(args, expected, snapshot);
    }

    /// Refused, having changed nothing; the whole message, for an exact comparison.
    fn refused_with(&self, args: &[&str]) -> String {
        self.tool.refused(args, "", snapshot)
    }
}

impl std::ops::Deref for Shop {
    type Target = AdminTool;

    fn deref(&self) -> &AdminTool {
        &self.tool
    }
}

/// Everything the admin tool can see, to compare before and after a refused command.
fn snapshot(tool: &AdminTool) -> Vec<Value> {
    [
        &["questions", "list", "--all"][..],
        &["catalog", "product", "list"],
        &["catalog", "category", "list"],
        &["segments", "list"],
        &["orders", "list"],
        &["customers", "list"],
    ]
    .iter()
    .map(|args| tool.json(args))
    .collect()
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

const CATALOG: &str = "sku,product,variant,price,stock,category,brand\n\
                       G-50,Green tea,50 g,4.50,10,Tea,Leafy\n\
                       G-100,Green tea,100 g,8.00,4,Tea,Leafy\n\
                       B-50,Black tea,50 g,3.99,0,Tea,\n";

#[tokio::test]
async fn questions_are_added_edited_moved_and_archived() {
    let shop = Shop::new().await;
    let added = shop.json(&[
        "questions",
        "add",
        "--text",
        "Pets?",
        "--option",
        "Cat",
        "--option",
        "Dog",
    ]);
    let pets = added["id"].as_i64().expect("id");
    let cat = added["options"][0]["id"].as_i64().expect("option id");
    shop.ok(&[
        "questions",
        "add",
        "--text",
        "Size?",
        "--kind",
        "multiple",
        "--optional",
        "--option",
        "S",
        "--option",
        "M",
    ]);
    let list = shop.json(&["questions", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert_eq!(list[1]["kind"], "multiple");
    assert_eq!(list[1]["required"], false);
    let table = shop.ok(&["questions", "list"]);
    assert!(
        table.contains("Pets?") && table.contains("1:Cat, 2:Dog"),
        "{table}"
    );

    shop.refused(&["questions", "add", "--option", "A"], "missing --text");
    shop.refused(
        &["questions", "add", "--text", "Colour?"],
        "missing --option",
    );
    shop.refused(
        &[
            "questions",
            "add",
            "--text",
            "Colour?",
            "--option",
            "Red",
            "--option",
            "red",
        ],
        "option `red` is given twice",
    );
    shop.refused(
        &["questions", "add", "--text", " ", "--option", "Red"],
        "the question text is empty",
    );
    shop.refused(
        &["questions", "move", "1", "--to", "3"],
        "position 3 is out of range",
    );
    shop.refused(
        &["questions", "edit", "99", "--text", "X"],
        "question 99 does not exist",
    );
    shop.refused(&["questions", "edit", "1"], "nothing to change");

    let moved = shop.json(&["questions", "move", &pets.to_string(), "--to", "2"]);
    assert_eq!(moved[1]["text"], "Pets?");
    shop.ok(&[
        "questions",
        "edit",
        &pets.to_string(),
        "--required",
        "no",
        "--text",
        "Any pets?",
    ]);
    shop.ok(&[
        "questions",
        "add-option",
        &pets.to_string(),
        "--text",
        "Fish",
    ]);
    shop.ok(&[
        "questions",
        "rename-option",
        &cat.to_string(),
        "--text",
        "Kitten",
    ]);
    let shown = shop.json(&["questions", "list"]);
    assert_eq!(shown[1]["text"], "Any pets?");
    assert_eq!(shown[1]["options"][0]["text"], "Kitten");
    assert_eq!(shown[1]["options"][2]["text"], "Fish");

    // A segment rule uses the option: archiving needs --force and names the segment.
    let rule = shop.write(
        "rule.json",
        &format!(
            r#"{{"version":1,"rule":{{"type":"answer","question":{pets},"options":[{cat}]}}}}"#
        ),
    );
    shop.ok(&[
        "segments",
        "create",
        "--name",
        "cat people",
        "--rule",
        &rule,
    ]);
    shop.refused(
        &["questions", "archive-option", &cat.to_string()],
        "used by the rule of segment `cat people`",
    );
    shop.refused(
        &["questions", "archive", &pets.to_string()],
        "archive it anyway with --force",
    );
    let output = shop.run(&["questions", "archive", &pets.to_string(), "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cat people"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        shop.json(&["questions", "list"]).as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn catalog_imports_all_or_nothing_and_updates_by_sku() {
    let shop = Shop::new().await;
    let file = shop.write("catalog.csv", CATALOG);
    let report = shop.json(&["catalog", "import", &file]);
    assert_eq!(report["products_created"], 2);
    assert_eq!(report["variants_created"], 3);

    let again = shop.write(
        "again.csv",
        "sku,product,variant,price,stock\nG-50,Green tea,50 g,5.00,10\n",
    );
    let report = shop.json(&["catalog", "import", &again]);
    assert_eq!(report["variants_created"], 0);
    assert_eq!(report["variants_updated"], 1);
    let products = shop.json(&["catalog", "product", "list"]);
    assert_eq!(products.as_array().map(Vec::len), Some(2));
    assert_eq!(products[1]["variants"][0]["price"], 500);

    let bad = shop.write(
        "bad.csv",
        "sku,product,variant,price,stock\nN-1,New tea,50 g,1.00,1\nN 2,New tea,50 g,1.00,1\nN-3,,x,abc,1\n",
    );
    let before = snapshot(&shop);
    let output = shop.run(&["catalog", "import", &bad]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(
        message.contains("line 3: SKU `N 2` contains a space") || message.contains("line 4"),
        "{message}"
    );
    assert!(message.contains("line 4: `product` is empty"), "{message}");
    assert_eq!(snapshot(&shop), before);

    shop.refused(
        &[
            "catalog",
            "import",
            &shop.write("typo.csv", "sku,prodcut\n"),
        ],
        "unknown column `prodcut`",
    );
    shop.refused(
        &[
            "catalog",
            "import",
            &shop.write(
                "dup.csv",
                "sku,product,variant,price,stock\nZ,P,v,1,1\nZ,P,v,1,1\n",
            ),
        ],
        "line 3: SKU `Z` already appears on line 2",
    );
    shop.refused(
        &["catalog", "import", &shop.write("x.json", "[\n{\"sku\":\"J\",\"product\":\"P\",\"variant\":\"v\",\"price\":\"1\",\"stock\":-1}\n]")],
        "line 2: the stock -1 is negative",
    );
    shop.refused(
        &["catalog", "import", &shop.write("x.txt", "")],
        "format `txt` is unknown",
    );

    let json = shop.write(
        "more.json",
        r#"[{"sku":"O-1","product":"Oolong","variant":"100 g","price":"9.50","stock":2,"category":"Rare tea"}]"#,
    );
    assert_eq!(
        shop.json(&["catalog", "import", &json])["categories_created"],
        1
    );

    let product = shop.json(&[
        "catalog",
        "product",
        "add",
        "--title",
        "Mug",
        "--category",
        "Things",
    ]);
    let id = product["id"].as_i64().expect("id").to_string();
    shop.ok(&[
        "catalog",
        "variant",
        "add",
        "--product",
        &id,
        "--sku",
        "MUG",
        "--title",
        "White",
        "--price",
        "12",
        "--stock",
        "3",
    ]);
    shop.refused(
        &[
            "catalog",
            "variant",
            "add",
            "--product",
            &id,
            "--sku",
            "MUG",
            "--title",
            "Black",
            "--price",
            "12",
        ],
        "SKU `MUG` is already used",
    );
    shop.refused(
        &["catalog", "variant", "edit", "MUG", "--price", "1.234"],
        "is not an amount like 12.50",
    );
    shop.refused(
        &["catalog", "variant", "edit", "NOPE", "--stock", "1"],
        "does not exist",
    );
    let edited = shop.json(&[
        "catalog", "variant", "edit", "MUG", "--stock", "7", "--active", "no",
    ]);
    assert_eq!(
        (edited["stock"].as_i64(), edited["active"].as_bool()),
        (Some(7), Some(false))
    );
    shop.ok(&["catalog", "category", "rename", "Things", "--to", "Gifts"]);
    shop.refused(
        &["catalog", "category", "add", "Gifts"],
        "category `Gifts` already exists",
    );
    let table = shop.ok(&["catalog", "product", "list", "--category", "Gifts"]);
    assert!(
        table.contains("Mug") && table.contains("12.00 EUR"),
        "{table}"
    );
}

#[tokio::test]
async fn availability_by_product_and_by_variant() {
    let shop = Shop::new().await;
    shop.ok(&["catalog", "import", &shop.write("catalog.csv", CATALOG)]);
    shop.ok(&["segments", "create", "--name", "vip", "--kind", "manual"]);
    shop.ok(&["segments", "create", "--name", "staff", "--kind", "manual"]);
    let green = shop.json(&["catalog", "product", "list"])[1]["id"]
        .as_i64()
        .expect("id")
        .to_string();

    let set = shop.json(&["availability", "set", &green, "--segment", "vip"]);
    assert_eq!(
        set["audience"]["segments"].as_array().map(Vec::len),
        Some(1)
    );
    let output = shop.run(&["availability", "set", &green, "--nobody"]);
    assert!(output.status.success());
    assert!(
        stderr(&output).contains("nobody can see it"),
        "{}",
        stderr(&output)
    );

    shop.refused(
        &["availability", "set", &green, "--segment", "ghosts"],
        "segment `ghosts` does not exist",
    );
    shop.refused(
        &["availability", "set", &green],
        "missing --all, --segment or --nobody",
    );
    shop.refused(
        &["availability", "variant", "G-50", "--all"],
        "not in by-variant mode",
    );

    shop.ok(&["availability", "set", &green, "--segment", "vip"]);
    let on = shop.json(&["availability", "by-variant", &green, "on"]);
    assert_eq!(on["by_variant"], true);
    let after = shop.json(&[
        "availability",
        "variant",
        "G-100",
        "--segment",
        "staff",
        "--segment",
        "vip",
    ]);
    assert_eq!(
        after["variants"][1]["audience"]["segments"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let table = shop.ok(&["availability", "show", &green]);
    assert!(table.contains("staff, vip"), "{table}");

    // The question names what each variant's audience becomes.
    let asked = shop.refused_with(&["availability", "by-variant", &green, "off"]);
    assert!(asked.contains("pass --yes to confirm"), "{asked}");
    assert!(
        asked.contains("`G-100`, now staff, vip only, becomes visible to vip only"),
        "{asked}"
    );
    let off = shop.json(&["availability", "by-variant", &green, "off", "--yes"]);
    assert_eq!(off["by_variant"], false);
    assert!(
        off["variants"]
            .as_array()
            .expect("variants")
            .iter()
            .all(|v| v["audience"] == "all_segments")
    );
}

#[tokio::test]
async fn segments_are_created_from_rule_files_and_deleted_with_care() {
    let shop = Shop::new().await;
    let question = shop.json(&["questions", "add", "--text", "Pets?", "--option", "Cat"]);
    let (q, o) = (
        question["id"].as_i64().expect("q"),
        question["options"][0]["id"].as_i64().expect("o"),
    );
    let good = shop.write(
        "good.json",
        &format!(r#"{{"version":1,"rule":{{"type":"all","rules":[{{"type":"answer","question":{q},"options":[{o}]}},{{"type":"last_interaction","when":{{"within_last_days":30}}}}]}}}}"#),
    );
    let created = shop.json(&[
        "segments",
        "create",
        "--name",
        "cats",
        "--rule",
        &good,
        "--user-group",
        "pets",
    ]);
    assert_eq!(created["kind"], "auto");

    shop.refused(
        &["segments", "create", "--name", "cats", "--kind", "manual"],
        "segment `cats` already exists",
    );
    shop.refused(
        &["segments", "create", "--name", "x", "--kind", "auto"],
        "missing --rule",
    );
    shop.refused(
        &["segments", "create", "--kind", "manual"],
        "missing --name",
    );
    let unknown = shop.write(
        "unknown.json",
        r#"{"version":1,"rule":{"type":"answer","question":99,"options":[1]}}"#,
    );
    shop.refused(
        &["segments", "create", "--name", "x", "--rule", &unknown],
        "question 99 does not exist",
    );
    let typo = shop.write(
        "typo.json",
        r#"{"version":1,"rule":{"type":"total_check","mni":5}}"#,
    );
    shop.refused(
        &["segments", "create", "--name", "x", "--rule", &typo],
        "unknown field `mni`",
    );
    let empty = shop.write(
        "empty.json",
        r#"{"version":1,"rule":{"type":"any","rules":[]}}"#,
    );
    shop.refused(
        &["segments", "create", "--name", "x", "--rule", &empty],
        "the `any` group is empty",
    );
    shop.refused(
        &[
            "segments",
            "create",
            "--name",
            "x",
            "--kind",
            "manual",
            "--starts",
            "2026-12-01",
            "--expires",
            "2026-11-01",
        ],
        "expire",
    );

    let cats_id = created["id"].as_i64().expect("id");
    let fans = shop.write(
        "fans.json",
        &format!(
            r#"{{"version":1,"rule":{{"type":"segment","segment":{cats_id},"member":true}}}}"#
        ),
    );
    let fans_id = shop.json(&["segments", "create", "--name", "fans", "--rule", &fans])["id"]
        .as_i64()
        .expect("id");
    let cycle = shop.write(
        "cycle.json",
        &format!(
            r#"{{"version":1,"rule":{{"type":"segment","segment":{fans_id},"member":true}}}}"#
        ),
    );
    shop.refused(&["segments", "edit", "cats", "--rule", &cycle], "cycle");
    shop.ok(&[
        "segments",
        "edit",
        "cats",
        "--description",
        "Cat owners",
        "--active",
        "no",
    ]);
    let list = shop.json(&["segments", "list"]);
    let cats = list
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["name"] == "cats")
        .expect("cats");
    assert_eq!(cats["in_force"], false);
    assert_eq!(cats["description"], "Cat owners");
    let shown = shop.ok(&["segments", "show", "cats"]);
    assert!(shown.contains("the rules of segments `fans`"), "{shown}");

    shop.refused(
        &["segments", "delete", "cats", "--yes", "--force"],
        "change those rules first",
    );
    shop.refused(&["segments", "delete", "fans"], "pass --yes to confirm");
    shop.ok(&["segments", "delete", "fans", "--yes"]);
    shop.ok(&["segments", "delete", "cats", "--yes"]);
    assert_eq!(shop.json(&["segments", "list"]), Value::Array(vec![]));
}

#[tokio::test]
async fn an_import_reports_every_problem_of_every_line_in_one_pass() {
    let shop = Shop::new().await;
    // A bad price used to hide the rest until it was fixed: the duplicate SKU, the negative
    // stock and the space in a SKU are all named in the first round.
    let catalog = shop.write(
        "bad.csv",
        "sku,product,variant,price,stock\n\
         A-1,Tea,50 g,abc,1\n\
         A-1,Tea,100 g,2.00,-3\n\
         B 2,Tea,200 g,1.00,1\n\
         C-3,,x,1.00,\n",
    );
    let message = shop.refused_with(&["catalog", "import", &catalog]);
    assert_eq!(
        message.trim_end(),
        "storebot-admin: 6 problems in the file, nothing was imported:\n  \
         line 2: `abc` is not an amount like 12.50\n  \
         line 3: the stock -3 is negative\n  \
         line 3: SKU `A-1` already appears on line 2\n  \
         line 4: SKU `B 2` contains a space\n  \
         line 5: `stock` is empty\n  \
         line 5: `product` is empty"
    );
    // Under --json, the same problems with their lines, for a script.
    let output = shop.run(&["--json", "catalog", "import", &catalog]);
    assert!(!output.status.success());
    let error: serde_json::Value = serde_json::from_str(&stderr(&output)).expect("one JSON object");
    assert_eq!(error["error"]["code"], "invalid");
    assert_eq!(
        error["error"]["message"],
        "6 problems in the file, nothing was imported:"
    );
    let lines: Vec<i64> = error["error"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|problem| problem["line"].as_i64())
        .collect();
    assert_eq!(lines, [2, 3, 3, 4, 5, 5]);

    shop.ok(&["catalog", "import", &shop.write("catalog.csv", CATALOG)]);
    shop.ok(&[
        "orders",
        "import",
        &shop.write(
            "old.csv",
            "order,customer,placed_at,status,sku,quantity,unit_price\nA1,5,2026-01-02,delivered,G-50,1,4.50\n",
        ),
    ]);
    // An unreadable date, an unknown SKU, a second row disagreeing on the customer, an order
    // imported before and a quantity of zero: one round names them all.
    let history = shop.write(
        "orders.csv",
        "order,customer,placed_at,status,sku,quantity,unit_price\n\
         B1,7,yesterday,paid,NOPE,1,1.00\n\
         B1,8,2026-01-03,paid,G-50,1,1.00\n\
         A1,5,2026-01-02,delivered,G-50,0,4.50\n",
    );
    let before = snapshot(&shop);
    let message = shop.refused_with(&["orders", "import", &history]);
    assert_eq!(snapshot(&shop), before);
    for expected in [
        "5 problems in the file, nothing was imported",
        "line 2: `yesterday` is not",
        "line 2: no variant has the SKU `NOPE`",
        "line 3: order `B1` has a different customer, time or status on line 2",
        "line 4: the quantity 0 is not positive",
        "line 4: order `A1` was already imported",
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
}

#[tokio::test]
async fn order_history_imports_and_customers_show_their_checks() {
    let shop = Shop::new().await;
    shop.ok(&["catalog", "import", &shop.write("catalog.csv", CATALOG)]);
    let history = shop.write(
        "orders.csv",
        "order,customer,name,placed_at,status,sku,quantity,unit_price\n\
         A1,555,Ann,2026-01-02,delivered,G-50,2,4.50\n\
         A1,555,Ann,2026-01-02,delivered,B-50,1,3.99\n\
         A2,555,Ann,2026-02-01T10:00:00Z,cancelled,G-100,1,8.00\n\
         B1,777,Bo,2026-03-01,paid,G-100,1,8.00\n",
    );
    let report = shop.json(&["orders", "import", &history]);
    assert_eq!(
        (
            report["orders"].as_i64(),
            report["items"].as_i64(),
            report["customers_created"].as_i64()
        ),
        (Some(3), Some(4), Some(2))
    );

    shop.refused(
        &["orders", "import", &history],
        "order `A1` was already imported",
    );
    shop.refused(
        &["orders", "import", &shop.write("bad.csv", "order,customer,placed_at,status,sku,quantity,unit_price\nC1,x,2026-13-01,lost,NOPE,0,1\n")],
        "line 2: `x` is not a Telegram user id",
    );
    shop.refused(
        &["orders", "import", &shop.write("bad2.csv", "order,customer,placed_at,status,sku,quantity,unit_price\nC1,9,2026-01-01,lost,NOPE,0,1\n")],
        "line 2: no variant has the SKU `NOPE`",
    );

    let ann = shop.json(&["customers", "show", "555"]);
    // The cancelled order does not count.
    assert_eq!(ann["orders"], 1);
    assert_eq!(ann["total_check"], 1299);
    assert_eq!(ann["first_interaction_at"], "2026-01-02T00:00:00Z");
    let found = shop.json(&["customers", "list", "--search", "bo"]);
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    shop.refused(
        &["customers", "show", "12345"],
        "customer `12345` does not exist",
    );

    let orders = shop.json(&["orders", "list", "--customer", "555"]);
    assert_eq!(orders.as_array().map(Vec::len), Some(2));
    let id = orders[0]["id"].as_i64().expect("id").to_string();
    shop.refused(
        &["orders", "status", &id, "lost"],
        "order status `lost` is unknown",
    );
    // The newest is the cancelled one: a final status, which no order leaves.
    shop.refused(
        &["orders", "status", &id, "paid"],
        "is `cancelled` and can't become `paid`: `cancelled` is final",
    );
    assert_eq!(
        shop.json(&["customers", "show", "555"])["total_check"],
        1299
    );
    // Bo's paid order cancelled: it stops counting towards his checks.
    assert_eq!(shop.json(&["customers", "show", "777"])["total_check"], 800);
    let bo = shop.json(&["orders", "list", "--customer", "777"]);
    let b1 = bo[0]["id"].as_i64().expect("id").to_string();
    shop.ok(&["orders", "status", &b1, "cancelled"]);
    assert_eq!(shop.json(&["customers", "show", "777"])["total_check"], 0);
    let paid = shop.json(&["orders", "list", "--status", "paid"]);
    assert_eq!(paid.as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn lint_reports_hidden_products_and_unused_segments() {
    let shop = Shop::new().await;
    assert!(shop.ok(&["lint"]).contains("every check passed"));
    shop.ok(&["catalog", "import", &shop.write("catalog.csv", CATALOG)]);
    shop.ok(&["segments", "create", "--name", "vip", "--kind", "manual"]);
    shop.ok(&[
        "segments",
        "create",
        "--name",
        "idle",
        "--kind",
        "manual",
        "--inactive",
    ]);
    let green = shop.json(&["catalog", "product", "list"])[1]["id"]
        .as_i64()
        .expect("id")
        .to_string();
    shop.ok(&[
        "availability",
        "set",
        &green,
        "--segment",
        "vip",
        "--segment",
        "idle",
    ]);
    let findings = shop.json(&["lint"]);
    let kinds: Vec<&str> = findings
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|finding| finding["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "hidden_product",
            "empty_segment",
            "grant_not_in_force",
            "empty_segment"
        ]
    );
    let table = shop.ok(&["lint"]);
    assert!(
        table.contains("product `Green tea` is visible to only `vip`, `idle`"),
        "{table}"
    );
    // --strict prints the same report and then fails, for CI.
    let strict = shop.run(&["lint", "--strict"]);
    assert!(!strict.status.success());
    assert!(stdout(&strict).contains("grant_not_in_force"));
    assert!(
        stderr(&strict).contains("lint found 4 problem(s)"),
        "{}",
        stderr(&strict)
    );
}

#[tokio::test]
async fn export_and_apply_round_trip_through_toml() {
    let shop = Shop::new().await;
    shop.ok(&["catalog", "import", &shop.write("catalog.csv", CATALOG)]);
    let file = shop.write(
        "store.toml",
        r#"
[[questions]]
text = "Pets?"
kind = "single"
required = true
options = ["Cat", "Dog"]

[[segments]]
name = "vip"
kind = "manual"

[[segments]]
name = "cats"
kind = "auto"
user_group = "pets"
rule = { type = "answer", question = "Pets?", options = ["Cat"] }

[[availability]]
product = "Green tea"
variants = [{ sku = "G-50", segments = ["cats", "vip"] }, { sku = "G-100" }]
"#,
    );
    let before = snapshot(&shop);
    let planned = shop.ok(&["apply", &file, "--dry-run"]);
    assert!(planned.contains("add question `Pets?`"), "{planned}");
    assert!(planned.contains("create auto segment `cats`"), "{planned}");
    assert!(
        planned.contains("turn by-variant on for `Green tea`"),
        "{planned}"
    );
    assert_eq!(snapshot(&shop), before, "a dry run changed the store");
    // Without --yes (and no terminal) apply shows the plan, then refuses to go on.
    let unconfirmed = shop.run(&["apply", &file]);
    assert!(!unconfirmed.status.success());
    assert!(
        stderr(&unconfirmed).contains("pass --yes to confirm"),
        "{}",
        stderr(&unconfirmed)
    );
    assert_eq!(
        snapshot(&shop),
        before,
        "an unconfirmed apply changed the store"
    );

    let applied = shop.json(&["apply", &file, "--yes"]);
    assert_eq!(applied["applied"], true);
    let exported = shop.dir().join("exported.toml");
    shop.ok(&["export", "-o", &path_text(&exported)]);
    let again = shop.ok(&["apply", &path_text(&exported)]);
    assert!(again.contains("Nothing to change"), "{again}");
    let text = std::fs::read_to_string(&exported).expect("exported");
    // The rule is exported in words, and the apply above read it back unchanged.
    assert!(text.contains(r#"answer "Pets?" is "Cat""#), "{text}");

    let bad = shop.write(
        "bad.toml",
        "[[segments]]\nname = \"dogs\"\nkind = \"auto\"\nrule = { type = \"answer\", question = \"Pets?\", options = [\"Parrot\"] }\n",
    );
    shop.refused(
        &["apply", &bad, "--yes"],
        "question `Pets?` has no option `Parrot`",
    );
    shop.refused(
        &[
            "apply",
            &shop.write("typo.toml", "[[segmnts]]\nname = \"x\"\n"),
            "--yes",
        ],
        "unknown field `segmnts`",
    );
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let shop = Shop::new().await;
    shop.ok(&["migrate"]);
    // The reading end is closed before the tool starts, as `head` does once it has its lines:
    // the tool's first line meets a broken pipe.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = storebot_tests::command("storebot-admin", shop.dir())
        .env("STOREBOT_DATABASE__URL", shop.url())
        .args(["questions", "list"])
        .stdout(writer)
        .output()
        .expect("runs");
    let message = stderr(&output);
    assert!(!message.contains("panicked"), "{message}");
    assert!(!message.contains("Broken pipe"), "{message}");
    assert!(output.status.success(), "{:?}: {message}", output.status);
}

#[tokio::test]
async fn configuration_mistakes_are_named_plainly_at_start() {
    let shop = Shop::new().await;
    let refused = |args: &[&str], env: &[(&str, &str)]| {
        let output = shop.run_with(args, env);
        assert!(!output.status.success(), "{args:?} {env:?} succeeded");
        assert!(stdout(&output).is_empty(), "{}", stdout(&output));
        let message = stderr(&output);
        assert!(!message.contains("panicked"), "{message}");
        assert_eq!(
            message.trim_end().lines().count(),
            1,
            "one sentence: {message}"
        );
        message
    };

    // A currency ISO 4217 does not know, or no longer uses, is refused before anything runs.
    let message = refused(
        &["questions", "list"],
        &[("STOREBOT_STORE__CURRENCY", "EUX")],
    );
    assert!(
        message.contains("store.currency `EUX` is not an ISO 4217 currency code"),
        "{message}"
    );
    let message = refused(
        &["questions", "list"],
        &[("STOREBOT_STORE__CURRENCY", "HRK")],
    );
    assert!(message.contains("EUR replaced it"), "{message}");

    // A missing --config file is named once.
    let missing = shop.dir().join("nowhere.toml");
    let missing = missing.to_str().expect("UTF-8 path");
    let message = refused(&["--config", missing, "questions", "list"], &[]);
    assert_eq!(message.matches(missing).count(), 1, "{message}");

    // A PostgreSQL password is shown as *** (not percent-encoded brackets), never itself.
    let message = refused(
        &["questions", "list"],
        &[(
            "STOREBOT_DATABASE__URL",
            "postgres://shop:hunter2@127.0.0.1:1/shop",
        )],
    );
    assert!(
        message.contains("postgres://shop:***@127.0.0.1:1/shop"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");

    // A SQLite file that does not exist is not silently created: the refusal says what to add.
    let new_db = shop.dir().join("new.db");
    let new_db = new_db.to_str().expect("UTF-8 path");
    let message = refused(
        &["questions", "list"],
        &[("STOREBOT_DATABASE__URL", &format!("sqlite:{new_db}"))],
    );
    assert!(
        message.contains(&format!(
            "the SQLite database file {new_db} does not exist: to create it, end the URL with ?mode=rwc"
        )),
        "{message}"
    );
    assert!(!Path::new(new_db).exists());
    // With ?mode=rwc it is created.
    let created = shop.run_with(
        &["questions", "list"],
        &[(
            "STOREBOT_DATABASE__URL",
            &format!("sqlite://{new_db}?mode=rwc"),
        )],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(Path::new(new_db).exists());
}

#[tokio::test]
async fn long_lists_show_a_first_page_and_say_how_many_more() {
    let shop = Shop::new().await;
    shop.ok(&["catalog", "import", &shop.write("catalog.csv", CATALOG)]);
    shop.ok(&[
        "orders",
        "import",
        &shop.write(
            "orders.csv",
            "order,customer,name,placed_at,status,sku,quantity,unit_price\n\
             A1,555,Ann,2026-01-02,delivered,G-50,1,4.50\n\
             B1,777,Bo,2026-01-03,delivered,G-50,1,4.50\n\
             C1,999,Cy,2026-01-04,delivered,G-50,1,4.50\n",
        ),
    ]);
    shop.ok(&["segments", "create", "--name", "vip", "--kind", "manual"]);
    for customer in ["555", "777", "999"] {
        shop.ok(&["segments", "members", "vip", "--add", customer]);
    }

    for (args, more) in [
        (
            &["catalog", "product", "list", "--limit", "1"][..],
            "… and 1 more products (1 of 2 shown)",
        ),
        (
            &["customers", "list", "--limit", "2"],
            "… and 1 more customers (2 of 3 shown)",
        ),
        (
            &["segments", "members", "vip", "--limit", "1"],
            "… and 2 more members (1 of 3 shown)",
        ),
    ] {
        let page = shop.ok(args);
        assert!(page.contains(more), "{args:?}: {page}");
        assert!(
            page.contains("--limit N for more, --all for every one"),
            "{page}"
        );
        // --all shows every one, and nothing is left to mention.
        let mut all: Vec<&str> = args[..args.len() - 2].to_vec();
        all.push("--all");
        let whole = shop.ok(&all);
        assert!(!whole.contains("more"), "{all:?}: {whole}");
    }
    // Without --limit, the first 50: three customers are all shown.
    let listed = shop.ok(&["customers", "list"]);
    assert!(
        ["Ann", "Bo", "Cy"].iter().all(|name| listed.contains(name)),
        "{listed}"
    );
    assert!(!listed.contains("more"), "{listed}");
    // Under --json the members are all listed whatever the page.
    let members = shop.json(&["segments", "members", "vip", "--limit", "1"]);
    assert_eq!(members["members"].as_array().map(Vec::len), Some(3));
}
