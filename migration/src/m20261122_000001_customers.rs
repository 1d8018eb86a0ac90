//! Shoppers, the merchant's registration questions, their answers, hand-set user groups and
//! each shopper's dialogue state.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum Customer {
    Table,
    Id,
    TelegramUserId,
    ChatId,
    FirstName,
    LastName,
    Username,
    LanguageCode,
    FirstInteractionAt,
    LastInteractionAt,
    RegisteredAt,
    MessagesOptOut,
    BlockedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Question {
    Table,
    Id,
    Position,
    Text,
    Kind,
    Required,
    Archived,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum AnswerOption {
    Table,
    Id,
    QuestionId,
    Position,
    Text,
    Archived,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerAnswer {
    Table,
    Id,
    CustomerId,
    QuestionId,
    OptionId,
    AnsweredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerGroup {
    Table,
    CustomerId,
    UserGroup,
}

#[derive(DeriveIden, Clone, Copy)]
enum DialogueState {
    Table,
    CustomerId,
    State,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customer::Table)
                    .col(big_pk_auto(Customer::Id))
                    .col(big_integer_uniq(Customer::TelegramUserId))
                    .col(big_integer(Customer::ChatId))
                    .col(string(Customer::FirstName))
                    .col(string_null(Customer::LastName))
                    .col(string_null(Customer::Username))
                    .col(string_null(Customer::LanguageCode))
                    .col(timestamp_with_time_zone(Customer::FirstInteractionAt))
                    .col(timestamp_with_time_zone(Customer::LastInteractionAt))
                    .col(timestamp_with_time_zone_null(Customer::RegisteredAt))
                    .col(boolean(Customer::MessagesOptOut).default(false))
                    .col(timestamp_with_time_zone_null(Customer::BlockedAt))
                    .to_owned(),
            )
            .await?;
        // Interaction-date rules filter on these.
        manager
            .create_index(index(
                Customer::Table,
                &[Customer::FirstInteractionAt],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                Customer::Table,
                &[Customer::LastInteractionAt],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Question::Table)
                    .col(big_pk_auto(Question::Id))
                    .col(integer(Question::Position))
                    .col(text(Question::Text))
                    .col(string_len(Question::Kind, 16))
                    .col(boolean(Question::Required).default(true))
                    .col(boolean(Question::Archived).default(false))
                    .col(timestamp_with_time_zone(Question::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AnswerOption::Table)
                    .col(big_pk_auto(AnswerOption::Id))
                    .col(big_integer(AnswerOption::QuestionId))
                    .col(integer(AnswerOption::Position))
                    .col(text(AnswerOption::Text))
                    .col(boolean(AnswerOption::Archived).default(false))
                    .foreign_key(&mut fk(
                        AnswerOption::Table,
                        AnswerOption::QuestionId,
                        Question::Table,
                        Question::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                AnswerOption::Table,
                &[AnswerOption::QuestionId, AnswerOption::Position],
                false,
            ))
            .await?;

        // One row per chosen option; a row with no option records that an optional question
        // was skipped, so it is not asked again.
        manager
            .create_table(
                Table::create()
                    .table(CustomerAnswer::Table)
                    .col(big_pk_auto(CustomerAnswer::Id))
                    .col(big_integer(CustomerAnswer::CustomerId))
                    .col(big_integer(CustomerAnswer::QuestionId))
                    .col(big_integer_null(CustomerAnswer::OptionId))
                    .col(timestamp_with_time_zone(CustomerAnswer::AnsweredAt))
                    .foreign_key(&mut fk(
                        CustomerAnswer::Table,
                        CustomerAnswer::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        CustomerAnswer::Table,
                        CustomerAnswer::QuestionId,
                        Question::Table,
                        Question::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        CustomerAnswer::Table,
                        CustomerAnswer::OptionId,
                        AnswerOption::Table,
                        AnswerOption::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                CustomerAnswer::Table,
                &[
                    CustomerAnswer::CustomerId,
                    CustomerAnswer::QuestionId,
                    CustomerAnswer::OptionId,
                ],
                true,
            ))
            .await?;
        // Answer rules select customers by option.
        manager
            .create_index(index(
                CustomerAnswer::Table,
                &[CustomerAnswer::OptionId, CustomerAnswer::CustomerId],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerGroup::Table)
                    .col(big_integer(CustomerGroup::CustomerId))
                    .col(string(CustomerGroup::UserGroup))
                    .primary_key(
                        Index::create()
                            .col(CustomerGroup::CustomerId)
                            .col(CustomerGroup::UserGroup),
                    )
                    .foreign_key(&mut fk(
                        CustomerGroup::Table,
                        CustomerGroup::CustomerId,
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
                    .table(DialogueState::Table)
                    .col(big_integer(DialogueState::CustomerId).primary_key())
                    .col(text(DialogueState::State))
                    .col(timestamp_with_time_zone(DialogueState::UpdatedAt))
                    .foreign_key(&mut fk(
                        DialogueState::Table,
                        DialogueState::CustomerId,
                        Customer::Table,
                        Customer::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DialogueState::Table.into_iden(),
            CustomerGroup::Table.into_iden(),
            CustomerAnswer::Table.into_iden(),
            AnswerOption::Table.into_iden(),
            Question::Table.into_iden(),
            Customer::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
