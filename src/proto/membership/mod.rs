//! Membership: Scuttlebutt anti-entropy over per-node versioned key-value
//! state, with a phi-accrual failure detector per node.
//!
//! Papers: van Renesse et al., "Efficient Reconciliation and Flow Control for
//! Anti-Entropy Protocols" (Scuttlebutt, 2008); Hayashibara et al., "The phi
//! Accrual Failure Detector" (2004). The three-message exchange (`Syn`,
//! `SynAck`, `Ack`) follows quickwit's chitchat.
//!
//! See `docs/protocol.md` ("Membership") for the full state machine and where
//! each default comes from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::NodeId;

mod config;
mod engine;
pub mod phi;
#[cfg(test)]
mod tests;

pub use config::{GOSSIP_BYTES_LIMIT, GOSSIP_BYTES_MIN, PHI_WINDOW_MIN};
pub use engine::{GOSSIP_JITTER, Membership};

/// The reserved key a node writes when it leaves gracefully.
pub const LEFT_KEY: &str = "_left";

/// Tunables. [`Config::small_room`] and [`Config::large_room`] are the two
/// profiles; `Default` is the small room.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// How often this node bumps its own heartbeat.
    pub heartbeat_interval: Duration,
    /// How often this node starts a gossip round with a random neighbour.
    pub gossip_interval: Duration,
    /// How often liveness is re-evaluated and old nodes are forgotten.
    pub check_interval: Duration,
    /// Phi at or above which an alive node becomes suspect.
    pub phi_threshold: f64,
    /// How long a node stays suspect (without a new heartbeat) before it is
    /// declared dead.
    pub suspect_timeout: Duration,
    /// How long a dead or left node is kept before it is forgotten.
    pub forget_after: Duration,
    /// How long a forgotten node's last (generation, heartbeat) is remembered,
    /// so stale gossip cannot bring it back.
    pub tombstone_ttl: Duration,
    /// Upper bound on the encoded size of one message's digest or delta.
    pub gossip_bytes_max: usize,
    /// Heartbeat inter-arrival samples kept per node.
    pub phi_window: usize,
    /// Floor on the standard deviation used by the detector.
    pub phi_min_std_dev: Duration,
    /// Extra pause tolerated on top of the mean inter-arrival time.
    pub phi_acceptable_pause: Duration,
    /// A node not heard from for this long is suspect whatever its phi: an
    /// upper bound on detection when gossip delivered its heartbeats so
    /// irregularly that the detector learned to expect long gaps.
    pub silence_max: Duration,
}

/// The messages of one gossip round. Initiator sends `Syn`, the neighbour
/// answers `SynAck`, the initiator finishes with `Ack`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// "Here is what I know about the nodes in this id range." The receiver
    /// learns the heartbeats of nodes it already has rows for and answers
    /// with a `SynAck` unless it has nothing to send or request.
    Syn {
        /// One page of the sender's known ids, with their entries.
        digest: Digest,
    },
    /// "Here is what you are missing; send me what I am missing." Accepted
    /// whether or not the receiver sent a `Syn`; the receiver applies the
    /// deltas and answers the requests with an `Ack` if it holds anything
    /// newer.
    SynAck {
        /// Newer state of nodes in the `Syn`'s range, in ascending node id;
        /// each node's entries in ascending version, cut short when they do
        /// not all fit in `gossip_bytes_max`.
        delta: Vec<NodeDelta>,
        /// The responder's own entry for each node the initiator knows
        /// better; the answer carries the entries above its `max_version`.
        /// An all-zero entry asks for everything.
        requests: Vec<DigestEntry>,
    },
    /// "Here is what you asked for." Also sent unprompted to every neighbour
    /// when this node leaves. The receiver applies the deltas in order.
    Ack {
        /// The requested state, in ascending node id; never empty when sent.
        delta: Vec<NodeDelta>,
    },
}

/// A summary of the sender's knowledge of the nodes whose ids fall in
/// `[start, end)` (`end: None` = to the top of the id space).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// First id of the range (inclusive); 32 zero bytes for the first page.
    pub start: NodeId,
    /// End of the range (exclusive); `None` runs to the top of the id space.
    /// A receiver ignores a `Syn` whose `end` is not above `start`.
    pub end: Option<NodeId>,
    /// The sender's entry for every id it knows in the range (itself
    /// included), ascending; an id in the range that is not listed is one
    /// the sender does not know. The encoded `Syn` is at most
    /// `gossip_bytes_max` bytes: 876 entries at the default 48 KiB.
    pub entries: Vec<DigestEntry>,
}

/// What a sender knows of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    /// The node this entry describes.
    pub node: NodeId,
    /// Incarnation of the node: a restart starts a higher generation.
    pub generation: u64,
    /// The node's heartbeat counter within `generation`: it counts up by one
    /// every `heartbeat_interval`, from 0.
    pub heartbeat: u64,
    /// Highest key-value version known for this generation.
    pub max_version: u64,
}

/// Newer state of one node: its heartbeat and the entries above the version
/// the receiver asked for (or all entries, for a newer generation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDelta {
    /// The node whose state this is.
    pub node: NodeId,
    /// The node's generation; a higher one than the receiver holds replaces
    /// its row and namespace.
    pub generation: u64,
    /// The node's heartbeat counter within `generation`.
    pub heartbeat: u64,
    /// Key-value entries in ascending (version, key) order; empty when only
    /// the heartbeat is news. An entry with key [`LEFT_KEY`] marks the node
    /// left.
    pub entries: Vec<KvEntry>,
}

/// One versioned key-value entry of a node's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    /// The key, UTF-8 (a key that is not valid UTF-8 fails decoding).
    pub key: String,
    /// The value, raw bytes; `|key| + |value|` is at most
    /// `gossip_bytes_max − 100` bytes.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    /// The owner's write counter when this value was written: unique within
    /// a generation, counting up from 1. A receiver keeps the higher version.
    pub version: u64,
}

/// What the driver feeds the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Once, first: arms the periodic timers.
    Start,
    /// A membership message received from a peer (handled whoever sends it).
    Message {
        /// The peer the link authenticated as the sender.
        from: NodeId,
        /// The decoded message.
        msg: Message,
    },
    /// A timer asked for with [`Output::SetTimer`] has fired. One that is
    /// early, disarmed or already consumed does nothing.
    Timer(Timer),
    /// A link to this node is up: it may be chosen for gossip.
    NeighborUp(NodeId),
    /// The link to this node is gone: it is no longer a gossip target. Its
    /// row stays; liveness comes from the detector.
    NeighborDown(NodeId),
    /// A request from the local application.
    Command(Command),
}

/// What the local application asks of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Writes a key in this node's own namespace (bumps the version).
    /// Ignored after `Leave`, for [`LEFT_KEY`], and for an entry too large
    /// for one message ([`Membership::entry_fits`]).
    Set {
        /// The key; any string but [`LEFT_KEY`].
        key: String,
        /// The new value; writing an unchanged value still makes a new
        /// version.
        value: Vec<u8>,
    },
    /// Graceful leave: marks this node left and pushes that to every neighbour.
    Leave,
}

/// Timers the engine asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Every `heartbeat_interval`: bump this node's heartbeat.
    Heartbeat,
    /// Every `gossip_interval` plus up to 20 % jitter: send a `Syn` with the
    /// next digest page to a random neighbour.
    Gossip,
    /// Every `check_interval`: move rows along Alive → Suspect → Dead →
    /// forgotten, and expire tombstones.
    Check,
}

/// What the engine asks the driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send `msg` to the neighbour `to` over its link.
    Send {
        /// The recipient.
        to: NodeId,
        /// The message; its encoding is at most `gossip_bytes_max` bytes.
        msg: Message,
    },
    /// Feed back [`Input::Timer`]`(timer)` no earlier than `now + after`.
    /// Re-arming a timer replaces the earlier one.
    SetTimer {
        /// Delay from the `now` of the call that produced this output.
        after: Duration,
        /// The timer to fire.
        timer: Timer,
    },
    /// Tell the application (and the topology engine) about a change.
    Event(Event),
}

/// Liveness of a known node, as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Heard from recently enough (phi below `phi_threshold`, silent for
    /// less than `silence_max`).
    Alive,
    /// Phi reached `phi_threshold`, or silent for `silence_max`; revived by a
    /// higher heartbeat, dead after `suspect_timeout`.
    Suspect,
    /// Suspect for `suspect_timeout`; revived by a higher heartbeat,
    /// forgotten after `forget_after`.
    Dead,
    /// Left gracefully (its [`LEFT_KEY`] entry arrived); final within its
    /// generation, forgotten after `forget_after`.
    Left,
}

/// Changes the application (and the topology engine) hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A node became known, or came back from suspect/dead (restarted or healed).
    Alive {
        /// The node.
        node: NodeId,
    },
    /// An alive node went silent for `silence_max`, or its phi reached
    /// `phi_threshold`.
    Suspect {
        /// The node.
        node: NodeId,
    },
    /// A node stayed suspect for `suspect_timeout`.
    Dead {
        /// The node.
        node: NodeId,
    },
    /// A node's [`LEFT_KEY`] entry was applied: it left gracefully.
    Left {
        /// The node.
        node: NodeId,
    },
    /// A dead or left node was dropped from the table after `forget_after`.
    Forgotten {
        /// The node; a tombstone keeps stale gossip from reviving it for
        /// `tombstone_ttl`.
        node: NodeId,
    },
    /// A key in another node's namespace changed.
    Updated {
        /// The node that owns the namespace.
        node: NodeId,
        /// The key written.
        key: String,
        /// Its new value.
        value: Vec<u8>,
    },
}

/// One row of the member table, for queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// The node.
    pub node: NodeId,
    /// Its liveness as this node sees it.
    pub status: Status,
    /// The generation of its row.
    pub generation: u64,
    /// The highest heartbeat this node has learnt for that generation.
    pub heartbeat: u64,
}
