//! Payments in the chat: the invoice sent for an order awaiting payment (its opaque payload,
//! what it asks for, when it expires) and the payments Telegram reported, unique on Telegram's
//! charge id so that a payment delivered twice is recorded once.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invoice {
    Table,
    Id,
    OrderId,
    Payload,
    Provider,
    Currency,
    Amount,
    ExpiresAt,
    ChatId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payment {
    Table,
    Id,
    OrderId,
    TelegramChargeId,
    ProviderChargeId,
    Amount,
    Currency,
    PayerTelegramUserId,
    PaidAt,
    Late,
    AnnouncedAt,
    RefundedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invoice::Table)
                    .col(big_integer(Invoice::Id).primary_key().auto_increment())
                    .col(big_integer(Invoice::OrderId))
                    .col(string_len(Invoice::Payload, 64))
                    .col(string_len(Invoice::Provider, 16))
                    .col(string_len(Invoice::Currency, 8))
                    .col(big_integer(Invoice::Amount))
                    .col(timestamp_with_time_zone(Invoice::ExpiresAt))
                    .col(big_integer(Invoice::ChatId))
                    .col(timestamp_with_time_zone(Invoice::CreatedAt))
                    .foreign_key(&mut fk(
                        Invoice::Table,
                        Invoice::OrderId,
                        Orders::Table,
                        Orders::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Invoice::Table, &[Invoice::OrderId], true))
            .await?;
        manager
            .create_index(index(Invoice::Table, &[Invoice::Payload], true))
            .await?;
        manager
            .create_index(index(Invoice::Table, &[Invoice::ExpiresAt], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Payment::Table)
                    .col(big_integer(Payment::Id).primary_key().auto_increment())
                    .col(big_integer(Payment::OrderId))
                    .col(string_len(Payment::TelegramChargeId, 255))
                    .col(string_len(Payment::ProviderChargeId, 255))
                    .col(big_integer(Payment::Amount))
                    .col(string_len(Payment::Currency, 8))
                    .col(big_integer(Payment::PayerTelegramUserId))
                    .col(timestamp_with_time_zone(Payment::PaidAt))
                    .col(boolean(Payment::Late).default(false))
                    .col(timestamp_with_time_zone_null(Payment::AnnouncedAt))
                    .col(timestamp_with_time_zone_null(Payment::RefundedAt))
                    .foreign_key(&mut fk(
                        Payment::Table,
                        Payment::OrderId,
                        Orders::Table,
                        Orders::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(Payment::Table, &[Payment::TelegramChargeId], true))
            .await?;
        manager
            .create_index(index(Payment::Table, &[Payment::OrderId], false))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payment::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Invoice::Table).to_owned())
            .await
    }
}
