//! Coupons at checkout: a use counter on each coupon, so that the order's transaction can
//! claim a use with one conditional update, and which order lines each coupon discounted.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Coupon {
    Table,
    Id,
    UsedCount,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderItem {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum CouponRedemption {
    Table,
    OrderId,
    CouponId,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderItemDiscount {
    Table,
    OrderItemId,
    CouponId,
    Amount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Redemptions so far; `place` raises it only while it is below `usage_limit`.
        manager
            .alter_table(
                Table::alter()
                    .table(Coupon::Table)
                    .add_column(integer(Coupon::UsedCount).default(0))
                    .to_owned(),
            )
            .await?;
        // One redemption per coupon and order, whatever retries happen.
        manager
            .create_index(index(
                CouponRedemption::Table,
                &[CouponRedemption::OrderId, CouponRedemption::CouponId],
                true,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderItemDiscount::Table)
                    .col(big_integer(OrderItemDiscount::OrderItemId))
                    .col(big_integer(OrderItemDiscount::CouponId))
                    .col(big_integer(OrderItemDiscount::Amount))
                    .primary_key(
                        Index::create()
                            .col(OrderItemDiscount::OrderItemId)
                            .col(OrderItemDiscount::CouponId),
                    )
                    .check(Expr::col(OrderItemDiscount::Amount).gt(0))
                    .foreign_key(&mut fk(
                        OrderItemDiscount::Table,
                        OrderItemDiscount::OrderItemId,
                        OrderItem::Table,
                        OrderItem::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        OrderItemDiscount::Table,
                        OrderItemDiscount::CouponId,
                        Coupon::Table,
                        Coupon::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                OrderItemDiscount::Table,
                &[OrderItemDiscount::CouponId],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderItemDiscount::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_coupon_redemption_order_id_coupon_id")
                    .table(CouponRedemption::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Coupon::Table)
                    .drop_column(Coupon::UsedCount)
                    .to_owned(),
            )
            .await
    }
}
