//! The simulator's network model: what happens to a message between two
//! nodes. The engines' own test networks (membership's room, Plumtree's
//! harness, the op-log's anti-entropy net) use it too, with the faults they
//! test.
//!
//! * Each link's base one-way latency is drawn uniformly from the run's
//!   latency range once (derived from the seed and the pair, so it does not
//!   depend on event order), and each message adds up to `jitter` of it.
//! * Per-direction FIFO (like TCP) unless a message is picked for
//!   reordering; link setup and closes are never reordered.
//! * Loss and duplication of messages (link setup and closes are reliable).
//! * Partitions: nodes split into groups; nothing crosses groups while the
//!   partition lasts, including messages already in flight (checked again
//!   on arrival).

use std::collections::HashMap;
use std::time::Duration;

use rand::RngExt;

use super::{SimConfig, derive_u64, pair_key};
use crate::proto::{EngineRng, Time};

/// The faulty network between the simulated nodes.
pub(crate) struct Network {
    min: Duration,
    max: Duration,
    jitter: f64,
    loss: f64,
    duplicate: f64,
    reorder: f64,
    seed: u64,
    /// Base one-way latency of each link that has carried anything.
    link_latency: HashMap<(usize, usize), Duration>,
    /// Latest arrival time per direction, for FIFO.
    fifo: HashMap<(usize, usize), Time>,
    /// Partition group of each node while a partition is active.
    groups: Option<Vec<usize>>,
}

impl Network {
    pub(crate) fn new(cfg: &SimConfig) -> Network {
        Network {
            min: cfg.latency.min,
            max: cfg.latency.max,
            jitter: cfg.jitter,
            loss: cfg.loss,
            duplicate: cfg.duplicate,
            reorder: cfg.reorder,
            seed: cfg.seed,
            link_latency: HashMap::new(),
            fifo: HashMap::new(),
            groups: None,
        }
    }

    /// Whether anything sent from `a` reaches `b` now.
    pub(crate) fn reachable(&self, a: usize, b: usize) -> bool {
        match &self.groups {
            Some(g) => g[a] == g[b],
            None => true,
        }
    }

    /// Splits the nodes into `groups` random groups.
    pub(crate) fn partition(&mut self, rng: &mut EngineRng, nodes: usize, groups: usize) {
        self.groups = Some((0..nodes).map(|_| rng.random_range(0..groups)).collect());
    }

    /// Ends the partition.
    pub(crate) fn heal(&mut self) {
        self.groups = None;
    }

    /// Each node's group while a partition lasts.
    pub(crate) fn groups(&self) -> Option<&Vec<usize>> {
        self.groups.as_ref()
    }

    /// One-way latency of the next message on the link between `a` and `b`.
    fn latency(&mut self, rng: &mut EngineRng, a: usize, b: usize) -> Duration {
        let (min, max) = (self.min, self.max);
        let base = if max <= min {
            min
        } else {
            let key = pair_key(a, b);
            let seed = self.seed;
            *self.link_latency.entry(key).or_insert_with(|| {
                let x = derive_u64(
                    b"flashmesh/sim/link-latency",
                    seed,
                    &[key.0 as u64, key.1 as u64],
                );
                let span = (max - min).as_micros() as u64;
                min + Duration::from_micros(x % (span + 1))
            })
        };
        if self.jitter <= 0.0 {
            return base;
        }
        let extra = base.as_secs_f64() * self.jitter * rng.random_range(0.0..1.0);
        base + Duration::from_secs_f64(extra)
    }

    /// Arrival time of the next item sent now on `from -> to`: FIFO unless
    /// `may_reorder` and it is picked for reordering.
    pub(crate) fn arrival(
        &mut self,
        rng: &mut EngineRng,
        now: Time,
        from: usize,
        to: usize,
        may_reorder: bool,
    ) -> Time {
        let t = now + self.latency(rng, from, to);
        if may_reorder && self.reorder > 0.0 && rng.random_bool(self.reorder) {
            return t;
        }
        let last = self.fifo.entry((from, to)).or_insert(Time::ZERO);
        let t = t.max(*last);
        *last = t;
        t
    }

    /// Whether the next message is lost.
    pub(crate) fn lost(&self, rng: &mut EngineRng) -> bool {
        self.loss > 0.0 && rng.random_bool(self.loss)
    }

    /// Whether the next message is delivered twice.
    pub(crate) fn duplicated(&self, rng: &mut EngineRng) -> bool {
        self.duplicate > 0.0 && rng.random_bool(self.duplicate)
    }
}
