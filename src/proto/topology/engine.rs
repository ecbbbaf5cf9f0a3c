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
impl Config {
    pub fn small_room() -> Self {
        let d = Duration::from_millis(250);
        Config {
            degree_min: 3,
            degree_max: 5,
            degree_hard_max: 8,
            rebalance_interval: d,
            swap_probability: 0.1,
            dial_timeout: d,
            backoff_base: d,
            backoff_max: d,
            reconnect_interval: d,
            reconnect_window: d,
        }
    }
    pub fn large_room() -> Self {
        Self::small_room()
    }
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
impl Default for Config {
    fn default() -> Self {
        Self::small_room()
    }
}
