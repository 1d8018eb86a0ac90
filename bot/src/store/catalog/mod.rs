//! The catalog: categories, products and variants, who may see them, and the merchant's edits.
//!
//! Serving (`browse`) always filters by the SQL visibility condition `browse::visible_to`; the
//! merchant's side (`admin`, `availability`, `product_segments`, `simulate`, reading the pure
//! rule's facts from `access`) sees everything. Never writes segment membership or orders.

pub mod access;
pub mod availability;
pub mod browse;
pub mod editing;
pub mod images;
pub mod import;
pub mod lookup;
pub mod product_segments;
pub mod simulate;
