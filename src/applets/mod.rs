//! The built-in applets: pure folds of verified ops into state (see
//! [`crate::proto::oplog::fold::Applet`]). No IO, no clock, no randomness.
//!
//! * [`chat`]: room chat, durable.
//! * [`dm`]: direct messages: who wrote to whom (the text is sealed to the
//!   recipient inside the op and opened by the recipient alone).
//! * [`announce`]: announcements by topic, pinned by their authors.
//! * [`vote`]: polls, one changeable vote per node until the poll closes.
//! * [`queue`]: queues people join and their owners serve.
//! * [`lostfound`]: lost and found items, claimed and resolved.
//! * [`request`]: resource requests, claimed, fulfilled or cancelled.
//! * [`roster`]: invitations, revocations and kiosks.
//!
//! [`ids`] holds the rules for the ids people type, [`args`] the way
//! command arguments are written.

pub mod announce;
pub mod args;
pub mod chat;
pub mod dm;
pub mod ids;
pub mod lostfound;
pub mod queue;
pub mod request;
pub mod roster;
#[cfg(test)]
pub(crate) mod testkit;
pub mod vote;

use crate::proto::oplog::fold::Applet;

/// Every built-in applet, empty.
pub fn builtin() -> Vec<Box<dyn Applet>> {
    vec![Box::new(chat::Chat::default()), Box::new(dm::Dm::default())]
}
