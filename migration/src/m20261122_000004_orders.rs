//! Carts, orders and their items, and coupons with the segments or user groups they are for.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_customers::Customer;
use crate::m20261122_000002_catalog::{Product, Variant};
use crate::m20261122_000003_segments::Segment;
use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CartItem {
    Table,
    CustomerId,
    VariantId,
    Quantity,
    AddedAt,
}

/// `order` is a reserved word in SQL, so the table is `orders`.
#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    Id,
    CustomerId,
    Status,
    Total,
    DiscountTotal,
    Currency,
    PlacedAt,
    ContactPhone,
    Address,
    IdempotencyKey,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderItem {
    Table,
    Id,
    OrderId,
    VariantId,
    ProductId,
    Sku,
    Title,
    Quantity,
    UnitPrice,
    Discount,
}

#[derive(DeriveIden, Clone, Copy)]
enum Coupon {
    Table,
    Id,
    Code,
    Kind,
    Amount,
    StartsAt,
    EndsAt,
    UsageLimit,
    PerCustomerLimit,
    Active,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CouponSegment {
    Table,
    CouponId,
    SegmentId,
}

#[derive(DeriveIden, Clone, Copy)]
enum CouponUserGroup {
    Table,
    CouponId,
    UserGroup,
}

#[derive(DeriveIden, Clone, Copy)]
enum CouponRedemption {
    Table,
    Id,
    CouponId,
    OrderId,
    CustomerId,
    Discount,
    RedeemedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CartItem::Table)
                    .col(big_integer(CartItem::CustomerId))
                    .col(big_integer(CartItem::VariantId))
                    .col(integer(CartItem::Quantity))
                    .col(timestamp_with_time_zone(CartItem::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(CartItem::CustomerId)
                            .col(CartItem::VariantId),
                    )
                    .check(Expr::col(CartItem::Quantity).gt(0))
                    .foreign_key(&mut fk(
                        CartItem::Table,
                        CartItem::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        CartItem::Table,
                        CartItem::VariantId,
                        Variant::Table,
                        Variant::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(big_pk_auto(Orders::Id))
                    .col(big_integer(Orders::CustomerId))
                    .col(string_len(Orders::Status, 16))
                    .col(big_integer(Orders::Total))
                    .col(big_integer(Orders::DiscountTotal).default(0))
                    .col(string_len(Orders::Currency, 3))
                    .col(timestamp_with_time_zone(Orders::PlacedAt))
                    .col(string_null(Orders::ContactPhone))
                    .col(text_null(Orders::Address))
                    .col(string_len_uniq(Orders::IdempotencyKey, 64))
                    .check(Expr::col(Orders::Total).gte(0))
                    .foreign_key(&mut fk(
                        Orders::Table,
                        Orders::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // Check rules aggregate a customer's orders in a time frame; the order list pages by
        // customer and time.
        manager
            .create_index(index(
                Orders::Table,
                &[Orders::CustomerId, Orders::PlacedAt],
                false,
            ))
            .await?;
        manager
            .create_index(index(Orders::Table, &[Orders::PlacedAt], false))
            .await?;

        // Items keep their own copy of SKU, title and price: past orders never change when the
        // catalog does, and survive a variant being deleted.
        manager
            .create_table(
                Table::create()
                    .table(OrderItem::Table)
                    .col(big_pk_auto(OrderItem::Id))
                    .col(big_integer(OrderItem::OrderId))
                    .col(big_integer_null(OrderItem::VariantId))
                    .col(big_integer_null(OrderItem::ProductId))
                    .col(string(OrderItem::Sku))
                    .col(string(OrderItem::Title))
                    .col(integer(OrderItem::Quantity))
                    .col(big_integer(OrderItem::UnitPrice))
                    .col(big_integer(OrderItem::Discount).default(0))
                    .check(Expr::col(OrderItem::Quantity).gt(0))
                    .foreign_key(&mut fk(
                        OrderItem::Table,
                        OrderItem::OrderId,
                        Orders::Table,
                        Orders::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        OrderItem::Table,
                        OrderItem::VariantId,
                        Variant::Table,
                        Variant::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        OrderItem::Table,
                        OrderItem::ProductId,
                        Product::Table,
                        Product::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(OrderItem::Table, &[OrderItem::OrderId], false))
            .await?;
        // "Bought product / variant" rules.
        manager
            .create_index(index(OrderItem::Table, &[OrderItem::VariantId], false))
            .await?;
        manager
            .create_index(index(OrderItem::Table, &[OrderItem::ProductId], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Coupon::Table)
                    .col(big_pk_auto(Coupon::Id))
                    .col(string_uniq(Coupon::Code))
                    .col(string_len(Coupon::Kind, 16))
                    .col(big_integer(Coupon::Amount))
                    .col(timestamp_with_time_zone_null(Coupon::StartsAt))
                    .col(timestamp_with_time_zone_null(Coupon::EndsAt))
                    .col(integer_null(Coupon::UsageLimit))
                    .col(integer_null(Coupon::PerCustomerLimit))
                    .col(boolean(Coupon::Active).default(true))
                    .col(timestamp_with_time_zone(Coupon::CreatedAt))
                    .check(Expr::col(Coupon::Amount).gt(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CouponSegment::Table)
                    .col(big_integer(CouponSegment::CouponId))
                    .col(big_integer(CouponSegment::SegmentId))
                    .primary_key(
                        Index::create()
                            .col(CouponSegment::CouponId)
                            .col(CouponSegment::SegmentId),
                    )
                    .foreign_key(&mut fk(
                        CouponSegment::Table,
                        CouponSegment::CouponId,
                        Coupon::Table,
                        Coupon::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        CouponSegment::Table,
                        CouponSegment::SegmentId,
                        Segment::Table,
                        Segment::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CouponUserGroup::Table)
                    .col(big_integer(CouponUserGroup::CouponId))
                    .col(string(CouponUserGroup::UserGroup))
                    .primary_key(
                        Index::create()
                            .col(CouponUserGroup::CouponId)
                            .col(CouponUserGroup::UserGroup),
                    )
                    .foreign_key(&mut fk(
                        CouponUserGroup::Table,
                        CouponUserGroup::CouponId,
                        Coupon::Table,
                        Coupon::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CouponRedemption::Table)
                    .col(big_pk_auto(CouponRedemption::Id))
                    .col(big_integer(CouponRedemption::CouponId))
                    .col(big_integer(CouponRedemption::OrderId))
                    .col(big_integer(CouponRedemption::CustomerId))
                    .col(big_integer(CouponRedemption::Discount))
                    .col(timestamp_with_time_zone(CouponRedemption::RedeemedAt))
                    .foreign_key(&mut fk(
                        CouponRedemption::Table,
                        CouponRedemption::CouponId,
                        Coupon::Table,
                        Coupon::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        CouponRedemption::Table,
                        CouponRedemption::OrderId,
                        Orders::Table,
                        Orders::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        CouponRedemption::Table,
                        CouponRedemption::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                CouponRedemption::Table,
                &[CouponRedemption::CouponId, CouponRedemption::CustomerId],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CouponRedemption::Table.into_iden(),
            CouponUserGroup::Table.into_iden(),
            CouponSegment::Table.into_iden(),
            Coupon::Table.into_iden(),
            OrderItem::Table.into_iden(),
            Orders::Table.into_iden(),
            CartItem::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
