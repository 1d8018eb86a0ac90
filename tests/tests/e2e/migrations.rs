use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use storebot::testing::TestDb;
use storebot_migration::{Migrator, MigratorTrait};

async fn table_names(db: &impl ConnectionTrait) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> 'seaql_migrations' ORDER BY name"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations' \
             ORDER BY table_name"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("list tables")
        .into_iter()
        .map(|row| row.try_get::<String>("", "name").expect("name"))
        .collect()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let test = TestDb::new().await.expect("test db");
    let created = table_names(&test.db).await;
    for table in [
        "customer",
        "question",
        "answer_option",
        "customer_answer",
        "category",
        "product",
        "variant",
        "product_segment",
        "variant_segment",
        "segment",
        "segment_member",
        "membership_event",
        "cart_item",
        "orders",
        "order_item",
        "recompute_run",
        "dialogue_state",
        "coupon",
    ] {
        assert!(
            created.contains(&table.to_owned()),
            "{table} missing: {created:?}"
        );
    }

    // Each direction on one connection, in one transaction, as `store::migrate` runs them: on
    // a pool, a statement could run on a connection whose SQLite read snapshot predates the
    // previous step, and see tables that are already gone.
    let txn = test.db.begin().await.expect("begin");
    Migrator::down(&txn, None).await.expect("down");
    assert_eq!(table_names(&txn).await, Vec::<String>::new());
    txn.commit().await.expect("commit down");

    let txn = test.db.begin().await.expect("begin");
    Migrator::up(&txn, None).await.expect("up again");
    txn.commit().await.expect("commit up");
    assert_eq!(table_names(&test.db).await, created);
}

#[tokio::test]
async fn migrating_an_up_to_date_database_changes_nothing() {
    let test = TestDb::new().await.expect("test db");
    let before = table_names(&test.db).await;
    storebot::store::migrate(&test.db)
        .await
        .expect("second migrate");
    assert_eq!(table_names(&test.db).await, before);
}

#[tokio::test]
async fn concurrent_migrations_of_a_fresh_database_both_succeed() {
    let test = TestDb::new().await.expect("test db");
    Migrator::down(&test.db, None).await.expect("down");
    let a = storebot::store::connect(&test.settings).await.expect("a");
    let b = storebot::store::connect(&test.settings).await.expect("b");
    let (ra, rb) = tokio::join!(storebot::store::migrate(&a), storebot::store::migrate(&b));
    ra.expect("first migrator");
    rb.expect("second migrator");
    assert!(table_names(&test.db).await.contains(&"customer".to_owned()));
}
