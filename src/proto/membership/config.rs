//! The two configuration profiles and their validation.
//!
//! # Where the defaults come from
//!
//! Figures from the in-crate room simulation (`tests.rs`, `room_report`): N
//! engines on a ring plus two random links per node (about six neighbours
//! each, as on the degree-constrained overlay), 1–30 ms delays, independent
//! message loss, all nodes started at once. Reproduce with
//!
//! ```text
//! N=20 LOSS=0.1 SECS=120 cargo test --release --lib \
//!     proto::membership::tests::room_report -- --ignored --nocapture
//! WARM=30 N=1000 LARGE=1 LOSS=0.05 SEEDS=1 STEP=500 cargo test --release \
//!     --lib proto::membership::tests::room_report -- --ignored --nocapture
//! ```
//!
//! (the second takes ~8 minutes and ~2.5 GB). Those runs chose the values
//! below, before the large room's phi window shrank to 40 and `silence_max`
//! was added; the figures of the profiles as they ship, measured with
//! `flashmesh sim` over the real topology and broadcast engines, are in
//! `docs/protocol.md`, "Defaults and how they were chosen".
//!
//! * **Heartbeat and gossip interval.** A heartbeat travels no faster than
//!   gossip carries it, so the two go together. Small room: 250 ms each, to
//!   detect within a few seconds; at 20 nodes a round is a few kilobytes.
//!   Large room: heartbeat 1 s, gossip 500 ms; a digest there is ~48 KiB, so
//!   a faster round would cost each node well over 100 KiB/s each way.
//! * **Phi threshold 8.0.** Akka's and Cassandra's default.
//! * **Acceptable pause and deviation floor.** Heartbeats reach a node by
//!   whichever gossip round carries news first, over several hops, so the
//!   arrival intervals are long-tailed: in the 20-node room with 10% loss the
//!   median gap is 500 ms but p99.9 is 1.7 s and the maximum 2.7 s (20% loss:
//!   2.1 s and 3.0 s). A normal distribution alone underestimates that
//!   tail, so the pause absorbs it. Small room: with a 1 s pause and a
//!   100 ms floor, phi reached 9.8 on live nodes at 10% loss and 62 at 20%
//!   (false suspicions); with **1.5 s and 200 ms** the highest phi over
//!   3 seeds × 120 s was 1.4 at 10% loss and 4.1 at 20%, with no false
//!   suspicion, and a crashed node was suspected by everyone 2.6–5.8 s after
//!   the crash (dead 1 s later). Large room (1000 nodes, 5% loss): gaps reach
//!   p99.9 6.6 s and 11.8 s at most, and the freshest news of a node is up to
//!   4.3 s old; with a **4 s pause and a 500 ms floor** there was no false
//!   suspicion in 60 s of steady state (highest phi 6.3), everyone suspected a
//!   crashed node 10.5–16.5 s after the crash, and the 1000-node cold start
//!   raised 825 transient suspicions but no death. (A 3 s pause gave phi 10.8
//!   and 4 false suspicions per 30 s.)
//! * **Suspect timeout.** A suspect node keeps its links (topology only
//!   stops dialling it); the timeout
//!   keeps one late round from flapping a node to dead. 1 s small, 3 s large.
//! * **Forget after / tombstone TTL.** A dead node is kept 60 s (small) or
//!   120 s (large) so that a node healing from a short partition is revived
//!   rather than relearnt; the tombstone (10 min) outlives the time any peer
//!   may still gossip the forgotten node's last state.
//! * **Gossip bytes max 48 KiB.** Under the 60 KiB frame limit with room to
//!   spare; a digest holds 876 entries, so 1000-node digests paginate.
//! * **Silence cap 8 s (small), 15 s (large).** Phi adapts to how
//!   irregularly gossip brings a node's heartbeats; after a burst of late
//!   news it can learn to tolerate 20 s and more of silence
//!   (`flashmesh sim --nodes 200 --broadcasts 40 --seed 3 --crash 20@8s`
//!   left one observer at phi 7.7 after 21 s). The cap bounds detection at
//!   `silence_max + suspect_timeout` after the last news of a node (which
//!   can itself be several seconds old); it sits above the longest heartbeat
//!   gap seen in the large room without a crash (11.8 s, above), a thin
//!   margin that the simulator runs in `docs/protocol.md` keep checking.
//! * **Phi window 100 (small), 40 (large).** Akka's `max-sample-size` is
//!   100: the last 25 s of arrivals in the small room. The large room keeps
//!   40 (the last ~40 s): enough for a stable mean and deviation, and it
//!   keeps a node's detectors for 1000 peers at ~320 KiB (the simulator
//!   holds 1000 such nodes: 750 MB instead of 1.2 GB for
//!   `flashmesh sim --nodes 1000`).

use std::time::Duration;

use super::Config;
use crate::config::ConfigError;
use crate::proto::wire::FRAME_BYTES_MAX;

/// Smallest accepted `gossip_bytes_max`: room for a `Syn` with a few digest
/// entries (each is 56 bytes, the header at most 77).
pub const GOSSIP_BYTES_MIN: usize = 256;

/// Largest accepted `gossip_bytes_max`: one membership message must fit in a
/// frame together with its 4-byte [`crate::proto::wire::Wire`] tag.
pub const GOSSIP_BYTES_LIMIT: usize = FRAME_BYTES_MAX - 4;

/// Smallest accepted `phi_window` (a mean and a deviation need two samples).
pub const PHI_WINDOW_MIN: usize = 2;

impl Config {
    /// The small room ([`crate::config::Profile::Small`]: up to
    /// [`crate::config::Profile::SMALL_ROOM_NODES_MAX`] (50) nodes) on a
    /// shared, flaky network: in a 20-node room a silent node is suspected
    /// after 3–6 s and dead a second later, with no false alarms up to 20%
    /// message loss in simulation.
    pub fn small_room() -> Config {
        Config {
            heartbeat_interval: Duration::from_millis(250),
            gossip_interval: Duration::from_millis(250),
            check_interval: Duration::from_millis(100),
            phi_threshold: 8.0,
            suspect_timeout: Duration::from_secs(1),
            forget_after: Duration::from_secs(60),
            tombstone_ttl: Duration::from_secs(10 * 60),
            gossip_bytes_max: 48 * 1024,
            phi_window: 100,
            phi_min_std_dev: Duration::from_millis(200),
            phi_acceptable_pause: Duration::from_millis(1500),
            silence_max: Duration::from_secs(8),
        }
    }

    /// The large room ([`crate::config::Profile::Large`]: above 50 nodes,
    /// up to ~1000): slower heartbeats, paginated digests, more tolerance
    /// for the longer and noisier path a heartbeat takes.
    pub fn large_room() -> Config {
        Config {
            heartbeat_interval: Duration::from_secs(1),
            gossip_interval: Duration::from_millis(500),
            check_interval: Duration::from_millis(250),
            phi_threshold: 8.0,
            suspect_timeout: Duration::from_secs(3),
            forget_after: Duration::from_secs(120),
            tombstone_ttl: Duration::from_secs(10 * 60),
            gossip_bytes_max: 48 * 1024,
            phi_window: 40,
            phi_min_std_dev: Duration::from_millis(500),
            phi_acceptable_pause: Duration::from_secs(4),
            silence_max: Duration::from_secs(15),
        }
    }

    /// Checks the values make sense together; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let non_zero = [
            ("membership.heartbeat_interval", self.heartbeat_interval),
            ("membership.gossip_interval", self.gossip_interval),
            ("membership.check_interval", self.check_interval),
            ("membership.tombstone_ttl", self.tombstone_ttl),
            ("membership.phi_min_std_dev", self.phi_min_std_dev),
            ("membership.silence_max", self.silence_max),
        ];
        for (field, value) in non_zero {
            if value.is_zero() {
                return Err(ConfigError::new(field, "must be greater than zero"));
            }
        }
        if !(self.phi_threshold.is_finite() && self.phi_threshold > 0.0) {
            return Err(ConfigError::new(
                "membership.phi_threshold",
                format!("must be a positive number, got {}", self.phi_threshold),
            ));
        }
        if self.phi_window < PHI_WINDOW_MIN {
            return Err(ConfigError::new(
                "membership.phi_window",
                format!("must be at least {PHI_WINDOW_MIN}, got {}", self.phi_window),
            ));
        }
        if !(GOSSIP_BYTES_MIN..=GOSSIP_BYTES_LIMIT).contains(&self.gossip_bytes_max) {
            return Err(ConfigError::new(
                "membership.gossip_bytes_max",
                format!(
                    "must be between {GOSSIP_BYTES_MIN} and {GOSSIP_BYTES_LIMIT} bytes, got {}",
                    self.gossip_bytes_max
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    /// The small room.
    fn default() -> Config {
        Config::small_room()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_profiles_are_valid_and_default_is_the_small_room() {
        assert_eq!(Config::small_room().validate(), Ok(()));
        assert_eq!(Config::large_room().validate(), Ok(()));
        assert_eq!(Config::default(), Config::small_room());
    }

    #[test]
    fn validate_names_the_bad_field() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::small_room();
            f(&mut c);
            c.validate().unwrap_err().field
        };
        assert_eq!(
            bad(|c| c.gossip_interval = Duration::ZERO),
            "membership.gossip_interval"
        );
        assert_eq!(
            bad(|c| c.heartbeat_interval = Duration::ZERO),
            "membership.heartbeat_interval"
        );
        assert_eq!(
            bad(|c| c.check_interval = Duration::ZERO),
            "membership.check_interval"
        );
        assert_eq!(bad(|c| c.phi_threshold = 0.0), "membership.phi_threshold");
        assert_eq!(
            bad(|c| c.phi_threshold = f64::NAN),
            "membership.phi_threshold"
        );
        assert_eq!(bad(|c| c.phi_window = 1), "membership.phi_window");
        assert_eq!(
            bad(|c| c.phi_min_std_dev = Duration::ZERO),
            "membership.phi_min_std_dev"
        );
        assert_eq!(
            bad(|c| c.gossip_bytes_max = 100),
            "membership.gossip_bytes_max"
        );
        assert_eq!(
            bad(|c| c.gossip_bytes_max = FRAME_BYTES_MAX),
            "membership.gossip_bytes_max"
        );
    }
}
