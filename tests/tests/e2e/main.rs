//! The end-to-end suite: the real binaries and the real database, SQLite by default and
//! PostgreSQL when `STOREBOT_TEST_DATABASE_URL` is set (`.ci/run` runs both).

// Everything in this crate is a test or a test's helper: a failed expectation should stop it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// storebot-admin through its flags: every command, each bad input changing nothing.
mod admin;
/// storebot-admin's segment engine, shopper insight and webhook commands through their flags.
mod admin_engine;
/// storebot-admin's wizards through a pseudo-terminal (tmux).
mod admin_wizards;
/// `storebot chat --demo` driven through piped standard input.
mod chat;
/// Hostile shopper input through the real binary: odd texts, unknown commands, forged callbacks.
mod hostile;
/// The shopper's journey through the real binary: registration, catalog, search, cart,
/// checkout, orders; segments and forged buttons, duplicate confirms, restarts, late questions.
mod journey;
/// Schema migrations: up, down, up on a fresh database.
mod migrations;
/// Operations: backup and restore, the health report, secrets kept out of the logs.
mod ops;
/// Starting the binaries: configuration errors, database errors, the missing token.
mod startup;
/// The Telegram adapter: replies, splitting, edits, callback answers, flood control, webhook
/// mode, and the real binary against the fake Bot API.
mod telegram;
