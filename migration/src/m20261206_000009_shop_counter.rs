//! Product photos: an optional image on a product and on a variant (an `https://` URL or the
//! path of a local JPEG/PNG), and `image_file`, what Telegram made of each image: the
//! `file_id` it returned on the first send (sent instead of the bytes or the URL from then
//! on), or why it refused the image (the product then shows as text, and `lint` lists it).
//! And the phone and address a shopper used last, offered at the next checkout until they
//! forget them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Product {
    Table,
    Image,
}

#[derive(DeriveIden, Clone, Copy)]
enum Variant {
    Table,
    Image,
}

#[derive(DeriveIden, Clone, Copy)]
enum Customer {
    Table,
    SavedPhone,
    SavedAddress,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImageFile {
    Table,
    Id,
    Source,
    FileId,
    Error,
    FailedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Product::Table)
                    .add_column(text_null(Product::Image))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Variant::Table)
                    .add_column(text_null(Variant::Image))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImageFile::Table)
                    .col(big_integer(ImageFile::Id).primary_key().auto_increment())
                    // A URL or a path, as stored on the product or variant.
                    .col(string_len(ImageFile::Source, 1000))
                    .col(string_len_null(ImageFile::FileId, 255))
                    .col(text_null(ImageFile::Error))
                    .col(timestamp_with_time_zone_null(ImageFile::FailedAt))
                    .col(timestamp_with_time_zone(ImageFile::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(ImageFile::Table, &[ImageFile::Source], true))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customer::Table)
                    .add_column(string_len_null(Customer::SavedPhone, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customer::Table)
                    .add_column(text_null(Customer::SavedAddress))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Customer::SavedAddress, Customer::SavedPhone] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Customer::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ImageFile::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Variant::Table)
                    .drop_column(Variant::Image)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Product::Table)
                    .drop_column(Product::Image)
                    .to_owned(),
            )
            .await
    }
}
