//! Messages the bot sends on its own: join messages, broadcasts and service messages (an
//! order's updates), as `outbox_message` rows.
//!
//! A message exists iff what caused it committed (it is written in the same transaction);
//! never calls Telegram: the sender task in `telegram::outbox` claims and sends.

pub mod broadcasts;
pub mod joins;
pub mod outbox;
