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

/// A typed op of a built-in applet: which applet it belongs to and its
/// kind and encoded body. [`crate::Node::act`] publishes one, so library
/// users never encode bodies by hand.
pub trait AppletOp {
    /// The applet's name in ops.
    fn applet(&self) -> &'static str;
    /// The op's kind and encoded body.
    fn kind_and_body(&self) -> (u16, Vec<u8>);
}

macro_rules! applet_op {
    ($($module:ident :: $op:ident),* $(,)?) => {$(
        impl AppletOp for $module::$op {
            fn applet(&self) -> &'static str {
                $module::NAME
            }
            fn kind_and_body(&self) -> (u16, Vec<u8>) {
                self.body()
            }
        }
    )*};
}

applet_op!(
    announce::AnnounceOp,
    vote::VoteOp,
    queue::QueueOp,
    lostfound::LostFoundOp,
    request::RequestOp,
    roster::RosterOp,
);

/// Every built-in applet, empty.
pub fn builtin() -> Vec<Box<dyn Applet>> {
    vec![
        Box::new(chat::Chat::default()),
        Box::new(dm::Dm::default()),
        Box::new(announce::Announce::default()),
        Box::new(vote::Votes::default()),
        Box::new(queue::Queues::default()),
        Box::new(lostfound::LostFound::default()),
        Box::new(request::Requests::default()),
        Box::new(roster::Roster::default()),
    ]
}
