//! Virtual time for a simulated room: a clock and the events due on it.
//!
//! Events due at the same instant come out in the order they were
//! scheduled, so a run depends only on its seed, never on heap order. The
//! simulator and the engines' own test networks (membership, Plumtree, the
//! op-log's anti-entropy) all keep their time here; what an event is stays
//! theirs.

use crate::proto::Time;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A virtual clock and the events scheduled on it.
pub(crate) struct Schedule<E> {
    now: Time,
    seq: u64,
    heap: BinaryHeap<Scheduled<E>>,
}

struct Scheduled<E> {
    at: Time,
    seq: u64,
    ev: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl<E> Default for Schedule<E> {
    fn default() -> Self {
        Schedule::new()
    }
}

impl<E> Schedule<E> {
    /// An empty schedule at time zero.
    pub(crate) fn new() -> Schedule<E> {
        Schedule {
            now: Time::ZERO,
            seq: 0,
            heap: BinaryHeap::new(),
        }
    }

    /// The current virtual time: the due time of the last event taken, or
    /// where [`Schedule::advance_to`] left it.
    pub(crate) fn now(&self) -> Time {
        self.now
    }

    /// Schedules `ev` at `at` (an `at` in the past is due at once, after
    /// everything already due).
    pub(crate) fn at(&mut self, at: Time, ev: E) {
        self.seq += 1;
        self.heap.push(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        });
    }

    /// Takes the earliest event due at or before `until` and moves the clock
    /// to its time; `None` when nothing is due by then (the clock stays).
    pub(crate) fn next_until(&mut self, until: Time) -> Option<E> {
        if self.heap.peek()?.at > until {
            return None;
        }
        let s = self.heap.pop()?;
        debug_assert!(s.at >= self.now, "time went backwards");
        self.now = s.at;
        Some(s.ev)
    }

    /// Takes the earliest event, whenever it is due (test networks that
    /// step message by message).
    #[cfg(test)]
    pub(crate) fn next(&mut self) -> Option<E> {
        self.next_until(Time::from_micros(u64::MAX))
    }

    /// Moves the clock to `t` (never backwards) once everything due by
    /// then has been taken.
    pub(crate) fn advance_to(&mut self, t: Time) {
        self.now = self.now.max(t);
    }

    /// The earliest event, left in place.
    #[cfg(test)]
    pub(crate) fn peek(&self) -> Option<&E> {
        self.heap.peek().map(|s| &s.ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn events_come_out_by_time_then_in_the_order_they_were_scheduled() {
        let mut s = Schedule::new();
        let ms = Duration::from_millis;
        let t = |n| Time::ZERO + ms(n);
        s.at(t(20), "c");
        s.at(t(10), "a");
        s.at(t(10), "b");
        s.at(t(30), "d");
        assert_eq!(s.next_until(Time::ZERO + ms(25)), Some("a"));
        assert_eq!(s.now(), Time::ZERO + ms(10));
        // Scheduled in the past: due now, after what is already due.
        s.at(Time::ZERO, "late");
        assert_eq!(s.next_until(Time::ZERO + ms(25)), Some("b"));
        assert_eq!(s.next_until(Time::ZERO + ms(25)), Some("late"));
        assert_eq!(s.now(), Time::ZERO + ms(10));
        assert_eq!(s.next_until(Time::ZERO + ms(25)), Some("c"));
        assert_eq!(s.next_until(Time::ZERO + ms(25)), None);
        assert_eq!(s.now(), Time::ZERO + ms(20), "nothing due: the clock stays");
        s.advance_to(Time::ZERO + ms(25));
        assert_eq!(s.peek(), Some(&"d"));
        assert_eq!(s.next(), Some("d"));
        assert_eq!(s.next(), None);
    }
}
