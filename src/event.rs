//! Everything the event bus carries, and the records the node's queries
//! return.

use std::net::SocketAddr;

use crate::id::{MessageId, NodeId, OpId};
pub use crate::proto::membership::Status;
pub use crate::proto::oplog::notice::Notice;

/// What happened in the node. Subscribers get every event published after
/// they subscribed (see [`crate::Node::subscribe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A link finished its handshake and is part of the mesh.
    LinkUp {
        /// The node at the other end.
        peer: NodeId,
        /// Whether this node dialled it.
        outbound: bool,
        /// The other end of the TCP connection.
        addr: SocketAddr,
    },
    /// A link closed.
    LinkDown {
        /// The node at the other end.
        peer: NodeId,
        /// Why, in words.
        reason: String,
    },
    /// A connection was refused or closed before or outside a link: failed
    /// handshake (another room, bad identity, another version), malformed
    /// frames. The node goes on.
    LinkRefused {
        /// The other end of the TCP connection.
        addr: SocketAddr,
        /// Why, in words.
        reason: String,
    },
    /// A member's liveness changed, as this node sees it.
    Member {
        /// The member.
        node: NodeId,
        /// Its liveness now.
        status: Status,
        /// Its nick, if it set one.
        nick: Option<String>,
    },
    /// A member set or changed its nick.
    Nick {
        /// The member.
        node: NodeId,
        /// Its new nick.
        nick: String,
    },
    /// A room broadcast ([`crate::Node::broadcast`]) arrived (delivered
    /// once per message).
    Message {
        /// Its sender: the node whose signature over it verified (a
        /// broadcast whose signature does not verify is never delivered).
        from: NodeId,
        /// Its id (the same on every node).
        id: MessageId,
        /// What was sent.
        payload: Vec<u8>,
    },
    /// A sealed message to this node arrived and its sender's signature
    /// checked out.
    Direct {
        /// Its sender.
        from: NodeId,
        /// What was sent, opened.
        payload: Vec<u8>,
        /// True when it came over the direct link, false when relayed by the
        /// mesh.
        via_link: bool,
    },
    /// An op joined this node's log (its own, or one that arrived), durably
    /// when the node has a store. `body` is opened with the room key
    /// (`None` if it does not open).
    Op {
        /// The op's id.
        id: OpId,
        /// Who wrote and signed it.
        author: NodeId,
        /// Its place in its author's log, from 1.
        seq: u64,
        /// Its Lamport time (ops are folded in `(lamport, author, seq)`
        /// order).
        lamport: u64,
        /// The author's wall clock when writing, milliseconds since the
        /// Unix epoch (for display only).
        wall_ms: u64,
        /// The applet it is for.
        applet: String,
        /// The applet's kind of op.
        kind: u16,
        /// The body, opened with the room key (`None`: it does not open).
        body: Option<Vec<u8>>,
    },
    /// A durable direct message to this node (a `dm` op) was opened and its
    /// sender's signature checked out.
    Mail {
        /// The `dm` op's id.
        id: OpId,
        /// Its sender (the op's author, checked).
        from: NodeId,
        /// The message, opened.
        payload: Vec<u8>,
        /// The sender's wall clock when writing, milliseconds since the
        /// Unix epoch.
        wall_ms: u64,
        /// The op's place in the room's order, `(lamport, from, seq)`, as
        /// [`crate::Node::history`] sorts it.
        lamport: u64,
        /// The op's place in its author's log.
        seq: u64,
    },
    /// An author forked its log: two ops for one `(author, seq)`. Its ops
    /// from `seq` on no longer count.
    Equivocation {
        /// The author that forked.
        author: NodeId,
        /// Where: the first seq with two ops.
        seq: u64,
    },
    /// One of this node's own ops has no effect in the room: the room's
    /// rules or its applet's rules refused it once ops this node had not
    /// heard when writing it were folded (a concurrent revocation, a
    /// closed poll). It stays in this node's log; raised once per op.
    OpNoEffect {
        /// The op.
        id: OpId,
        /// Its applet.
        applet: String,
        /// Why, in words.
        reason: String,
    },
    /// This node is making the proof of work its room asks of its next op
    /// (`done: false`, raised once it has taken
    /// [`crate::actors::oplog::POW_PROGRESS_AFTER`]), or has made it
    /// (`done: true`, only after a `done: false`).
    ProofOfWork {
        /// Leading zero bits asked for.
        bits: u8,
        /// Whether it is made.
        done: bool,
        /// Time spent so far, milliseconds.
        elapsed_ms: u64,
    },
    /// An applet has something to tell the person at this node (the
    /// queue's "you're next in queue help"): raised once each time the
    /// notice comes to hold (see [`crate::proto::oplog::notice`]).
    Notice {
        /// The applet that raised it.
        applet: &'static str,
        /// What it says.
        notice: Notice,
    },
    /// Discovery heard beacons it cannot open (sealed with another room's
    /// key) while this node has no link: a sign that its room code is not
    /// the one the nodes around it use. `from` is where the last one came
    /// from, `count` how many were heard since the last such event (or the
    /// start). At most one per
    /// [`crate::actors::beacon::OTHER_ROOM_REPORT_INTERVAL_MS`]
    /// (30 s); none while the node has a link.
    OtherRoomBeacons {
        /// Where the last one came from.
        from: SocketAddr,
        /// How many were heard since the last such event (or the start).
        count: u64,
    },
    /// An actor panicked and was restarted with a fresh engine.
    ActorRestarted {
        /// The actor's name.
        actor: &'static str,
        /// The panic's message.
        reason: String,
        /// Restarts within the restart window, this one included.
        restarts: u32,
    },
    /// An actor panicked too often and stays down; the node is degraded.
    ActorFailed {
        /// The actor's name.
        actor: &'static str,
        /// The last panic's message.
        reason: String,
    },
}

/// One link, as [`crate::Node::peers`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The node at the other end.
    pub peer: NodeId,
    /// Whether this node dialled it.
    pub outbound: bool,
    /// The other end of the TCP connection.
    pub addr: SocketAddr,
    /// How long the link has been up, in milliseconds.
    pub up_ms: u64,
    /// Frames received on the link.
    pub frames_in: u64,
    /// Frames sent on the link.
    pub frames_out: u64,
}

/// One member of the room, as [`crate::Node::members`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member.
    pub node: NodeId,
    /// Its liveness, as this node sees it.
    pub status: Status,
    /// Its nick, if it set one.
    pub nick: Option<String>,
    /// Addresses the member published (`ip:port`).
    pub addrs: Vec<SocketAddr>,
    /// Its incarnation: a restart starts a higher one.
    pub generation: u64,
    /// Its heartbeat counter within the generation (it counts up while
    /// the member is alive).
    pub heartbeat: u64,
    /// The op-log state it last published, if any.
    pub state: Option<StateMark>,
}

/// A node's published op-log state: the first 8 bytes of its state hash
/// (16 hex digits) and how many ops it holds. Two nodes with the same
/// mark hold the same applet states (up to a 64-bit hash collision).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StateMark {
    /// The state hash's first 8 bytes, 16 lower-case hex digits.
    pub hash: String,
    /// How many ops the node holds.
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
