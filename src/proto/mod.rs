//! Sans-IO protocol engines.
//!
//! Every protocol here is a pure state machine: it owns no socket, no task, no
//! clock and no global RNG. The driver (a tokio actor in a real node, the
//! [`crate::sim`] event loop in the simulator) feeds it inputs together with
//! the current [`Time`], and drains the outputs it produced.
//!
//! # Driver contract (all engines)
//!
//! * Call `handle(now, input)` for every input, with `now` never going
//!   backwards across calls.
//! * After each call, drain every output with `poll_output()` until it returns
//!   `None`, and act on each one: `Send` goes to the named peer (dropping it is
//!   allowed: the engines tolerate loss), `SetTimer { after, timer }` must come
//!   back as `Input::Timer(timer)` no earlier than `now + after`, `Event`s go to
//!   the application and the other engines.
//! * Timers may fire late, twice, or after the thing they were set for is
//!   gone; engines ignore a timer that no longer applies.
//! * Randomness comes from an [`EngineRng`] the driver seeds, so the same seed
//!   and the same inputs give the same outputs.
//!
//! Engines: [`membership`] (Scuttlebutt + phi accrual), [`topology`]
//! (degree-constrained links), [`plumtree`] (epidemic broadcast trees). Their
//! messages travel inside one [`wire::Wire`] enum.

use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod membership;
pub mod oplog;
pub mod plumtree;
pub mod route;
pub mod topology;
pub mod wire;

/// The random number generator engines use: seeded by the driver, portable
/// and reproducible across platforms (xoshiro256++).
pub type EngineRng = rand::rngs::Xoshiro256PlusPlus;

/// A point in time, in microseconds since a driver-chosen epoch.
///
/// Engines only compare and subtract times, so the epoch does not matter: a
/// real node uses its start instant, the simulator uses virtual time zero.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    /// The epoch.
    pub const ZERO: Time = Time(0);

    /// A time `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1000)
    }

    /// A time `us` microseconds after the epoch.
    pub const fn from_micros(us: u64) -> Time {
        Time(us)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the epoch, as a float (for reports).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// How long after `earlier` this is; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    /// Saturating: a later `rhs` gives zero.
    fn sub(self, rhs: Time) -> Duration {
        self.saturating_since(rhs)
    }
}

/// Adds up to `fraction` (0.0..=1.0) of `d` at random, so that periodic timers
/// of many nodes do not fire in lockstep.
pub fn jitter(rng: &mut EngineRng, d: Duration, fraction: f64) -> Duration {
    use rand::RngExt;
    let extra = d.as_secs_f64() * fraction.clamp(0.0, 1.0) * rng.random_range(0.0..1.0);
    d + Duration::from_secs_f64(extra)
}
