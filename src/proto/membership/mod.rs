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
    /// "Here is what I know about the nodes in this id range."
    Syn { digest: Digest },
    /// "Here is what you are missing; send me what I am missing."
    SynAck {
        delta: Vec<NodeDelta>,
        requests: Vec<DigestEntry>,
    },
    /// "Here is what you asked for." Also sent unprompted to every neighbour
    /// when this node leaves.
    Ack { delta: Vec<NodeDelta> },
}

/// A summary of the sender's knowledge of the nodes whose ids fall in
/// `[start, end)` (`end: None` = to the top of the id space).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub start: NodeId,
    pub end: Option<NodeId>,
    pub entries: Vec<DigestEntry>,
}

/// What a sender knows of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub node: NodeId,
    /// Incarnation of the node: a restart starts a higher generation.
    pub generation: u64,
    pub heartbeat: u64,
    /// Highest key-value version known for this generation.
    pub max_version: u64,
}

/// Newer state of one node: its heartbeat and the entries above the version
/// the receiver asked for (or all entries, for a newer generation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDelta {
    pub node: NodeId,
    pub generation: u64,
    pub heartbeat: u64,
    pub entries: Vec<KvEntry>,
}

/// One versioned key-value entry of a node's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub version: u64,
}

/// What the driver feeds the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Once, first: arms the periodic timers.
    Start,
    Message {
        from: NodeId,
        msg: Message,
    },
    Timer(Timer),
    /// A link to this node is up: it may be chosen for gossip.
    NeighborUp(NodeId),
    NeighborDown(NodeId),
    Command(Command),
}

/// What the local application asks of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Writes a key in this node's own namespace (bumps the version).
    Set { key: String, value: Vec<u8> },
    /// Graceful leave: marks this node left and pushes that to every neighbour.
    Leave,
}

/// Timers the engine asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    Heartbeat,
    Gossip,
    Check,
}

/// What the engine asks the driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Send { to: NodeId, msg: Message },
    SetTimer { after: Duration, timer: Timer },
    Event(Event),
}

/// Liveness of a known node, as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    Alive,
    Suspect,
    Dead,
    Left,
}

/// Changes the application (and the topology engine) hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A node became known, or came back from suspect/dead (restarted or healed).
    Alive {
        node: NodeId,
    },
    Suspect {
        node: NodeId,
    },
    Dead {
        node: NodeId,
    },
    Left {
        node: NodeId,
    },
    /// A dead or left node was dropped from the table after `forget_after`.
    Forgotten {
        node: NodeId,
    },
    /// A key in another node's namespace changed.
    Updated {
        node: NodeId,
        key: String,
        value: Vec<u8>,
    },
}

/// One row of the member table, for queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    pub node: NodeId,
    pub status: Status,
    pub generation: u64,
    pub heartbeat: u64,
}
