//! Shoppers: who they are, when they talk to the bot, what they answered and where they are
//! in the dialogue.
//!
//! Owns the `customer`, `customer_answer`, `dialogue_state` and `processed_update` tables and
//! the registration questions (`question`, `answer_option`). Never decides segment membership:
//! it reads the segments in force through `membership`.

pub mod answers;
pub mod arrival;
pub mod customers;
pub mod dialogue;
pub mod processed_updates;
pub mod questions;
pub mod records;
