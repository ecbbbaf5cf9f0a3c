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
//!   late, repeated or stale timers do nothing. One `Reannounce` timer is
//!   pending while any re-announcement is due; an early or repeated fire
//!   does nothing.
//! * A neighbour is re-announced a message only while it has not shown it
//!   holds it (sent us a copy or an announcement of it), only while it is a
//!   neighbour, and only while the message is cached.
//!
//! # Choices
//!
//! * Extension: with `announce_to_eager` (the default) a message is
//!   announced to every neighbour except the one it came from, eager ones
//!   included, so a lost eager push is repaired by a graft like a lost lazy
//!   one. The paper's links never lose messages; ours may (see the driver
//!   contract in [`crate::proto`]).
//! * Extension: with `reannounce_interval` (the default) announcements are
//!   repeated until acknowledged. A node announces each message it holds to
//!   every neighbour, the one it came from included; a neighbour's copy or
//!   announcement of it is its acknowledgement. Neighbours that have not
//!   acknowledged are announced to again after `reannounce_interval`, then
//!   after doubling waits, while the message is cached; a neighbour that
//!   repeats an announcement of a message we hold is answered with ours.
//!   Without it, a node whose copies and announcements were all lost, or
//!   whose lone announcer's grafts all failed, never got the message (a
//!   500-node room at 20 % loss missed 5–9 of 50,000 deliveries).
//! * An oversized `Command::Broadcast` is dropped with no output (counted in
//!   [`Stats::broadcasts_rejected`]); callers check `payload_bytes_max`.
//! * The tree optimisation runs both on first receipt (best earlier
//!   announcement vs. the delivering neighbour) and on an `IHave` for a
//!   message already received (announcement vs. our current parent for it).
//!   It fires when the lazy path is at least `optimization_threshold` hops
//!   shorter.
//! * A missing message is given up after `graft_rounds_max` passes over its
//!   announcers, when its last announcer goes down, or after `cache_ttl`;
//!   a re-announcement after that starts it over.
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
    /// Announce until acknowledged (an extension of the paper): a node that
    /// holds a message announces it to every neighbour, the one it came
    /// from included, and re-announces it to each neighbour that has not
    /// shown it holds it (no `Gossip` or `IHave` for it from that
    /// neighbour) first this long after it got it, then after waits that
    /// double, as long as a round falls at least this long before the
    /// cache drops the message (`cache_ttl` after it got it). A neighbour
    /// that announces a held message a second time has not heard ours and
    /// is answered with it. `None`: every message is announced once (to
    /// the neighbours `announce_to_eager` says).
    pub reannounce_interval: Option<Duration>,
}

/// A full broadcast message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gossip {
    /// [`MessageId::for_broadcast`] of `author`, `seq` and `payload`;
    /// checked on receipt.
    pub id: MessageId,
    /// The node that broadcast it.
    pub author: NodeId,
    /// The author's sequence number for it.
    pub seq: u64,
    /// Hops from the author (0 when the author sends it).
    pub round: u16,
    /// The application's bytes, at most `payload_bytes_max`.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// One lazy announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IHave {
    /// The message the sender holds.
    pub id: MessageId,
    /// The round the sender holds it at.
    pub round: u16,
}

/// Plumtree messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// A full message, pushed eagerly or answering a graft.
    Gossip(Gossip),
    /// Announcements of messages the sender holds (also its
    /// acknowledgement of them, see `reannounce_interval`).
    IHave(Vec<IHave>),
    /// "Make me your eager peer" and, with an id, "send me that message".
    Graft {
        /// The message wanted; `None` for a tree optimisation.
        id: Option<MessageId>,
        /// The round the recipient announced it at (unused by the
        /// recipient).
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
    /// A message from a peer.
    Message {
        /// The peer it came from (authenticated by the link).
        from: NodeId,
        /// The message.
        msg: Message,
    },
    /// A timer the engine asked for came due.
    Timer(Timer),
    /// A link to this neighbour is up.
    NeighborUp(NodeId),
    /// The link to this neighbour is gone.
    NeighborDown(NodeId),
    /// The application asks something.
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
    Graft {
        /// The missing message.
        id: MessageId,
        /// Grafts sent for it when the timer was set.
        attempt: u32,
    },
    /// Flush queued `IHave`s.
    DispatchIHave,
    /// Expire cache entries.
    Sweep,
    /// Re-announce the cached messages whose re-announcement is due.
    Reannounce,
}

/// What the engine asks the driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send `msg` to neighbour `to` (dropping it is allowed).
    Send {
        /// The neighbour.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// Feed `timer` back as `Input::Timer` no earlier than `after` from now.
    SetTimer {
        /// How long from now.
        after: Duration,
        /// The timer.
        timer: Timer,
    },
    /// Tell the application.
    Event(Event),
}

/// What the application hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A broadcast arrived for the first time; delivered exactly once.
    Delivered {
        /// Its id.
        id: MessageId,
        /// The node that broadcast it.
        author: NodeId,
        /// The author's sequence number for it.
        seq: u64,
        /// The application's bytes.
        payload: Vec<u8>,
        /// Hops it travelled.
        round: u16,
        /// The neighbour it came from.
        from: NodeId,
    },
    /// A broadcast this node sent (with its id), for the driver's records.
    Sent {
        /// Its id.
        id: MessageId,
        /// Its sequence number.
        seq: u64,
    },
}
