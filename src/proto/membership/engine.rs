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
impl Membership {
    pub fn alive_count(&self) -> usize {
        0
    }
}
impl Config {
    pub fn small_room() -> Self {
        let d = Duration::from_millis(250);
        Config {
            heartbeat_interval: d,
            gossip_interval: d,
            check_interval: d,
            phi_threshold: 8.0,
            suspect_timeout: d,
            forget_after: d,
            tombstone_ttl: d,
            gossip_bytes_max: 1,
            phi_window: 1,
            phi_min_std_dev: d,
            phi_acceptable_pause: d,
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
