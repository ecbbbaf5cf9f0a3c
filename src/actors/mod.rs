//! The thin tokio actors around the sans-IO engines, and what they share.
//!
//! One task per engine (membership, topology, Plumtree broadcast
//! ([`plumtree`]), and the op-log: its replica, store and applets), plus the
//! transport (listener, dialer, one reader and one writer task per link),
//! the beacon task (LAN discovery, [`beacon`]), seed and remembered-peer
//! dialling ([`discovery`]) and the router that hands each inbound frame to the engine its
//! `Wire` variant names. An actor owns its engine; it only turns inputs
//! from its inboxes and timers into engine inputs, and engine outputs into
//! messages to other actors and events on the bus ([`crate::event::Event`]).
//!
//! ## Channels
//!
//! * Link reader → engine: bounded ([`ENGINE_NET_INBOX`] per engine). A
//!   reader awaits room, so a slow engine slows the TCP reads of its peers
//!   (back-pressure onto their sockets) instead of growing a queue.
//! * Engine → link writer: bounded ([`LINK_SEND_QUEUE`] frames per link) and
//!   fed with `try_send`: a peer whose queue is full is too slow and its link
//!   is closed, never the node.
//! * Between actors (engine → transport, transport → topology, topology ↔
//!   membership, topology → broadcast): unbounded. These form cycles
//!   (topology asks the transport to dial; the transport reports the link to
//!   topology), and a bounded cycle can deadlock. What flows on them is
//!   bounded by the engines themselves (their outputs per input are bounded
//!   by degree, table sizes and byte budgets), not by peers.
//! * The event bus: `tokio::sync::broadcast` with [`EVENT_BUS_CAPACITY`]
//!   slots; a subscriber that falls further behind loses the oldest events
//!   (it sees `RecvError::Lagged`), the node does not wait for it.
//!
//! ## Supervision
//!
//! Each engine actor runs under `supervise`: a panic while handling an
//! input is caught, the engine is rebuilt from what the actor keeps outside
//! it (neighbours, own key-values, sequence numbers), the restart is
//! reported as `Event::ActorRestarted`, and the actor carries on with the
//! same inboxes. After [`RESTARTS_MAX`] panics within [`RESTART_WINDOW`] the
//! actor stays down and `Event::ActorFailed` says so.
//!
//! The transport, the listener, the discovery task, discovery forwarding,
//! the seed and remembered-peer loops and the address-book writer
//! ([`addr_book`]) run under `supervise` too. They hold no engine to
//! rebuild: the listener, forwarding, the loops and the writer carry on as
//! they were;
//! discovery keeps its socket and sends a beacon at once; the transport
//! closes every link (its table may be half-updated) and lets the mesh
//! re-form (see [`transport`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::event::Event;
use crate::proto::Time;

pub mod addr_book;
pub mod beacon;
pub mod discovery;
pub mod membership;
pub mod oplog;
pub mod plumtree;
pub mod router;
pub mod topology;
pub mod transport;

/// The inboxes of the other engine actors that one actor's engine can name
/// in an [`Effect::Input`](crate::proto::route::Effect::Input): what the
/// routing layer ([`crate::proto::route`]) decides, the actor carries over
/// these channels. An input for an engine the actor holds no inbox of
/// cannot come from its engine (the routing layer's tests say which can).
#[derive(Clone, Default)]
pub(crate) struct Routes {
    pub(crate) membership: Option<tokio::sync::mpsc::UnboundedSender<membership::MembershipCtl>>,
    pub(crate) topology: Option<tokio::sync::mpsc::UnboundedSender<topology::TopologyCtl>>,
    pub(crate) plumtree: Option<tokio::sync::mpsc::UnboundedSender<plumtree::BroadcastCtl>>,
    pub(crate) oplog: Option<tokio::sync::mpsc::UnboundedSender<oplog::OpLogCtl>>,
}

impl Routes {
    /// Carries `input` to the actor owning its engine.
    pub(crate) fn carry(&self, input: crate::proto::route::Routed) {
        use crate::proto::oplog::sync;
        use crate::proto::route::Routed;
        let sent = match input {
            Routed::Membership(i) => self
                .membership
                .as_ref()
                .map(|tx| tx.send(membership::MembershipCtl::Input(i)).is_ok()),
            Routed::Topology(i) => self
                .topology
                .as_ref()
                .map(|tx| tx.send(topology::TopologyCtl::Input(i)).is_ok()),
            Routed::Plumtree(i) => self
                .plumtree
                .as_ref()
                .map(|tx| tx.send(plumtree::BroadcastCtl::Input(i)).is_ok()),
            Routed::OpLog(i) => self.oplog.as_ref().map(|tx| {
                let ctl = match i {
                    sync::Input::NeighborUp(p) => oplog::OpLogCtl::NeighborUp(p),
                    sync::Input::NeighborDown(p) => oplog::OpLogCtl::NeighborDown(p),
                    sync::Input::Ops(ops) => oplog::OpLogCtl::Ops(ops),
                    // Starts, timers and peers' messages reach the op-log
                    // actor its own way, never from another engine.
                    other => {
                        tracing::debug!(?other, "op-log input from another engine dropped");
                        return true;
                    }
                };
                tx.send(ctl).is_ok()
            }),
        };
        // `Some(false)`: that actor is gone (the node is stopping).
        if sent.is_none() {
            tracing::debug!("routed input for an engine this actor has no inbox of");
        }
    }
}

/// Frames queued for one link's writer; a full queue closes the link.
pub const LINK_SEND_QUEUE: usize = 512;
/// Inbound messages from all links queued for one engine actor.
pub const ENGINE_NET_INBOX: usize = 1024;
/// Events kept for slow subscribers of the event bus.
pub const EVENT_BUS_CAPACITY: usize = 4096;
/// Requests from the application queued for one actor.
pub const API_INBOX: usize = 64;
/// Panics tolerated within [`RESTART_WINDOW`] before an actor stays down.
pub const RESTARTS_MAX: u32 = 5;
/// See [`RESTARTS_MAX`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// The engines' clock: microseconds since the node started. Never goes
/// backwards (tokio's `Instant` is monotonic).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Time {
        let us = self.origin.elapsed().as_micros();
        Time::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    pub(crate) fn instant(&self, t: Time) -> Instant {
        self.origin + Duration::from_micros(t.as_micros())
    }
}

/// Timers an engine asked for, by deadline. Timers are data: a timer that
/// fires late, twice, or after the fact is ignored by the engine, so this
/// keeps every one it is given.
pub(crate) struct Timers<T> {
    due: BTreeMap<(Time, u64), T>,
    next_seq: u64,
}

impl<T> Timers<T> {
    pub(crate) fn new() -> Timers<T> {
        Timers {
            due: BTreeMap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn set(&mut self, at: Time, timer: T) {
        self.due.insert((at, self.next_seq), timer);
        self.next_seq += 1;
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<Time> {
        self.due.keys().next().map(|(t, _)| *t)
    }

    /// Removes and returns one timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<T> {
        let (&(at, _), _) = self.due.iter().next()?;
        if at > now {
            return None;
        }
        self.due.pop_first().map(|(_, t)| t)
    }

    pub(crate) fn clear(&mut self) {
        self.due.clear();
    }
}

/// A fresh engine RNG seeded from the OS.
pub(crate) fn fresh_rng() -> crate::proto::EngineRng {
    use rand::SeedableRng;
    let mut seed = <crate::proto::EngineRng as SeedableRng>::Seed::default();
    rand::fill(&mut seed[..]);
    crate::proto::EngineRng::from_seed(seed)
}

/// Sleeps until `at`, or forever when there is no deadline.
pub(crate) async fn sleep_until(clock: Clock, at: Option<Time>) {
    match at {
        Some(t) => tokio::time::sleep_until(clock.instant(t)).await,
        None => std::future::pending().await,
    }
}

/// What [`supervise`] needs of an actor.
pub(crate) trait Supervised: Send {
    /// The actor's name in events and logs.
    const NAME: &'static str;
    /// Runs until the actor's inboxes close or the node stops.
    fn run(&mut self) -> impl Future<Output = ()> + Send;
    /// Rebuilds the engine after a panic, from state kept outside it.
    fn restart(&mut self);
}

/// Runs `actor`, restarting it after a panic (see the module docs).
pub(crate) async fn supervise<A: Supervised>(mut actor: A, bus: broadcast::Sender<Event>) {
    let mut restarts: Vec<Instant> = Vec::new();
    loop {
        let outcome = AssertUnwindSafe(actor.run()).catch_unwind().await;
        let Err(panic) = outcome else {
            return; // A normal end: inboxes closed or shutdown.
        };
        let reason = panic_message(panic.as_ref());
        let now = Instant::now();
        restarts.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
        restarts.push(now);
        let count = u32::try_from(restarts.len()).unwrap_or(u32::MAX);
        if count > RESTARTS_MAX {
            tracing::error!(actor = A::NAME, %reason, "actor keeps panicking; it stays down");
            let _ = bus.send(Event::ActorFailed {
                actor: A::NAME,
                reason,
            });
            return;
        }
        tracing::error!(actor = A::NAME, %reason, "actor panicked; restarting it");
        actor.restart();
        let _ = bus.send(Event::ActorRestarted {
            actor: A::NAME,
            reason,
            restarts: count,
        });
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_out_in_deadline_order_and_only_when_due() {
        let mut timers = Timers::new();
        timers.set(Time::from_millis(20), "b");
        timers.set(Time::from_millis(10), "a");
        timers.set(Time::from_millis(20), "c");
        assert_eq!(timers.next(), Some(Time::from_millis(10)));
        assert_eq!(timers.pop_due(Time::from_millis(5)), None);
        assert_eq!(timers.pop_due(Time::from_millis(20)), Some("a"));
        assert_eq!(timers.pop_due(Time::from_millis(20)), Some("b"));
        assert_eq!(timers.pop_due(Time::from_millis(20)), Some("c"));
        assert_eq!(timers.next(), None);
    }

    struct Flaky {
        runs: u32,
        panics_left: u32,
        restarted: u32,
    }

    impl Supervised for Flaky {
        const NAME: &'static str = "flaky";
        async fn run(&mut self) {
            self.runs += 1;
            if self.panics_left > 0 {
                self.panics_left -= 1;
                panic!("injected");
            }
        }
        fn restart(&mut self) {
            self.restarted += 1;
        }
    }

    #[tokio::test]
    async fn a_panicking_actor_is_restarted_and_each_restart_is_reported() {
        let (bus, mut rx) = broadcast::channel(16);
        let actor = Flaky {
            runs: 0,
            panics_left: 2,
            restarted: 0,
        };
        supervise(actor, bus).await;
        for n in 1..=2 {
            match rx.recv().await.expect("an event") {
                Event::ActorRestarted {
                    actor, restarts, ..
                } => {
                    assert_eq!(actor, "flaky");
                    assert_eq!(restarts, n);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(rx.try_recv().is_err(), "no more events after a normal end");
    }

    #[tokio::test]
    async fn an_actor_that_keeps_panicking_stays_down_and_says_so() {
        let (bus, mut rx) = broadcast::channel(16);
        let actor = Flaky {
            runs: 0,
            panics_left: u32::MAX,
            restarted: 0,
        };
        supervise(actor, bus).await;
        let mut failed = false;
        while let Ok(ev) = rx.try_recv() {
            failed |= matches!(ev, Event::ActorFailed { .. });
        }
        assert!(failed);
    }
}
