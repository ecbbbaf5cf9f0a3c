//! Topology: keeps between `degree_min` and `degree_max` links, chosen at
//! random among live members, so the overlay stays a connected, low-diameter
//! random graph (an expander) that heals after partitions.
//!
//! Ideas from HyParView (Leitão et al., DSN 2007: a small symmetric active
//! view, random replacement) and from Serf's reconnect of failed members.
//! See `docs/protocol.md` ("Topology") for the state machine and defaults;
//! the engine's module docs (`engine.rs`) give its driver contract,
//! invariants and the choices made, and [`Config::small_room`] says where
//! each default comes from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::id::NodeId;

mod engine;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;

pub use engine::Topology;

/// Tunables; see `docs/protocol.md` for where each default comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Fewest links a node keeps: below it, it dials.
    pub degree_min: usize,
    /// Most links a node keeps: above it, it sheds.
    pub degree_max: usize,
    /// A new link (inbound, or the answer to our own dial) that would go
    /// beyond this is closed at once: room for joiners above `degree_max`,
    /// whose excess is shed on the next rebalance.
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
    /// The longest a failed peer waits before it is dialled again.
    pub backoff_max: Duration,
    /// How often one random dead (not left) member is dialled, so a healed
    /// partition finds its other half.
    pub reconnect_interval: Duration,
    /// Dead members stay reconnect candidates this long.
    pub reconnect_window: Duration,
}

impl Config {
    /// For the small room ([`crate::config::Profile::Small`]: up to
    /// [`crate::config::Profile::SMALL_ROOM_NODES_MAX`] (50) nodes; the
    /// default).
    pub fn small_room() -> Config {
        Config {
            // Random graphs with minimum degree 3 are connected and expanders
            // with high probability (random 3-regular graphs already are), and
            // a node is cut off only after 3 simultaneous link losses.
            degree_min: 3,
            // The active view size HyParView used in its 10,000-node
            // experiments (5); the spare links above `degree_min` absorb
            // joins and losses without dialling or shedding.
            degree_max: 5,
            // Room for joiners: a node joining a full room lands its
            // `degree_min` links on full nodes, which shed the excess later.
            degree_hard_max: 8,
            // A node below `degree_min` (with no replacement dial pending,
            // which only happens when candidates were missing) recovers
            // within about one interval; cost is a scan of local state, plus
            // one `Degree` per neighbour when our degree changed.
            rebalance_interval: Duration::from_secs(1),
            // At a rebalance with no spare link, the chance of adding one;
            // about 10 s per node on average at the interval above.
            swap_probability: 0.1,
            // TCP retransmits a lost SYN after 1 s (RFC 6298) and again 2 s
            // later; 3 s covers one retry plus the Noise handshake on a LAN.
            dial_timeout: Duration::from_secs(3),
            // Retry a failed peer after 1 s, doubling per failure up to
            // Serf's reconnect interval of 30 s.
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            // One dial to a dead member every 2 s per node: a healed
            // partition of a small room reconnects in seconds, at the cost of
            // one failed dial per node per interval while it lasts (Serf
            // uses 30 s for long-lived clusters).
            reconnect_interval: Duration::from_secs(2),
            // Rooms are ephemeral: a member gone for 10 minutes is unlikely
            // to come back (Serf keeps them 24 h).
            reconnect_window: Duration::from_secs(10 * 60),
        }
    }

    /// For the large room ([`crate::config::Profile::Large`]: above 50
    /// nodes, sized for 1000): more links (diameter grows as
    /// log(N)/log(degree)), and less timer traffic per node.
    pub fn large_room() -> Config {
        Config {
            // One more link than small rooms: a lower diameter and one more
            // loss to survive (HyParView sizes its active view by log N).
            degree_min: 4,
            // Twice the minimum: room for 4 spare links.
            degree_max: 8,
            // Room for 4 joiners above `degree_max`.
            degree_hard_max: 12,
            // Half the scans and `Degree` traffic of a small room; with more
            // links a node is rarely below `degree_min` anyway.
            rebalance_interval: Duration::from_secs(2),
            // About one swap per 40 s at a node with no spare link.
            swap_probability: 0.05,
            // Each node dials a dead member every 5 s: with hundreds of
            // nodes a healed partition is still found within a second or
            // two, at 40 % of the failed dials of a small room.
            reconnect_interval: Duration::from_secs(5),
            // dial_timeout, backoff_base, backoff_max and reconnect_window:
            // as in small rooms (they depend on the network, not the size).
            ..Config::small_room()
        }
    }

    /// Checks the bounds the engine relies on; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.degree_min < 1 {
            return Err(ConfigError::new(
                "topology.degree_min",
                "must be at least 1",
            ));
        }
        if self.degree_min > self.degree_max {
            return Err(ConfigError::new(
                "topology.degree_min",
                format!(
                    "{} is more than topology.degree_max ({})",
                    self.degree_min, self.degree_max
                ),
            ));
        }
        if self.degree_max > self.degree_hard_max {
            return Err(ConfigError::new(
                "topology.degree_max",
                format!(
                    "{} is more than topology.degree_hard_max ({})",
                    self.degree_max, self.degree_hard_max
                ),
            ));
        }
        if self.degree_hard_max > usize::from(u16::MAX) {
            return Err(ConfigError::new(
                "topology.degree_hard_max",
                format!("{} does not fit in 16 bits", self.degree_hard_max),
            ));
        }
        if !(0.0..=1.0).contains(&self.swap_probability) {
            return Err(ConfigError::new(
                "topology.swap_probability",
                format!("{} is not within 0..=1", self.swap_probability),
            ));
        }
        for (field, value) in [
            ("topology.rebalance_interval", self.rebalance_interval),
            ("topology.reconnect_interval", self.reconnect_interval),
            ("topology.dial_timeout", self.dial_timeout),
            ("topology.backoff_base", self.backoff_base),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(field, "must be greater than zero"));
            }
        }
        if self.backoff_base > self.backoff_max {
            return Err(ConfigError::new(
                "topology.backoff_base",
                format!(
                    "{:?} is more than topology.backoff_max ({:?})",
                    self.backoff_base, self.backoff_max
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::small_room()
    }
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
    /// A topology message from a linked peer.
    Message {
        /// The sender; a `Degree` from a peer that is not in the overlay is
        /// ignored.
        from: NodeId,
        /// The decoded message.
        msg: Message,
    },
    /// A timer asked for with [`Output::SetTimer`] has fired. A stale one
    /// (early, answered or replaced) does nothing.
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
        /// The authenticated peer at the other end.
        peer: NodeId,
        /// True if this node dialled it (the answer to [`Output::Dial`]),
        /// false if the peer dialled in.
        outbound: bool,
    },
    /// A link closed (either side closed it, or it broke).
    LinkDown(NodeId),
    /// An outbound dial failed (refused, unreachable, handshake failed).
    DialFailed(NodeId),
    /// A request from the application.
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
    /// Every `rebalance_interval` plus up to 20 % jitter: dial up to
    /// `degree_min`, shed down to `degree_max`, maybe swap, and send
    /// `Degree` to neighbours that were told an old number.
    Rebalance,
    /// Every `reconnect_interval` plus up to 20 % jitter: drop dead members
    /// older than `reconnect_window` and dial one random dead member.
    Reconnect,
    /// Dial attempt number `attempt` to `peer` has had `dial_timeout`.
    DialTimeout {
        /// The peer dialled.
        peer: NodeId,
        /// The attempt number the dial was given (one counter for all peers,
        /// from 1); a timeout for any other attempt does nothing.
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
    /// Send `msg` over the link to `to`.
    Send {
        /// A peer in the overlay.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// Feed back [`Input::Timer`]`(timer)` no earlier than `now + after`.
    SetTimer {
        /// Delay from the `now` of the call that produced this output.
        after: Duration,
        /// The timer to fire.
        timer: Timer,
    },
    /// Tell the other engines and the application about a neighbour change.
    Event(Event),
}

/// What the other engines and the application hear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A link became part of the overlay: gossip and broadcast may use it.
    NeighborUp(NodeId),
    /// A link left the overlay (closed by the peer, broken, or disconnected
    /// by this node): stop using it. Always follows a `NeighborUp` for the
    /// same peer.
    NeighborDown(NodeId),
}
