//! Direct messages: each op of kind [`KIND_MESSAGE`] carries a
//! [`crate::crypto::dm::SealedDm`] to one member, sealed so only
//! that member reads it. Every node relays and stores it (so it reaches a
//! recipient that was offline); the state is who wrote to whom, and when,
//! which every node can fold. The text stays sealed: the recipient opens
//! it with [`crate::crypto::dm::open`].

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::dm::SealedDm;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};

/// The applet's name in ops.
pub const NAME: &str = "dm";
/// A sealed message; the body is an encoded `SealedDm`.
pub const KIND_MESSAGE: u16 = 1;

/// One direct message, as every node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The op's id.
    pub id: OpId,
    /// The sender (the op's author).
    pub from: NodeId,
    /// The recipient, the only node that can open the text.
    pub to: NodeId,
    /// The op's Lamport time (messages are in fold order).
    pub lamport: u64,
    /// The sender's wall clock when writing (for display only).
    pub wall_ms: u64,
}

/// The direct-message applet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dm {
    messages: Vec<Envelope>,
}

impl Dm {
    /// Every direct message, in fold order.
    pub fn messages(&self) -> &[Envelope] {
        &self.messages
    }

    /// Those to `node`.
    pub fn to(&self, node: &NodeId) -> impl Iterator<Item = &Envelope> {
        self.messages.iter().filter(move |m| m.to == *node)
    }
}

impl Applet for Dm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        sealed_of(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        let sealed = sealed_of(op)?;
        self.messages.push(Envelope {
            id: op.id,
            from: op.author,
            to: sealed.to,
            lamport: op.lamport,
            wall_ms: op.wall_ms,
        });
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(&self.messages).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.messages = super::chat::decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.messages.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The sealed message an op carries, if the rules take it.
fn sealed_of(op: &AppliedOp<'_>) -> Result<SealedDm, String> {
    if op.kind != KIND_MESSAGE {
        return Err(format!("dm has no kind {}", op.kind));
    }
    let sealed: SealedDm = codec::decode_value(op.body).map_err(|e| format!("dm body: {e}"))?;
    if sealed.to == op.author {
        return Err("a direct message to oneself".into());
    }
    Ok(sealed)
}
