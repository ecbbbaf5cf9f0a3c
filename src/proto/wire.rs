//! The one message type nodes exchange: [`Wire`], with a variant per engine.
//!
//! Encoding lives in [`crate::codec`]; this module only names the types and
//! their limits.

use serde::{Deserialize, Serialize};

use super::oplog::{SignedOp, sync};
use super::{membership, plumtree, topology};
use crate::crypto::broadcast::SignedBroadcast;
use crate::crypto::dm::SealedDm;

/// Protocol version, carried in the link handshake. Bump on any change to
/// [`Wire`] or the types inside it, or to the link handshake.
///
/// * 1: the first version (handshake `XXpsk3`).
/// * 2: the link handshake is `XXpsk0`, so a node without the room code
///   learns nothing (`crate::net::handshake`). Nodes of version 1 cannot
///   complete it, in either direction: the acceptor's check of message 1
///   fails (another protocol name, the PSK in another place), so it refuses
///   the dialler as another room's (`WrongRoom`) and closes, and the
///   dialler sees the connection close. No link forms, and neither side
///   reports a version mismatch: versions travel in messages 2 and 3.
///   In the same version, ephemeral broadcasts are signed by their origin
///   (`Envelope::Broadcast` carries a `SignedBroadcast`), and rooted rooms
///   (the root salts the room's keys) and the roster's revocation points
///   (`Revocation { node, upto }`) appear.
pub const WIRE_VERSION: u16 = 2;

/// Largest encoded `Wire` value in one frame, in bytes. Noise transport
/// messages are at most 65,535 bytes including a 16-byte tag; this leaves
/// room for the frame header and keeps every frame a single Noise message.
pub const FRAME_BYTES_MAX: usize = 60 * 1024;

/// Every message between two linked nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    /// Variant 0: a gossip-round message (`Syn`, `SynAck`, `Ack`), handed
    /// to the membership engine.
    Membership(membership::Message),
    /// Variant 1: the sender's link count (`Degree`), handed to the topology
    /// engine.
    Topology(topology::Message),
    /// Variant 2: a broadcast-tree message (`Gossip`, `IHave`, `Graft`,
    /// `Prune`), handed to the Plumtree engine.
    Plumtree(plumtree::Message),
    /// A sealed message to the node at the other end of the link (see
    /// [`crate::crypto::dm`]); relayed messages travel inside a broadcast
    /// [`Envelope::Direct`] instead.
    Direct(SealedDm),
    /// Op-log anti-entropy ([`crate::proto::oplog::sync`]).
    OpLog(sync::Message),
    /// The sender is closing the link, and why (at most
    /// [`GOODBYE_REASON_BYTES_MAX`] bytes of UTF-8): sent by a node that
    /// does not admit the peer (revoked, not invited, blocked), so that
    /// both ends can tell the person why. The last frame on the link.
    Goodbye(String),
}

/// Longest reason a [`Wire::Goodbye`] carries, in bytes; a longer one is
/// cut (at a character boundary) by the sender and shown cut by the
/// receiver.
pub const GOODBYE_REASON_BYTES_MAX: usize = 200;

/// A goodbye reason as it may be sent or shown: control characters
/// dropped, cut to [`GOODBYE_REASON_BYTES_MAX`] bytes at a character
/// boundary.
pub fn goodbye_reason(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > GOODBYE_REASON_BYTES_MAX {
            break;
        }
        out.push(c);
    }
    out
}

/// What a broadcast payload carries: the application's bytes signed by
/// their author, a sealed message to one node that every node relays and
/// only that node can open, or an op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Envelope {
    /// Variant 0: the application's message bytes (the line client sends
    /// chat as UTF-8 text) with the author's signature; delivered to the
    /// application as they are, only if the signature verifies for the
    /// carrying `Gossip`'s author and `seq` (checked before the Plumtree
    /// engine takes it: [`crate::proto::route::Admission`]).
    Broadcast(SignedBroadcast),
    /// Variant 1: a sealed direct message relayed by every node; only its
    /// recipient can open it, the others pass it on unread.
    Direct(SealedDm),
    /// A new op, live (anti-entropy repairs what broadcast misses).
    Op(SignedOp),
}

impl Wire {
    /// Whether this message carries a broadcast payload (for statistics).
    pub fn is_payload(&self) -> bool {
        matches!(self, Wire::Plumtree(plumtree::Message::Gossip(_)))
    }
}
