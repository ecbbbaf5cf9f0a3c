//! Plumtree: epidemic broadcast trees.
//!
//! Paper: Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees" (SRDS 2007).
//! Eager push of full messages along a spanning tree, lazy `IHave`
//! announcements (batched) to the other neighbours, `Graft` when an announced
//! message does not arrive in time, `Prune` on duplicates, and the tree
//! optimisation of section 3.8 when a lazy path is shorter by
//! `optimization_threshold` hops. Shape after iroh-gossip's `proto::plumtree`.
//!
//! # Rounds
//!
//! A node *holds* a message at a round: 0 for its author, and `g.round + 1`
//! when it first receives `Gossip` `g`, i.e. the hops the message travelled.
//! Everything a node sends about a message carries the round it holds it at:
//! forwarded and grafted `Gossip`, and `IHave`. [`Event::Delivered`]'s `round`
//! is the held round (`g.round + 1`).
//!
//! # Invariants
//!
//! * Exactly-once delivery: a message is delivered (or, for its author,
//!   sent) at most once while its id is remembered (`seen_ttl`, see
//!   `Plumtree::SEEN_ENTRIES_MAX`), whatever the order of `Gossip`,
//!   `IHave` and `Graft`. An engine never delivers its own broadcasts; a
//!   message from an earlier run of the same node (other `seq`, so another
//!   id) is delivered like any other.
//! * Only content that hashes to its id (`MessageId::for_broadcast`) and fits
//!   `payload_bytes_max` is delivered, cached or forwarded; anything else is
//!   dropped without a state change.
//! * Every neighbour is in exactly one of the eager and lazy sets.
//! * Every table is bounded: the cache by `cache_entries_max` and
//!   `Plumtree::CACHE_BYTES_MAX`, seen ids, missing messages, announcers and
//!   IHave queues by `Plumtree`'s associated constants.
//! * Each missing message has one live graft timer (`attempt` matches);
//!   late, repeated or stale timers do nothing.
//!
//! # Choices
//!
//! * Extension: with `announce_to_eager` (the default) a message is
//!   announced to every neighbour except the one it came from, eager ones
//!   included, so a lost eager push is repaired by a graft like a lost lazy
//!   one. The paper's links never lose messages; ours may (see the driver
//!   contract in [`crate::proto`]).
//! * An oversized `Command::Broadcast` is dropped with no output (counted in
//!   [`Stats::broadcasts_rejected`]); callers check `payload_bytes_max`.
//! * The tree optimisation runs both on first receipt (best earlier
//!   announcement vs. the delivering neighbour) and on an `IHave` for a
//!   message already received (announcement vs. our current parent for it).
//!   It fires when the lazy path is at least `optimization_threshold` hops
//!   shorter.
//! * A missing message is given up after `graft_rounds_max` passes over its
//!   announcers, when its last announcer goes down, or after `cache_ttl`.
//!
//! Defaults and where they come from: [`Config::small_room`],
//! [`Config::large_room`] (iroh-gossip's values adapted to a LAN room).
//! See `docs/protocol.md` ("Broadcast") for the state machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::id::{MessageId, NodeId};

mod config;
mod engine;
#[cfg(test)]
mod tests;

pub use engine::{Plumtree, Stats};

/// Domain tag hashed in front of every message id.
pub const MESSAGE_ID_DOMAIN: &[u8] = b"flashmesh/plumtree/message-id/v1";

impl MessageId {
    /// The id of a broadcast: SHA-256(domain || author || seq as u64 LE ||
    /// payload). Two equal payloads sent twice differ by `seq`.
    pub fn for_broadcast(author: &NodeId, seq: u64, payload: &[u8]) -> MessageId {
        let mut h = Sha256::new();
        h.update(MESSAGE_ID_DOMAIN);
        h.update(author.as_bytes());
        h.update(seq.to_le_bytes());
        h.update(payload);
        MessageId(h.finalize().into())
    }
}

/// Tunables; see `docs/protocol.md` for where each default comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Wait this long after the first `IHave` for a missing message before
    /// sending `Graft`.
    pub graft_timeout_1: Duration,
    /// Then wait this long for the grafted message before grafting the next
    /// announcer.
    pub graft_timeout_2: Duration,
    /// Lazy `IHave`s are queued; the first one queued after a flush arms a
    /// timer this long, and the flush sends each peer its queue in messages
    /// of at most `ihave_batch_max` entries.
    pub ihave_interval: Duration,
    /// Most announcements in one `IHave` message.
    pub ihave_batch_max: usize,
    /// Rewire the tree when a lazy path is this many hops shorter.
    pub optimization_threshold: u16,
    /// Payloads are kept this long to answer grafts.
    pub cache_ttl: Duration,
    /// Ids are remembered this long to suppress duplicates (>= cache_ttl).
    pub seen_ttl: Duration,
    /// Most payloads kept in the cache (oldest dropped first).
    pub cache_entries_max: usize,
    /// How often expired payloads, remembered ids and missing-message
    /// entries are swept.
    pub sweep_interval: Duration,
    /// Largest payload accepted for broadcast or from a peer.
    pub payload_bytes_max: usize,
    /// Graft rounds over all announcers before a missing message is given up.
    pub graft_rounds_max: u32,
    /// Also announce (`IHave`) every message to the eager peers it was pushed
    /// to, so that a lost eager push is repaired by a graft (an extension of
    /// the paper, whose links never lose messages).
    pub announce_to_eager: bool,
}

/// A full broadcast message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gossip {
    pub id: MessageId,
    pub author: NodeId,
    pub seq: u64,
    /// Hops from the author (0 when the author sends it).
    pub round: u16,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// One lazy announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IHave {
    pub id: MessageId,
    pub round: u16,
}

/// Plumtree messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Gossip(Gossip),
    IHave(Vec<IHave>),
    /// "Make me your eager peer" and, with an id, "send me that message".
    Graft {
        id: Option<MessageId>,
        round: u16,
    },
    /// "Stop pushing to me eagerly."
    Prune,
}

/// What the driver feeds the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Once, first: arms the periodic sweep.
    Start,
    Message {
        from: NodeId,
        msg: Message,
    },
    Timer(Timer),
    NeighborUp(NodeId),
    NeighborDown(NodeId),
    Command(Command),
}

/// What the application asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Broadcast a payload to every node (not delivered back to this node).
    /// A payload over `payload_bytes_max` is dropped with no output.
    Broadcast(Vec<u8>),
}

/// Timers the engine asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// The graft timer for a missing message; `attempt` counts grafts sent.
    Graft { id: MessageId, attempt: u32 },
    /// Flush queued `IHave`s.
    DispatchIHave,
    /// Expire cache entries.
    Sweep,
}

/// What the engine asks the driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Send { to: NodeId, msg: Message },
    SetTimer { after: Duration, timer: Timer },
    Event(Event),
}

/// What the application hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A broadcast arrived for the first time; delivered exactly once.
    Delivered {
        id: MessageId,
        author: NodeId,
        seq: u64,
        payload: Vec<u8>,
        /// Hops it travelled.
        round: u16,
        /// The neighbour it came from.
        from: NodeId,
    },
    /// A broadcast this node sent (with its id), for the driver's records.
    Sent { id: MessageId, seq: u64 },
}
