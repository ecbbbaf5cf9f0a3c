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
impl Config {
    pub fn small_room() -> Self {
        let d = Duration::from_millis(250);
        Config {
            graft_timeout_1: d,
            graft_timeout_2: d,
            ihave_interval: d,
            ihave_batch_max: 1,
            optimization_threshold: 7,
            cache_ttl: d,
            seen_ttl: d,
            cache_entries_max: 1,
            sweep_interval: d,
            payload_bytes_max: 32 * 1024,
            graft_rounds_max: 3,
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
