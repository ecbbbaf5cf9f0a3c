//! The built-in applets: pure folds of verified ops into state (see
//! [`crate::proto::oplog::fold::Applet`]). No IO, no clock, no randomness.
//!
//! * [`chat`]: room chat, durable.
//! * [`dm`]: direct messages: who wrote to whom (the text is sealed to the
//!   recipient inside the op and opened by the recipient alone).

pub mod chat;
pub mod dm;

use crate::proto::oplog::fold::Applet;

/// Every built-in applet, empty.
pub fn builtin() -> Vec<Box<dyn Applet>> {
    vec![Box::new(chat::Chat::default()), Box::new(dm::Dm::default())]
}
