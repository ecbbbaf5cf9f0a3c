//! The plumtree engine (stub: to be implemented).
use super::*;
use crate::proto::Time;

/// Plumtree broadcast.
pub struct Plumtree {
    me: NodeId,
}

impl Plumtree {
    pub fn new(me: NodeId, config: Config, seq_start: u64) -> Self {
        let _ = (config, seq_start);
        Plumtree { me }
    }
    pub fn handle(&mut self, now: Time, input: Input) {
        let _ = (now, input, self.me);
    }
    pub fn poll_output(&mut self) -> Option<Output> {
        None
    }
}
