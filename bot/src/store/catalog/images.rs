//! Product and variant photos: checking what the merchant gives (an `https://` URL, or a local
//! JPEG/PNG), and what Telegram made of each source: the `file_id` to send from the second
//! time on, or the refusal that makes the product show as text (kept, and listed by `lint`).
//!
//! A source is the text stored on the product or variant; one `image_file` row per source, so
//! two products with the same picture upload it once.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use storebot_entity::{image_file, product, variant};

use crate::store::StoreError;

/// What a shopper's screen can send for a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usable {
    /// Never sent yet: send the URL or upload the file.
    Fresh,
    /// Telegram's `file_id` from an earlier send.
    FileId(String),
    /// Telegram refused it: show the product as text.
    Refused,
}

/// How an image source reads for the bot: `https://…` is sent as a URL, anything else is a
/// local file's absolute path.
pub fn is_url(source: &str) -> bool {
    source.starts_with("https://")
}

/// Checks an image the merchant gives, returning what to store: an `https://` URL as it is, or
/// a local JPEG/PNG (relative paths taken from `base`) as its absolute path. `none` or an
/// empty text clears the image (`Ok(None)`).
pub fn check_source(given: &str, base: &Path) -> Result<Option<String>, StoreError> {
    let given = given.trim();
    if given.is_empty() || given.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if is_url(given) {
        if given.len() > 1000 || given.chars().any(char::is_whitespace) {
            return Err(StoreError::Invalid(format!(
                "the image URL `{given}` is not one URL"
            )));
        }
        return Ok(Some(given.to_owned()));
    }
    if given.contains("://") {
        return Err(StoreError::Invalid(format!(
            "the image `{given}` is neither an https:// URL nor a file"
        )));
    }
    let path = base.join(given);
    let path: PathBuf = std::fs::canonicalize(&path).map_err(|error| {
        StoreError::Invalid(format!(
            "can't read the image `{}`: {error}",
            path.display()
        ))
    })?;
    let mut head = [0u8; 8];
    let read = std::fs::File::open(&path)
        .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
        .map_err(|error| {
            StoreError::Invalid(format!(
                "can't read the image `{}`: {error}",
                path.display()
            ))
        })?;
    let head = &head[..read];
    let jpeg = head.starts_with(&[0xFF, 0xD8, 0xFF]);
    let png = head.starts_with(b"\x89PNG\r\n\x1a\n");
    if !jpeg && !png {
        return Err(StoreError::Invalid(format!(
            "the image `{}` is not a JPEG or PNG file",
            path.display()
        )));
    }
    let text = path.to_string_lossy().into_owned();
    if text.len() > 1000 {
        return Err(StoreError::Invalid(format!(
            "the image path `{text}` is longer than 1000 bytes"
        )));
    }
    Ok(Some(text))
}

/// What the shopper's screen may send for `source`.
pub async fn usable(db: &impl ConnectionTrait, source: &str) -> Result<Usable, StoreError> {
    let row = image_file::Entity::find()
        .filter(image_file::Column::Source.eq(source))
        .one(db)
        .await?;
    Ok(match row {
        Some(row) if row.error.is_some() => Usable::Refused,
        Some(row) => row.file_id.map_or(Usable::Fresh, Usable::FileId),
        None => Usable::Fresh,
    })
}

/// Records the `file_id` Telegram gave for `source` (clearing an earlier refusal: it worked).
pub async fn record_file_id(
    db: &impl ConnectionTrait,
    source: &str,
    file_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    upsert(db, source, Some(file_id), None, now).await
}

/// Records that Telegram refused `source`, with its words. Returns whether this is news (the
/// first refusal), so the caller logs it once.
pub async fn record_refusal(
    db: &impl ConnectionTrait,
    source: &str,
    error: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let known = matches!(usable(db, source).await?, Usable::Refused);
    upsert(db, source, None, Some(error), now).await?;
    Ok(!known)
}

async fn upsert(
    db: &impl ConnectionTrait,
    source: &str,
    file_id: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = image_file::ActiveModel {
        source: Set(source.to_owned()),
        file_id: Set(file_id.map(str::to_owned)),
        error: Set(error.map(str::to_owned)),
        failed_at: Set(error.map(|_| now)),
        updated_at: Set(now),
        ..Default::default()
    };
    image_file::Entity::insert(row)
        .on_conflict(
            OnConflict::column(image_file::Column::Source)
                .update_columns([
                    image_file::Column::FileId,
                    image_file::Column::Error,
                    image_file::Column::FailedAt,
                    image_file::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A product or variant whose image Telegram refused, for `lint`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefusedImage {
    /// `product 12` or `variant G-100`.
    pub owner: String,
    pub source: String,
    pub error: String,
}

/// Every product and variant whose image Telegram refused, products first.
pub async fn refused(db: &impl ConnectionTrait) -> Result<Vec<RefusedImage>, StoreError> {
    let failed: Vec<image_file::Model> = image_file::Entity::find()
        .filter(image_file::Column::Error.is_not_null())
        .all(db)
        .await?;
    let mut found = Vec::new();
    for image in failed {
        let error = image.error.clone().unwrap_or_default();
        for product in product::Entity::find()
            .filter(product::Column::Image.eq(image.source.as_str()))
            .all(db)
            .await?
        {
            found.push(RefusedImage {
                owner: format!("product {} ({})", product.id, product.title),
                source: image.source.clone(),
                error: error.clone(),
            });
        }
        for variant in variant::Entity::find()
            .filter(variant::Column::Image.eq(image.source.as_str()))
            .all(db)
            .await?
        {
            found.push(RefusedImage {
                owner: format!("variant {}", variant.sku),
                source: image.source.clone(),
                error: error.clone(),
            });
        }
    }
    found.sort_by(|a, b| a.owner.cmp(&b.owner));
    Ok(found)
}

/// Sets or clears a product's image (`None` clears).
pub async fn set_product_image(
    db: &impl ConnectionTrait,
    product_id: i64,
    image: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated = product::Entity::update_many()
        .col_expr(
            product::Column::Image,
            sea_orm::sea_query::Expr::value(image),
        )
        .col_expr(
            product::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(product::Column::Id.eq(product_id))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::not_found("product", product_id));
    }
    Ok(())
}

/// Sets or clears a variant's own image by SKU (`None` clears).
pub async fn set_variant_image(
    db: &impl ConnectionTrait,
    sku: &str,
    image: Option<String>,
) -> Result<(), StoreError> {
    let updated = variant::Entity::update_many()
        .col_expr(
            variant::Column::Image,
            sea_orm::sea_query::Expr::value(image),
        )
        .filter(variant::Column::Sku.eq(sku))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::not_found("variant", sku));
    }
    Ok(())
}
