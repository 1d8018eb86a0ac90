//! storebot: a Telegram store-bot with customer segmentation.
//!
//! The modules import one way (see ARCHITECTURE.md): `catalog` (pure visibility rules) ←
//! `store` (the only module that touches sea-orm). The binary in `main.rs` only parses
//! arguments, loads settings and calls into this library.

pub mod catalog;
pub mod segments;
pub mod store;
pub mod telemetry;
pub mod testing;

pub use storebot_config::Settings;
