//! Persistence: the only module that touches sea-orm.
//!
//! Each aggregate is a submodule of free functions taking `db: &impl ConnectionTrait` first,
//! so that callers compose several of them inside one transaction. Every database error is
//! mapped once, here, into [`StoreError`]; nothing above this module sees a `DbErr`.
//!
//! Writes that read first (check stock, then decrement) open their transaction with
//! [`begin_write`], which on SQLite takes the write lock at `BEGIN IMMEDIATE` so that two
//! writers never both read stale data and then fail to upgrade their lock.

mod bulk;
mod error;

pub mod catalog;
pub mod membership;
pub mod messaging;
pub mod operations;
pub mod orders;
pub mod shoppers;

pub use error::{DatabaseError, StoreError};
pub use operations::database::{
    Backend, begin_write, connect, connect_and_migrate, connect_and_migrate_patiently, migrate,
    ping,
};
pub use storebot_migration::known_migrations;

/// Re-exported so that callers can name connections and transactions without depending on
/// sea-orm themselves.
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
