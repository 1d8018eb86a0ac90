//! Persistence: the only module that touches sea-orm.
//!
//! Each aggregate is a submodule of free functions taking `db: &impl ConnectionTrait` first,
//! so that callers compose several of them inside one transaction. Every database error is
//! mapped once, here, into [`StoreError`]; nothing above this module sees a `DbErr`.
//!
//! Writes that read first (check stock, then decrement) open their transaction with
//! [`begin_write`], which on SQLite takes the write lock at `BEGIN IMMEDIATE` so that two
//! writers never both read stale data and then fail to upgrade their lock.

mod database;
mod error;

pub mod answers;
pub mod arrival;
pub mod availability;
pub mod backup;
pub mod cart;
pub mod catalog;
pub mod catalog_admin;
pub mod coupons;
pub mod customers;
pub mod customers_admin;
pub mod demo;
pub mod dialogue;
pub mod lint;
pub mod orders;
pub mod orders_admin;
pub mod outbox;
pub mod processed_updates;
pub mod product_segments;
pub mod questions;
pub mod recompute;
pub mod schema_health;
pub mod segment_definitions;
pub mod segment_members;
pub mod segment_stats;
pub mod segments;
pub mod simulate;
pub mod store_config;

pub use database::{
    Backend, begin_write, connect, connect_and_migrate, connect_and_migrate_patiently, migrate,
    ping,
};
pub use error::StoreError;
pub use storebot_migration::known_migrations;

/// Re-exported so that callers can name connections and transactions without depending on
/// sea-orm themselves.
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
