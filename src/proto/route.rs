//! The routing layer: what one engine's output means for the node around
//! it and for the node's other engines, written once.
//!
//! A node runs four engines (membership, topology, Plumtree, and the
//! op-log's anti-entropy [`Replica`]). Each one only speaks for itself; the
//! rules between them are:
//!
//! * topology's `NeighborUp`/`NeighborDown` go to membership, Plumtree and
//!   the op-log (in that order): the overlay's links are the only peers they
//!   gossip, broadcast and repair with;
//! * membership's verdicts go to topology (`Alive` → `MemberAlive`,
//!   `Suspect` → `MemberSuspect`, `Dead` → `MemberDead`, `Left` and
//!   `Forgotten` → `MemberGone`), which replaces links to dead members and
//!   dials live ones; `Updated` goes to the application only;
//! * a peer's `Gossip` reaches Plumtree only through [`Admission`]: one
//!   carrying an [`Envelope::Broadcast`] must be signed by its `author`
//!   for this room and its `seq` ([`crate::crypto::broadcast`]), or it is
//!   counted and dropped before the engine sees it (so it is not
//!   delivered, cached, announced or relayed);
//! * a payload Plumtree delivers is one [`Envelope`]: an op goes to the
//!   op-log (anti-entropy repairs what broadcast missed), a broadcast (its
//!   signature checked on admission, so its author is its origin) and a
//!   sealed direct message go to the application, anything else is
//!   malformed (counted, dropped; Plumtree relayed it, as it relays ops
//!   and direct messages before anything above it looks inside);
//! * the op-log's state mark (its state hash prefix and op count, see
//!   [`StateMarker`]) goes to membership as this node's [`STATE_KEY`]
//!   entry whenever the log moved, so every member can tell who holds the
//!   same state;
//! * a peer's message goes to the engine its [`Wire`] variant names
//!   ([`inbound`]); a direct message over a link goes to the application;
//! * sends, timers, dials and disconnects go to the driver.
//!
//! [`membership()`], [`topology()`], [`plumtree()`] and [`oplog()`] turn one output
//! of an engine into [`Effect`]s. The node's actors call them (each actor
//! owns one engine and carries `Effect::Input` to the actor that owns the
//! named engine, over its channel); the simulator and the engines' test
//! networks call them through [`Engines`], which holds all four engines of
//! one node and hands each input to its engine. Either way the driver
//! carries out each effect in order and feeds the `Input`s back before
//! anything new, so the rules above are tested once, here, and hold in both.
//!
//! Sans-IO like the engines: time comes in as an argument, nothing here
//! touches a clock, a socket or a global RNG.

use std::time::Duration;

use super::oplog::sync::{self, Replica};
use super::oplog::{IngestReport, OpLog};
use super::wire::{Envelope, Wire};
use super::{Time, membership, plumtree, topology};
use crate::applets::roster;
use crate::codec;
use crate::crypto::broadcast::BroadcastError;
use crate::crypto::dm::SealedDm;
use crate::crypto::room::ROOM_TAG_BYTES;
use crate::event::StateMark;
use crate::id::{MessageId, NodeId};
use crate::net::links::RosterAdmission;

/// The membership key a node's op-log state mark is published under
/// ([`crate::event::StateMark`]).
pub const STATE_KEY: &str = "state";

/// What the op-log's state means for membership: the state mark under
/// [`STATE_KEY`], published again only once the log has moved (more ops
/// held, or more applied by the fold). The driver decides how often to ask
/// (the node: every [`crate::actors::oplog::STATE_PUBLISH_INTERVAL`]).
#[derive(Debug, Default)]
pub struct StateMarker {
    /// (ops held, ops applied) the last mark was made from.
    marked: Option<(u64, u64)>,
}

impl StateMarker {
    /// Appends the membership `Set` of `oplog`'s state mark to `effects`,
    /// unless the log has not moved since the last one.
    pub fn mark(&mut self, oplog: &OpLog, effects: &mut Vec<Effect>) {
        let marked = (oplog.log().len(), oplog.folder().stats().applications);
        if self.marked == Some(marked) {
            return;
        }
        self.marked = Some(marked);
        let mark = StateMark::of(&oplog.state_hash(), marked.0);
        effects.push(Effect::Input(Routed::Membership(
            membership::Input::Command(membership::Command::Set {
                key: STATE_KEY.to_string(),
                value: mark.encode(),
            }),
        )));
    }

    /// Forgets the last mark: the next [`StateMarker::mark`] publishes
    /// (after the op-log was rebuilt).
    pub fn forget(&mut self) {
        self.marked = None;
    }
}

/// What the op-log's roster means for links: who the room admits
/// ([`RosterAdmission`], for [`crate::net::links::LinkTable::set_admission`]),
/// handed on only when it changed. The node asks after every batch of ops
/// its op-log takes in; the simulator at every state mark.
#[derive(Debug, Default)]
pub struct RosterWatch {
    last: Option<RosterAdmission>,
}

impl RosterWatch {
    /// The roster's admission in `oplog`, if it changed since the last
    /// call (the first call always answers).
    pub fn check(&mut self, oplog: &OpLog) -> Option<RosterAdmission> {
        let now = roster_admission(oplog);
        if self.last.as_ref() == Some(&now) {
            return None;
        }
        self.last = Some(now.clone());
        Some(now)
    }
}

/// Who the room's roster, as folded in `oplog`, admits to links (everyone,
/// when no roster applet is registered).
pub fn roster_admission(oplog: &OpLog) -> RosterAdmission {
    let Some(r) = oplog
        .folder()
        .applet(roster::NAME)
        .and_then(|a| a.as_any().downcast_ref::<roster::Roster>())
    else {
        return RosterAdmission::default();
    };
    RosterAdmission {
        invite_only: !r.is_open(),
        members: r.members().iter().map(|e| e.node).collect(),
        revoked: r.revoked().iter().map(|v| v.entry.node).collect(),
    }
}

/// An input for one of a node's engines.
#[derive(Debug)]
pub enum Routed {
    /// For membership.
    Membership(membership::Input),
    /// For topology.
    Topology(topology::Input),
    /// For Plumtree.
    Plumtree(plumtree::Input),
    /// For the op-log's replica.
    OpLog(sync::Input),
}

/// The timer of one of a node's engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Membership's.
    Membership(membership::Timer),
    /// Topology's.
    Topology(topology::Timer),
    /// Plumtree's.
    Plumtree(plumtree::Timer),
    /// The replica's.
    OpLog(sync::Timer),
}

impl Timer {
    /// The input that fires this timer in its engine.
    pub fn fire(self) -> Routed {
        match self {
            Timer::Membership(t) => Routed::Membership(membership::Input::Timer(t)),
            Timer::Topology(t) => Routed::Topology(topology::Input::Timer(t)),
            Timer::Plumtree(t) => Routed::Plumtree(plumtree::Input::Timer(t)),
            Timer::OpLog(t) => Routed::OpLog(sync::Input::Timer(t)),
        }
    }
}

/// The check a peer's Plumtree message passes before the engine takes it,
/// and its count of refusals. Every driver runs every `plumtree::Input`
/// through [`Admission::admit`] before `Plumtree::handle` ([`Engines`]
/// does; so does the node's Plumtree actor), which is what makes a
/// delivered [`Content::Broadcast`]'s author the node that signed it.
#[derive(Clone, Debug)]
pub struct Admission {
    room_tag: [u8; ROOM_TAG_BYTES],
    refused: u64,
}

impl Admission {
    /// The check for the room tagged `room_tag` (the signatures name it).
    pub fn new(room_tag: [u8; ROOM_TAG_BYTES]) -> Admission {
        Admission {
            room_tag,
            refused: 0,
        }
    }

    /// Whether `engine` may take `input`. Refused: a peer's `Gossip` the
    /// engine has not seen whose payload is an [`Envelope::Broadcast`]
    /// that its `author` did not sign for this room and its `seq`. The
    /// caller drops a refused input. Everything else passes: other inputs
    /// and envelopes, payloads that are no envelope (counted at delivery),
    /// and copies of a message already seen (the engine prunes them; their
    /// id, checked by the engine, hashes the same content). So each
    /// broadcast's signature is checked about once per node, on first
    /// receipt.
    pub fn admit(
        &mut self,
        engine: &plumtree::Plumtree,
        input: &plumtree::Input,
    ) -> Result<(), BroadcastError> {
        let plumtree::Input::Message {
            msg: plumtree::Message::Gossip(g),
            ..
        } = input
        else {
            return Ok(());
        };
        if engine.has_seen(&g.id) {
            return Ok(());
        }
        let Ok(Envelope::Broadcast(signed)) = codec::decode_value::<Envelope>(&g.payload) else {
            return Ok(());
        };
        let checked = signed.verify(&self.room_tag, &g.author, g.seq);
        if checked.is_err() {
            self.refused += 1;
        }
        checked
    }

    /// Broadcasts refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

/// What a delivered broadcast payload carries, for the application.
#[derive(Debug)]
pub enum Content {
    /// The application's bytes, signed by the delivered message's author
    /// (checked by [`Admission`] before the engine took it).
    Broadcast(Vec<u8>),
    /// A sealed message for one node (every node relays it; only that node
    /// opens it).
    Direct(SealedDm),
    /// An op: already routed to the op-log as [`Effect::Input`].
    Op,
    /// Not one canonical [`Envelope`]: the decode error.
    Malformed(String),
}

/// What one engine output asks of the driver.
#[derive(Debug)]
pub enum Effect {
    /// Send `wire` to `to` over its link (dropping it is allowed).
    Send {
        /// The peer.
        to: NodeId,
        /// The message.
        wire: Wire,
    },
    /// Fire `timer` (feed [`Timer::fire`]) no earlier than `after` from now.
    SetTimer {
        /// How long from now.
        after: Duration,
        /// Which timer.
        timer: Timer,
    },
    /// Feed this to the named engine of the same node, before anything new.
    Input(Routed),
    /// Open a link to this node (answered with topology's `LinkUp` or
    /// `DialFailed`).
    Dial(NodeId),
    /// Close the link to this node (answered with topology's `LinkDown`).
    Disconnect(NodeId),
    /// Membership's verdict or a member's new key-value, for the
    /// application.
    Member(membership::Event),
    /// Plumtree delivered a payload.
    Delivered {
        /// The broadcast's id.
        id: MessageId,
        /// Who broadcast it.
        author: NodeId,
        /// The hops it took.
        round: u16,
        /// What it carries.
        content: Content,
    },
    /// Plumtree sent this node's own broadcast with this id.
    Sent {
        /// The broadcast's id.
        id: MessageId,
    },
    /// Ops joined the log (the driver stores them, then tells the
    /// application).
    Ingested(IngestReport),
}

/// Where a message from a peer goes.
#[derive(Debug)]
pub enum Inbound {
    /// To this engine.
    Engine(Routed),
    /// A sealed direct message sent over the link, for the application.
    Direct(SealedDm),
    /// The peer is closing the link, and why (for the driver, which ends
    /// the link; no engine hears it).
    Goodbye(String),
}

/// The engine a peer's message is for.
pub fn inbound(from: NodeId, wire: Wire) -> Inbound {
    Inbound::Engine(match wire {
        Wire::Membership(msg) => Routed::Membership(membership::Input::Message { from, msg }),
        Wire::Topology(msg) => Routed::Topology(topology::Input::Message { from, msg }),
        Wire::Plumtree(msg) => Routed::Plumtree(plumtree::Input::Message { from, msg }),
        Wire::OpLog(msg) => Routed::OpLog(sync::Input::Message { from, msg }),
        Wire::Direct(dm) => return Inbound::Direct(dm),
        Wire::Goodbye(reason) => return Inbound::Goodbye(reason),
    })
}

/// What a topology event means for the other engines: membership, Plumtree
/// and the op-log hear of the same neighbour, in that order.
pub fn neighbor(ev: &topology::Event) -> [Routed; 3] {
    match *ev {
        topology::Event::NeighborUp(p) => [
            Routed::Membership(membership::Input::NeighborUp(p)),
            Routed::Plumtree(plumtree::Input::NeighborUp(p)),
            Routed::OpLog(sync::Input::NeighborUp(p)),
        ],
        topology::Event::NeighborDown(p) => [
            Routed::Membership(membership::Input::NeighborDown(p)),
            Routed::Plumtree(plumtree::Input::NeighborDown(p)),
            Routed::OpLog(sync::Input::NeighborDown(p)),
        ],
    }
}

/// What a membership event means for topology (`None` for a key-value
/// update, which only the application hears).
pub fn verdict(ev: &membership::Event) -> Option<topology::Input> {
    use membership::Event as E;
    Some(match *ev {
        E::Alive { node } => topology::Input::MemberAlive(node),
        E::Suspect { node } => topology::Input::MemberSuspect(node),
        E::Dead { node } => topology::Input::MemberDead(node),
        E::Left { node } | E::Forgotten { node } => topology::Input::MemberGone(node),
        E::Updated { .. } => return None,
    })
}

/// What a delivered payload is: an op for the op-log (returned apart, to be
/// routed), or content for the application.
pub fn open_payload(payload: &[u8]) -> (Content, Option<Routed>) {
    match codec::decode_value::<Envelope>(payload) {
        Ok(Envelope::Broadcast(signed)) => (Content::Broadcast(signed.payload), None),
        Ok(Envelope::Direct(sealed)) => (Content::Direct(sealed), None),
        Ok(Envelope::Op(op)) => (Content::Op, Some(Routed::OpLog(sync::Input::Ops(vec![op])))),
        Err(e) => (Content::Malformed(e.to_string()), None),
    }
}

/// The effects of one membership output, in the order to carry them out.
pub fn membership(out: membership::Output, effects: &mut Vec<Effect>) {
    match out {
        membership::Output::Send { to, msg } => effects.push(Effect::Send {
            to,
            wire: Wire::Membership(msg),
        }),
        membership::Output::SetTimer { after, timer } => effects.push(Effect::SetTimer {
            after,
            timer: Timer::Membership(timer),
        }),
        membership::Output::Event(ev) => {
            let input = verdict(&ev);
            effects.push(Effect::Member(ev));
            effects.extend(input.map(|i| Effect::Input(Routed::Topology(i))));
        }
    }
}

/// The effects of one topology output.
pub fn topology(out: topology::Output, effects: &mut Vec<Effect>) {
    match out {
        topology::Output::Dial(peer) => effects.push(Effect::Dial(peer)),
        topology::Output::Disconnect(peer) => effects.push(Effect::Disconnect(peer)),
        topology::Output::Send { to, msg } => effects.push(Effect::Send {
            to,
            wire: Wire::Topology(msg),
        }),
        topology::Output::SetTimer { after, timer } => effects.push(Effect::SetTimer {
            after,
            timer: Timer::Topology(timer),
        }),
        topology::Output::Event(ev) => effects.extend(neighbor(&ev).map(Effect::Input)),
    }
}

/// The effects of one Plumtree output.
pub fn plumtree(out: plumtree::Output, effects: &mut Vec<Effect>) {
    match out {
        plumtree::Output::Send { to, msg } => effects.push(Effect::Send {
            to,
            wire: Wire::Plumtree(msg),
        }),
        plumtree::Output::SetTimer { after, timer } => effects.push(Effect::SetTimer {
            after,
            timer: Timer::Plumtree(timer),
        }),
        plumtree::Output::Event(plumtree::Event::Sent { id, .. }) => {
            effects.push(Effect::Sent { id })
        }
        plumtree::Output::Event(plumtree::Event::Delivered {
            id,
            author,
            payload,
            round,
            ..
        }) => {
            let (content, op) = open_payload(&payload);
            effects.push(Effect::Delivered {
                id,
                author,
                round,
                content,
            });
            effects.extend(op.map(Effect::Input));
        }
    }
}

/// The effects of one output of the op-log's replica.
pub fn oplog(out: sync::Output, effects: &mut Vec<Effect>) {
    match out {
        sync::Output::Send { to, msg } => effects.push(Effect::Send {
            to,
            wire: Wire::OpLog(msg),
        }),
        sync::Output::SetTimer { after, timer } => effects.push(Effect::SetTimer {
            after,
            timer: Timer::OpLog(timer),
        }),
        sync::Output::Ingested(report) => effects.push(Effect::Ingested(report)),
    }
}

/// The four engines of one node in one place, for drivers that run a whole
/// node in one thread (the simulator, the engines' test networks). The
/// node's actors each own one engine instead and call the functions above.
pub struct Engines {
    /// Membership.
    pub membership: membership::Membership,
    /// Topology.
    pub topology: topology::Topology,
    /// Plumtree.
    pub plumtree: plumtree::Plumtree,
    /// The op-log's replica; without one, op-log inputs are dropped.
    pub oplog: Option<Replica>,
    /// What a peer's Plumtree message passes before Plumtree takes it.
    pub admission: Admission,
}

impl Engines {
    /// Hands `input` to its engine (a Plumtree input only if
    /// [`Admission::admit`] lets it through) and appends the effects of
    /// everything it output to `effects`. The caller carries them out in
    /// order, feeding each `Effect::Input` back through here before
    /// anything new.
    pub fn handle(&mut self, now: Time, input: Routed, effects: &mut Vec<Effect>) {
        match input {
            Routed::Membership(i) => {
                self.membership.handle(now, i);
                while let Some(out) = self.membership.poll_output() {
                    membership(out, effects);
                }
            }
            Routed::Topology(i) => {
                self.topology.handle(now, i);
                while let Some(out) = self.topology.poll_output() {
                    topology(out, effects);
                }
            }
            Routed::Plumtree(i) => {
                if self.admission.admit(&self.plumtree, &i).is_err() {
                    return;
                }
                self.plumtree.handle(now, i);
                while let Some(out) = self.plumtree.poll_output() {
                    plumtree(out, effects);
                }
            }
            Routed::OpLog(i) => {
                let Some(r) = self.oplog.as_mut() else {
                    return;
                };
                r.handle(now, i);
                while let Some(out) = r.poll_output() {
                    oplog(out, effects);
                }
            }
        }
    }

    /// Starts every engine, in the order a node does: membership, topology,
    /// Plumtree, the replica.
    pub fn start(&mut self, now: Time, effects: &mut Vec<Effect>) {
        self.handle(now, Routed::Membership(membership::Input::Start), effects);
        self.handle(now, Routed::Topology(topology::Input::Start), effects);
        self.handle(now, Routed::Plumtree(plumtree::Input::Start), effects);
        self.handle(now, Routed::OpLog(sync::Input::Start), effects);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    #[test]
    fn a_neighbour_reaches_membership_plumtree_and_the_oplog_in_that_order() {
        let mut effects = Vec::new();
        topology(
            topology::Output::Event(topology::Event::NeighborUp(node(7))),
            &mut effects,
        );
        let got: Vec<String> = effects.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(got.len(), 3);
        assert!(matches!(
            effects[0],
            Effect::Input(Routed::Membership(membership::Input::NeighborUp(n))) if n == node(7)
        ));
        assert!(matches!(
            effects[1],
            Effect::Input(Routed::Plumtree(plumtree::Input::NeighborUp(n))) if n == node(7)
        ));
        assert!(matches!(
            effects[2],
            Effect::Input(Routed::OpLog(sync::Input::NeighborUp(n))) if n == node(7)
        ));
        effects.clear();
        topology(
            topology::Output::Event(topology::Event::NeighborDown(node(7))),
            &mut effects,
        );
        assert!(matches!(
            effects[..],
            [
                Effect::Input(Routed::Membership(membership::Input::NeighborDown(_))),
                Effect::Input(Routed::Plumtree(plumtree::Input::NeighborDown(_))),
                Effect::Input(Routed::OpLog(sync::Input::NeighborDown(_))),
            ]
        ));
    }

    #[test]
    fn each_membership_verdict_tells_topology_and_the_application() {
        use membership::Event as E;
        let n = node(3);
        let cases = [
            (E::Alive { node: n }, Some(topology::Input::MemberAlive(n))),
            (
                E::Suspect { node: n },
                Some(topology::Input::MemberSuspect(n)),
            ),
            (E::Dead { node: n }, Some(topology::Input::MemberDead(n))),
            (E::Left { node: n }, Some(topology::Input::MemberGone(n))),
            (
                E::Forgotten { node: n },
                Some(topology::Input::MemberGone(n)),
            ),
            (
                E::Updated {
                    node: n,
                    key: "nick".into(),
                    value: b"ada".to_vec(),
                },
                None,
            ),
        ];
        for (ev, want) in cases {
            let mut effects = Vec::new();
            membership(membership::Output::Event(ev.clone()), &mut effects);
            assert!(
                matches!(&effects[0], Effect::Member(e) if *e == ev),
                "{ev:?}: the application hears it first"
            );
            match want {
                Some(want) => {
                    assert_eq!(effects.len(), 2, "{ev:?}");
                    let Effect::Input(Routed::Topology(got)) = &effects[1] else {
                        panic!("{ev:?}: expected a topology input, got {:?}", effects[1]);
                    };
                    assert_eq!(format!("{got:?}"), format!("{want:?}"));
                }
                None => assert_eq!(effects.len(), 1, "{ev:?}"),
            }
        }
    }

    #[test]
    fn a_delivered_op_goes_to_the_oplog_and_other_payloads_to_the_application() {
        let delivered = |payload: Vec<u8>| {
            let mut effects = Vec::new();
            plumtree(
                plumtree::Output::Event(plumtree::Event::Delivered {
                    id: MessageId([4; 32]),
                    author: node(1),
                    seq: 4,
                    payload,
                    round: 2,
                    from: node(2),
                }),
                &mut effects,
            );
            effects
        };
        // Delivery does not check the signature again (admission did).
        let signed = crate::crypto::broadcast::SignedBroadcast {
            payload: b"hi".to_vec(),
            sig: vec![0; 64],
        };
        let bytes = codec::encode_value(&Envelope::Broadcast(signed)).unwrap();
        let effects = delivered(bytes);
        assert!(matches!(
            &effects[..],
            [Effect::Delivered { round: 2, content: Content::Broadcast(b), .. }] if b == b"hi"
        ));
        let effects = delivered(b"not an envelope".to_vec());
        assert!(matches!(
            &effects[..],
            [Effect::Delivered {
                content: Content::Malformed(_),
                ..
            }]
        ));
        let me = crate::crypto::identity::Identity::generate();
        let mut log =
            crate::proto::oplog::OpLog::new(me.node_id(), [1; 32], crate::applets::builtin());
        let op = log
            .author(
                &me,
                crate::applets::chat::NAME,
                crate::applets::chat::KIND_MESSAGE,
                b"hi",
                1,
                [0; 24],
            )
            .expect("a chat line is a valid op")
            .into_signed();
        let bytes = codec::encode_value(&Envelope::Op(op.clone())).unwrap();
        let effects = delivered(bytes);
        assert!(matches!(
            &effects[..],
            [
                Effect::Delivered { content: Content::Op, .. },
                Effect::Input(Routed::OpLog(sync::Input::Ops(ops))),
            ] if *ops == vec![op]
        ));
    }

    /// One node's engines (no op-log) in the room tagged `33 × 8`, with
    /// `neighbors` up.
    fn engines(me: NodeId, neighbors: &[NodeId]) -> Engines {
        use rand::SeedableRng;
        let rng = || crate::proto::EngineRng::seed_from_u64(5);
        let mut engines = Engines {
            membership: membership::Membership::new(me, 1, membership::Config::default(), rng()),
            topology: topology::Topology::new(me, topology::Config::default(), rng()),
            plumtree: plumtree::Plumtree::new(me, plumtree::Config::default(), 1),
            oplog: None,
            admission: Admission::new([0x33; ROOM_TAG_BYTES]),
        };
        let mut effects = Vec::new();
        engines.start(Time::ZERO, &mut effects);
        for &n in neighbors {
            engines.handle(
                Time::ZERO,
                Routed::Plumtree(plumtree::Input::NeighborUp(n)),
                &mut effects,
            );
        }
        engines
    }

    /// A `Gossip` from `author` (round 0) carrying `envelope` (the
    /// broadcast actor's tests use it too).
    pub(crate) fn gossip(author: NodeId, seq: u64, envelope: &Envelope) -> plumtree::Gossip {
        let payload = codec::encode_value(envelope).expect("encodes");
        plumtree::Gossip {
            id: MessageId::for_broadcast(&author, seq, &payload),
            author,
            seq,
            round: 0,
            payload,
        }
    }

    /// Hands `g` from `from` to `engines`: the effects, then the
    /// broadcasts refused so far and Plumtree's counters.
    fn receive(
        engines: &mut Engines,
        from: NodeId,
        g: plumtree::Gossip,
    ) -> (Vec<Effect>, u64, plumtree::Stats) {
        let mut effects = Vec::new();
        let msg = plumtree::Message::Gossip(g);
        engines.handle(
            Time::ZERO,
            Routed::Plumtree(plumtree::Input::Message { from, msg }),
            &mut effects,
        );
        (
            effects,
            engines.admission.refused(),
            engines.plumtree.stats(),
        )
    }

    #[test]
    fn a_broadcast_not_signed_by_its_author_never_reaches_plumtree_and_a_signed_one_does() {
        use crate::crypto::broadcast::SignedBroadcast;
        use crate::crypto::identity::Identity;
        use rand::SeedableRng;
        let mut rng = crate::proto::EngineRng::seed_from_u64(11);
        let (alice, mallory) = (
            Identity::generate_with(&mut rng),
            Identity::generate_with(&mut rng),
        );
        let (a, m, carol) = (alice.node_id(), mallory.node_id(), node(3));
        let room = [0x33; ROOM_TAG_BYTES];
        let mut bob = engines(node(2), &[a, m, carol]);
        let signed = SignedBroadcast::sign(&alice, &room, 4, b"hello".to_vec());
        let forged = [
            // Mallory's words under Alice's name.
            gossip(
                a,
                4,
                &Envelope::Broadcast(SignedBroadcast::sign(&mallory, &room, 4, b"hello".to_vec())),
            ),
            // Alice's words under Mallory's name.
            gossip(m, 4, &Envelope::Broadcast(signed.clone())),
            // Alice's words, again under another seq (a new id).
            gossip(a, 5, &Envelope::Broadcast(signed.clone())),
            // Alice's signature over other words.
            gossip(
                a,
                4,
                &Envelope::Broadcast(SignedBroadcast {
                    payload: b"hellO".to_vec(),
                    sig: signed.sig.clone(),
                }),
            ),
        ];
        for (k, g) in forged.into_iter().enumerate() {
            let id = g.id;
            let (effects, refused, stats) = receive(&mut bob, m, g);
            assert!(effects.is_empty(), "forgery {k}: {effects:?}");
            assert_eq!(refused, k as u64 + 1, "forgery {k} is counted");
            assert_eq!(stats.delivered, 0, "forgery {k}");
            assert_eq!(
                stats.invalid_dropped, 0,
                "forgery {k}: the engine never saw it"
            );
            assert!(!bob.plumtree.has_seen(&id), "forgery {k}");
        }
        // Alice's own broadcast, relayed by Mallory: delivered from Alice,
        // and pushed on to Carol (and Alice, the other eager neighbour).
        let genuine = gossip(a, 4, &Envelope::Broadcast(signed));
        let id = genuine.id;
        let (effects, refused, _) = receive(&mut bob, m, genuine);
        assert_eq!(refused, 4, "not counted");
        let delivered: Vec<_> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Delivered {
                    id,
                    author,
                    content: Content::Broadcast(p),
                    ..
                } => Some((*id, *author, p.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(delivered, vec![(id, a, b"hello".to_vec())]);
        let relayed: Vec<NodeId> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send {
                    to,
                    wire: Wire::Plumtree(plumtree::Message::Gossip(g)),
                } if g.id == id => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(relayed, {
            let mut want = vec![a, carol];
            want.sort();
            want
        });
        // A later copy is a duplicate for the engine, not checked again.
        let again = gossip(
            a,
            4,
            &Envelope::Broadcast(SignedBroadcast::sign(&alice, &room, 4, b"hello".to_vec())),
        );
        assert_eq!(again.id, id, "Ed25519 signatures are deterministic");
        let (_, refused, stats) = receive(&mut bob, a, again);
        assert_eq!((refused, stats.duplicates), (4, 1));
    }

    #[test]
    fn a_payload_that_is_no_envelope_passes_admission_and_is_delivered_as_malformed() {
        // The simulator's broadcasts are such payloads.
        let mut bob = engines(node(2), &[node(1)]);
        let payload = b"broadcast 0".to_vec();
        let g = plumtree::Gossip {
            id: MessageId::for_broadcast(&node(1), 1, &payload),
            author: node(1),
            seq: 1,
            round: 0,
            payload,
        };
        let (effects, refused, _) = receive(&mut bob, node(1), g);
        assert_eq!(refused, 0);
        assert!(
            effects.iter().any(|e| matches!(
                e,
                Effect::Delivered {
                    content: Content::Malformed(_),
                    ..
                }
            )),
            "{effects:?}"
        );
    }

    #[test]
    fn a_peers_message_goes_to_the_engine_its_variant_names() {
        let from = node(9);
        let Inbound::Engine(Routed::Topology(topology::Input::Message { from: f, .. })) =
            inbound(from, Wire::Topology(topology::Message::Degree(3)))
        else {
            panic!("a topology message goes to topology");
        };
        assert_eq!(f, from);
    }

    #[test]
    fn every_timer_fires_in_its_own_engine() {
        assert!(matches!(
            Timer::Membership(membership::Timer::Gossip).fire(),
            Routed::Membership(membership::Input::Timer(membership::Timer::Gossip))
        ));
        assert!(matches!(
            Timer::Topology(topology::Timer::Rebalance).fire(),
            Routed::Topology(topology::Input::Timer(topology::Timer::Rebalance))
        ));
        assert!(matches!(
            Timer::Plumtree(plumtree::Timer::Sweep).fire(),
            Routed::Plumtree(plumtree::Input::Timer(plumtree::Timer::Sweep))
        ));
        assert!(matches!(
            Timer::OpLog(sync::Timer::Round).fire(),
            Routed::OpLog(sync::Input::Timer(sync::Timer::Round))
        ));
    }

    #[test]
    fn the_state_mark_goes_to_membership_once_per_move_of_the_log() {
        use crate::applets::{self, chat};
        use crate::crypto::identity::Identity;
        use rand::SeedableRng;
        let me = Identity::generate_with(&mut crate::proto::EngineRng::seed_from_u64(3));
        let mut oplog = OpLog::new(me.node_id(), [9; 32], applets::builtin());
        let mut marker = StateMarker::default();
        let marks = |marker: &mut StateMarker, oplog: &OpLog| {
            let mut effects = Vec::new();
            marker.mark(oplog, &mut effects);
            effects
                .into_iter()
                .map(|e| match e {
                    Effect::Input(Routed::Membership(membership::Input::Command(
                        membership::Command::Set { key, value },
                    ))) if key == STATE_KEY => StateMark::decode(&value).expect("a state mark"),
                    other => panic!("not a state mark: {other:?}"),
                })
                .collect::<Vec<_>>()
        };
        let empty = marks(&mut marker, &oplog);
        assert_eq!(empty, vec![StateMark::of(&oplog.state_hash(), 0)]);
        assert_eq!(marks(&mut marker, &oplog), vec![], "nothing moved");
        oplog
            .author(&me, chat::NAME, chat::KIND_MESSAGE, b"hi", 1, [1; 24])
            .expect("authored");
        let one = marks(&mut marker, &oplog);
        assert_eq!(one, vec![StateMark::of(&oplog.state_hash(), 1)]);
        assert_ne!(one, empty);
        marker.forget();
        assert_eq!(
            marks(&mut marker, &oplog),
            one,
            "forgotten: published again"
        );
    }
}
