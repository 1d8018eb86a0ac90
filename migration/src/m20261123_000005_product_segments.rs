//! Product segments: named rules over the catalog (`catalog_segment`) and the customer
//! segments granted them (`catalog_segment_grant`).
//!
//! Naming: `product_segment` / `variant_segment` already hold the visibility grants of single
//! products and variants, so the merchant's "product segment" lives in `catalog_segment`.
//! `rule` is the merchant's JSON; the `rule_*` columns are the same rule in the form SQL
//! compares against the catalog, always written together with `rule`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::fk;
use crate::m20261122_000003_segments::Segment;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CatalogSegment {
    Table,
    Id,
    Name,
    Description,
    Rule,
    RuleCategories,
    RuleBrands,
    RulePriceMin,
    RulePriceMax,
    RuleContains,
    RuleInStock,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CatalogSegmentGrant {
    Table,
    SegmentId,
    CatalogSegmentId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogSegment::Table)
                    .col(big_pk_auto(CatalogSegment::Id))
                    .col(string_uniq(CatalogSegment::Name))
                    .col(text(CatalogSegment::Description))
                    .col(text(CatalogSegment::Rule))
                    .col(text_null(CatalogSegment::RuleCategories))
                    .col(text_null(CatalogSegment::RuleBrands))
                    .col(big_integer_null(CatalogSegment::RulePriceMin))
                    .col(big_integer_null(CatalogSegment::RulePriceMax))
                    .col(text_null(CatalogSegment::RuleContains))
                    .col(boolean(CatalogSegment::RuleInStock))
                    .col(timestamp_with_time_zone(CatalogSegment::CreatedAt))
                    .col(timestamp_with_time_zone(CatalogSegment::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CatalogSegmentGrant::Table)
                    .col(big_integer(CatalogSegmentGrant::SegmentId))
                    .col(big_integer(CatalogSegmentGrant::CatalogSegmentId))
                    .primary_key(
                        Index::create()
                            .col(CatalogSegmentGrant::SegmentId)
                            .col(CatalogSegmentGrant::CatalogSegmentId),
                    )
                    .foreign_key(&mut fk(
                        CatalogSegmentGrant::Table,
                        CatalogSegmentGrant::SegmentId,
                        Segment::Table,
                        Segment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        CatalogSegmentGrant::Table,
                        CatalogSegmentGrant::CatalogSegmentId,
                        CatalogSegment::Table,
                        CatalogSegment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // "See uses" and delete look grants up by product segment.
        manager
            .create_index(crate::index(
                CatalogSegmentGrant::Table,
                &[CatalogSegmentGrant::CatalogSegmentId],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CatalogSegmentGrant::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CatalogSegment::Table).to_owned())
            .await
    }
}
