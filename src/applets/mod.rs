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
//! [`BUILTIN`] registers each of them once (constructor, line-client
//! commands, simulated ops); [`body`] generates an applet's typed ops and
//! their encoding from one table ([`applet_ops!`](crate::applet_ops)).
//! [`ids`] holds the rules for the ids people type, [`args`] the way
//! command arguments are written.

pub mod announce;
pub mod args;
pub mod body;
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

use crate::cli::applets as line;
use crate::proto::oplog::fold::Applet;
use crate::sim::{self, SimOps};

/// A typed op of an applet: which applet it belongs to and its kind and
/// encoded body. [`crate::Node::act`] publishes one, so library users never
/// encode bodies by hand; [`applet_ops!`](crate::applet_ops) implements it.
pub trait AppletOp {
    /// The applet's name in ops.
    fn applet(&self) -> &'static str;
    /// The op's kind and encoded body.
    fn kind_and_body(&self) -> (u16, Vec<u8>);
}

/// A built-in applet's registration: its entry in [`BUILTIN`].
#[derive(Clone, Copy)]
pub struct Builtin {
    /// The applet's name in ops (its [`Applet::name`]).
    pub name: &'static str,
    /// Makes it empty.
    pub make: fn() -> Box<dyn Applet>,
    /// Its line-client commands (`None`: chat and direct messages, which
    /// the line client reads itself).
    pub commands: Option<&'static line::Commands>,
    /// How the simulator writes its ops (`None`: it writes none).
    pub sim: Option<SimOps>,
}

impl Builtin {
    /// Applet `name`, made by `A::default()`, with no commands and no
    /// simulated ops yet.
    const fn of<A: Applet + Default>(name: &'static str) -> Builtin {
        Builtin {
            name,
            make: make::<A>,
            commands: None,
            sim: None,
        }
    }

    /// With its line-client commands.
    const fn commands(self, commands: &'static line::Commands) -> Builtin {
        Builtin {
            commands: Some(commands),
            ..self
        }
    }

    /// With the simulator's `weight` for it and its op planner.
    const fn sim(self, weight: u32, plan: sim::PlanFn) -> Builtin {
        Builtin {
            sim: Some(SimOps { weight, plan }),
            ..self
        }
    }
}

fn make<A: Applet + Default>() -> Box<dyn Applet> {
    Box::new(A::default())
}

/// Every built-in applet, once: the node folds these ([`builtin`]), the
/// line client reads and runs their commands, describes their ops and
/// lists their help from here ([`crate::cli::applets`], in this order),
/// and the simulator draws its op mix from here (chat's 30 of 100: a chat
/// line). Adding an applet is its module, its line-client commands (a
/// [`line::Commands`]) and one line here.
pub static BUILTIN: &[Builtin] = &[
    Builtin::of::<chat::Chat>(chat::NAME).sim(30, sim::ops::plan_chat),
    Builtin::of::<dm::Dm>(dm::NAME),
    Builtin::of::<announce::Announce>(announce::NAME)
        .commands(&line::ANNOUNCE)
        .sim(10, sim::ops::plan_announce),
    Builtin::of::<vote::Votes>(vote::NAME)
        .commands(&line::VOTE)
        .sim(15, sim::ops::plan_vote),
    Builtin::of::<queue::Queues>(queue::NAME)
        .commands(&line::QUEUE)
        .sim(15, sim::ops::plan_queue),
    Builtin::of::<lostfound::LostFound>(lostfound::NAME)
        .commands(&line::LOSTFOUND)
        .sim(10, sim::ops::plan_lostfound),
    Builtin::of::<request::Requests>(request::NAME)
        .commands(&line::REQUEST)
        .sim(15, sim::ops::plan_request),
    Builtin::of::<roster::Roster>(roster::NAME)
        .commands(&line::ROSTER)
        .sim(5, sim::ops::plan_roster),
];

/// Every built-in applet, empty.
pub fn builtin() -> Vec<Box<dyn Applet>> {
    BUILTIN.iter().map(|b| (b.make)()).collect()
}

/// The registration of the built-in applet `name`.
pub fn registration(name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registration_makes_the_applet_it_names_once() {
        let names: Vec<&str> = builtin().iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            BUILTIN.iter().map(|b| b.name).collect::<Vec<_>>(),
            "each entry's constructor makes the applet it names"
        );
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "one entry per applet");
        assert_eq!(
            BUILTIN
                .iter()
                .filter_map(|b| b.sim)
                .map(|s| s.weight)
                .sum::<u32>(),
            100,
            "the simulator's mix is in percent"
        );
    }
}
