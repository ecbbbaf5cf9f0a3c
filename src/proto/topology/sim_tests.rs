//! A small in-test network of topology engines: the simulator's clock and
//! network model (a fixed send delay), a
//! driver that turns `Dial` into a connection completed at both ends (or
//! `DialFailed`) after a fixed virtual delay and `Disconnect` into
//! `LinkDown` on both ends, and invariant checks after every event. Each
//! node keeps its links in the transport's link table
//! ([`crate::net::links`]), so one link per pair and when topology hears
//! `LinkUp` are the node's own rules.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::*;
use crate::net::links::{Conn, Established, LinkTable};
use crate::proto::{EngineRng, Time};
use crate::sim::net::Network;
use crate::sim::schedule::Schedule;
use crate::sim::{LatencyRange, SimConfig};

/// Time from `Dial` to `LinkUp` / `DialFailed`.
const DIAL_DELAY: Duration = Duration::from_millis(50);
/// Time a `Send` takes.
const SEND_DELAY: Duration = Duration::from_millis(20);
/// Time gossip takes to tell everyone that the other half is alive again
/// once a link crosses a healed partition.
const GOSSIP_DELAY: Duration = Duration::from_secs(1);
/// A settled room is back within its degree bounds after this long.
const DEGREE_SETTLE_MAX: Duration = Duration::from_secs(5);
/// More events than this at one instant means an engine spins.
const EVENTS_PER_INSTANT_MAX: usize = 100_000;

/// The network sends travel on: the simulator's model at a fixed
/// [`SEND_DELAY`], without faults.
fn wire(seed: u64) -> SimConfig {
    let mut cfg = SimConfig::new(2, 0, seed);
    cfg.latency = LatencyRange {
        min: SEND_DELAY,
        max: SEND_DELAY,
    };
    cfg.jitter = 0.0;
    cfg
}

fn node(i: usize) -> NodeId {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&(i as u64).to_be_bytes());
    id[31] = 0xff;
    NodeId(id)
}

#[derive(Debug)]
enum Ev {
    Input(usize, Input),
    DialDone {
        from: usize,
        to: usize,
    },
    /// Gossip of a healed partition reached everyone.
    Healed,
}

struct Net {
    /// Printed by every failed check, to replay the run.
    seed: u64,
    /// Virtual time and the events due on it.
    schedule: Schedule<Ev>,
    /// The simulator's network model, with [`SEND_DELAY`] on every link.
    wire: Network,
    /// Its RNG (unused at a fixed latency without faults).
    wire_rng: EngineRng,
    config: Config,
    engines: Vec<Topology>,
    index: BTreeMap<NodeId, usize>,
    /// Each node's link table.
    links: Vec<LinkTable<()>>,
    /// Connections made so far (numbers them).
    conns: u64,
    /// Nodes that handled an input in the current event.
    touched: BTreeSet<usize>,
    /// Each node's view from its `NeighborUp` / `NeighborDown` events.
    event_view: Vec<BTreeSet<usize>>,
    /// Partition group of each node; dials across groups fail while split.
    group: Vec<u8>,
    split: bool,
    /// A cross-group link came up since the last heal was gossiped.
    heal_gossiped: bool,
    /// Every output, for determinism checks.
    log: Vec<(Time, usize, Output)>,
    /// NeighborUp + NeighborDown events, for churn figures.
    neighbor_events: u64,
    dials: u64,
}

impl Net {
    fn new(n: usize, config: Config, seed: u64) -> Net {
        let engines = (0..n)
            .map(|i| {
                let rng =
                    EngineRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
                Topology::new(node(i), config.clone(), rng)
            })
            .collect();
        Net {
            seed,
            schedule: Schedule::new(),
            wire: Network::new(&wire(seed)),
            wire_rng: EngineRng::seed_from_u64(seed),
            config,
            engines,
            index: (0..n).map(|i| (node(i), i)).collect(),
            links: (0..n).map(|i| LinkTable::new(node(i))).collect(),
            conns: 0,
            touched: BTreeSet::new(),
            event_view: vec![BTreeSet::new(); n],
            group: vec![0; n],
            split: false,
            heal_gossiped: true,
            log: Vec::new(),
            neighbor_events: 0,
            dials: 0,
        }
    }

    fn schedule(&mut self, at: Time, ev: Ev) {
        self.schedule.at(at, ev);
    }

    fn now(&self) -> Time {
        self.schedule.now()
    }

    fn idx(&self, id: &NodeId) -> usize {
        *self
            .index
            .get(id)
            .expect("engines only name nodes of the net")
    }

    /// The nodes node `i`'s table holds links to.
    fn linked(&self, i: usize) -> BTreeSet<usize> {
        self.links[i].iter().map(|(p, _)| self.idx(p)).collect()
    }

    /// A connection from `a` to `b` completes at both ends at once; returns
    /// whether it is the pair's first link (a second one is refused or
    /// replaces the first at both ends alike, unseen by topology).
    fn link_add(&mut self, a: usize, b: usize) -> bool {
        self.conns += 1;
        let mut handshake_hash = [0u8; 32];
        handshake_hash[..8].copy_from_slice(
            &(self.conns ^ self.seed)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .to_be_bytes(),
        );
        let conn = |outbound| Conn {
            id: self.conns,
            handshake_hash,
            outbound,
        };
        let at_a = self.links[a].on_established(node(b), conn(true), || ());
        let at_b = self.links[b].on_established(node(a), conn(false), || ());
        let up = matches!(at_a, Established::Up);
        assert_eq!(
            up,
            matches!(at_b, Established::Up),
            "seed {}: both ends of a connection decide alike",
            self.seed
        );
        up
    }

    /// Closes the link between `a` and `b` at both ends; false when there
    /// was none.
    fn link_remove(&mut self, a: usize, b: usize) -> bool {
        self.links[b].remove(&node(a));
        self.links[a].remove(&node(b)).is_some()
    }

    /// Delivers `input` to node `i` and everything it causes at once.
    fn deliver(&mut self, i: usize, input: Input) {
        self.deliver_all([(i, input)]);
    }

    /// Delivers inputs in order, then everything they cause, at once.
    fn deliver_all(&mut self, inputs: impl IntoIterator<Item = (usize, Input)>) {
        let mut work: VecDeque<(usize, Input)> = inputs.into_iter().collect();
        while let Some((i, input)) = work.pop_front() {
            self.touched.insert(i);
            let now = self.now();
            self.engines[i].handle(now, input);
            while let Some(out) = self.engines[i].poll_output() {
                self.log.push((self.now(), i, out.clone()));
                match out {
                    Output::Dial(p) => {
                        self.dials += 1;
                        let to = self.idx(&p);
                        self.schedule(self.now() + DIAL_DELAY, Ev::DialDone { from: i, to });
                    }
                    Output::Disconnect(p) => {
                        let j = self.idx(&p);
                        // Both ends may close a link at once: the first close
                        // already queued the LinkDown of both ends.
                        if self.link_remove(i, j) {
                            work.push_back((i, Input::LinkDown(p)));
                            work.push_back((j, Input::LinkDown(node(i))));
                        }
                    }
                    Output::Send { to, msg } => {
                        let j = self.idx(&to);
                        if self.links[i].get(&to).is_none() {
                            continue; // Raced with a close: lost, as allowed.
                        }
                        let input = Input::Message { from: node(i), msg };
                        let now = self.now();
                        let at = self.wire.arrival(&mut self.wire_rng, now, i, j, false);
                        self.schedule(at, Ev::Input(j, input));
                    }
                    Output::SetTimer { after, timer } => {
                        self.schedule(self.now() + after, Ev::Input(i, Input::Timer(timer)));
                    }
                    Output::Event(Event::NeighborUp(p)) => {
                        let j = self.idx(&p);
                        assert!(self.event_view[i].insert(j), "seed {}: Up twice", self.seed);
                        self.neighbor_events += 1;
                    }
                    Output::Event(Event::NeighborDown(p)) => {
                        let j = self.idx(&p);
                        assert!(
                            self.event_view[i].remove(&j),
                            "seed {}: Down, no Up",
                            self.seed
                        );
                        self.neighbor_events += 1;
                    }
                }
            }
        }
    }

    fn on_dial_done(&mut self, from: usize, to: usize) {
        if self.split && self.group[from] != self.group[to] {
            self.deliver(from, Input::DialFailed(node(to)));
            return;
        }
        if !self.link_add(from, to) {
            return; // Merged with the link already up between them.
        }
        let crosses = self.group[from] != self.group[to];
        // Both ends finish the handshake before either can close it.
        self.deliver_all([
            (
                from,
                Input::LinkUp {
                    peer: node(to),
                    outbound: true,
                },
            ),
            (
                to,
                Input::LinkUp {
                    peer: node(from),
                    outbound: false,
                },
            ),
        ]);
        if crosses && !self.heal_gossiped {
            self.heal_gossiped = true;
            self.schedule(self.now() + GOSSIP_DELAY, Ev::Healed);
        }
    }

    /// Handles one event and checks the nodes it touched.
    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Input(i, input) => self.deliver(i, input),
            Ev::DialDone { from, to } => self.on_dial_done(from, to),
            Ev::Healed => {
                for i in 0..self.engines.len() {
                    for j in 0..self.engines.len() {
                        if i != j {
                            self.deliver(i, Input::MemberAlive(node(j)));
                        }
                    }
                }
            }
        }
        let touched = std::mem::take(&mut self.touched);
        self.check(touched);
    }

    fn run_until(&mut self, end: Time) {
        let mut at_instant = 0;
        let mut instant = self.now();
        while let Some(ev) = self.schedule.next_until(end) {
            self.handle(ev);
            if self.now() == instant {
                at_instant += 1;
                assert!(
                    at_instant < EVENTS_PER_INSTANT_MAX,
                    "seed {}: spinning at {instant:?}",
                    self.seed
                );
            } else {
                instant = self.now();
                at_instant = 0;
            }
        }
        self.schedule.advance_to(end);
        self.check_all();
    }

    /// Invariants that hold after every event, checked on the nodes the
    /// event touched (a link changes only with inputs to both its ends):
    /// each node's neighbours are exactly its driver links, which are
    /// symmetric by construction, and match its Neighbor events.
    fn check(&self, nodes: impl IntoIterator<Item = usize>) {
        for i in nodes {
            let engine = &self.engines[i];
            let view: BTreeSet<usize> = engine.neighbors().iter().map(|p| self.idx(p)).collect();
            let seed = self.seed;
            assert_eq!(
                view,
                self.linked(i),
                "seed {seed}: node {i}: neighbors() vs links"
            );
            assert_eq!(
                view, self.event_view[i],
                "seed {seed}: node {i}: neighbors() vs events"
            );
            assert!(
                engine.degree() <= self.config.degree_hard_max,
                "seed {seed}: node {i}"
            );
        }
    }

    fn check_all(&self) {
        self.check(0..self.engines.len());
    }

    fn degrees(&self) -> Vec<usize> {
        self.engines.iter().map(Topology::degree).collect()
    }

    /// Nodes reachable from node `from` over overlay links.
    fn reachable(&self, from: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([from]);
        let mut todo = vec![from];
        while let Some(i) = todo.pop() {
            for p in self.engines[i].neighbors() {
                let j = self.idx(&p);
                if seen.insert(j) {
                    todo.push(j);
                }
            }
        }
        seen
    }

    fn connected(&self) -> bool {
        self.reachable(0).len() == self.engines.len()
    }
}

/// `n` nodes that all know each other, started 1 ms apart, and each told to
/// connect to node 0 (the seed).
fn room(n: usize, config: Config, seed: u64) -> Net {
    let mut net = Net::new(n, config, seed);
    for i in 0..n {
        let at = Time::from_millis(i as u64);
        net.schedule(at, Ev::Input(i, Input::Start));
        for j in 0..n {
            if i != j {
                net.schedule(at, Ev::Input(i, Input::MemberAlive(node(j))));
            }
        }
        if i != 0 {
            net.schedule(at, Ev::Input(i, Input::Command(Command::Connect(node(0)))));
        }
    }
    net
}

fn degrees_within_bounds(net: &Net) -> bool {
    let bounds = net.config.degree_min..=net.config.degree_max;
    net.degrees().iter().all(|d| bounds.contains(d))
}

/// Runs on until every degree is within `degree_min..=degree_max`: a node
/// pushed over `degree_max` by another's swap or reconnect is back within a
/// rebalance or two.
fn assert_degrees_settle_within_bounds(net: &mut Net, seed: u64) {
    let deadline = net.now() + DEGREE_SETTLE_MAX;
    while !degrees_within_bounds(net) {
        assert!(
            net.now() < deadline,
            "seed {seed}: degrees {:?} outside {}..={} for {DEGREE_SETTLE_MAX:?}",
            net.degrees(),
            net.config.degree_min,
            net.config.degree_max
        );
        net.run_until(net.now() + Duration::from_millis(100));
    }
}

#[test]
fn fifty_nodes_settle_symmetric_within_bounds_connected_and_quiet() {
    for seed in 0..8 {
        let mut net = room(50, Config::small_room(), seed);
        net.run_until(Time::from_millis(30_000));
        assert!(net.connected(), "seed {seed}: not connected");
        assert_degrees_settle_within_bounds(&mut net, seed);

        // Swaps stop once every node has a spare link: after two minutes,
        // the next two change no link.
        net.run_until(Time::from_millis(120_000));
        let events = net.neighbor_events;
        net.run_until(Time::from_millis(240_000));
        assert_eq!(
            net.neighbor_events - events,
            0,
            "seed {seed}: churn after settling"
        );
        assert!(
            degrees_within_bounds(&net),
            "seed {seed}: {:?}",
            net.degrees()
        );
        assert!(net.connected(), "seed {seed}: not connected");
    }
}

#[test]
fn a_large_room_config_settles_within_its_bounds() {
    for seed in 0..4 {
        let mut net = room(120, Config::large_room(), seed);
        net.run_until(Time::from_millis(60_000));
        assert!(net.connected(), "seed {seed}: not connected");
        assert_degrees_settle_within_bounds(&mut net, seed);
    }
}

#[test]
fn nodes_that_only_know_a_seed_join_through_inbound_links() {
    for seed in 0..4 {
        let n = 30;
        let mut net = Net::new(n, Config::small_room(), seed);
        // Everyone knows node 0 and a random handful of others.
        let mut rng = EngineRng::seed_from_u64(seed);
        for i in 0..n {
            let at = Time::from_millis(i as u64 * 100);
            net.schedule(at, Ev::Input(i, Input::Start));
            let mut others: Vec<usize> = (1..n).filter(|&j| j != i).collect();
            others.shuffle(&mut rng);
            for &j in others.iter().take(4) {
                net.schedule(at, Ev::Input(i, Input::MemberAlive(node(j))));
            }
            if i != 0 {
                net.schedule(at, Ev::Input(i, Input::Command(Command::Connect(node(0)))));
            }
        }
        net.run_until(Time::from_millis(60_000));
        assert!(net.connected(), "seed {seed}: not connected");
        assert_degrees_settle_within_bounds(&mut net, seed);
        // The seed took at most `degree_hard_max` joiners at a time and
        // shed down to `degree_max`.
        assert!(net.engines[0].degree() <= net.config.degree_max);
    }
}

#[test]
fn a_healed_partition_reconnects_through_dead_members() {
    for seed in 0..8 {
        let n = 50;
        let mut net = room(n, Config::small_room(), seed);
        net.run_until(Time::from_millis(20_000));
        assert!(
            net.connected(),
            "seed {seed}: not connected before the split"
        );

        // Split into halves: cross links break, cross dials fail, and each
        // side's membership declares the other side dead.
        net.group = (0..n).map(|i| u8::from(i % 2 == 1)).collect();
        net.split = true;
        let cross: Vec<(usize, usize)> = (0..n)
            .flat_map(|a| net.linked(a).into_iter().map(move |b| (a, b)))
            .filter(|&(a, b)| a < b && net.group[a] != net.group[b])
            .collect();
        for (a, b) in cross {
            net.link_remove(a, b);
            net.deliver(a, Input::LinkDown(node(b)));
            net.deliver(b, Input::LinkDown(node(a)));
        }
        for i in 0..n {
            for j in 0..n {
                if net.group[i] != net.group[j] {
                    net.deliver(i, Input::MemberDead(node(j)));
                }
            }
        }
        net.check_all();
        net.run_until(Time::from_millis(60_000));
        for side in [0, 1] {
            let members = (0..n).filter(|&i| net.group[i] == side).count();
            assert_eq!(net.reachable(side as usize).len(), members, "seed {seed}");
        }
        assert_degrees_settle_within_bounds(&mut net, seed);

        // Heal: cross dials work again; reconnect dials find the other side.
        net.split = false;
        net.heal_gossiped = false;
        let healed_at = net.now();
        while !net.connected() {
            assert!(
                net.now() < healed_at + Duration::from_secs(30),
                "seed {seed}: still split 30 s after the heal"
            );
            net.run_until(net.now() + Duration::from_millis(100));
        }
        net.run_until(healed_at + Duration::from_secs(60));
        assert!(net.connected(), "seed {seed}: split again after the heal");
        assert_degrees_settle_within_bounds(&mut net, seed);
    }
}

#[test]
fn a_two_node_room_links_once_and_stays_quiet() {
    let mut net = room(2, Config::small_room(), 1);
    net.run_until(Time::from_millis(120_000));
    assert_eq!(net.degrees(), vec![1, 1]);
    assert_eq!(net.dials, 1);
    assert_eq!(net.neighbor_events, 2);
}

#[test]
fn the_same_seed_gives_the_same_outputs() {
    let run = |seed| {
        let mut net = room(20, Config::small_room(), seed);
        net.run_until(Time::from_millis(20_000));
        net.log
    };
    let first = run(42);
    assert!(!first.is_empty());
    assert_eq!(first, run(42));
    assert_ne!(first, run(43));
}
