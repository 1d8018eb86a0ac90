//! Telegram's size limits as plain numbers, shared by what validates text before it is stored
//! (`store`) and what sends it (`telegram`). Pure: no I/O.

/// The most characters one Telegram message holds.
pub const MAX_MESSAGE_LENGTH: usize = 4096;
