//! The phi accrual failure detector.
//!
//! Paper: Hayashibara, Défago, Yared, Katayama, "The phi Accrual Failure
//! Detector" (SRDS 2004). The arithmetic follows Akka's
//! `PhiAccrualFailureDetector`:
//!
//! * a bounded window of heartbeat inter-arrival intervals per node;
//! * the intervals are modelled as a normal distribution whose mean is the
//!   window mean plus an *acceptable pause*, and whose standard deviation is
//!   floored at a minimum;
//! * `phi = -log10(1 - CDF(elapsed))`, with the logistic approximation of the
//!   normal CDF (Bowling et al., "A logistic approximation to the cumulative
//!   normal distribution", 2009), as Akka does;
//! * a new detector is bootstrapped with two samples around an estimate of the
//!   expected interval (`estimate ± estimate / 4`), so it gives sensible values
//!   before real samples arrive;
//! * an arrival while the detector already considers the node unavailable
//!   (`phi >= threshold`) does not add its (abnormally long) interval to the
//!   window, so a node that comes back after a pause or partition does not
//!   blunt the detector for the next hundred samples.
//!
//! Pure arithmetic over [`Time`]: no clock is read here.

use std::collections::VecDeque;
use std::time::Duration;

use crate::proto::Time;

/// The detector's tunables, shared by every per-node [`PhiDetector`] (each
/// detector only stores its own samples).
#[derive(Clone, Debug, PartialEq)]
pub struct PhiParams {
    /// Intervals kept per node (the oldest is dropped first). At least 1.
    pub window: usize,
    /// Floor on the standard deviation of the intervals.
    pub min_std_dev: Duration,
    /// Added to the mean interval: how long a silence is normal.
    pub acceptable_pause: Duration,
    /// Expected interval between arrivals, used to bootstrap a new detector.
    pub first_estimate: Duration,
    /// Phi at or above which the node counts as unavailable (arrivals then
    /// restart the clock without recording their interval).
    pub threshold: f64,
}

/// Heartbeat arrival history of one node.
#[derive(Clone, Debug, PartialEq)]
pub struct PhiDetector {
    /// Inter-arrival intervals in microseconds, oldest first; `len <= window`.
    intervals: VecDeque<u64>,
    /// Sum of `intervals`.
    sum: u128,
    /// Sum of the squares of `intervals`.
    squared_sum: u128,
    /// When the last heartbeat arrived.
    last_arrival: Time,
}

impl PhiDetector {
    /// A detector whose first heartbeat arrived at `now`, with the two
    /// bootstrap samples `estimate ± estimate / 4`.
    pub fn new(params: &PhiParams, now: Time) -> PhiDetector {
        let mean = duration_micros(params.first_estimate);
        let std_dev = mean / 4;
        let mut detector = PhiDetector {
            intervals: VecDeque::with_capacity(params.window.clamp(1, 1024)),
            sum: 0,
            squared_sum: 0,
            last_arrival: now,
        };
        detector.push(params, mean - std_dev);
        detector.push(params, mean + std_dev);
        detector
    }

    /// Records a heartbeat arrival at `now`. The interval since the previous
    /// arrival joins the window unless the node was already unavailable.
    pub fn heartbeat(&mut self, params: &PhiParams, now: Time) {
        if !self.exceeds(params, now, params.threshold) {
            let interval = duration_micros(now - self.last_arrival);
            self.push(params, interval);
        }
        self.last_arrival = now.max(self.last_arrival);
    }

    /// Suspicion level at `now`: about 0 right after an arrival, growing with
    /// the silence. Never negative; may be infinite for a very long silence.
    pub fn phi(&self, params: &PhiParams, now: Time) -> f64 {
        let elapsed_ms = (now - self.last_arrival).as_secs_f64() * 1000.0;
        let mean_ms = self.mean_ms() + params.acceptable_pause.as_secs_f64() * 1000.0;
        let min_std_ms = params.min_std_dev.as_secs_f64() * 1000.0;
        // A zero floor with constant intervals would divide by zero; 1 µs is
        // far below anything a real network produces.
        let std_ms = self.std_dev_ms().max(min_std_ms).max(0.001);
        phi(elapsed_ms, mean_ms, std_ms)
    }

    /// Whether phi at `now` is at or above `threshold`. Cheaper than
    /// [`PhiDetector::phi`]: while the silence is no longer than the mean
    /// plus the acceptable pause, phi is at most -log10(0.5) ≈ 0.30 and no
    /// logarithm is needed.
    pub fn exceeds(&self, params: &PhiParams, now: Time, threshold: f64) -> bool {
        const PHI_AT_MEAN: f64 = 0.302;
        if threshold > PHI_AT_MEAN {
            let elapsed_us = duration_micros(now - self.last_arrival) as f64;
            let mean_us = self.mean_ms() * 1000.0 + params.acceptable_pause.as_secs_f64() * 1e6;
            if elapsed_us <= mean_us {
                return false;
            }
        }
        self.phi(params, now) >= threshold
    }

    /// When the last heartbeat arrived.
    pub fn last_arrival(&self) -> Time {
        self.last_arrival
    }

    /// Number of intervals in the window.
    pub fn samples(&self) -> usize {
        self.intervals.len()
    }

    /// Mean of the window, in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.intervals.is_empty() {
            return 0.0;
        }
        self.sum as f64 / self.intervals.len() as f64 / 1000.0
    }

    /// Standard deviation of the window, in milliseconds.
    pub fn std_dev_ms(&self) -> f64 {
        let n = self.intervals.len() as f64;
        if n == 0.0 {
            return 0.0;
        }
        let mean = self.sum as f64 / n;
        let variance = (self.squared_sum as f64 / n - mean * mean).max(0.0);
        variance.sqrt() / 1000.0
    }

    fn push(&mut self, params: &PhiParams, interval: u64) {
        while self.intervals.len() >= params.window.max(1) {
            match self.intervals.pop_front() {
                Some(old) => {
                    self.sum -= u128::from(old);
                    self.squared_sum -= u128::from(old) * u128::from(old);
                }
                None => break,
            }
        }
        self.intervals.push_back(interval);
        self.sum += u128::from(interval);
        self.squared_sum += u128::from(interval) * u128::from(interval);
    }
}

/// `-log10(1 - CDF(elapsed))` for a normal distribution `(mean, std_dev)`,
/// with the logistic approximation of the CDF; the two branches keep
/// precision on either side of the mean (as in Akka).
fn phi(elapsed: f64, mean: f64, std_dev: f64) -> f64 {
    let y = (elapsed - mean) / std_dev;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let value = if elapsed > mean {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    };
    // -0.0 and NaN (from inf/inf) both mean "no suspicion".
    if value.is_nan() { 0.0 } else { value.max(0.0) }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PhiParams {
        PhiParams {
            window: 100,
            min_std_dev: Duration::from_millis(100),
            acceptable_pause: Duration::from_millis(1000),
            first_estimate: Duration::from_millis(250),
            threshold: 8.0,
        }
    }

    fn ms(n: u64) -> Time {
        Time::from_millis(n)
    }

    #[test]
    fn phi_is_about_zero_right_after_a_heartbeat() {
        let p = params();
        let mut d = PhiDetector::new(&p, ms(0));
        assert!(d.phi(&p, ms(0)) < 1e-6);
        for i in 1..=20 {
            d.heartbeat(&p, ms(250 * i));
        }
        assert!(d.phi(&p, ms(5000)) < 1e-6);
        assert!(d.phi(&p, ms(5250)) < 0.01);
    }

    #[test]
    fn phi_grows_monotonically_with_elapsed_time() {
        let p = params();
        let mut d = PhiDetector::new(&p, ms(0));
        for i in 1..=10 {
            d.heartbeat(&p, ms(250 * i));
        }
        let mut previous = 0.0;
        for t in (2500..20_000).step_by(10) {
            let phi = d.phi(&p, ms(t));
            assert!(
                phi >= previous,
                "phi fell from {previous} to {phi} at {t} ms"
            );
            previous = phi;
        }
        assert!(previous.is_infinite() || previous > 100.0);
    }

    #[test]
    fn regular_heartbeats_keep_phi_below_the_threshold() {
        let p = params();
        let mut d = PhiDetector::new(&p, ms(0));
        // Heartbeats every 200..=400 ms in a fixed pattern.
        let mut t = 0;
        for i in 0..500u64 {
            t += 200 + (i * 37) % 201;
            assert!(d.phi(&p, ms(t)) < p.threshold, "suspected at {t} ms");
            d.heartbeat(&p, ms(t));
        }
        // Even a one-second hiccup stays well below the threshold.
        assert!(d.phi(&p, ms(t + 1000)) < 1.0);
    }

    #[test]
    fn a_long_pause_crosses_the_threshold() {
        let p = params();
        let mut d = PhiDetector::new(&p, ms(0));
        for i in 1..=40 {
            d.heartbeat(&p, ms(250 * i));
        }
        let last = 250 * 40;
        assert!(d.phi(&p, ms(last + 1500)) < p.threshold);
        assert!(d.phi(&p, ms(last + 3000)) >= p.threshold);
    }

    #[test]
    fn a_new_detector_suspects_a_silent_node_within_a_few_seconds() {
        let p = params();
        let d = PhiDetector::new(&p, ms(1000));
        assert!(d.phi(&p, ms(2000)) < p.threshold);
        assert!(d.phi(&p, ms(4000)) >= p.threshold);
    }

    #[test]
    fn the_window_is_bounded() {
        let p = PhiParams {
            window: 8,
            ..params()
        };
        let mut d = PhiDetector::new(&p, ms(0));
        assert_eq!(d.samples(), 2);
        for i in 1..=50 {
            d.heartbeat(&p, ms(100 * i));
        }
        assert_eq!(d.samples(), 8);
        // Only the last 8 intervals (all 100 ms) remain: the bootstrap
        // samples are gone.
        assert!((d.mean_ms() - 100.0).abs() < 1e-9);
        assert!(d.std_dev_ms() < 1e-6);
    }

    #[test]
    fn an_arrival_after_the_node_was_unavailable_is_not_recorded() {
        let p = params();
        let mut d = PhiDetector::new(&p, ms(0));
        d.heartbeat(&p, ms(250));
        let before = (d.samples(), d.mean_ms());
        d.heartbeat(&p, ms(60_000));
        assert_eq!((d.samples(), d.mean_ms()), before);
        assert_eq!(d.last_arrival(), ms(60_000));
        assert!(d.phi(&p, ms(60_000)) < 1e-6);
    }

    #[test]
    fn phi_matches_the_akka_reference_values() {
        // Akka's tests: phi(0, mean 0, sd 1) ~ 0.3 (CDF 0.5), and for a
        // distribution (1000 ms, 100 ms) the phi of 1100 ms is ~0.8.
        assert!((phi(0.0, 0.0, 1.0) - 0.5f64.log10().abs()).abs() < 1e-3);
        assert!((phi(1100.0, 1000.0, 100.0) - 0.79).abs() < 0.02);
        assert!(phi(0.0, 1000.0, 100.0) < 1e-6);
        assert!(phi(1e12, 1000.0, 100.0) >= 8.0);
    }
}
