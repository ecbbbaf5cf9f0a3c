//! Everything the event bus carries, and the records the node's queries
//! return.

use std::net::SocketAddr;

use crate::id::{MessageId, NodeId, OpId};
pub use crate::proto::membership::Status;

/// What happened in the node. Subscribers get every event published after
/// they subscribed (see [`crate::Node::subscribe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A link finished its handshake and is part of the mesh.
    LinkUp {
        peer: NodeId,
        /// Whether this node dialled it.
        outbound: bool,
        /// The other end of the TCP connection.
        addr: SocketAddr,
    },
    /// A link closed; `reason` says why in words.
    LinkDown { peer: NodeId, reason: String },
    /// A connection was refused or closed before or outside a link: failed
    /// handshake (another room, bad identity, another version), malformed
    /// frames. The node goes on.
    LinkRefused { addr: SocketAddr, reason: String },
    /// A member's liveness changed, as this node sees it.
    Member {
        node: NodeId,
        status: Status,
        nick: Option<String>,
    },
    /// A member set or changed its nick.
    Nick { node: NodeId, nick: String },
    /// A room broadcast arrived (delivered once per message).
    Message {
        from: NodeId,
        id: MessageId,
        payload: Vec<u8>,
    },
    /// A sealed message to this node arrived and its sender's signature
    /// checked out.
    Direct {
        from: NodeId,
        payload: Vec<u8>,
        /// True when it came over the direct link, false when relayed by the
        /// mesh.
        via_link: bool,
    },
    /// An op joined this node's log (its own, or one that arrived), durably
    /// when the node has a store. `body` is opened with the room key
    /// (`None` if it does not open).
    Op {
        id: OpId,
        author: NodeId,
        seq: u64,
        lamport: u64,
        wall_ms: u64,
        applet: String,
        kind: u16,
        body: Option<Vec<u8>>,
    },
    /// A durable direct message to this node (a `dm` op) was opened and its
    /// sender's signature checked out.
    Mail {
        id: OpId,
        from: NodeId,
        payload: Vec<u8>,
        wall_ms: u64,
        /// The op's place in the room's order, `(lamport, from, seq)`, as
        /// [`crate::Node::history`] sorts it.
        lamport: u64,
        seq: u64,
    },
    /// An author forked its log: two ops for one `(author, seq)`. Its ops
    /// from `seq` on no longer count.
    Equivocation { author: NodeId, seq: u64 },
    /// This node has come to the head of a queue: it is served next.
    QueueHead { queue: String },
    /// Discovery heard beacons it cannot open (sealed with another room's
    /// key) while this node has no link: a sign that its room code is not
    /// the one the nodes around it use. `from` is where the last one came
    /// from, `count` how many were heard since the last such event (or the
    /// start). At most one per
    /// [`crate::actors::beacon::OTHER_ROOM_REPORT_INTERVAL_MS`]
    /// (30 s); none while the node has a link.
    OtherRoomBeacons { from: SocketAddr, count: u64 },
    /// An actor panicked and was restarted with a fresh engine.
    ActorRestarted {
        actor: &'static str,
        reason: String,
        /// Restarts within the restart window, this one included.
        restarts: u32,
    },
    /// An actor panicked too often and stays down; the node is degraded.
    ActorFailed { actor: &'static str, reason: String },
}

/// One link, as [`crate::Node::peers`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub peer: NodeId,
    pub outbound: bool,
    pub addr: SocketAddr,
    /// How long the link has been up, in milliseconds.
    pub up_ms: u64,
    pub frames_in: u64,
    pub frames_out: u64,
}

/// One member of the room, as [`crate::Node::members`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub node: NodeId,
    pub status: Status,
    pub nick: Option<String>,
    /// Addresses the member published (`ip:port`).
    pub addrs: Vec<SocketAddr>,
    /// Its incarnation: a restart starts a higher one.
    pub generation: u64,
    pub heartbeat: u64,
    /// The op-log state it last published, if any.
    pub state: Option<StateMark>,
}

/// A node's published op-log state: the first 8 bytes of its state hash
/// (16 hex digits) and how many ops it holds. Two nodes with the same
/// mark hold the same applet states (up to a 64-bit hash collision).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StateMark {
    pub hash: String,
    pub ops: u64,
}

impl StateMark {
    /// The mark of a state hash and an op count.
    pub fn of(state_hash: &[u8; 32], ops: u64) -> StateMark {
        StateMark {
            hash: crate::id::to_hex(&state_hash[..8]),
            ops,
        }
    }

    /// The membership value: `<16 hex digits> <ops>`.
    pub fn encode(&self) -> Vec<u8> {
        format!("{} {}", self.hash, self.ops).into_bytes()
    }

    /// Reads a membership value; `None` when it is not one.
    pub fn decode(value: &[u8]) -> Option<StateMark> {
        let text = std::str::from_utf8(value).ok()?;
        let (hash, ops) = text.split_once(' ')?;
        let hex_ok = hash.len() == 16
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !hex_ok {
            return None;
        }
        Some(StateMark {
            hash: hash.to_string(),
            ops: ops.parse().ok()?,
        })
    }
}

/// How [`crate::Node::send`] delivered a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Over the direct link to the recipient.
    Link,
    /// Sealed and broadcast through the mesh: every node relays it, only the
    /// recipient can read it.
    Mesh,
}
