//! The outbox: join messages and broadcasts waiting to be sent, being sent or done, and the
//! broadcasts the merchant started. Rows are written in the same transaction as what caused
//! them (a membership join, a broadcast) and the bot's sender works them off.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_customers::Customer;
use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Broadcast {
    Table,
    Id,
    SegmentId,
    SegmentName,
    Text,
    Recipients,
    SkippedOptOut,
    SkippedBlocked,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OutboxMessage {
    Table,
    Id,
    CustomerId,
    ChatId,
    Kind,
    SegmentId,
    BroadcastId,
    DedupeKey,
    Text,
    Button,
    State,
    Attempts,
    NextAttemptAt,
    ClaimedAt,
    SentAt,
    Error,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A broadcast keeps the segment's name, so its history reads well after the segment
        // is renamed or deleted.
        manager
            .create_table(
                Table::create()
                    .table(Broadcast::Table)
                    .col(big_pk_auto(Broadcast::Id))
                    .col(big_integer(Broadcast::SegmentId))
                    .col(string(Broadcast::SegmentName))
                    .col(text(Broadcast::Text))
                    .col(integer(Broadcast::Recipients).default(0))
                    .col(integer(Broadcast::SkippedOptOut).default(0))
                    .col(integer(Broadcast::SkippedBlocked).default(0))
                    .col(timestamp_with_time_zone(Broadcast::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessage::Table)
                    .col(big_pk_auto(OutboxMessage::Id))
                    .col(big_integer(OutboxMessage::CustomerId))
                    .col(big_integer(OutboxMessage::ChatId))
                    .col(string_len(OutboxMessage::Kind, 16))
                    .col(big_integer_null(OutboxMessage::SegmentId))
                    .col(big_integer_null(OutboxMessage::BroadcastId))
                    .col(string_uniq(OutboxMessage::DedupeKey))
                    .col(text(OutboxMessage::Text))
                    .col(string_null(OutboxMessage::Button))
                    .col(string_len(OutboxMessage::State, 16))
                    .col(integer(OutboxMessage::Attempts).default(0))
                    .col(timestamp_with_time_zone(OutboxMessage::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::ClaimedAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::SentAt))
                    .col(text_null(OutboxMessage::Error))
                    .col(timestamp_with_time_zone(OutboxMessage::CreatedAt))
                    .foreign_key(&mut fk(
                        OutboxMessage::Table,
                        OutboxMessage::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // The sender's question: what is due, oldest first.
        manager
            .create_index(index(
                OutboxMessage::Table,
                &[OutboxMessage::State, OutboxMessage::NextAttemptAt],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                OutboxMessage::Table,
                &[OutboxMessage::BroadcastId, OutboxMessage::State],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                OutboxMessage::Table,
                &[OutboxMessage::ChatId, OutboxMessage::ClaimedAt],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OutboxMessage::Table.into_iden(),
            Broadcast::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
