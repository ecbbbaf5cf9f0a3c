//! The topology engine (stub: to be implemented).
use super::*;
use crate::proto::{EngineRng, Time};

/// Degree-constrained link manager.
pub struct Topology {
    me: NodeId,
}

impl Topology {
    pub fn new(me: NodeId, config: Config, rng: EngineRng) -> Self {
        let _ = (config, rng);
        Topology { me }
    }
    pub fn handle(&mut self, now: Time, input: Input) {
        let _ = (now, input, self.me);
    }
    pub fn poll_output(&mut self) -> Option<Output> {
        None
    }
    pub fn neighbors(&self) -> Vec<NodeId> {
        Vec::new()
    }
}
