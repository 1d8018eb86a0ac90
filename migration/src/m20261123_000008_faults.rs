//! The updates already handled, by Telegram's `update_id`, so that an update delivered twice
//! (a redelivery after a crash, or the same webhook post reaching two instances) is handled
//! once. Rows older than Telegram's redelivery window are pruned by the bot's job.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ProcessedUpdate {
    Table,
    UpdateId,
    ProcessedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcessedUpdate::Table)
                    .col(big_integer(ProcessedUpdate::UpdateId).primary_key())
                    .col(timestamp_with_time_zone(ProcessedUpdate::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                ProcessedUpdate::Table,
                &[ProcessedUpdate::ProcessedAt],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcessedUpdate::Table).to_owned())
            .await
    }
}
