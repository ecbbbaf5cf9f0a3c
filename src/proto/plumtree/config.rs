//! [`Config`] presets, their reasons, and [`Config::validate`].
//!
//! Starting point: iroh-gossip's `proto::plumtree::Config` defaults
//! (graft timeouts 80 ms / 40 ms, IHave dispatch 5 ms, optimisation threshold
//! 7, cache 30 s, ids 90 s, eviction every 1 s), adapted to a room on one LAN
//! or Wi-Fi: one-way latency 1–50 ms, some loss, tens (small room) to hundreds
//! (large room) of nodes.

use std::time::Duration;

use super::Config;
use crate::config::ConfigError;
use crate::proto::wire::FRAME_BYTES_MAX;

/// Bytes a `Wire::Plumtree(Message::Gossip)` takes on the wire besides its
/// payload: Wire tag 4, Message tag 4, id 32, author 32, seq 8, round 2,
/// payload length 8 (bincode, fixed-width integers). Checked against the codec
/// in the tests.
pub(crate) const GOSSIP_FRAME_OVERHEAD_BYTES: usize = 4 + 4 + 32 + 32 + 8 + 2 + 8;

/// Bytes a `Wire::Plumtree(Message::IHave)` takes besides its entries: Wire
/// tag 4, Message tag 4, list length 8.
pub(crate) const IHAVE_FRAME_OVERHEAD_BYTES: usize = 4 + 4 + 8;

/// Bytes per `IHave` entry: id 32, round 2.
pub(crate) const IHAVE_ENTRY_BYTES: usize = 32 + 2;

impl Config {
    /// The small room ([`crate::config::Profile::Small`]: up to
    /// [`crate::config::Profile::SMALL_ROOM_NODES_MAX`] (50) nodes) on one
    /// LAN: fast repair, because the duplicates that fast repair may cause
    /// are cheap in a small room.
    pub fn small_room() -> Config {
        Config {
            // An eager copy normally beats the IHave, which waits up to
            // `ihave_interval` in the queue; 80 ms (iroh's value) covers a
            // slow eager path on a LAN (one-way latency up to ~50 ms) plus
            // that queueing, so a graft usually means the eager copy is lost.
            graft_timeout_1: Duration::from_millis(80),
            // One graft round trip on a typical LAN (RTT 2–40 ms). If the
            // reply is slower, the next announcer is grafted too: at worst a
            // duplicate, which a small room can afford (iroh: 40 ms).
            graft_timeout_2: Duration::from_millis(40),
            // Batch window for IHaves (iroh: 5 ms). Adds at most 5 ms to the
            // lazy repair path.
            ihave_interval: Duration::from_millis(5),
            // 256 × 34 bytes ≈ 8.5 KiB per IHave message, far below the
            // 60 KiB frame (iroh has no count cap, only the frame size).
            ihave_batch_max: 256,
            // iroh's 7. The harness report (`report_optimization_threshold_
            // tradeoff` in `tests/harness.rs`, 100 rooms of 20–50 nodes, random
            // authors) found rewiring by hop count does not pay when every
            // node broadcasts: one author's shortcut lengthens another's
            // path. Threshold 4: 2.5–2.9 rewirings per broadcast and mean
            // latency +5% (equal 5 ms links) / +20% (1–20 ms links) over no
            // optimisation; threshold 7: 0.2–0.6 rewirings, +1% / +8%. So
            // keep it rare.
            optimization_threshold: 7,
            // Long enough to answer every graft (the whole graft schedule is
            // well under a second) and late joiners' lazy repair; iroh: 30 s.
            cache_ttl: Duration::from_secs(30),
            // Three times the cache lifetime: a copy still circulating (slow
            // link, graft answered from a cache) cannot be delivered twice.
            // iroh: 90 s.
            seen_ttl: Duration::from_secs(90),
            // 30 s at ~330 messages/s; the cache is also capped in bytes
            // (`Plumtree::CACHE_BYTES_MAX`).
            cache_entries_max: 10_000,
            // Expiry granularity only (iroh: 1 s).
            sweep_interval: Duration::from_secs(1),
            // 32 KiB + 90 bytes of header fits a 60 KiB frame with room to
            // spare; bigger things (snapshots) go over direct sync, not
            // broadcast.
            payload_bytes_max: 32 * 1024,
            // Three passes over all announcers (each a graft + 40 ms wait)
            // before giving up; anti-entropy in the op-log covers the rest.
            graft_rounds_max: 3,
            // A lost eager push is otherwise repaired only if some lazy
            // neighbour announces the message; with 10% of Gossip dropped
            // and degree 2–3 the harness misses deliveries without this
            // (`without_announcing_to_eager_peers_a_lost_push_can_go_unrepaired`)
            // and none with it. Cost: one 34-byte IHave entry per message per
            // eager link (≈ +1.3 entries per node per broadcast at degree 3).
            announce_to_eager: true,
            // Announcements are sent once in the paper; when all of a node's
            // copies and announcements are lost (at 20% loss and degree 4,
            // 0.2^5 per node and broadcast), or a lone announcer's grafts
            // all fail, the node never gets the message: a 500-node room at
            // 20% loss missed 5–9 of 50,000 deliveries per run. Repeating
            // the announcement to neighbours that have not acknowledged it
            // repairs both. 500 ms is several acknowledgement round trips
            // on a LAN (IHave queue + latency, or a graft and its answer at
            // up to 50 ms one way), so a neighbour that got the message is
            // rarely re-announced to; rounds at 0.5, 1.5, 3.5, 7.5, 15.5 s.
            reannounce_interval: Some(Duration::from_millis(500)),
        }
    }

    /// The large room ([`crate::config::Profile::Large`]: above 50 nodes,
    /// sized for 1000): bigger batches, fewer redundant grafts and a bigger
    /// cache.
    pub fn large_room() -> Config {
        Config {
            // As small_room: the LAN's latency does not change with size.
            graft_timeout_1: Duration::from_millis(80),
            // A redundant graft costs a duplicate payload; with more traffic
            // wait for a slower graft round trip (RTT up to 80 ms) first.
            graft_timeout_2: Duration::from_millis(80),
            // More messages per window, so fewer, larger IHave frames.
            ihave_interval: Duration::from_millis(10),
            // Still ≈ 17 KiB per IHave message.
            ihave_batch_max: 512,
            // As small_room (see there); deeper trees make a 7-hop shortcut
            // more likely to be real.
            optimization_threshold: 7,
            cache_ttl: Duration::from_secs(30),
            seen_ttl: Duration::from_secs(90),
            // 30 s at ~1,600 messages/s; still capped in bytes.
            cache_entries_max: 50_000,
            sweep_interval: Duration::from_secs(1),
            payload_bytes_max: 32 * 1024,
            graft_rounds_max: 3,
            // As small_room.
            announce_to_eager: true,
            // As small_room.
            reannounce_interval: Some(Duration::from_millis(500)),
        }
    }

    /// Checks every field; the error names the field and the rule broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nonzero = [
            ("plumtree.graft_timeout_1", self.graft_timeout_1),
            ("plumtree.graft_timeout_2", self.graft_timeout_2),
            ("plumtree.ihave_interval", self.ihave_interval),
            ("plumtree.cache_ttl", self.cache_ttl),
            ("plumtree.seen_ttl", self.seen_ttl),
            ("plumtree.sweep_interval", self.sweep_interval),
        ];
        let nonzero = nonzero.into_iter().chain(
            self.reannounce_interval
                .map(|d| ("plumtree.reannounce_interval", d)),
        );
        for (field, d) in nonzero {
            if d.is_zero() {
                return Err(ConfigError::new(field, "must be greater than zero"));
            }
        }
        if self.seen_ttl < self.cache_ttl {
            return Err(ConfigError::new(
                "plumtree.seen_ttl",
                format!(
                    "{:?} is less than plumtree.cache_ttl ({:?}): it must be at least that, \
                     or a cached message could be delivered twice",
                    self.seen_ttl, self.cache_ttl
                ),
            ));
        }
        let at_least_one = [
            ("plumtree.ihave_batch_max", self.ihave_batch_max),
            ("plumtree.cache_entries_max", self.cache_entries_max),
            ("plumtree.payload_bytes_max", self.payload_bytes_max),
        ];
        for (field, n) in at_least_one {
            if n == 0 {
                return Err(ConfigError::new(field, "must be at least 1"));
            }
        }
        if self.graft_rounds_max == 0 {
            return Err(ConfigError::new(
                "plumtree.graft_rounds_max",
                "must be at least 1",
            ));
        }
        if self.optimization_threshold == 0 {
            return Err(ConfigError::new(
                "plumtree.optimization_threshold",
                "must be at least 1 hop",
            ));
        }
        let ihave_bytes = IHAVE_FRAME_OVERHEAD_BYTES
            .saturating_add(self.ihave_batch_max.saturating_mul(IHAVE_ENTRY_BYTES));
        if ihave_bytes > FRAME_BYTES_MAX {
            return Err(ConfigError::new(
                "plumtree.ihave_batch_max",
                format!(
                    "{} makes IHave messages of {ihave_bytes} bytes, over the \
                     {FRAME_BYTES_MAX}-byte frame",
                    self.ihave_batch_max
                ),
            ));
        }
        let gossip_bytes = GOSSIP_FRAME_OVERHEAD_BYTES.saturating_add(self.payload_bytes_max);
        if gossip_bytes > FRAME_BYTES_MAX {
            return Err(ConfigError::new(
                "plumtree.payload_bytes_max",
                format!(
                    "{} makes Gossip messages of {gossip_bytes} bytes, over the \
                     {FRAME_BYTES_MAX}-byte frame",
                    self.payload_bytes_max
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    /// [`Config::small_room`].
    fn default() -> Config {
        Config::small_room()
    }
}
