//! The one message type nodes exchange: [`Wire`], with a variant per engine.
//!
//! Encoding lives in [`crate::codec`]; this module only names the types and
//! their limits.

use serde::{Deserialize, Serialize};

use super::oplog::{SignedOp, sync};
use super::{membership, plumtree, topology};
use crate::crypto::dm::SealedDm;

/// Protocol version, carried in the link handshake. Bump on any change to
/// [`Wire`] or the types inside it.
pub const WIRE_VERSION: u16 = 1;

/// Largest encoded `Wire` value in one frame, in bytes. Noise transport
/// messages are at most 65,535 bytes including a 16-byte tag; this leaves
/// room for the frame header and keeps every frame a single Noise message.
pub const FRAME_BYTES_MAX: usize = 60 * 1024;

/// Every message between two linked nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    Membership(membership::Message),
    Topology(topology::Message),
    Plumtree(plumtree::Message),
    /// A sealed message to the node at the other end of the link (see
    /// [`crate::crypto::dm`]); relayed messages travel inside a broadcast
    /// [`Envelope::Direct`] instead.
    Direct(SealedDm),
    /// Op-log anti-entropy ([`crate::proto::oplog::sync`]).
    OpLog(sync::Message),
}

/// What a broadcast payload carries: the application's bytes, or a sealed
/// message to one node that every node relays and only that node can open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Envelope {
    Broadcast(#[serde(with = "serde_bytes")] Vec<u8>),
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
