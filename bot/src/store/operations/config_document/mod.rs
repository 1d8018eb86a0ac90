//! The store's configuration as one document, for version control: questions, segments (with
//! rules written by name, not by database id), catalog availability and product segments
//! (categories and granted segments by name). `export` reads it from
//! the database; `apply` makes the database match it in one transaction, and a dry run is the
//! same apply rolled back, so the diff it prints is exactly what a real apply would do.
//!
//! Apply adds and updates; it never deletes. Questions and options missing from the document
//! are archived only when they are not used by a rule; segments missing from it are kept and
//! reported. This module must never write membership.
//!
//! `document` is the document's shape, `export` and `apply` its two directions (`catalog` the
//! apply of product segments, photos and availability; `progress` its count of items done, for
//! a progress bar), `names` the reading of documents whose rules were JSON with names.

mod apply;
mod catalog;
mod document;
mod export;
mod names;
mod progress;

pub use apply::{apply, apply_with_progress};
pub use document::{
    CouponConfig, ImageConfig, ProductAvailability, ProductSegmentConfig, QuestionConfig,
    SegmentConfig, StoreConfig, VariantAvailability,
};
pub use export::export;
pub use progress::ApplyProgress;

#[cfg(test)]
mod tests;
