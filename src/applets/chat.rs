//! Room chat: each op of kind [`KIND_MESSAGE`] is one line of text to the
//! whole room. The state is every line, in fold order.

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};

/// The applet's name in ops.
pub const NAME: &str = "chat";
/// A chat line; the body is its UTF-8 text.
pub const KIND_MESSAGE: u16 = 1;
/// Longest line, in bytes.
pub const TEXT_BYTES_MAX: usize = 4096;

/// One line of the room's chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The op's id.
    pub id: OpId,
    /// Who wrote it.
    pub author: NodeId,
    /// The op's Lamport time (lines are in fold order).
    pub lamport: u64,
    /// The author's wall clock when writing (for display only).
    pub wall_ms: u64,
    /// The line.
    pub text: String,
}

/// The chat applet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chat {
    lines: Vec<Line>,
}

impl Chat {
    /// Every line, in fold order.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }
}

impl Applet for Chat {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        text_of(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        let text = text_of(op)?;
        self.lines.push(Line {
            id: op.id,
            author: op.author,
            lamport: op.lamport,
            wall_ms: op.wall_ms,
            text: text.to_string(),
        });
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(&self.lines).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.lines = decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.lines.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The line an op carries, if the rules take it.
fn text_of<'a>(op: &AppliedOp<'a>) -> Result<&'a str, String> {
    if op.kind != KIND_MESSAGE {
        return Err(format!("chat has no kind {}", op.kind));
    }
    if op.body.len() > TEXT_BYTES_MAX {
        return Err("chat line too long".into());
    }
    let text = std::str::from_utf8(op.body).map_err(|_| "chat line is not UTF-8".to_string())?;
    if text.trim().is_empty() {
        return Err("empty chat line".into());
    }
    Ok(text)
}

/// Decodes a saved state; states can outgrow one frame, so this decodes
/// without the frame limit but still whole-input and canonical.
pub(crate) fn decode_state<T: Serialize + serde::de::DeserializeOwned>(
    state: &[u8],
) -> Result<T, String> {
    codec::decode_state(state).map_err(|e| e.to_string())
}
