//! The end-to-end suite: the real binaries and the real database, SQLite by default and
//! PostgreSQL when `STOREBOT_TEST_DATABASE_URL` is set (`.ci/run` runs both).

// Everything in this crate is a test or a test's helper: a failed expectation should stop it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The Telegram adapter's edge through the real binary: server errors that are not JSON,
/// stickers and photos, presses in groups, a revoked token, unreadable updates, `/healthz` on a
/// database without its schema, start-up errors in one sentence.
mod adapter_faults;
/// storebot-admin through its flags: every command, each bad input changing nothing.
mod admin;
/// storebot-admin's segment engine, shopper insight and webhook commands through their flags.
mod admin_engine;
/// storebot-admin's top-level help: every command of every area, with its summary.
mod admin_help;
/// The rule language through the admin tool: --where, show, list, preview, explain, export/apply.
mod admin_language;
/// Progress bars of the members import, apply, backup and restore, at a terminal only.
mod admin_progress;
/// storebot-admin's wizards through a pseudo-terminal (tmux).
mod admin_wizards;
/// `bench_bot`'s command line: its usage, and a PostgreSQL base database it creates.
mod bench;
/// `storebot chat --demo` driven through piped standard input.
mod chat;
/// Coupons: the admin commands through their flags, and a redemption through the bot binary.
mod coupons;
/// Faults survived: the database down at start or gone mid-run (a TCP proxy cut and
/// restored), `getUpdates` refused or stalled.
mod faults;
/// Hostile shopper input through the real binary: odd texts, unknown commands, forged callbacks.
mod hostile;
/// The shopper's journey through the real binary: registration, catalog, search, cart,
/// checkout, orders; segments and forged buttons, duplicate confirms, restarts, late questions.
mod journey;
/// Join messages and broadcasts through the outbox: once per join, blocked and opted-out
/// shoppers skipped, the per-chat gap, a kill -9 mid-broadcast.
mod messages;
/// Schema migrations: up, down, up on a fresh database.
mod migrations;
/// Operations: backup and restore, the health report, secrets kept out of the logs.
mod ops;
/// An order after it is placed: the merchant's buttons and `/orders` in their chats, the
/// shopper's status messages, a shopper's own cancellation, the admin tool's status change.
mod order_updates;
/// Payments in the chat: invoices, pre-checkout refusals, a payment recorded once (twice
/// delivered, kill -9 before recording, two webhook instances), expiry, cancel, refunds.
mod payments;
/// Product photos: upload once then file_id, URL photos, a variant's own photo by segment,
/// photo/text screen changes, cut captions with Details, a refused image shown as text.
mod photos;
/// Product segments through storebot-admin, and a grant changing what the real bot shows.
mod product_segments;
/// `storebot-admin segments stats` on a shop with known numbers.
mod segment_stats;
/// Smaller things a new shopper notices: optional questions, numbered cart lines, sold out,
/// a cancelled checkout's buttons.
mod shopper_details;
/// Starting the binaries: configuration errors, database errors, the missing token.
mod startup;
/// The Telegram adapter: replies, splitting, edits, callback answers, flood control, webhook
/// mode, and the real binary against the fake Bot API.
mod telegram;
