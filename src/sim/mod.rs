//! Deterministic simulator: many nodes' engines in one thread, virtual time,
//! one seeded RNG, and a faulty network.
//!
//! Each simulated node runs the engines of a real node — membership,
//! topology, plumtree (and with ops, the op-log's replica) — wired by the
//! node's own routing layer ([`crate::proto::route`]), and keeps its
//! connections in the transport's own link table
//! ([`crate::net::links`]; `sim/links.rs` says how connections are modelled).
//! Between nodes sits a network model (`sim/net.rs`):
//!
//! * per-link one-way latency: each link's base latency is drawn uniformly
//!   from `latency` once, and each message adds up to `jitter` of it;
//!   per-direction FIFO (like TCP) unless a message is picked for reordering;
//! * loss and duplication of messages (link setup and close are reliable);
//! * partitions: nodes split into random groups; nothing crosses groups,
//!   including messages in flight, until the partition heals;
//! * silent crashes (no FIN: peers notice only through the failure
//!   detector), restarts (same id, new generation; stale links get a reset),
//!   and late joins.
//!
//! With `ops > 0` each node also hosts an op-log [`Replica`]: it gets an
//! Ed25519 identity derived from the seed (its node id is that key, so
//! signatures verify), ops are written by random live nodes and spread as
//! live broadcasts (`Envelope::Op`), and the replicas' anti-entropy
//! (`Wire::OpLog`) crosses the same faulty network. A replica's log is its
//! durable store: it survives a crash and comes back with the restart; a
//! late joiner starts with an empty log and catches up by anti-entropy.
//!
//! The same [`SimConfig`] (including the seed) gives the same [`Report`],
//! every field except `wall_ms`, bit for bit: all iteration that reaches the
//! output is over ordered maps, and all randomness comes from one seeded RNG
//! (each node's engines get their own RNG seeded from it, in node order) or,
//! for the op-log's identities, seal key and replica RNGs, is derived from
//! the seed by hashing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rand::seq::index::sample;
use rand::{Rng as _, RngExt, SeedableRng};
use sha2::{Digest as _, Sha256};

use crate::actors::oplog::STATE_PUBLISH_INTERVAL;
use crate::applets::{self, chat};
use crate::codec;
use crate::config::{EngineConfigs, Profile};
use crate::crypto::identity::Identity;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::OpLog;
use crate::proto::oplog::sync::{self, Replica};
use crate::proto::route::{
    self, Admission, Effect, Engines, Inbound, RosterWatch, Routed, StateMarker, Timer,
};
use crate::proto::wire::{Envelope, Wire};
use crate::proto::{EngineRng, Time, membership, plumtree, topology};

mod error;
mod links;
pub(crate) mod net;
pub(crate) mod ops;
mod report;
pub(crate) mod schedule;
pub mod spec;

pub use error::SimConfigError;
use links::Links;
use net::Network;
pub use ops::{OpMix, PlanContext, PlanFn, Planned, SimOps};
use report::Metrics;
pub use report::Report;
use schedule::Schedule;
pub use spec::{CountAt, LatencyRange, PartitionSpec};

/// Everything a run depends on.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Nodes in the run, late joiners included; at least 2.
    pub nodes: usize,
    /// Broadcasts sent, each from a random live node, spread evenly over the
    /// broadcast window.
    pub broadcasts: usize,
    /// Ops written (by random live nodes), spread over the broadcast
    /// window. With 0, the nodes host no op-log at all.
    pub ops: usize,
    /// Which applets the ops are for ([`OpMix::All`]: every built-in one).
    pub op_mix: OpMix,
    /// Seeds the run's one RNG (each node's engines get an RNG seeded from
    /// it): the same configuration and seed give the same report.
    pub seed: u64,
    /// Which engine defaults the nodes run with (see
    /// [`SimConfig::set_profile`]).
    pub profile: Profile,
    /// Chance that a message is lost.
    pub loss: f64,
    /// Chance that a message is delivered twice.
    pub duplicate: f64,
    /// Chance that a message ignores per-direction FIFO order.
    pub reorder: f64,
    /// Each link's base one-way latency is drawn uniformly from this range
    /// once per run.
    pub latency: LatencyRange,
    /// Each message on a link takes up to this fraction of the link's base
    /// latency on top (queueing, retransmits).
    pub jitter: f64,
    /// `count` random live nodes crash (silently) at `at`.
    pub crashes: Vec<CountAt>,
    /// `count` random crashed nodes restart (same id, new generation) at `at`.
    pub restarts: Vec<CountAt>,
    /// `count` of the `nodes` start late, at `at`, instead of at the start.
    pub joins: Vec<CountAt>,
    /// Split the nodes into `groups` random groups from `from` until
    /// `until`: nothing crosses groups, messages in flight included.
    /// Partitions may not overlap in time.
    pub partitions: Vec<PartitionSpec>,
    /// The initial nodes start at random times within this window.
    pub join_window: Duration,
    /// A starting node is told about this many random running nodes (what
    /// discovery beacons or a seed give a real node).
    pub bootstrap_peers: usize,
    /// Broadcasts (and ops) are spread evenly over this window of virtual
    /// time; `None` picks one after the joins and covering the faults.
    pub broadcast_window: Option<(Duration, Duration)>,
    /// Virtual length of the run; `None` picks one long enough for the faults.
    pub duration: Option<Duration>,
    /// Size of each broadcast payload, and of each op's chat line (capped at
    /// the chat applet's limit).
    pub payload_bytes: usize,
    /// Membership configuration of every node; set from `profile` by
    /// [`SimConfig::new`] and [`SimConfig::set_profile`].
    pub membership: membership::Config,
    /// Topology configuration of every node; set from `profile` like
    /// `membership`.
    pub topology: topology::Config,
    /// Broadcast configuration of every node; set from `profile` like
    /// `membership`. `payload_bytes` may not exceed its `payload_bytes_max`.
    pub plumtree: plumtree::Config,
    /// Anti-entropy of the op-log replicas (only with `ops > 0`).
    pub sync: sync::Config,
}

/// Virtual time between convergence checks.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// Time after the joins before broadcasts start, by default.
const WARMUP_AFTER_JOINS: Duration = Duration::from_secs(4);
/// Time left after the last broadcast (and after the last fault) for
/// deliveries and detection, by default.
const SETTLE: Duration = Duration::from_secs(15);
/// By default a run lasts at least this long after the last crash, so the
/// large room's detector (about 20 s at 1000 nodes) has time to finish.
const DETECTION_ALLOWANCE: Duration = Duration::from_secs(30);
/// Broadcasts by default keep going this long after the last fault.
const BROADCAST_AFTER_FAULTS: Duration = Duration::from_secs(10);

impl SimConfig {
    /// A fault-free run with the engine defaults of the profile a room of
    /// `nodes` gets ([`Profile::for_nodes`]).
    pub fn new(nodes: usize, broadcasts: usize, seed: u64) -> SimConfig {
        let profile = Profile::for_nodes(nodes);
        let EngineConfigs {
            membership,
            topology,
            plumtree,
        } = profile.engines();
        SimConfig {
            nodes,
            broadcasts,
            ops: 0,
            op_mix: OpMix::All,
            seed,
            profile,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            latency: LatencyRange {
                min: Duration::from_millis(1),
                max: Duration::from_millis(10),
            },
            jitter: 0.2,
            crashes: Vec::new(),
            restarts: Vec::new(),
            joins: Vec::new(),
            partitions: Vec::new(),
            join_window: Duration::from_secs(1),
            bootstrap_peers: 3,
            broadcast_window: None,
            duration: None,
            payload_bytes: 64,
            membership,
            topology,
            plumtree,
            sync: sync::Config::default(),
        }
    }

    /// Switches every engine to the profile's defaults
    /// ([`Profile::engines`]).
    pub fn set_profile(&mut self, profile: Profile) {
        let EngineConfigs {
            membership,
            topology,
            plumtree,
        } = profile.engines();
        self.profile = profile;
        (self.membership, self.topology, self.plumtree) = (membership, topology, plumtree);
    }

    /// Checks the configuration; the error says which value is wrong.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.nodes < 2 {
            return Err(SimConfigError::TooFewNodes { nodes: self.nodes });
        }
        for (flag, value) in [
            ("--loss", self.loss),
            ("--duplicate", self.duplicate),
            ("--reorder", self.reorder),
            ("--jitter", self.jitter),
        ] {
            if !(0.0..1.0).contains(&value) {
                return Err(SimConfigError::OutOfRange { flag, value });
            }
        }
        let late: usize = self.joins.iter().map(|j| j.count).sum();
        if late >= self.nodes {
            return Err(SimConfigError::TooManyLate {
                late,
                nodes: self.nodes,
            });
        }
        if self.payload_bytes > self.plumtree.payload_bytes_max {
            return Err(SimConfigError::PayloadTooLarge {
                bytes: self.payload_bytes,
                max: self.plumtree.payload_bytes_max,
            });
        }
        if let Some((start, end)) = self.broadcast_window
            && end < start
        {
            return Err(SimConfigError::BroadcastWindow { start, end });
        }
        let mut parts = self.partitions.clone();
        parts.sort_by_key(|p| p.from);
        if parts.windows(2).any(|w| w[1].from < w[0].until) {
            return Err(SimConfigError::PartitionsOverlap);
        }
        let (_, last) = self.effective_broadcast_window();
        let end = self.effective_duration();
        if self.broadcasts > 0 && last > end {
            return Err(SimConfigError::BroadcastsAfterEnd { last, end });
        }
        if self.ops > 0 && last > end {
            return Err(SimConfigError::OpsAfterEnd { last, end });
        }
        self.membership.validate()?;
        self.topology.validate()?;
        self.plumtree.validate()?;
        Ok(())
    }

    fn last_fault(&self) -> Duration {
        let at = |v: &[CountAt]| v.iter().map(|c| c.at).max().unwrap_or_default();
        at(&self.crashes)
            .max(at(&self.restarts))
            .max(at(&self.joins))
            .max(
                self.partitions
                    .iter()
                    .map(|p| p.until)
                    .max()
                    .unwrap_or_default(),
            )
    }

    /// The window broadcasts (and ops) are spread over.
    pub fn effective_broadcast_window(&self) -> (Duration, Duration) {
        if let Some(w) = self.broadcast_window {
            return w;
        }
        let start = self.join_window + WARMUP_AFTER_JOINS;
        let end = (start + Duration::from_secs(10)).max(self.last_fault() + BROADCAST_AFTER_FAULTS);
        match self.duration {
            // A given duration wins: broadcasts end with a fifth of it left
            // for delivery.
            Some(d) => {
                let end = end.min(d.mul_f64(0.8));
                (start.min(end), end)
            }
            None => (start, end),
        }
    }

    /// The virtual length of the run.
    pub fn effective_duration(&self) -> Duration {
        if let Some(d) = self.duration {
            return d;
        }
        let (_, end) = self.effective_broadcast_window();
        let last_crash = self.crashes.iter().map(|c| c.at).max();
        (end.max(self.last_fault()) + SETTLE)
            .max(last_crash.map_or(Duration::ZERO, |t| t + DETECTION_ALLOWANCE))
    }
}

enum Ev {
    Start(usize),
    Crash,
    Restart,
    PartitionStart(usize),
    PartitionEnd,
    Broadcast(usize),
    Op(usize),
    Check,
    /// Time for `node` to publish its op-log's state mark again.
    StateMark {
        node: usize,
        incarnation: u32,
    },
    Timer {
        node: usize,
        incarnation: u32,
        timer: Timer,
    },
    /// A message on connection `conn`.
    Msg {
        from: usize,
        to: usize,
        conn: u64,
        wire: Wire,
    },
    /// A dial from `from` (in its `incarnation`) reaches `to`.
    DialArrive {
        from: usize,
        to: usize,
        conn: u64,
        incarnation: u32,
    },
    /// The acceptor's answer reaches the dialler.
    DialAck {
        acceptor: usize,
        dialer: usize,
        conn: u64,
        incarnation: u32,
    },
    /// A dial gave up (no answer within the connect timeout).
    DialFailed {
        node: usize,
        incarnation: u32,
        peer: NodeId,
    },
    /// A close or reset of `conn` reaches `to`.
    Close {
        from: usize,
        to: usize,
        conn: u64,
    },
    /// A replaced connection's grace is over.
    Retire {
        node: usize,
        incarnation: u32,
        conn: u64,
    },
}

struct SimNode {
    id: NodeId,
    up: bool,
    incarnation: u32,
    /// When this node last started (joined or restarted).
    up_since: Option<Time>,
    /// Its engines; the op-log replica only with `ops > 0`.
    engines: Engines,
    /// Its connections (the transport's link table).
    links: Links,
    /// Publishes its op-log's state mark in membership.
    state: StateMarker,
    /// Tells its link table who the roster admits.
    roster: RosterWatch,
}

impl SimNode {
    fn membership(&self) -> &membership::Membership {
        &self.engines.membership
    }

    fn replica(&self) -> Option<&Replica> {
        self.engines.oplog.as_ref()
    }
}

/// A simulation in progress. Most callers want [`run`].
pub struct Sim {
    cfg: SimConfig,
    /// Virtual time and the events due on it.
    schedule: Schedule<Ev>,
    end: Time,
    rng: EngineRng,
    nodes: Vec<SimNode>,
    index: HashMap<NodeId, usize>,
    /// The faulty network between the nodes.
    net: Network,
    /// The number of the next connection.
    next_conn: u64,
    /// Connections a node replaced and keeps open until their grace is over:
    /// (node, connection) → the peer.
    retiring: BTreeMap<(usize, u64), usize>,
    /// Link handshakes and closes in flight, per pair: a link whose two ends
    /// disagree is settled only when this is zero.
    transit: HashMap<(usize, usize), u32>,
    initial_joins_done: bool,
    /// Nodes `0..initial` start in the join window; the rest join late.
    initial: usize,
    pending_starts: usize,
    metrics: Metrics,
    /// Each node's identity (only with `ops > 0`).
    identities: Vec<Identity>,
    /// Their ids (for roster ops).
    node_ids: Vec<NodeId>,
    /// Every op written, in order.
    ops_made: Vec<OpId>,
    /// Each node's frontier hash, until its log changes.
    frontier_cache: Vec<Option<[u8; 32]>>,
}

/// Runs a whole simulation and returns its report.
pub fn run(cfg: SimConfig) -> Result<Report, String> {
    let wall = std::time::Instant::now();
    let mut sim = Sim::new(cfg)?;
    sim.run_to_end();
    let mut report = sim.report();
    report.wall_ms = wall.elapsed().as_millis() as u64;
    Ok(report)
}

fn node_id(seed: u64, index: usize) -> NodeId {
    let mut h = Sha256::new();
    h.update(b"flashmesh/sim/node-id");
    h.update(seed.to_le_bytes());
    h.update((index as u64).to_le_bytes());
    NodeId(h.finalize().into())
}

/// 32 bytes derived from the seed, a purpose and some numbers: randomness
/// that does not come from (and so does not shift) the run's RNG stream.
fn derive(tag: &[u8], seed: u64, parts: &[u64]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(tag);
    h.update(seed.to_le_bytes());
    for p in parts {
        h.update(p.to_le_bytes());
    }
    h.finalize().into()
}

fn derive_u64(tag: &[u8], seed: u64, parts: &[u64]) -> u64 {
    let d = derive(tag, seed, parts);
    let mut x = [0u8; 8];
    x.copy_from_slice(&d[..8]);
    u64::from_le_bytes(x)
}

/// The room tag broadcast signatures would name. The simulator's
/// broadcasts are raw payloads, not signed `Envelope::Broadcast`s (it
/// measures the broadcast layer, and most runs give nodes no key pair), so
/// [`Admission`] lets them through like any payload that is no broadcast
/// envelope and never checks a signature against this.
const SIM_ROOM_TAG: [u8; crate::crypto::room::ROOM_TAG_BYTES] = *b"sim-room";

/// Node `index`'s identity in an op-log run.
fn identity(seed: u64, index: usize) -> Identity {
    let s = derive_u64(b"flashmesh/sim/identity", seed, &[index as u64]);
    Identity::generate_with(&mut EngineRng::seed_from_u64(s))
}

/// A replica around `oplog` for node `index` in its `incarnation`.
fn replica(cfg: &SimConfig, oplog: OpLog, index: usize, incarnation: u32) -> Replica {
    let s = derive_u64(
        b"flashmesh/sim/replica-rng",
        cfg.seed,
        &[index as u64, u64::from(incarnation)],
    );
    Replica::new(oplog, cfg.sync.clone(), EngineRng::seed_from_u64(s))
}

impl Sim {
    /// The current virtual time.
    fn now(&self) -> Time {
        self.schedule.now()
    }

    /// Builds the nodes and schedules every planned event; refuses a
    /// configuration [`SimConfig::validate`] refuses.
    pub fn new(cfg: SimConfig) -> Result<Sim, String> {
        cfg.validate()?;
        let mut rng = EngineRng::seed_from_u64(cfg.seed);
        let end = Time::ZERO + cfg.effective_duration();
        let mut nodes = Vec::with_capacity(cfg.nodes);
        let mut index = HashMap::with_capacity(cfg.nodes);
        let mut identities = Vec::new();
        // Every node of the room seals op bodies with the same key.
        let seal_key = derive(b"flashmesh/sim/seal-key", cfg.seed, &[]);
        // The room's root is node 0 (it organises; see the roster planner).
        let root = (cfg.ops > 0).then(|| identity(cfg.seed, 0).node_id());
        for i in 0..cfg.nodes {
            let (id, r) = if cfg.ops > 0 {
                let me = identity(cfg.seed, i);
                let id = me.node_id();
                identities.push(me);
                let oplog = OpLog::new(id, seal_key, applets::builtin()).rooted(root);
                (id, Some(replica(&cfg, oplog, i, 0)))
            } else {
                (node_id(cfg.seed, i), None)
            };
            index.insert(id, i);
            let mut node = Self::fresh_node(&cfg, &mut rng, id, 0, 1);
            node.engines.oplog = r;
            nodes.push(node);
        }
        let frontier_cache = vec![None; cfg.nodes];
        let mut sim = Sim {
            metrics: Metrics::new(&cfg),
            net: Network::new(&cfg),
            cfg,
            schedule: Schedule::new(),
            end,
            rng,
            nodes,
            index,
            next_conn: 1,
            retiring: BTreeMap::new(),
            transit: HashMap::new(),
            initial_joins_done: false,
            initial: 0,
            pending_starts: 0,
            node_ids: identities.iter().map(Identity::node_id).collect(),
            identities,
            ops_made: Vec::new(),
            frontier_cache,
        };
        sim.schedule_plan();
        Ok(sim)
    }

    fn fresh_node(
        cfg: &SimConfig,
        rng: &mut EngineRng,
        id: NodeId,
        incarnation: u32,
        generation: u64,
    ) -> SimNode {
        let m_rng = EngineRng::seed_from_u64(rng.next_u64());
        let t_rng = EngineRng::seed_from_u64(rng.next_u64());
        SimNode {
            id,
            up: false,
            incarnation,
            up_since: None,
            engines: Engines {
                membership: membership::Membership::new(
                    id,
                    generation,
                    cfg.membership.clone(),
                    m_rng,
                ),
                topology: topology::Topology::new(id, cfg.topology.clone(), t_rng),
                // A restarted node numbers its broadcasts from its
                // generation, so its new messages never reuse an old id.
                plumtree: plumtree::Plumtree::new(id, cfg.plumtree.clone(), generation << 32),
                oplog: None,
                admission: Admission::new(SIM_ROOM_TAG),
            },
            links: Links::new(id),
            state: StateMarker::default(),
            roster: RosterWatch::default(),
        }
    }

    fn at(&mut self, at: Time, ev: Ev) {
        match ev {
            Ev::DialAck {
                acceptor: a,
                dialer: b,
                ..
            }
            | Ev::Close { from: a, to: b, .. } => {
                *self.transit.entry(pair_key(a, b)).or_default() += 1;
            }
            _ => {}
        }
        self.schedule.at(at, ev);
    }

    fn schedule_plan(&mut self) {
        let n = self.cfg.nodes;
        let late: usize = self.cfg.joins.iter().map(|j| j.count).sum();
        let initial = n - late;
        let window = self.cfg.join_window.as_micros() as u64;
        // Node 0 starts at 0 so there is always someone to join.
        for i in 0..initial {
            let t = if i == 0 || window == 0 {
                0
            } else {
                self.rng.random_range(0..window)
            };
            self.at(Time(t), Ev::Start(i));
        }
        self.initial = initial;
        self.pending_starts = initial;
        let mut next = initial;
        for j in self.cfg.joins.clone() {
            for _ in 0..j.count {
                self.at(Time::ZERO + j.at, Ev::Start(next));
                next += 1;
            }
        }
        for c in self.cfg.crashes.clone() {
            for _ in 0..c.count {
                self.at(Time::ZERO + c.at, Ev::Crash);
            }
        }
        for r in self.cfg.restarts.clone() {
            for _ in 0..r.count {
                self.at(Time::ZERO + r.at, Ev::Restart);
            }
        }
        for (i, p) in self.cfg.partitions.clone().into_iter().enumerate() {
            self.at(Time::ZERO + p.from, Ev::PartitionStart(i));
            self.at(Time::ZERO + p.until, Ev::PartitionEnd);
        }
        let (b0, b1) = self.cfg.effective_broadcast_window();
        let b = self.cfg.broadcasts;
        for k in 0..b {
            let frac = if b <= 1 {
                0.0
            } else {
                k as f64 / (b - 1) as f64
            };
            let t = b0.as_secs_f64() + (b1.as_secs_f64() - b0.as_secs_f64()) * frac;
            self.at(Time::ZERO + Duration::from_secs_f64(t), Ev::Broadcast(k));
        }
        let o = self.cfg.ops;
        for k in 0..o {
            let frac = if o <= 1 {
                0.0
            } else {
                k as f64 / (o - 1) as f64
            };
            let t = b0.as_secs_f64() + (b1.as_secs_f64() - b0.as_secs_f64()) * frac;
            self.at(Time::ZERO + Duration::from_secs_f64(t), Ev::Op(k));
        }
        self.at(Time::ZERO + CHECK_INTERVAL, Ev::Check);
    }

    /// Processes events until the end of virtual time.
    pub fn run_to_end(&mut self) {
        while let Some(ev) = self.schedule.next_until(self.end) {
            self.step(ev);
        }
        self.schedule.advance_to(self.end);
    }

    fn step(&mut self, ev: Ev) {
        if let Ev::DialAck {
            acceptor: a,
            dialer: b,
            ..
        }
        | Ev::Close { from: a, to: b, .. } = ev
        {
            let key = pair_key(a, b);
            if let Some(n) = self.transit.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.transit.remove(&key);
                }
            }
        }
        match ev {
            Ev::Start(i) => self.start_node(i, false),
            Ev::Crash => self.crash_random(),
            Ev::Restart => self.restart_random(),
            Ev::PartitionStart(i) => self.partition(i),
            Ev::PartitionEnd => {
                self.net.heal();
                self.metrics.partition_ended();
                self.metrics.disrupted(self.now());
                if self.cfg.ops > 0 {
                    self.metrics.state_disturbed(self.now());
                }
            }
            Ev::Broadcast(k) => self.broadcast(k),
            Ev::Op(k) => self.write_op(k),
            Ev::StateMark { node, incarnation } => {
                let n = &self.nodes[node];
                if n.up && n.incarnation == incarnation {
                    self.publish_state(node);
                }
            }
            Ev::Check => {
                self.check_convergence();
                if self.cfg.ops > 0 {
                    self.check_state_sync();
                }
                let next = self.now() + CHECK_INTERVAL;
                self.at(next, Ev::Check);
            }
            Ev::Timer {
                node,
                incarnation,
                timer,
            } => {
                let n = &self.nodes[node];
                if !n.up || n.incarnation != incarnation {
                    return;
                }
                self.feed(node, timer.fire());
            }
            Ev::Msg {
                from,
                to,
                conn,
                wire,
            } => self.deliver(from, to, conn, wire),
            Ev::DialArrive {
                from,
                to,
                conn,
                incarnation,
            } => self.dial_arrive(from, to, conn, incarnation),
            Ev::DialAck {
                acceptor,
                dialer,
                conn,
                incarnation,
            } => self.dial_ack(acceptor, dialer, conn, incarnation),
            Ev::DialFailed {
                node,
                incarnation,
                peer,
            } => self.dial_failed(node, incarnation, peer),
            Ev::Close { from, to, conn } => self.close_arrive(from, to, conn),
            Ev::Retire {
                node,
                incarnation,
                conn,
            } => self.retire(node, incarnation, conn),
        }
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.net.reachable(a, b)
    }

    /// Arrival time of the next item sent now on `from -> to`.
    fn arrival(&mut self, from: usize, to: usize, may_reorder: bool) -> Time {
        self.net
            .arrival(&mut self.rng, self.schedule.now(), from, to, may_reorder)
    }

    fn start_node(&mut self, i: usize, restart: bool) {
        if self.nodes[i].up {
            return;
        }
        if !restart && i < self.initial {
            self.pending_starts -= 1;
            if self.pending_starts == 0 {
                self.initial_joins_done = true;
                self.metrics.initial_joins_done();
            }
        } else if self.initial_joins_done {
            // A late join or restart: membership must converge again.
            self.metrics.disrupted(self.now());
        }
        let now = self.now();
        let n = &mut self.nodes[i];
        n.up = true;
        n.up_since = Some(now);
        self.metrics.node_started(i, self.now());
        self.feed(i, Routed::Membership(membership::Input::Start));
        self.feed(i, Routed::Topology(topology::Input::Start));
        self.feed(i, Routed::Plumtree(plumtree::Input::Start));
        if self.nodes[i].replica().is_some() {
            self.metrics.state_disturbed(self.now());
            self.feed(i, Routed::OpLog(sync::Input::Start));
            self.publish_state(i);
        }
        // What discovery would tell it: a few running nodes.
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != i && self.nodes[j].up)
            .collect();
        let k = self.cfg.bootstrap_peers.min(running.len());
        let picks: Vec<usize> = sample(&mut self.rng, running.len(), k)
            .into_iter()
            .map(|x| running[x])
            .collect();
        for j in picks {
            let peer = self.nodes[j].id;
            self.feed(
                i,
                Routed::Topology(topology::Input::Command(topology::Command::Connect(peer))),
            );
        }
    }

    /// Node `i` publishes its op-log's state mark in membership if its log
    /// moved, as the node's op-log actor does, and again after
    /// [`STATE_PUBLISH_INTERVAL`].
    fn publish_state(&mut self, i: usize) {
        let mut effects = Vec::new();
        let n = &mut self.nodes[i];
        let Some(replica) = &n.engines.oplog else {
            return;
        };
        n.state.mark(replica.oplog(), &mut effects);
        let admission = n.roster.check(replica.oplog());
        let incarnation = n.incarnation;
        for effect in effects {
            if let Effect::Input(input) = effect {
                self.feed(i, input);
            }
        }
        // Who the roster admits (the node tells its transport after every
        // batch of ops; the simulator at every state mark).
        if let Some(admission) = admission {
            for down in self.admit(i, admission) {
                self.feed(i, down);
            }
        }
        let at = self.now() + STATE_PUBLISH_INTERVAL;
        self.at(
            at,
            Ev::StateMark {
                node: i,
                incarnation,
            },
        );
    }

    fn crash_random(&mut self) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.nodes[j].up)
            .collect();
        if up.len() <= 1 {
            return;
        }
        let victim = up[self.rng.random_range(0..up.len())];
        self.crash(victim);
    }

    /// A silent crash: the node stops; its peers are not told.
    fn crash(&mut self, i: usize) {
        self.nodes[i].up = false;
        self.drop_conns_of(i);
        let target = self.nodes[i].id;
        let observers: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| {
                j != i
                    && self.nodes[j].up
                    && matches!(
                        self.nodes[j].membership().status(&target),
                        Some(membership::Status::Alive | membership::Status::Suspect)
                    )
            })
            .collect();
        self.metrics.crashed(i, self.now(), observers);
    }

    fn restart_random(&mut self) {
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| !self.nodes[j].up && self.nodes[j].up_since.is_some())
            .collect();
        if down.is_empty() {
            return;
        }
        let i = down[self.rng.random_range(0..down.len())];
        let id = self.nodes[i].id;
        let incarnation = self.nodes[i].incarnation + 1;
        // Generations only grow: derived from virtual time, like a real
        // node's start time.
        let generation = self.now().as_micros().max(1) + 1;
        let mut fresh = Self::fresh_node(&self.cfg, &mut self.rng, id, incarnation, generation);
        // The log is the node's durable store: it survives the crash. The
        // anti-entropy state around it (neighbours, exchanges) does not.
        fresh.engines.oplog = self.nodes[i]
            .engines
            .oplog
            .take()
            .map(|r| replica(&self.cfg, r.into_oplog(), i, incarnation));
        self.nodes[i] = fresh;
        // Peers still holding a link to the old process get a reset.
        self.reset_stale_conns(i);
        self.metrics.restarted(i);
        self.start_node(i, true);
    }

    fn partition(&mut self, i: usize) {
        let groups = self.cfg.partitions[i].groups;
        self.net.partition(&mut self.rng, self.nodes.len(), groups);
        let g = self.net.groups().cloned().unwrap_or_default();
        self.metrics.partition_started(g);
    }

    fn broadcast(&mut self, k: usize) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.nodes[j].up)
            .collect();
        if up.is_empty() {
            return;
        }
        let origin = up[self.rng.random_range(0..up.len())];
        let mut payload = format!("broadcast {k}").into_bytes();
        payload.resize(self.cfg.payload_bytes.max(payload.len()), b'.');
        // Who the origin can reach now: the figures count against them.
        let reachable = (0..self.nodes.len())
            .map(|j| self.nodes[j].up && self.reachable(origin, j))
            .collect();
        self.metrics.broadcast_begin(origin, self.now(), reachable);
        self.feed(
            origin,
            Routed::Plumtree(plumtree::Input::Command(plumtree::Command::Broadcast(
                payload,
            ))),
        );
    }

    /// Op number `k`: an op of an applet drawn by weight (or a chat line)
    /// from a random live node (node 0, the room's root, for applets whose
    /// ops are the root's work), written into its log and broadcast live
    /// as `Envelope::Op`.
    fn write_op(&mut self, k: usize) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.nodes[j].up)
            .collect();
        if up.is_empty() {
            return;
        }
        // The applet first: some applets' ops are the root's (node 0) work.
        let drawn = match self.cfg.op_mix {
            OpMix::Chat => None,
            OpMix::All => ops::draw(&mut self.rng),
        };
        let author = match drawn {
            Some(d) if d.by_root && self.nodes[0].up => 0,
            _ => up[self.rng.random_range(0..up.len())],
        };
        let mut nonce = [0u8; 24];
        self.rng.fill_bytes(&mut nonce);
        let mut text = format!("op {k}").into_bytes();
        let len = self.cfg.payload_bytes.min(chat::TEXT_BYTES_MAX);
        text.resize(len.max(text.len()), b'.');
        let wall_ms = self.now().as_micros() / 1000;
        let (Some(r), Some(me)) = (
            self.nodes[author].engines.oplog.as_mut(),
            self.identities.get(author),
        ) else {
            return;
        };
        // An applet op chosen from what the author holds, unless its own
        // rules refuse it there: then a chat line.
        let planned = drawn.and_then(|d| {
            ops::plan(
                &mut self.rng,
                d,
                k,
                me.node_id(),
                r.oplog(),
                &self.node_ids,
                wall_ms,
            )
        });
        let planned = planned.filter(|(applet, kind, body)| {
            r.oplog()
                .prepare(me, applet, *kind, body, wall_ms, nonce)
                .is_ok_and(|op| r.oplog().check(&op, body).is_ok())
        });
        let (applet, kind, body) = planned.unwrap_or((chat::NAME, chat::KIND_MESSAGE, text));
        let written = r
            .oplog_mut()
            .author(me, applet, kind, &body, wall_ms, nonce);
        let op = match written {
            Ok(op) => op,
            Err(_) => {
                self.metrics.op_failed();
                return;
            }
        };
        self.ops_made.push(op.id());
        self.frontier_cache[author] = None;
        self.metrics.op_written(self.now(), applet);
        match codec::encode_value(&Envelope::Op(op.into_signed())) {
            Ok(payload) => self.feed(
                author,
                Routed::Plumtree(plumtree::Input::Command(plumtree::Command::Broadcast(
                    payload,
                ))),
            ),
            // An op is far below the frame limit; were it not, anti-entropy
            // would still carry it, and the report shows the failure.
            Err(_) => self.metrics.op_failed(),
        }
    }

    /// Node `j`'s frontier hash (cached until its log changes).
    fn frontier_hash(&mut self, j: usize) -> Option<[u8; 32]> {
        if let Some(h) = self.frontier_cache[j] {
            return Some(h);
        }
        let h = self.nodes[j].replica()?.oplog().log().frontier_hash();
        self.frontier_cache[j] = Some(h);
        Some(h)
    }

    /// Whether every live node's log has the same frontier, for `sync_ms`.
    fn check_state_sync(&mut self) {
        let mut first = None;
        let mut agree = true;
        for j in 0..self.nodes.len() {
            if !self.nodes[j].up {
                continue;
            }
            let h = self.frontier_hash(j);
            match first {
                None => first = Some(h),
                Some(f) if f != h => {
                    agree = false;
                    break;
                }
                Some(_) => {}
            }
        }
        self.metrics.state_checked(self.now(), agree);
    }

    fn check_convergence(&mut self) {
        if !self
            .metrics
            .wants_convergence_check(self.initial_joins_done)
        {
            return;
        }
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.nodes[j].up)
            .collect();
        let need = live.len().saturating_sub(1);
        // Cheap test first; the exact one only when every count matches.
        if live
            .iter()
            .any(|&j| self.nodes[j].membership().alive_count() < need)
        {
            return;
        }
        let converged = live.iter().all(|&obs| {
            live.iter().all(|&t| {
                t == obs
                    || self.nodes[obs].membership().status(&self.nodes[t].id)
                        == Some(membership::Status::Alive)
            })
        });
        if converged {
            self.metrics.converged(self.now());
        }
    }

    // ----- messages ------------------------------------------------------

    fn send(&mut self, from: usize, to_id: NodeId, wire: Wire) {
        let Some(&to) = self.index.get(&to_id) else {
            return;
        };
        let Some(conn) = self.conn_to(from, &to_id) else {
            return; // no link: the transport would refuse
        };
        self.metrics
            .message_sent(&wire, codec::encoded_len(&wire) as u64);
        if !self.reachable(from, to) {
            return;
        }
        if self.net.lost(&mut self.rng) {
            return;
        }
        if self.net.duplicated(&mut self.rng) {
            let t = self.arrival(from, to, true);
            self.at(
                t,
                Ev::Msg {
                    from,
                    to,
                    conn,
                    wire: wire.clone(),
                },
            );
        }
        let t = self.arrival(from, to, true);
        self.at(
            t,
            Ev::Msg {
                from,
                to,
                conn,
                wire,
            },
        );
    }

    fn deliver(&mut self, from: usize, to: usize, conn: u64, wire: Wire) {
        if !self.nodes[to].up || !self.reachable(from, to) {
            return;
        }
        if !self.holds(to, from, conn) {
            // Data for a connection this end no longer has: like TCP, answer
            // with a reset, so the sender's end closes too (its close may
            // have been lost in a partition).
            self.send_close(to, from, conn);
            return;
        }
        let from_id = self.nodes[from].id;
        match route::inbound(from_id, wire) {
            Inbound::Engine(input) => self.feed(to, input),
            // The simulator's nodes send no direct messages.
            // The simulator sends no direct messages or goodbyes: a
            // denied connection is closed by the link table's verdict.
            Inbound::Direct(_) | Inbound::Goodbye(_) => {}
        }
    }

    // ----- the glue between one node's engines ----------------------------

    /// Runs `first` and everything it causes inside node `i`: the effects
    /// [`route`] gives each engine output, carried out in order, inputs for
    /// the node's other engines queued behind the ones already queued.
    fn feed(&mut self, i: usize, first: Routed) {
        let mut tasks = std::collections::VecDeque::from([first]);
        let mut effects = Vec::new();
        let now = self.now();
        while let Some(input) = tasks.pop_front() {
            self.nodes[i].engines.handle(now, input, &mut effects);
            for effect in effects.drain(..) {
                match effect {
                    Effect::Send { to, wire } => self.send(i, to, wire),
                    Effect::SetTimer { after, timer } => self.timer(i, after, timer),
                    Effect::Input(input) => tasks.push_back(input),
                    Effect::Dial(peer) => {
                        if let Some(answer) = self.dial(i, peer) {
                            tasks.push_back(answer);
                        }
                    }
                    Effect::Disconnect(peer) => tasks.push_back(self.disconnect(i, peer)),
                    Effect::Member(ev) => self.on_membership_event(i, &ev),
                    Effect::Delivered { id, round, .. } => {
                        self.metrics.delivered(i, id, round, now)
                    }
                    Effect::Sent { id } => self.metrics.broadcast_id(id),
                    Effect::Ingested(report) => {
                        self.frontier_cache[i] = None;
                        self.metrics.ops_ingested(&report);
                    }
                }
            }
        }
    }

    fn timer(&mut self, node: usize, after: Duration, timer: Timer) {
        let incarnation = self.nodes[node].incarnation;
        let at = self.now() + after;
        self.at(
            at,
            Ev::Timer {
                node,
                incarnation,
                timer,
            },
        );
    }

    /// Records what a membership event means for the metrics (what it
    /// means for topology is [`route::verdict`]'s).
    fn on_membership_event(&mut self, observer: usize, ev: &membership::Event) {
        use membership::Event as E;
        let target = match ev {
            E::Alive { node }
            | E::Suspect { node }
            | E::Dead { node }
            | E::Left { node }
            | E::Forgotten { node } => *node,
            E::Updated { .. } => return,
        };
        let t = self.index.get(&target).copied();
        let target_live = t.is_some_and(|t| self.nodes[t].up && self.reachable(observer, t));
        match ev {
            E::Alive { .. } | E::Updated { .. } => {}
            E::Suspect { .. } => {
                if let Some(t) = t {
                    self.metrics.suspected(observer, t, target_live);
                }
            }
            // No node leaves in the simulator: a verdict that a live,
            // reachable node is dead, left or forgotten is a false death.
            E::Dead { .. } | E::Left { .. } | E::Forgotten { .. } => {
                if let Some(t) = t {
                    self.metrics
                        .marked_dead(observer, t, target_live, self.now());
                }
            }
        }
    }

    // ----- the end -------------------------------------------------------

    /// The figures of the run so far.
    pub fn report(&self) -> Report {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.nodes[j].up)
            .collect();
        // Overlay invariants among live nodes.
        let mut asymmetric = 0u64;
        let mut degrees = Vec::with_capacity(live.len());
        let mut adj: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &a in &live {
            let nbrs: BTreeSet<usize> = self.nodes[a]
                .engines
                .topology
                .neighbors()
                .iter()
                .filter_map(|p| self.index.get(p).copied())
                .filter(|&b| self.nodes[b].up)
                .collect();
            degrees.push(nbrs.len());
            adj.insert(a, nbrs);
        }
        for (&a, nbrs) in &adj {
            for &b in nbrs {
                let settled = !self.transit.contains_key(&pair_key(a, b));
                if settled && !adj.get(&b).is_some_and(|s| s.contains(&a)) {
                    asymmetric += 1;
                }
            }
        }
        let connected = is_connected(&adj);
        let mut report = self
            .metrics
            .report(&self.cfg, self.now(), &live_flags(&self.nodes));
        report.links_asymmetric = asymmetric;
        report.overlay_connected = connected;
        let (same_state, ops_missing) = self.state_at_end(&live);
        report.ops_missing = ops_missing;
        report.state_converged = same_state && ops_missing == 0;
        report.degree_min = degrees.iter().copied().min().unwrap_or(0);
        report.degree_max = degrees.iter().copied().max().unwrap_or(0);
        report.degree_mean = if degrees.is_empty() {
            0.0
        } else {
            report::round3(degrees.iter().sum::<usize>() as f64 / degrees.len() as f64)
        };
        report
    }
}

impl Sim {
    /// Whether every live node holds the same state hash and the same
    /// frontier hash, and how many (live node, op written) pairs lack the
    /// op. Trivially `(true, 0)` without ops.
    fn state_at_end(&self, live: &[usize]) -> (bool, u64) {
        let mut missing = 0u64;
        let mut first = None;
        let mut same = true;
        for &j in live {
            let Some(r) = self.nodes[j].replica() else {
                continue;
            };
            let log = r.oplog().log();
            missing += self
                .ops_made
                .iter()
                .filter(|id| log.get(id).is_none())
                .count() as u64;
            let hashes = (r.oplog().state_hash(), log.frontier_hash());
            match &first {
                None => first = Some(hashes),
                Some(f) => same &= *f == hashes,
            }
        }
        (same, missing)
    }
}

fn live_flags(nodes: &[SimNode]) -> Vec<bool> {
    nodes.iter().map(|n| n.up).collect()
}

fn is_connected(adj: &BTreeMap<usize, BTreeSet<usize>>) -> bool {
    let Some((&first, _)) = adj.iter().next() else {
        return true;
    };
    let mut seen = BTreeSet::from([first]);
    let mut stack = vec![first];
    while let Some(a) = stack.pop() {
        for &b in adj.get(&a).into_iter().flatten() {
            if adj.contains_key(&b) && seen.insert(b) {
                stack.push(b);
            }
        }
    }
    seen.len() == adj.len()
}

fn pair_key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}
