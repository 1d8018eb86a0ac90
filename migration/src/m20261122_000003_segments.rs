//! Customer segments: their definition, materialised membership, manual overrides, the
//! membership ledger, which products and variants each segment may see, and the log of
//! recompute runs.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_customers::Customer;
use crate::m20261122_000002_catalog::{Product, Variant};
use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum Segment {
    Table,
    Id,
    Name,
    Description,
    Kind,
    Rule,
    Active,
    StartsAt,
    ExpiresAt,
    UserGroup,
    JoinMessage,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SegmentMember {
    Table,
    SegmentId,
    CustomerId,
    Source,
    Since,
}

#[derive(DeriveIden, Clone, Copy)]
enum SegmentOverride {
    Table,
    SegmentId,
    CustomerId,
    Mode,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MembershipEvent {
    Table,
    Id,
    SegmentId,
    CustomerId,
    Kind,
    Cause,
    RunId,
    At,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProductSegment {
    Table,
    ProductId,
    SegmentId,
}

#[derive(DeriveIden, Clone, Copy)]
enum VariantSegment {
    Table,
    VariantId,
    SegmentId,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecomputeRun {
    Table,
    Id,
    Trigger,
    StartedAt,
    FinishedAt,
    Segments,
    Joined,
    Left,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Segment::Table)
                    .col(big_pk_auto(Segment::Id))
                    .col(string_uniq(Segment::Name))
                    .col(text(Segment::Description).default(""))
                    .col(string_len(Segment::Kind, 16))
                    .col(text_null(Segment::Rule))
                    .col(boolean(Segment::Active).default(true))
                    .col(timestamp_with_time_zone_null(Segment::StartsAt))
                    .col(timestamp_with_time_zone_null(Segment::ExpiresAt))
                    .col(string_null(Segment::UserGroup))
                    .col(text_null(Segment::JoinMessage))
                    .col(timestamp_with_time_zone(Segment::CreatedAt))
                    .col(timestamp_with_time_zone(Segment::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SegmentMember::Table)
                    .col(big_integer(SegmentMember::SegmentId))
                    .col(big_integer(SegmentMember::CustomerId))
                    .col(string_len(SegmentMember::Source, 16))
                    .col(timestamp_with_time_zone(SegmentMember::Since))
                    .primary_key(
                        Index::create()
                            .col(SegmentMember::SegmentId)
                            .col(SegmentMember::CustomerId),
                    )
                    .foreign_key(&mut fk(
                        SegmentMember::Table,
                        SegmentMember::SegmentId,
                        Segment::Table,
                        Segment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        SegmentMember::Table,
                        SegmentMember::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // The primary key serves segment → members; this serves customer → segments.
        manager
            .create_index(index(
                SegmentMember::Table,
                &[SegmentMember::CustomerId, SegmentMember::SegmentId],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SegmentOverride::Table)
                    .col(big_integer(SegmentOverride::SegmentId))
                    .col(big_integer(SegmentOverride::CustomerId))
                    .col(string_len(SegmentOverride::Mode, 16))
                    .col(timestamp_with_time_zone(SegmentOverride::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(SegmentOverride::SegmentId)
                            .col(SegmentOverride::CustomerId),
                    )
                    .foreign_key(&mut fk(
                        SegmentOverride::Table,
                        SegmentOverride::SegmentId,
                        Segment::Table,
                        Segment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        SegmentOverride::Table,
                        SegmentOverride::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecomputeRun::Table)
                    .col(big_pk_auto(RecomputeRun::Id))
                    .col(string_len(RecomputeRun::Trigger, 16))
                    .col(timestamp_with_time_zone(RecomputeRun::StartedAt))
                    .col(timestamp_with_time_zone_null(RecomputeRun::FinishedAt))
                    .col(integer(RecomputeRun::Segments).default(0))
                    .col(integer(RecomputeRun::Joined).default(0))
                    .col(integer(RecomputeRun::Left).default(0))
                    .col(text_null(RecomputeRun::Error))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                RecomputeRun::Table,
                &[RecomputeRun::StartedAt],
                false,
            ))
            .await?;

        // The ledger keeps history even after a segment or customer is deleted, so it holds
        // plain ids rather than foreign keys that would cascade the history away.
        manager
            .create_table(
                Table::create()
                    .table(MembershipEvent::Table)
                    .col(big_pk_auto(MembershipEvent::Id))
                    .col(big_integer(MembershipEvent::SegmentId))
                    .col(big_integer(MembershipEvent::CustomerId))
                    .col(string_len(MembershipEvent::Kind, 16))
                    .col(string_len(MembershipEvent::Cause, 16))
                    .col(big_integer_null(MembershipEvent::RunId))
                    .col(timestamp_with_time_zone(MembershipEvent::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                MembershipEvent::Table,
                &[MembershipEvent::SegmentId, MembershipEvent::At],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                MembershipEvent::Table,
                &[MembershipEvent::CustomerId, MembershipEvent::At],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductSegment::Table)
                    .col(big_integer(ProductSegment::ProductId))
                    .col(big_integer(ProductSegment::SegmentId))
                    .primary_key(
                        Index::create()
                            .col(ProductSegment::ProductId)
                            .col(ProductSegment::SegmentId),
                    )
                    .foreign_key(&mut fk(
                        ProductSegment::Table,
                        ProductSegment::ProductId,
                        Product::Table,
                        Product::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ProductSegment::Table,
                        ProductSegment::SegmentId,
                        Segment::Table,
                        Segment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                ProductSegment::Table,
                &[ProductSegment::SegmentId],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VariantSegment::Table)
                    .col(big_integer(VariantSegment::VariantId))
                    .col(big_integer(VariantSegment::SegmentId))
                    .primary_key(
                        Index::create()
                            .col(VariantSegment::VariantId)
                            .col(VariantSegment::SegmentId),
                    )
                    .foreign_key(&mut fk(
                        VariantSegment::Table,
                        VariantSegment::VariantId,
                        Variant::Table,
                        Variant::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        VariantSegment::Table,
                        VariantSegment::SegmentId,
                        Segment::Table,
                        Segment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                VariantSegment::Table,
                &[VariantSegment::SegmentId],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            VariantSegment::Table.into_iden(),
            ProductSegment::Table.into_iden(),
            MembershipEvent::Table.into_iden(),
            RecomputeRun::Table.into_iden(),
            SegmentOverride::Table.into_iden(),
            SegmentMember::Table.into_iden(),
            Segment::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
