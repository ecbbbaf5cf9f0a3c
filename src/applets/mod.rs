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
//! # Layout
//!
//! Each applet is one module of its own. An applet with line-client
//! commands is a directory, `src/applets/<name>/`:
//!
//! * `mod.rs`: the fold, its typed ops ([`applet_ops!`](crate::applet_ops))
//!   and its command parsers. Pure: `scripts/check-sans-io.sh` checks it.
//! * `line.rs`: its line-client commands, one [`line::Commands`] (words,
//!   `/help` lines, parser, runner on a [`crate::Node`], op describer),
//!   e.g. [`vote::line::COMMANDS`].
//! * `sim.rs`: how the simulator picks one of its ops from what the
//!   author's replica holds (a [`sim::PlanFn`]).
//!
//! Chat and direct messages are single files, folds alone: the line client
//! reads them itself, and a chat line is what the simulator writes when no
//! other op is planned. The machinery the commands and planners run in
//! knows no applet: [`crate::cli::applets`] (dispatch, `/help`, shared
//! text helpers) and the simulator's `src/sim/ops.rs` (the draw by weight).
//!
//! [`BUILTIN`] registers each applet once, in one entry: its constructor,
//! its `line.rs` commands and its `sim.rs` planner with its share of the
//! simulator's op mix. Adding a built-in applet is its directory and one
//! entry there (and its section of `docs/protocol.md`).
//!
//! [`body`] generates an applet's typed ops and their encoding from one
//! table ([`applet_ops!`](crate::applet_ops)). [`ids`] holds the rules for
//! the ids people type, [`args`] the way command arguments are written.

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
            sim: Some(SimOps {
                weight,
                plan,
                by_root: false,
            }),
            ..self
        }
    }

    /// With the simulator's `weight` for it and its op planner, its ops
    /// written by the room's root (organisers' work).
    const fn sim_by_root(self, weight: u32, plan: sim::PlanFn) -> Builtin {
        Builtin {
            sim: Some(SimOps {
                weight,
                plan,
                by_root: true,
            }),
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
/// line). Adding an applet is its directory module (fold, `line.rs`,
/// `sim.rs`: see the [module docs](self)) and one entry here.
pub static BUILTIN: &[Builtin] = &[
    Builtin::of::<chat::Chat>(chat::NAME).sim(30, sim::ops::plan_chat),
    Builtin::of::<dm::Dm>(dm::NAME),
    Builtin::of::<announce::Announce>(announce::NAME)
        .commands(&announce::line::COMMANDS)
        .sim(10, announce::sim::plan),
    Builtin::of::<vote::Votes>(vote::NAME)
        .commands(&vote::line::COMMANDS)
        .sim(15, vote::sim::plan),
    Builtin::of::<queue::Queues>(queue::NAME)
        .commands(&queue::line::COMMANDS)
        .sim(15, queue::sim::plan),
    Builtin::of::<lostfound::LostFound>(lostfound::NAME)
        .commands(&lostfound::line::COMMANDS)
        .sim(10, lostfound::sim::plan),
    Builtin::of::<request::Requests>(request::NAME)
        .commands(&request::line::COMMANDS)
        .sim(15, request::sim::plan),
    Builtin::of::<roster::Roster>(roster::NAME)
        .commands(&roster::line::COMMANDS)
        .sim_by_root(5, roster::sim::plan),
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
    use crate::codec::encode_value;
    use crate::id::{NodeId, OpId};

    /// The bytes every applet wrote before its ops came from
    /// [`applet_ops!`](crate::applet_ops): the body value, encoded.
    fn encoded<T: serde::Serialize>(value: &T) -> Vec<u8> {
        encode_value(value).expect("encodes")
    }

    #[test]
    fn the_generated_kinds_and_bodies_are_the_documented_ones() {
        let id = OpId([0xab; 32]);
        let node = NodeId([0xcd; 32]);
        let post = announce::Post {
            topic: "food".into(),
            text: "lunch".into(),
        };
        assert_eq!(
            announce::AnnounceOp::Post(post.clone()).body(),
            (1, encoded(&post))
        );
        assert_eq!(announce::AnnounceOp::Pin(id).body(), (2, encoded(&id)));
        assert_eq!(announce::AnnounceOp::Unpin(id).body(), (3, encoded(&id)));
        assert_eq!(announce::AnnounceOp::Retract(id).body(), (4, encoded(&id)));

        let poll = vote::CreatePoll {
            poll: "lunch".into(),
            title: "Lunch?".into(),
            options: vec!["a".into(), "b".into()],
            closes_at_ms: Some(7),
        };
        assert_eq!(
            vote::VoteOp::Create(poll.clone()).body(),
            (1, encoded(&poll))
        );
        let cast = vote::CastVote {
            poll: "lunch".into(),
            option: "a".into(),
        };
        assert_eq!(vote::VoteOp::Vote(cast.clone()).body(), (2, encoded(&cast)));
        let close = vote::ClosePoll {
            poll: "lunch".into(),
        };
        assert_eq!(
            vote::VoteOp::Close(close.clone()).body(),
            (3, encoded(&close))
        );

        let join = queue::JoinQueue {
            queue: "help".into(),
            label: "ada".into(),
            party: 2,
            note: None,
        };
        assert_eq!(
            queue::QueueOp::Join(join.clone()).body(),
            (2, encoded(&join))
        );
        let next = queue::ServeNext {
            queue: "help".into(),
        };
        assert_eq!(
            queue::QueueOp::Next(next.clone()).body(),
            (4, encoded(&next))
        );

        let item = lostfound::ItemBody {
            description: "keys".into(),
            place: Some("hall".into()),
            contact: None,
        };
        assert_eq!(
            lostfound::LostFoundOp::post(lostfound::ItemKind::Lost, item.clone()).body(),
            (1, encoded(&item))
        );
        assert_eq!(
            lostfound::LostFoundOp::post(lostfound::ItemKind::Found, item.clone()).body(),
            (2, encoded(&item))
        );
        assert_eq!(
            lostfound::LostFoundOp::Resolve(id).body(),
            (4, encoded(&id))
        );

        let reference = encoded(&request::RequestRef { request: id });
        assert_eq!(
            reference,
            vec![0xab; 32],
            "a RequestRef is the id's 32 bytes"
        );
        for (op, kind) in [
            (request::RequestOp::Claim(id), 2),
            (request::RequestOp::Unclaim(id), 3),
            (request::RequestOp::Fulfil(id), 4),
            (request::RequestOp::Cancel(id), 5),
        ] {
            assert_eq!(op.body(), (kind, reference.clone()));
            assert_eq!(request::RequestOp::decode(kind, &reference), Ok(op));
        }
        let subject = encoded(&roster::Subject { node });
        for (op, kind) in [
            (roster::RosterOp::Invite(node), 1),
            (roster::RosterOp::KioskAdd(node), 3),
            (roster::RosterOp::KioskRemove(node), 4),
            (roster::RosterOp::OrganiserAdd(node), 5),
            (roster::RosterOp::OrganiserRemove(node), 6),
        ] {
            assert_eq!(op.body(), (kind, subject.clone()));
            assert_eq!(roster::RosterOp::decode(kind, &subject), Ok(op));
        }
        assert_eq!(
            roster::RosterOp::KINDS,
            &[
                (1, "KIND_INVITE"),
                (2, "KIND_REVOKE"),
                (3, "KIND_KIOSK_ADD"),
                (4, "KIND_KIOSK_REMOVE"),
                (5, "KIND_ORGANISER_ADD"),
                (6, "KIND_ORGANISER_REMOVE"),
                (7, "KIND_POW")
            ]
        );
        assert_eq!(
            roster::RosterOp::decode(3, &[1; 31])
                .map_err(|e| e.starts_with("roster kiosk add body: ")),
            Err(true)
        );
    }

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
