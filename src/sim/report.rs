//! What a simulation measures, and the report it prints.
//!
//! Definitions (also in `docs/protocol.md`, "Simulator"):
//!
//! * Convergence is checked every 100 ms of virtual time, so
//!   `membership_converged_ms` and `reconverged_ms` are multiples of 100.
//! * A node is *live* for a broadcast if it is not the origin, it started at
//!   least [`JOIN_GRACE`] before the broadcast, and it is still up at the
//!   end of the run (it did not crash in between). It is *reachable* if it
//!   is live and the origin could reach it when the broadcast was sent: up,
//!   and in the origin's partition group (every node, outside a
//!   partition). The simulator records that set at send time.
//! * `delivered_ratio_reachable` = deliveries to reachable nodes / reachable
//!   (node, broadcast) pairs, `missed_reachable` the difference: what the
//!   broadcast layer promises. `delivered_ratio_live` and `missed_live` the
//!   same over live nodes: what a person on the far side of a partition
//!   sees. The two differ only for broadcasts sent during a partition.
//! * `rmr` (relative message redundancy) of one broadcast = m / (n − 1) − 1,
//!   with m the payload-carrying messages sent for it and n the nodes that
//!   hold it (the origin and every node that delivered it); reported as the
//!   mean over broadcasts that reached at least one node.
//! * `ldh` (last delivery hop) of one broadcast = hops on the path of its last
//!   delivery; `ldh_mean` and `ldh_max` over broadcasts.
//! * `latency_ms_*` = delivery time − send time, over deliveries to
//!   reachable nodes.
//! * `payload_msgs` counts broadcast-carrying messages (live ops included),
//!   `control_msgs` membership, topology, IHave, Graft and Prune messages
//!   (op-log anti-entropy is counted apart, below);
//!   `bytes_per_node_per_s` = encoded bytes of all messages / nodes /
//!   virtual seconds.
//! * `membership_converged_ms` = virtual time from the start until, after all
//!   initial nodes started, every live node lists every other live node as
//!   alive; `reconverged_ms` the same from the last disruption (partition
//!   heal, restart, late join) that was followed by convergence.
//! * `detect_ms` of a crashed node = time from its crash until every live
//!   node that knew it marks it dead; mean and max over crashed nodes.
//! * A false alarm is a verdict about a node that was up and reachable from
//!   the observer at the time (a node across a partition is not reachable,
//!   so a verdict about it is none): `false_suspicions_*` count suspect
//!   verdicts, `false_deaths_*` dead (or left, or forgotten) ones.
//!   `*_partitioned` count those made while a partition is active, and
//!   those made after it heals, until membership has re-converged, about a
//!   node that was on the other side of it (stale suspicions running out,
//!   verdicts still gossiped about); `*_connected` count all others, the
//!   failure detector's mistakes in a connected room.
//!
//! With ops (`--ops N`):
//!
//! * `ops` = ops written; `ops_missing` = (live node, written op) pairs where
//!   the node does not hold the op (chained) at the end; `state_converged` =
//!   every live node has the same state hash and the same frontier hash, and
//!   `ops_missing == 0`.
//! * `sync_ms` = virtual time from the last disturbance of the logs (a
//!   partition heal, a node start — join or restart — or an op written,
//!   whichever is latest) to the first check after it at which every live
//!   node has the same frontier hash and keeps it to the end of the run;
//!   `None` if that never happens.
//! * `ops_refused` = ops refused by any node's log (bad signature, broken
//!   chain, ...): 0 in a correct run. `oplog_msgs` and
//!   `oplog_bytes_per_node_per_s` count anti-entropy messages
//!   (`Wire::OpLog`); live ops travel as broadcasts (`payload_msgs`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use super::{Profile, SimConfig};
use crate::id::MessageId;
use crate::proto::Time;
use crate::proto::oplog::IngestReport;
use crate::proto::plumtree;
use crate::proto::wire::Wire;

/// A node counts toward a broadcast only if it started this long before it:
/// a node still dialling its first links cannot receive ephemeral messages.
pub const JOIN_GRACE: Duration = Duration::from_secs(2);

/// The figures of one run. Every field but `wall_ms` is a function of the
/// configuration alone. The module docs (and `docs/protocol.md`,
/// "Simulator") define each one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Nodes in the run, late joiners included.
    pub nodes: usize,
    /// The run's seed.
    pub seed: u64,
    /// Broadcasts configured.
    pub broadcasts: usize,
    /// Deliveries to reachable nodes / reachable (node, broadcast) pairs,
    /// floored to 6 decimals (1.0 only if none was missed).
    pub delivered_ratio_reachable: f64,
    /// Deliveries to live nodes / live (node, broadcast) pairs, partitions
    /// ignored; floored like `delivered_ratio_reachable`.
    pub delivered_ratio_live: f64,
    /// Relative message redundancy, mean over broadcasts.
    pub rmr: f64,
    /// Mean last delivery hop.
    pub ldh_mean: f64,
    /// Largest last delivery hop.
    pub ldh_max: u16,
    /// Median delivery latency to reachable nodes, in ms.
    pub latency_ms_p50: f64,
    /// 99th percentile delivery latency to reachable nodes, in ms.
    pub latency_ms_p99: f64,
    /// Messages carrying a broadcast (live ops included).
    pub payload_msgs: u64,
    /// Every other engine message but anti-entropy's.
    pub control_msgs: u64,
    /// Encoded bytes of all engine messages / nodes / virtual seconds.
    pub bytes_per_node_per_s: f64,
    /// Virtual ms until every live node first listed every other as alive.
    pub membership_converged_ms: Option<f64>,
    /// Mean time from a crash until every live node that knew the node
    /// marked it dead, in ms.
    pub detect_ms_mean: Option<f64>,
    /// Longest such time, in ms.
    pub detect_ms_max: Option<f64>,
    /// Suspect verdicts about an up, reachable node that a partition does
    /// not explain (see `false_suspicions_partitioned`).
    pub false_suspicions_connected: u64,
    /// Real time the run took, in ms (the only non-deterministic field).
    pub wall_ms: u64,
    // Beyond the required figures:
    /// The engine defaults the nodes ran with.
    pub profile: Profile,
    /// Virtual length of the run, in ms.
    pub duration_ms: f64,
    /// First deliveries of broadcasts, to any node.
    pub deliveries: u64,
    /// Reachable (node, broadcast) pairs without a delivery.
    pub missed_reachable: u64,
    /// Live (node, broadcast) pairs without a delivery, partitions ignored.
    pub missed_live: u64,
    /// Broadcasts delivered twice to one node, or to their origin: 0 in a
    /// correct run.
    pub duplicate_deliveries: u64,
    /// Crashes that happened.
    pub crashed: usize,
    /// Restarts that happened.
    pub restarted: usize,
    /// Nodes up at the end.
    pub live_at_end: usize,
    /// Crashes some live node that knew the node never marked dead.
    pub undetected: usize,
    /// The same for dead (or left, or forgotten) verdicts.
    pub false_deaths_connected: u64,
    /// Suspect verdicts about an up node on the observer's side of an
    /// active partition, or after the heal about a node from the other
    /// side until membership re-converged.
    pub false_suspicions_partitioned: u64,
    /// The same for dead (or left, or forgotten) verdicts.
    pub false_deaths_partitioned: u64,
    /// Virtual ms from the last disruption (partition heal, restart, late
    /// join) that was followed by convergence until it.
    pub reconverged_ms: Option<f64>,
    /// Fewest links of a live node at the end.
    pub degree_min: usize,
    /// Most links of a live node at the end.
    pub degree_max: usize,
    /// Mean links of a live node at the end.
    pub degree_mean: f64,
    /// Links one live end lists and the other does not (no handshake or
    /// close in flight).
    pub links_asymmetric: u64,
    /// Whether the overlay among live nodes is connected at the end.
    pub overlay_connected: bool,
    // The op-log (all zero, `true` or `None` without ops):
    /// Ops written.
    pub ops: usize,
    /// Every live node has the same state and frontier hash, and no op is
    /// missing.
    pub state_converged: bool,
    /// (Live node, written op) pairs where the node lacks the op.
    pub ops_missing: u64,
    /// Virtual ms from the last disturbance of the logs until they agreed
    /// for good; `None` if they never did.
    pub sync_ms: Option<f64>,
    /// Ops refused by any node's log: 0 in a correct run.
    pub ops_refused: u64,
    /// Anti-entropy messages (`Wire::OpLog`).
    pub oplog_msgs: u64,
    /// Their encoded bytes / nodes / virtual seconds.
    pub oplog_bytes_per_node_per_s: f64,
    /// Ops written per applet (by name).
    pub ops_by_applet: std::collections::BTreeMap<String, u64>,
}

impl Report {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as a readable table.
    pub fn to_table(&self) -> String {
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v}"));
        let mut rows: Vec<(&str, String)> = vec![
            ("nodes", self.nodes.to_string()),
            ("profile", format!("{:?}", self.profile).to_lowercase()),
            ("seed", self.seed.to_string()),
            ("virtual duration (ms)", self.duration_ms.to_string()),
            ("broadcasts", self.broadcasts.to_string()),
            (
                "delivered ratio, nodes reachable at send",
                self.delivered_ratio_reachable.to_string(),
            ),
            (
                "missed deliveries, nodes reachable at send",
                self.missed_reachable.to_string(),
            ),
            (
                "delivered ratio, all live nodes",
                self.delivered_ratio_live.to_string(),
            ),
            (
                "missed deliveries, all live nodes",
                self.missed_live.to_string(),
            ),
            (
                "duplicate deliveries",
                self.duplicate_deliveries.to_string(),
            ),
            ("RMR (mean)", self.rmr.to_string()),
            ("last delivery hop (mean)", self.ldh_mean.to_string()),
            ("last delivery hop (max)", self.ldh_max.to_string()),
            ("latency p50 (ms)", self.latency_ms_p50.to_string()),
            ("latency p99 (ms)", self.latency_ms_p99.to_string()),
            ("payload messages", self.payload_msgs.to_string()),
            ("control messages", self.control_msgs.to_string()),
            (
                "bytes per node per s",
                self.bytes_per_node_per_s.to_string(),
            ),
            (
                "membership converged (ms)",
                opt(self.membership_converged_ms),
            ),
            ("re-converged after (ms)", opt(self.reconverged_ms)),
            (
                "crashed / restarted nodes",
                format!("{} / {}", self.crashed, self.restarted),
            ),
            ("live nodes at the end", self.live_at_end.to_string()),
            ("detection mean (ms)", opt(self.detect_ms_mean)),
            ("detection max (ms)", opt(self.detect_ms_max)),
            ("undetected crashes", self.undetected.to_string()),
            (
                "false suspicions / deaths, connected",
                format!(
                    "{} / {}",
                    self.false_suspicions_connected, self.false_deaths_connected
                ),
            ),
            (
                "false suspicions / deaths, in a partition",
                format!(
                    "{} / {}",
                    self.false_suspicions_partitioned, self.false_deaths_partitioned
                ),
            ),
            (
                "degree min/mean/max",
                format!(
                    "{}/{}/{}",
                    self.degree_min, self.degree_mean, self.degree_max
                ),
            ),
            ("asymmetric links", self.links_asymmetric.to_string()),
            ("overlay connected", self.overlay_connected.to_string()),
        ];
        if self.ops > 0 {
            rows.extend([
                ("ops written", self.ops.to_string()),
                ("state converged", self.state_converged.to_string()),
                ("ops missing", self.ops_missing.to_string()),
                ("logs in sync after (ms)", opt(self.sync_ms)),
                ("ops refused", self.ops_refused.to_string()),
                (
                    "ops by applet",
                    self.ops_by_applet
                        .iter()
                        .map(|(a, n)| format!("{a} {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ("anti-entropy messages", self.oplog_msgs.to_string()),
                (
                    "anti-entropy bytes per node per s",
                    self.oplog_bytes_per_node_per_s.to_string(),
                ),
            ]);
        }
        rows.push(("wall time (ms)", self.wall_ms.to_string()));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}

/// Rounds to three decimals, so reports read well and compare exactly.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1000.0)
}

struct Bcast {
    origin: usize,
    at: Time,
    /// Per node: could the origin reach it when it sent (up, and on its
    /// side of any partition)?
    reachable: Vec<bool>,
    payload_msgs: u64,
    /// (node, time, hops) of each first delivery.
    deliveries: Vec<(usize, Time, u16)>,
    delivered: BTreeSet<usize>,
}

struct Crash {
    node: usize,
    at: Time,
    waiting: BTreeSet<usize>,
    detected_at: Option<Time>,
}

pub(crate) struct Metrics {
    last_start: Vec<Option<Time>>,
    bcasts: Vec<Bcast>,
    by_id: HashMap<MessageId, usize>,
    current: Option<usize>,
    payload_msgs: u64,
    control_msgs: u64,
    bytes: u64,
    duplicate_deliveries: u64,
    false_suspicions_connected: u64,
    false_deaths_connected: u64,
    false_suspicions_partitioned: u64,
    false_deaths_partitioned: u64,
    /// Whether a partition is active now.
    partitioned: bool,
    /// The group of each node in the active or last partition.
    partition_groups: Option<Vec<usize>>,
    /// The last partition healed and membership has not re-converged yet.
    healing: bool,
    crashes: Vec<Crash>,
    restarted: usize,
    open_crash: HashMap<usize, usize>,
    first_converged: Option<Time>,
    disrupted_at: Option<Time>,
    reconverged: Option<Duration>,
    want_check: bool,
    ops_written: usize,
    ops_by_applet: std::collections::BTreeMap<String, u64>,
    ops_refused: u64,
    oplog_msgs: u64,
    oplog_bytes: u64,
    /// The last partition heal, node start or op written.
    state_disturbed_at: Option<Time>,
    /// The first check since then, of an unbroken run of checks, at which
    /// every live node had the same frontier hash.
    state_agreed_since: Option<Time>,
}

impl Metrics {
    pub(crate) fn new(cfg: &SimConfig) -> Metrics {
        Metrics {
            last_start: vec![None; cfg.nodes],
            bcasts: Vec::with_capacity(cfg.broadcasts),
            by_id: HashMap::with_capacity(cfg.broadcasts),
            current: None,
            payload_msgs: 0,
            control_msgs: 0,
            bytes: 0,
            duplicate_deliveries: 0,
            false_suspicions_connected: 0,
            false_deaths_connected: 0,
            false_suspicions_partitioned: 0,
            false_deaths_partitioned: 0,
            partitioned: false,
            partition_groups: None,
            healing: false,
            crashes: Vec::new(),
            restarted: 0,
            open_crash: HashMap::new(),
            first_converged: None,
            disrupted_at: None,
            reconverged: None,
            want_check: true,
            ops_written: 0,
            ops_by_applet: Default::default(),
            ops_refused: 0,
            oplog_msgs: 0,
            oplog_bytes: 0,
            state_disturbed_at: None,
            state_agreed_since: None,
        }
    }

    /// A partition healed, a node started or an op was written: the logs
    /// must agree again, at a later check, for `sync_ms`.
    pub(crate) fn state_disturbed(&mut self, now: Time) {
        self.state_disturbed_at = Some(now);
        self.state_agreed_since = None;
    }

    /// A check found every live node's frontier hash equal (`agree`) or not.
    pub(crate) fn state_checked(&mut self, now: Time, agree: bool) {
        if !agree {
            self.state_agreed_since = None;
        } else if self.state_agreed_since.is_none() {
            self.state_agreed_since = Some(now);
        }
    }

    pub(crate) fn op_written(&mut self, now: Time, applet: &str) {
        self.ops_written += 1;
        *self.ops_by_applet.entry(applet.to_string()).or_default() += 1;
        self.state_disturbed(now);
    }

    /// The author's own log refused an op it wrote, or the op did not
    /// encode for broadcast (neither is expected): counted as refused.
    pub(crate) fn op_failed(&mut self) {
        self.ops_refused += 1;
    }

    pub(crate) fn ops_ingested(&mut self, report: &IngestReport) {
        self.ops_refused += report.refused.len() as u64;
    }

    pub(crate) fn node_started(&mut self, i: usize, now: Time) {
        self.last_start[i] = Some(now);
    }

    pub(crate) fn initial_joins_done(&mut self) {
        self.want_check = true;
    }

    pub(crate) fn disrupted(&mut self, now: Time) {
        self.disrupted_at = Some(now);
        self.want_check = true;
    }

    pub(crate) fn wants_convergence_check(&self, initial_joins_done: bool) -> bool {
        initial_joins_done && self.want_check
    }

    pub(crate) fn converged(&mut self, now: Time) {
        self.want_check = false;
        self.healing = false;
        if self.first_converged.is_none() {
            self.first_converged = Some(now);
        }
        if let Some(d) = self.disrupted_at.take() {
            self.reconverged = Some(now - d);
        }
    }

    /// A partition started, `groups[j]` being node `j`'s group: false
    /// alarms count as `*_partitioned` until it ends.
    pub(crate) fn partition_started(&mut self, groups: Vec<usize>) {
        self.partitioned = true;
        self.healing = false;
        self.partition_groups = Some(groups);
    }

    /// The partition healed: until membership re-converges, false alarms
    /// between nodes it separated still count as `*_partitioned`.
    pub(crate) fn partition_ended(&mut self) {
        self.partitioned = false;
        self.healing = true;
    }

    /// Whether a false alarm by `observer` about `target` now is the
    /// partition's doing (see the module docs).
    fn partition_related(&self, observer: usize, target: usize) -> bool {
        self.partitioned
            || (self.healing
                && self
                    .partition_groups
                    .as_ref()
                    .is_some_and(|g| g[observer] != g[target]))
    }

    /// `origin` sends a broadcast now; `reachable[j]` says whether it could
    /// reach node `j` (up, and on its side of any partition).
    pub(crate) fn broadcast_begin(&mut self, origin: usize, now: Time, reachable: Vec<bool>) {
        self.current = Some(self.bcasts.len());
        self.bcasts.push(Bcast {
            origin,
            at: now,
            reachable,
            payload_msgs: 0,
            deliveries: Vec::new(),
            delivered: BTreeSet::new(),
        });
    }

    /// The id the origin's engine gave the broadcast just begun.
    pub(crate) fn broadcast_id(&mut self, id: MessageId) {
        if let Some(k) = self.current.take() {
            self.by_id.insert(id, k);
        }
    }

    pub(crate) fn message_sent(&mut self, wire: &Wire, bytes: u64) {
        self.bytes += bytes;
        match wire {
            Wire::Plumtree(plumtree::Message::Gossip(g)) => {
                self.payload_msgs += 1;
                if let Some(&k) = self.by_id.get(&g.id) {
                    self.bcasts[k].payload_msgs += 1;
                }
            }
            Wire::OpLog(_) => {
                self.oplog_msgs += 1;
                self.oplog_bytes += bytes;
            }
            _ => self.control_msgs += 1,
        }
    }

    pub(crate) fn delivered(&mut self, node: usize, id: MessageId, round: u16, now: Time) {
        let Some(&k) = self.by_id.get(&id) else {
            return;
        };
        let b = &mut self.bcasts[k];
        if node == b.origin || !b.delivered.insert(node) {
            self.duplicate_deliveries += 1;
            return;
        }
        b.deliveries.push((node, now, round));
    }

    /// `observer` suspects `target`; `target_live`: the target was up and
    /// reachable from the observer (a false alarm).
    pub(crate) fn suspected(&mut self, observer: usize, target: usize, target_live: bool) {
        if !target_live {
            return;
        }
        if self.partition_related(observer, target) {
            self.false_suspicions_partitioned += 1;
        } else {
            self.false_suspicions_connected += 1;
        }
    }

    pub(crate) fn crashed(&mut self, node: usize, now: Time, observers: Vec<usize>) {
        // An observer that crashes later stops counting for earlier crashes.
        for c in &mut self.crashes {
            if c.detected_at.is_none() && c.waiting.remove(&node) && c.waiting.is_empty() {
                c.detected_at = Some(now);
            }
        }
        let waiting: BTreeSet<usize> = observers.into_iter().collect();
        let detected_at = waiting.is_empty().then_some(now);
        self.open_crash.insert(node, self.crashes.len());
        self.crashes.push(Crash {
            node,
            at: now,
            waiting,
            detected_at,
        });
    }

    pub(crate) fn restarted(&mut self, node: usize) {
        self.restarted += 1;
        if let Some(k) = self.open_crash.remove(&node) {
            let c = &mut self.crashes[k];
            debug_assert_eq!(c.node, node);
            // Detection after the restart no longer means anything.
            c.waiting.clear();
        }
    }

    /// `observer` marks `target` dead (or left, or forgotten); `live`: the
    /// target was up and reachable from the observer (a false alarm).
    pub(crate) fn marked_dead(&mut self, observer: usize, target: usize, live: bool, now: Time) {
        if live && self.partition_related(observer, target) {
            self.false_deaths_partitioned += 1;
        } else if live {
            self.false_deaths_connected += 1;
        }
        if let Some(&k) = self.open_crash.get(&target) {
            let c = &mut self.crashes[k];
            if c.detected_at.is_none() && c.waiting.remove(&observer) && c.waiting.is_empty() {
                c.detected_at = Some(now);
            }
        }
    }

    pub(crate) fn report(&self, cfg: &SimConfig, now: Time, live: &[bool]) -> Report {
        let mut reachable_total = 0u64;
        let mut delivered_reachable = 0u64;
        let mut live_total = 0u64;
        let mut delivered_live = 0u64;
        let mut deliveries = 0u64;
        let mut latencies: Vec<u64> = Vec::new();
        let mut rmrs = Vec::new();
        let mut ldhs = Vec::new();
        for b in &self.bcasts {
            let is_live = |j: usize| {
                j != b.origin
                    && live[j]
                    && self.last_start[j].is_some_and(|s| s + JOIN_GRACE <= b.at)
            };
            let is_reachable = |j: usize| is_live(j) && b.reachable[j];
            live_total += (0..live.len()).filter(|&j| is_live(j)).count() as u64;
            reachable_total += (0..live.len()).filter(|&j| is_reachable(j)).count() as u64;
            for &(node, t, _) in &b.deliveries {
                deliveries += 1;
                if is_live(node) {
                    delivered_live += 1;
                }
                if is_reachable(node) {
                    delivered_reachable += 1;
                    latencies.push((t - b.at).as_micros() as u64);
                }
            }
            let n = b.deliveries.len() as f64 + 1.0;
            if n > 1.0 {
                rmrs.push(b.payload_msgs as f64 / (n - 1.0) - 1.0);
            }
            if let Some(max) = b.deliveries.iter().map(|d| d.2).max() {
                ldhs.push(max);
            }
        }
        latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            round3(latencies[rank - 1] as f64 / 1000.0)
        };
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                round3(v.iter().sum::<f64>() / v.len() as f64)
            }
        };
        let detected: Vec<f64> = self
            .crashes
            .iter()
            .filter_map(|c| c.detected_at.map(|t| ms(t - c.at)))
            .collect();
        let undetected = self
            .crashes
            .iter()
            .filter(|c| c.detected_at.is_none() && !c.waiting.is_empty())
            .count();
        let secs = now.saturating_since(Time::ZERO).as_secs_f64().max(1e-9);
        // Floored, so that anything short of every delivery is < 1.
        let ratio = |delivered: u64, total: u64| {
            if total == 0 {
                1.0
            } else {
                (delivered as f64 / total as f64 * 1e6).floor() / 1e6
            }
        };
        Report {
            nodes: cfg.nodes,
            seed: cfg.seed,
            broadcasts: cfg.broadcasts,
            delivered_ratio_reachable: ratio(delivered_reachable, reachable_total),
            delivered_ratio_live: ratio(delivered_live, live_total),
            rmr: mean(&rmrs),
            ldh_mean: mean(&ldhs.iter().map(|&h| h as f64).collect::<Vec<_>>()),
            ldh_max: ldhs.iter().copied().max().unwrap_or(0),
            latency_ms_p50: pct(0.50),
            latency_ms_p99: pct(0.99),
            payload_msgs: self.payload_msgs,
            control_msgs: self.control_msgs,
            bytes_per_node_per_s: round3(self.bytes as f64 / cfg.nodes as f64 / secs),
            membership_converged_ms: self.first_converged.map(|t| ms(t - Time::ZERO)),
            detect_ms_mean: (!detected.is_empty()).then(|| mean(&detected)),
            detect_ms_max: detected.iter().copied().reduce(f64::max),
            false_suspicions_connected: self.false_suspicions_connected,
            wall_ms: 0,
            profile: cfg.profile,
            duration_ms: ms(now - Time::ZERO),
            deliveries,
            missed_reachable: reachable_total - delivered_reachable,
            missed_live: live_total - delivered_live,
            duplicate_deliveries: self.duplicate_deliveries,
            crashed: self.crashes.len(),
            restarted: self.restarted,
            live_at_end: live.iter().filter(|&&up| up).count(),
            undetected,
            false_deaths_connected: self.false_deaths_connected,
            false_suspicions_partitioned: self.false_suspicions_partitioned,
            false_deaths_partitioned: self.false_deaths_partitioned,
            reconverged_ms: self.reconverged.map(ms),
            degree_min: 0,
            degree_max: 0,
            degree_mean: 0.0,
            links_asymmetric: 0,
            overlay_connected: false,
            ops: self.ops_written,
            state_converged: true,
            ops_missing: 0,
            sync_ms: match (self.state_disturbed_at, self.state_agreed_since) {
                (Some(d), Some(a)) if cfg.ops > 0 => Some(ms(a - d)),
                _ => None,
            },
            ops_refused: self.ops_refused,
            oplog_msgs: self.oplog_msgs,
            oplog_bytes_per_node_per_s: round3(self.oplog_bytes as f64 / cfg.nodes as f64 / secs),
            ops_by_applet: self.ops_by_applet.clone(),
        }
    }
}
