//! Running the store: the connection and migrations, backup and restore, export/apply of the
//! store's configuration, the health report (lint) and the demo shop.
//!
//! These compose the other domains' functions; none of them is called by the shopper dialogue.

pub mod backup;
pub mod config_document;
pub(crate) mod database;
pub mod demo;
pub mod lint;
pub mod schema_health;
