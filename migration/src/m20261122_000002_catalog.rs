//! The catalog: categories, products and their variants. Prices are integer minor units.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum Category {
    Table,
    Id,
    Name,
    Position,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Product {
    Table,
    Id,
    Title,
    Description,
    CategoryId,
    Brand,
    Active,
    AllSegments,
    ByVariant,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Variant {
    Table,
    Id,
    ProductId,
    Sku,
    Title,
    Price,
    Stock,
    Active,
    AllSegments,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Category::Table)
                    .col(big_pk_auto(Category::Id))
                    .col(string_uniq(Category::Name))
                    .col(integer(Category::Position).default(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Product::Table)
                    .col(big_pk_auto(Product::Id))
                    .col(string(Product::Title))
                    .col(text(Product::Description).default(""))
                    .col(big_integer_null(Product::CategoryId))
                    .col(string_null(Product::Brand))
                    .col(boolean(Product::Active).default(true))
                    .col(boolean(Product::AllSegments).default(true))
                    .col(boolean(Product::ByVariant).default(false))
                    .col(timestamp_with_time_zone(Product::CreatedAt))
                    .col(timestamp_with_time_zone(Product::UpdatedAt))
                    .foreign_key(&mut fk(
                        Product::Table,
                        Product::CategoryId,
                        Category::Table,
                        Category::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Product::Table, &[Product::CategoryId], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Variant::Table)
                    .col(big_pk_auto(Variant::Id))
                    .col(big_integer(Variant::ProductId))
                    .col(string_uniq(Variant::Sku))
                    .col(string(Variant::Title))
                    .col(big_integer(Variant::Price))
                    .col(integer(Variant::Stock).default(0))
                    .col(boolean(Variant::Active).default(true))
                    .col(boolean(Variant::AllSegments).default(true))
                    .check(Expr::col(Variant::Price).gte(0))
                    .check(Expr::col(Variant::Stock).gte(0))
                    .foreign_key(&mut fk(
                        Variant::Table,
                        Variant::ProductId,
                        Product::Table,
                        Product::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Variant::Table, &[Variant::ProductId], false))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Variant::Table.into_iden(),
            Product::Table.into_iden(),
            Category::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
