//! Topology: keeps between `degree_min` and `degree_max` links, chosen at
//! random among live members, so the overlay stays a connected, low-diameter
//! random graph (an expander) that heals after partitions.
//!
//! Ideas from HyParView (Leitão et al., DSN 2007: a small symmetric active
//! view, random replacement) and from Serf's reconnect of failed members.
//! See `docs/protocol.md` ("Topology") for the state machine and defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::NodeId;

mod engine;

pub use engine::Topology;

/// Tunables; see `docs/protocol.md` for where each default comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub degree_min: usize,
    pub degree_max: usize,
    /// Inbound links beyond this are closed at once (room for joiners above
    /// `degree_max`; the excess is shed on the next rebalance).
    pub degree_hard_max: usize,
    /// How often links are rebalanced (with jitter).
    pub rebalance_interval: Duration,
    /// Chance per rebalance to dial one random member beyond the current
    /// links (the "swap" that keeps the graph random).
    pub swap_probability: f64,
    /// A dial with no answer after this long counts as failed.
    pub dial_timeout: Duration,
    /// A peer whose dial failed is not dialled again for this long
    /// (doubling per failure up to `backoff_max`).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How often one random dead (not left) member is dialled, so a healed
    /// partition finds its other half.
    pub reconnect_interval: Duration,
    /// Dead members stay reconnect candidates this long.
    pub reconnect_window: Duration,
}

/// Topology messages between linked peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// "I now have this many links": peers prefer shedding high-degree links.
    Degree(u16),
}

/// What the driver feeds the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Once, first: arms the rebalance and reconnect timers.
    Start,
    Message {
        from: NodeId,
        msg: Message,
    },
    Timer(Timer),
    /// Membership says this node is alive (a dial candidate).
    MemberAlive(NodeId),
    /// Membership says this node is suspect: keep a link, do not dial it.
    MemberSuspect(NodeId),
    /// Membership says this node is dead: drop the link, keep it as a
    /// reconnect candidate for `reconnect_window`.
    MemberDead(NodeId),
    /// Left or forgotten: drop the link and forget it.
    MemberGone(NodeId),
    /// A link finished its handshake (either direction).
    LinkUp {
        peer: NodeId,
        outbound: bool,
    },
    /// A link closed (either side closed it, or it broke).
    LinkDown(NodeId),
    /// An outbound dial failed (refused, unreachable, handshake failed).
    DialFailed(NodeId),
    Command(Command),
}

/// What the application asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Dial this peer now (a seed, or a peer found by discovery), and keep it
    /// as a candidate.
    Connect(NodeId),
    /// Close every link (shutdown).
    DisconnectAll,
}

/// Timers the engine asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    Rebalance,
    Reconnect,
    /// Dial attempt number `attempt` to `peer` has had `dial_timeout`.
    DialTimeout {
        peer: NodeId,
        attempt: u64,
    },
}

/// What the engine asks the driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Open a link to this peer; answer with `LinkUp` or `DialFailed`.
    Dial(NodeId),
    /// Close the link to this peer; the driver then reports `LinkDown`.
    Disconnect(NodeId),
    Send {
        to: NodeId,
        msg: Message,
    },
    SetTimer {
        after: Duration,
        timer: Timer,
    },
    Event(Event),
}

/// What the other engines and the application hear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A link became part of the overlay: gossip and broadcast may use it.
    NeighborUp(NodeId),
    NeighborDown(NodeId),
}
