//! Segment membership: segment definitions, the full recompute and one shopper's refresh,
//! manual members and overrides, the ledger, preview/diff/explain, user groups and statistics.
//!
//! Owns `segment`, `segment_member`, `segment_override`, `membership_event`, `customer_group`
//! and `recompute_run`. Every membership change writes its ledger row in the same transaction;
//! the recompute removes only members whose source is `rule`.

pub mod definitions;
pub mod explain;
pub mod facts;
pub mod in_force;
pub mod ledger;
pub mod lookup;
pub mod manual;
pub mod names;
pub mod preview;
pub mod recompute;
pub mod refresh;
pub mod roster;
pub mod rules;
pub mod runs;
pub mod stats;
pub mod user_groups;

#[cfg(test)]
mod tests;
