//! The storebot database schema as sea-orm migrations, oldest first.
//!
//! Every migration has an `up` and a `down`, and a test runs up, down, up on SQLite and
//! PostgreSQL. Migrations only create and change schema: they hold no business logic and
//! insert no shop data. Once a migration has shipped it is never edited; changes go in a new
//! one appended to [`Migrator::migrations`].

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_customers;
mod m20261122_000002_catalog;
mod m20261122_000003_segments;
mod m20261122_000004_orders;
mod m20261123_000005_product_segments;
mod m20261123_000006_coupons;
mod m20261123_000007_outbox;
mod m20261123_000008_faults;
mod m20261206_000009_shop_counter;
mod m20261206_000010_payments;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_customers::Migration),
            Box::new(m20261122_000002_catalog::Migration),
            Box::new(m20261122_000003_segments::Migration),
            Box::new(m20261122_000004_orders::Migration),
            Box::new(m20261123_000005_product_segments::Migration),
            Box::new(m20261123_000006_coupons::Migration),
            Box::new(m20261123_000007_outbox::Migration),
            Box::new(m20261123_000008_faults::Migration),
            Box::new(m20261206_000009_shop_counter::Migration),
            Box::new(m20261206_000010_payments::Migration),
        ]
    }
}

/// The names of every migration this binary knows, oldest first.
pub fn known_migrations() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect()
}

/// A foreign key from `from.column` to `to.id`, named after the two tables.
pub(crate) fn fk(
    from: impl IntoIden + Clone + 'static,
    column: impl IntoIden + 'static,
    to: impl IntoIden + Clone + 'static,
    to_id: impl IntoIden + 'static,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let from_name = from.clone().into_iden().to_string();
    let to_name = to.clone().into_iden().to_string();
    let column = column.into_iden();
    ForeignKey::create()
        .name(format!("fk_{from_name}_{column}_{to_name}"))
        .from(from, column)
        .to(to, to_id)
        .on_delete(on_delete)
        .to_owned()
}

/// A (possibly unique) index on `table(columns...)`, named after them.
pub(crate) fn index<T, C>(table: T, columns: &[C], unique: bool) -> IndexCreateStatement
where
    T: IntoIden + Clone + 'static,
    C: IntoIden + Clone + 'static,
{
    let table_name = table.clone().into_iden().to_string();
    let column_names: Vec<String> = columns
        .iter()
        .map(|column| column.clone().into_iden().to_string())
        .collect();
    let mut statement = Index::create()
        .name(format!(
            "{}_{table_name}_{}",
            if unique { "ux" } else { "ix" },
            column_names.join("_")
        ))
        .table(table)
        .to_owned();
    for column in columns {
        statement.col(column.clone());
    }
    if unique {
        statement.unique();
    }
    statement
}
