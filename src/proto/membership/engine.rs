//! The membership engine (stub: to be implemented).
use super::*;
use crate::proto::{EngineRng, Time};

/// Scuttlebutt membership with phi-accrual failure detection.
pub struct Membership {
    me: NodeId,
}

impl Membership {
    pub fn new(me: NodeId, generation: u64, config: Config, rng: EngineRng) -> Self {
        let _ = (generation, config, rng);
        Membership { me }
    }
    pub fn handle(&mut self, now: Time, input: Input) {
        let _ = (now, input);
    }
    pub fn poll_output(&mut self) -> Option<Output> {
        None
    }
    pub fn me(&self) -> NodeId {
        self.me
    }
    pub fn status(&self, node: &NodeId) -> Option<Status> {
        let _ = node;
        None
    }
    pub fn members(&self) -> Vec<MemberView> {
        Vec::new()
    }
    pub fn get(&self, node: &NodeId, key: &str) -> Option<&[u8]> {
        let _ = (node, key);
        None
    }
}
