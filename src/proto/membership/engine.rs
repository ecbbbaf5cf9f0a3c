//! The membership engine: Scuttlebutt reconciliation of per-node versioned
//! state, and a phi-accrual detector per node turning heartbeat arrivals into
//! alive / suspect / dead.
//!
//! # A gossip round
//!
//! 1. Every `gossip_interval` (jittered) the node picks a random neighbour and
//!    sends `Syn { digest }`: `(generation, heartbeat, max_version)` of every
//!    node it knows (itself, alive, suspect, dead and left nodes; not
//!    forgotten ones) whose id is in `[start, end)`. The range is one page of
//!    the id space: the walk starts at a cursor that moves on every round, and
//!    stops before the digest would exceed `gossip_bytes_max`. The last page
//!    (up to the top of the id space) starts early enough to be full, so
//!    every round covers as many nodes as the budget allows.
//! 2. The receiver applies the heartbeats and generations of the digest, then
//!    answers `SynAck { delta, requests }`: a [`NodeDelta`] for every node in
//!    the range it knows better, and its own digest entry for every node the
//!    initiator knows better.
//! 3. The initiator applies the delta and answers the requests with
//!    `Ack { delta }`.
//!
//! A node is "known better" when its generation is higher, or the generation
//! is the same and the heartbeat or the highest key-value version is higher.
//! A delta carries the entries above the version the other side has (all of
//! them for a newer generation), in ascending version order, so a delta cut
//! short by the byte budget still leaves the receiver with a consistent
//! `max_version`.
//!
//! # Invariants
//!
//! * The table never holds this node itself; this node's own state is always
//!   the newest (claims of a higher generation or heartbeat for it are
//!   ignored).
//! * Every encoded `Syn`, `SynAck` and `Ack` is at most `gossip_bytes_max`
//!   bytes (sizes are computed from the fixed-width encoding, and checked
//!   against [`crate::codec::encoded_len`] in the tests).
//! * A left node never becomes alive again in the same generation; a node
//!   with a higher generation always replaces the old one (a restart).
//! * A forgotten node comes back only with a `(generation, heartbeat)` above
//!   its tombstone's.
//! * Everything that reaches the output iterates a `BTreeMap`/`BTreeSet` or
//!   the seeded [`EngineRng`]: the same seed and inputs give the same outputs.
//!
//! Defaults and where they come from: see `config.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::seq::{IndexedRandom, SliceRandom};

use super::phi::{PhiDetector, PhiParams};
use super::*;
use crate::proto::{EngineRng, Time, jitter};

/// Encoded size of one [`DigestEntry`]: id, generation, heartbeat,
/// max_version.
pub(crate) const DIGEST_ENTRY_BYTES: usize = 32 + 8 + 8 + 8;
/// Encoded size of a `Syn` without its entries, at most: variant tag,
/// `start`, `end` as `Some`, entry count.
pub(crate) const SYN_HEADER_BYTES: usize = 4 + 32 + (1 + 32) + 8;
/// Encoded size of an empty `SynAck`: variant tag and two counts.
pub(crate) const SYN_ACK_HEADER_BYTES: usize = 4 + 8 + 8;
/// Encoded size of an empty `Ack`: variant tag and a count.
pub(crate) const ACK_HEADER_BYTES: usize = 4 + 8;
/// Encoded size of a [`NodeDelta`] without entries: id, generation,
/// heartbeat, entry count.
pub(crate) const NODE_DELTA_HEADER_BYTES: usize = 32 + 8 + 8 + 8;
/// Encoded size of a [`KvEntry`] besides its key and value bytes: the two
/// lengths and the version.
pub(crate) const KV_ENTRY_OVERHEAD_BYTES: usize = 8 + 8 + 8;

/// Fraction of `gossip_interval` added at random to each gossip timer, so
/// that nodes started together do not gossip in lockstep.
pub const GOSSIP_JITTER: f64 = 0.2;

/// The value written under [`LEFT_KEY`] on a graceful leave.
const LEFT_VALUE: &[u8] = b"1";

/// Scuttlebutt membership with phi-accrual failure detection.
///
/// # Driver contract
///
/// * Create it with [`Membership::new`], feed [`Input::Start`] once, then
///   [`Input::NeighborUp`]/[`Input::NeighborDown`] as links come and go (only
///   neighbours are gossiped with), every received [`Message`], every timer
///   it asked for, and the application's [`Command`]s.
/// * `now` never goes backwards across calls to [`Membership::handle`].
/// * After each call drain [`Membership::poll_output`] until `None` and act on
///   every output: `Send` to the peer (losing it is fine), `SetTimer` coming
///   back as `Input::Timer` no earlier than `now + after`, `Event` to the
///   application and the topology engine.
/// * A timer that fires early, twice, before `Start` or after `Leave` does
///   nothing. After [`Command::Leave`] no timer is re-armed; the engine still
///   answers gossip so the leave spreads, until the driver drops it.
/// * [`Command::Set`] is ignored after a leave, for the reserved
///   [`LEFT_KEY`], and for an entry too large to ever fit in one message
///   (see [`Membership::entry_fits`]).
pub struct Membership {
    me: NodeId,
    config: Config,
    phi_params: PhiParams,
    rng: EngineRng,
    /// This node's own state (never in `peers`).
    own: NodeState,
    started: bool,
    left: bool,
    /// Every other node known, by id.
    peers: BTreeMap<NodeId, Peer>,
    /// Forgotten nodes' last state, until `tombstone_ttl` after forgetting.
    tombstones: BTreeMap<NodeId, Tombstone>,
    /// Gossip targets.
    neighbors: BTreeSet<NodeId>,
    /// Where the next digest page starts.
    digest_cursor: NodeId,
    /// When each armed periodic timer is due; a timer firing before its due
    /// time, or not in here, is stale.
    due: BTreeMap<Timer, Time>,
    outbox: VecDeque<Output>,
}

/// What is known of one node's namespace.
#[derive(Clone, Debug, Default, PartialEq)]
struct NodeState {
    generation: u64,
    heartbeat: u64,
    /// Highest version in `kv` (or received and since superseded).
    max_version: u64,
    kv: BTreeMap<String, Versioned>,
}

#[derive(Clone, Debug, PartialEq)]
struct Versioned {
    value: Vec<u8>,
    version: u64,
}

/// Another node, as this node sees it.
#[derive(Clone, Debug)]
struct Peer {
    state: NodeState,
    status: Status,
    /// When `status` last changed (or the node was learnt).
    since: Time,
    detector: PhiDetector,
}

impl Peer {
    /// A node just learnt, or restarted with a higher generation: alive,
    /// no entries yet, a fresh detector.
    fn fresh(generation: u64, heartbeat: u64, params: &PhiParams, now: Time) -> Peer {
        Peer {
            state: NodeState::new(generation, heartbeat),
            status: Status::Alive,
            since: now,
            detector: PhiDetector::new(params, now),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Tombstone {
    generation: u64,
    heartbeat: u64,
    at: Time,
}

/// A node to include in a delta: entries above `after`, and whether the
/// delta is worth sending even if no entry fits (it carries a newer
/// generation or heartbeat).
#[derive(Clone, Copy, Debug)]
struct DeltaPlan {
    node: NodeId,
    after: u64,
    header_is_news: bool,
}

impl NodeState {
    fn new(generation: u64, heartbeat: u64) -> NodeState {
        NodeState {
            generation,
            heartbeat,
            max_version: 0,
            kv: BTreeMap::new(),
        }
    }

    fn digest_entry(&self, node: NodeId) -> DigestEntry {
        DigestEntry {
            node,
            generation: self.generation,
            heartbeat: self.heartbeat,
            max_version: self.max_version,
        }
    }

    /// Whether this state is newer than what `theirs` describes (`None`: the
    /// other side knows nothing of the node).
    fn is_newer_than(&self, theirs: Option<&DigestEntry>) -> bool {
        match theirs {
            None => true,
            Some(t) => is_newer(
                (self.generation, self.heartbeat, self.max_version),
                (t.generation, t.heartbeat, t.max_version),
            ),
        }
    }

    /// Entries with a version above `after`, in ascending version order.
    fn entries_after(&self, after: u64) -> Vec<(&String, &Versioned)> {
        let mut entries: Vec<_> = self.kv.iter().filter(|(_, v)| v.version > after).collect();
        entries.sort_by_key(|(key, v)| (v.version, *key));
        entries
    }
}

/// `(generation, heartbeat, max_version)` `a` newer than `b`.
fn is_newer(a: (u64, u64, u64), b: (u64, u64, u64)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && (a.1 > b.1 || a.2 > b.2))
}

fn kv_entry_bytes(key: &str, value: &[u8]) -> usize {
    KV_ENTRY_OVERHEAD_BYTES
        .saturating_add(key.len())
        .saturating_add(value.len())
}

/// Whether `id` is in `[start, end)`.
fn in_range(id: &NodeId, start: &NodeId, end: Option<&NodeId>) -> bool {
    id >= start && end.is_none_or(|e| id < e)
}

impl Membership {
    /// A node `me` in its `generation` (a restart must use a higher one, e.g.
    /// the start time in milliseconds). `config` should have passed
    /// [`Config::validate`].
    pub fn new(me: NodeId, generation: u64, config: Config, rng: EngineRng) -> Self {
        let phi_params = PhiParams {
            window: config.phi_window,
            min_std_dev: config.phi_min_std_dev,
            acceptable_pause: config.phi_acceptable_pause,
            // A heartbeat cannot arrive more often than it is bumped, nor
            // than gossip carries it.
            first_estimate: config.heartbeat_interval.max(config.gossip_interval),
            threshold: config.phi_threshold,
        };
        Membership {
            me,
            config,
            phi_params,
            rng,
            own: NodeState::new(generation, 0),
            started: false,
            left: false,
            peers: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            neighbors: BTreeSet::new(),
            digest_cursor: NodeId::default(),
            due: BTreeMap::new(),
            outbox: VecDeque::new(),
        }
    }

    /// Feeds one input at `now`; outputs queue up for [`Self::poll_output`].
    pub fn handle(&mut self, now: Time, input: Input) {
        match input {
            Input::Start => self.on_start(now),
            Input::Message { from, msg } => match msg {
                Message::Syn { digest } => self.on_syn(now, from, digest),
                Message::SynAck { delta, requests } => self.on_syn_ack(now, from, delta, requests),
                Message::Ack { delta } => self.on_ack(now, delta),
            },
            Input::Timer(timer) => {
                if !self.take_due(now, timer) {
                    return;
                }
                match timer {
                    Timer::Heartbeat => self.on_heartbeat_timer(now),
                    Timer::Gossip => self.on_gossip_timer(now),
                    Timer::Check => self.on_check_timer(now),
                }
            }
            Input::NeighborUp(node) => {
                if node != self.me {
                    self.neighbors.insert(node);
                }
            }
            Input::NeighborDown(node) => {
                self.neighbors.remove(&node);
            }
            Input::Command(Command::Set { key, value }) => self.on_set(key, value),
            Input::Command(Command::Leave) => self.on_leave(),
        }
    }

    /// The next output, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// The status of `node`: for this node itself `Alive`, or `Left` after
    /// [`Command::Leave`]; `None` for an unknown or forgotten node.
    pub fn status(&self, node: &NodeId) -> Option<Status> {
        if *node == self.me {
            return Some(if self.left {
                Status::Left
            } else {
                Status::Alive
            });
        }
        self.peers.get(node).map(|p| p.status)
    }

    /// Every known node except this one, sorted by id.
    pub fn members(&self) -> Vec<MemberView> {
        self.peers
            .iter()
            .map(|(node, p)| MemberView {
                node: *node,
                status: p.status,
                generation: p.state.generation,
                heartbeat: p.state.heartbeat,
            })
            .collect()
    }

    /// The value of `key` in `node`'s namespace (this node's own included).
    pub fn get(&self, node: &NodeId, key: &str) -> Option<&[u8]> {
        self.state_of(node)?.kv.get(key).map(|v| v.value.as_slice())
    }

    /// The current suspicion level of another node, `None` if unknown.
    pub fn phi(&self, node: &NodeId, now: Time) -> Option<f64> {
        self.peers
            .get(node)
            .map(|p| p.detector.phi(&self.phi_params, now))
    }

    /// When news of a higher heartbeat (or generation) of `node` last
    /// arrived ("last seen"); `None` if unknown.
    pub fn last_heard(&self, node: &NodeId) -> Option<Time> {
        self.peers.get(node).map(|p| p.detector.last_arrival())
    }

    /// How many other nodes are currently alive.
    pub fn alive_count(&self) -> usize {
        self.peers
            .values()
            .filter(|p| p.status == Status::Alive)
            .count()
    }

    /// This node's generation, heartbeat and highest version.
    pub fn own_entry(&self) -> DigestEntry {
        self.own.digest_entry(self.me)
    }

    /// Whether [`Command::Set`] would accept this entry: it must fit in one
    /// message together with the headers of a `SynAck` and a [`NodeDelta`].
    pub fn entry_fits(&self, key: &str, value: &[u8]) -> bool {
        SYN_ACK_HEADER_BYTES
            .saturating_add(NODE_DELTA_HEADER_BYTES)
            .saturating_add(kv_entry_bytes(key, value))
            <= self.config.gossip_bytes_max
    }

    // ----- inputs -----------------------------------------------------------

    fn on_start(&mut self, now: Time) {
        if self.started || self.left {
            return;
        }
        self.started = true;
        self.arm(now, Timer::Heartbeat);
        self.arm(now, Timer::Gossip);
        self.arm(now, Timer::Check);
    }

    fn on_heartbeat_timer(&mut self, now: Time) {
        self.arm(now, Timer::Heartbeat);
        self.own.heartbeat += 1;
    }

    fn on_gossip_timer(&mut self, now: Time) {
        self.arm(now, Timer::Gossip);
        let targets: Vec<NodeId> = self.neighbors.iter().copied().collect();
        let Some(&to) = targets.choose(&mut self.rng) else {
            return;
        };
        let digest = self.next_digest();
        self.send(to, Message::Syn { digest });
    }

    fn on_check_timer(&mut self, now: Time) {
        self.arm(now, Timer::Check);
        let mut forget = Vec::new();
        for (node, peer) in self.peers.iter_mut() {
            let held = now - peer.since;
            let event = match peer.status {
                Status::Alive => {
                    let silent = now - peer.detector.last_arrival() >= self.config.silence_max;
                    if !silent
                        && !peer
                            .detector
                            .exceeds(&self.phi_params, now, self.config.phi_threshold)
                    {
                        continue;
                    }
                    peer.status = Status::Suspect;
                    Event::Suspect { node: *node }
                }
                Status::Suspect => {
                    if held < self.config.suspect_timeout {
                        continue;
                    }
                    peer.status = Status::Dead;
                    Event::Dead { node: *node }
                }
                Status::Dead | Status::Left => {
                    if held >= self.config.forget_after {
                        forget.push(*node);
                    }
                    continue;
                }
            };
            peer.since = now;
            self.outbox.push_back(Output::Event(event));
        }
        for node in forget {
            if let Some(peer) = self.peers.remove(&node) {
                self.tombstones.insert(
                    node,
                    Tombstone {
                        generation: peer.state.generation,
                        heartbeat: peer.state.heartbeat,
                        at: now,
                    },
                );
                self.emit(Event::Forgotten { node });
            }
        }
        let ttl = self.config.tombstone_ttl;
        self.tombstones.retain(|_, t| now - t.at < ttl);
    }

    fn on_set(&mut self, key: String, value: Vec<u8>) {
        if self.left || key == LEFT_KEY || !self.entry_fits(&key, &value) {
            return;
        }
        self.set_own(key, value);
    }

    fn on_leave(&mut self) {
        if self.left {
            return;
        }
        self.set_own(LEFT_KEY.to_string(), LEFT_VALUE.to_vec());
        self.left = true;
        self.due.clear();
        let budget = self
            .config
            .gossip_bytes_max
            .saturating_sub(ACK_HEADER_BYTES);
        let plan = DeltaPlan {
            node: self.me,
            after: 0,
            header_is_news: true,
        };
        let mut delta = self.full_delta(plan);
        let fits = delta
            .as_ref()
            .is_some_and(|d| node_delta_bytes(d) <= budget);
        if !fits {
            // Too much state for one message: push the leave alone. A
            // receiver that was behind skips the entries in between, which
            // no longer matter for a node that is gone.
            delta = Some(NodeDelta {
                node: self.me,
                generation: self.own.generation,
                heartbeat: self.own.heartbeat,
                entries: vec![KvEntry {
                    key: LEFT_KEY.to_string(),
                    value: LEFT_VALUE.to_vec(),
                    version: self.own.max_version,
                }],
            });
        }
        let Some(delta) = delta else { return };
        let targets: Vec<NodeId> = self.neighbors.iter().copied().collect();
        for to in targets {
            self.send(
                to,
                Message::Ack {
                    delta: vec![delta.clone()],
                },
            );
        }
    }

    fn on_syn(&mut self, now: Time, from: NodeId, digest: Digest) {
        let Digest {
            start,
            end,
            entries,
        } = digest;
        if end.is_some_and(|e| e <= start) {
            return; // an empty or inverted range: nothing to reconcile
        }
        let theirs: BTreeMap<NodeId, DigestEntry> = entries
            .into_iter()
            .filter(|e| in_range(&e.node, &start, end.as_ref()))
            .map(|e| (e.node, e))
            .collect();
        // A digest entry updates the heartbeat of a node we know. A node we
        // do not know is not added from its digest entry alone (it may have
        // left: only its entries say so); we ask for its whole state below.
        for e in theirs.values() {
            if self.peers.contains_key(&e.node) {
                self.learn(now, e.node, e.generation, e.heartbeat, false);
            }
        }

        // What they know better than we do.
        let mut requests: Vec<DigestEntry> = theirs
            .values()
            .filter_map(|e| {
                let Some(peer) = self.peers.get(&e.node) else {
                    let stale = e.node == self.me
                        || self.is_stale_for_tombstone(&e.node, e.generation, e.heartbeat);
                    // Generation 0 asks for everything.
                    return (!stale).then_some(DigestEntry {
                        node: e.node,
                        generation: 0,
                        heartbeat: 0,
                        max_version: 0,
                    });
                };
                let mine = &peer.state;
                is_newer(
                    (e.generation, e.heartbeat, e.max_version),
                    (mine.generation, mine.heartbeat, mine.max_version),
                )
                .then(|| mine.digest_entry(e.node))
            })
            .collect();

        // What we know better than they do.
        let plans: Vec<DeltaPlan> = self
            .known_ids(start, end, usize::MAX)
            .into_iter()
            .filter_map(|node| self.plan_for(node, theirs.get(&node)))
            .collect();

        let budget = self
            .config
            .gossip_bytes_max
            .saturating_sub(SYN_ACK_HEADER_BYTES);
        let requests_max = budget / 2 / DIGEST_ENTRY_BYTES;
        if requests.len() > requests_max {
            requests.shuffle(&mut self.rng);
            requests.truncate(requests_max);
            requests.sort_by_key(|e| e.node);
        }
        let delta_budget = budget.saturating_sub(requests.len() * DIGEST_ENTRY_BYTES);
        let delta = self.select_deltas(plans, delta_budget);
        if delta.is_empty() && requests.is_empty() {
            return;
        }
        self.send(from, Message::SynAck { delta, requests });
    }

    fn on_syn_ack(
        &mut self,
        now: Time,
        from: NodeId,
        delta: Vec<NodeDelta>,
        requests: Vec<DigestEntry>,
    ) {
        for d in delta {
            self.apply_delta(now, d);
        }
        let requests: BTreeMap<NodeId, DigestEntry> =
            requests.into_iter().map(|e| (e.node, e)).collect();
        let plans: Vec<DeltaPlan> = requests
            .values()
            .filter_map(|r| self.plan_for(r.node, Some(r)))
            .collect();
        let budget = self
            .config
            .gossip_bytes_max
            .saturating_sub(ACK_HEADER_BYTES);
        let delta = self.select_deltas(plans, budget);
        if !delta.is_empty() {
            self.send(from, Message::Ack { delta });
        }
    }

    fn on_ack(&mut self, now: Time, delta: Vec<NodeDelta>) {
        for d in delta {
            self.apply_delta(now, d);
        }
    }

    // ----- learning ---------------------------------------------------------

    /// Applies what is known of `node`'s generation and heartbeat. Returns
    /// whether `node` is now in the table with exactly this `generation`
    /// (so entries of that generation may be applied). `leaving`: the same
    /// delta marks the node left, so a new or restarted node is not first
    /// announced alive.
    fn learn(
        &mut self,
        now: Time,
        node: NodeId,
        generation: u64,
        heartbeat: u64,
        leaving: bool,
    ) -> bool {
        if node == self.me {
            return false;
        }
        if !self.peers.contains_key(&node)
            && self.is_stale_for_tombstone(&node, generation, heartbeat)
        {
            return false; // stale gossip about a forgotten node
        }
        let params = &self.phi_params;
        let Some(peer) = self.peers.get_mut(&node) else {
            self.tombstones.remove(&node);
            self.peers
                .insert(node, Peer::fresh(generation, heartbeat, params, now));
            if !leaving {
                self.emit(Event::Alive { node });
            }
            return true;
        };
        if generation < peer.state.generation {
            return false;
        }
        if generation > peer.state.generation {
            // A restart: the old namespace is gone.
            *peer = Peer::fresh(generation, heartbeat, params, now);
            if !leaving {
                self.emit(Event::Alive { node });
            }
            return true;
        }
        if heartbeat > peer.state.heartbeat {
            peer.state.heartbeat = heartbeat;
            if peer.status != Status::Left {
                peer.detector.heartbeat(params, now);
            }
            if matches!(peer.status, Status::Suspect | Status::Dead) {
                peer.status = Status::Alive;
                peer.since = now;
                self.emit(Event::Alive { node });
            }
        }
        true
    }

    /// Whether news of a forgotten node (generation `g`, heartbeat `h`) is
    /// only stale gossip. A peer may have heard a few heartbeats more of a
    /// crashed node before it died, so a slightly higher heartbeat is not a
    /// sign of life: a node that really lived on would have beaten at least
    /// `forget_after / heartbeat_interval` times since this node last heard
    /// it. Half of that is required of the same generation.
    fn is_stale_for_tombstone(&self, node: &NodeId, g: u64, h: u64) -> bool {
        let margin = (self.config.forget_after.as_micros()
            / self.config.heartbeat_interval.as_micros().max(1)
            / 2)
        .clamp(1, u128::from(u32::MAX)) as u64;
        self.tombstones.get(node).is_some_and(|t| {
            g < t.generation || (g == t.generation && h < t.heartbeat.saturating_add(margin))
        })
    }

    fn apply_delta(&mut self, now: Time, delta: NodeDelta) {
        let NodeDelta {
            node,
            generation,
            heartbeat,
            entries,
        } = delta;
        let leaving = entries.iter().any(|e| e.key == LEFT_KEY);
        if !self.learn(now, node, generation, heartbeat, leaving) {
            return;
        }
        let Some(peer) = self.peers.get_mut(&node) else {
            return;
        };
        for KvEntry {
            key,
            value,
            version,
        } in entries
        {
            let newer = peer.state.kv.get(&key).is_none_or(|v| version > v.version);
            if !newer {
                continue;
            }
            peer.state.max_version = peer.state.max_version.max(version);
            let event = if key == LEFT_KEY {
                if peer.status == Status::Left {
                    None
                } else {
                    peer.status = Status::Left;
                    peer.since = now;
                    Some(Event::Left { node })
                }
            } else {
                Some(Event::Updated {
                    node,
                    key: key.clone(),
                    value: value.clone(),
                })
            };
            peer.state.kv.insert(key, Versioned { value, version });
            if let Some(event) = event {
                self.outbox.push_back(Output::Event(event));
            }
        }
    }

    // ----- building messages ------------------------------------------------

    /// The next page of the digest, and moves the cursor past it.
    fn next_digest(&mut self) -> Digest {
        let room = self
            .config
            .gossip_bytes_max
            .saturating_sub(SYN_HEADER_BYTES);
        // At least one entry, so the cursor always moves on.
        let capacity = (room / DIGEST_ENTRY_BYTES).max(1);
        let mut start = self.digest_cursor;
        let mut ids = self.known_ids(start, None, capacity.saturating_add(1));
        if ids.len() < capacity && start != NodeId::default() {
            // The last page would be short: back its start up so that it is
            // full (overlapping the previous page). Otherwise a room of 1.1
            // pages would alternate a full and a nearly empty digest, and
            // each node would be reconciled only every other round.
            let mut all = self.known_ids(NodeId::default(), None, usize::MAX);
            ids = all.split_off(all.len().saturating_sub(capacity));
            start = match ids.first() {
                Some(&first) if !all.is_empty() => first,
                _ => NodeId::default(),
            };
        }
        let end = ids.get(capacity).copied();
        ids.truncate(capacity);
        let entries = ids
            .iter()
            .filter_map(|id| self.state_of(id).map(|s| s.digest_entry(*id)))
            .collect();
        self.digest_cursor = end.unwrap_or_default();
        Digest {
            start,
            end,
            entries,
        }
    }

    /// Known ids (this node included) in `[start, end)`, ascending, at most
    /// `limit` of them. `end` must be above `start`.
    fn known_ids(&self, start: NodeId, end: Option<NodeId>, limit: usize) -> Vec<NodeId> {
        let peers = match end {
            Some(e) if e > start => self.peers.range(start..e),
            Some(_) => return Vec::new(),
            None => self.peers.range(start..),
        };
        let mut me_pending = in_range(&self.me, &start, end.as_ref());
        let mut ids = Vec::new();
        for &id in peers.map(|(id, _)| id) {
            if ids.len() >= limit {
                break;
            }
            if me_pending && self.me < id {
                ids.push(self.me);
                me_pending = false;
                if ids.len() >= limit {
                    break;
                }
            }
            ids.push(id);
        }
        if me_pending && ids.len() < limit {
            ids.push(self.me);
        }
        ids
    }

    fn state_of(&self, node: &NodeId) -> Option<&NodeState> {
        if *node == self.me {
            Some(&self.own)
        } else {
            self.peers.get(node).map(|p| &p.state)
        }
    }

    /// What to send about `node` to someone who knows `theirs` of it, if we
    /// know better.
    fn plan_for(&self, node: NodeId, theirs: Option<&DigestEntry>) -> Option<DeltaPlan> {
        let mine = self.state_of(&node)?;
        if !mine.is_newer_than(theirs) {
            return None;
        }
        Some(match theirs {
            Some(t) if t.generation == mine.generation => DeltaPlan {
                node,
                after: t.max_version,
                header_is_news: t.heartbeat < mine.heartbeat,
            },
            _ => DeltaPlan {
                node,
                after: 0,
                header_is_news: true,
            },
        })
    }

    /// The whole delta for `plan`; `None` if it would carry nothing new.
    fn full_delta(&self, plan: DeltaPlan) -> Option<NodeDelta> {
        let state = self.state_of(&plan.node)?;
        let entries: Vec<KvEntry> = state
            .entries_after(plan.after)
            .into_iter()
            .map(|(key, v)| KvEntry {
                key: key.clone(),
                value: v.value.clone(),
                version: v.version,
            })
            .collect();
        if entries.is_empty() && !plan.header_is_news {
            return None;
        }
        Some(NodeDelta {
            node: plan.node,
            generation: state.generation,
            heartbeat: state.heartbeat,
            entries,
        })
    }

    /// Encoded size of the full delta for `plan`.
    fn planned_bytes(&self, plan: &DeltaPlan) -> usize {
        let Some(state) = self.state_of(&plan.node) else {
            return 0;
        };
        state
            .kv
            .iter()
            .filter(|(_, v)| v.version > plan.after)
            .fold(NODE_DELTA_HEADER_BYTES, |acc, (k, v)| {
                acc.saturating_add(kv_entry_bytes(k, &v.value))
            })
    }

    /// Deltas for `plans` (ascending ids) within `budget` encoded bytes, in
    /// id order. If everything does not fit:
    ///
    /// 1. liveness first: the header (generation, heartbeat) of every node
    ///    whose header is news, as many as fit;
    /// 2. then entries, each node's as a prefix in ascending versions (so the
    ///    receiver's `max_version` stays consistent), as many as fit.
    ///
    /// Both passes visit the nodes in a seeded random order, so no node
    /// starves behind a fixed prefix.
    fn select_deltas(&mut self, mut plans: Vec<DeltaPlan>, budget: usize) -> Vec<NodeDelta> {
        let total = plans
            .iter()
            .fold(0usize, |acc, p| acc.saturating_add(self.planned_bytes(p)));
        if total <= budget {
            return plans
                .into_iter()
                .filter_map(|p| self.full_delta(p))
                .collect();
        }
        plans.shuffle(&mut self.rng);
        let mut left = budget;
        let mut deltas: BTreeMap<NodeId, NodeDelta> = BTreeMap::new();
        let header = |node: NodeId, state: &NodeState| NodeDelta {
            node,
            generation: state.generation,
            heartbeat: state.heartbeat,
            entries: Vec::new(),
        };
        for plan in plans.iter().filter(|p| p.header_is_news) {
            if left < NODE_DELTA_HEADER_BYTES {
                break;
            }
            if let Some(state) = self.state_of(&plan.node) {
                deltas.insert(plan.node, header(plan.node, state));
                left -= NODE_DELTA_HEADER_BYTES;
            }
        }
        for plan in &plans {
            let Some(state) = self.state_of(&plan.node) else {
                continue;
            };
            let mut need = if deltas.contains_key(&plan.node) {
                0
            } else {
                NODE_DELTA_HEADER_BYTES
            };
            let mut entries = Vec::new();
            for (key, v) in state.entries_after(plan.after) {
                let size = kv_entry_bytes(key, &v.value);
                if need.saturating_add(size) > left {
                    break;
                }
                need += size;
                entries.push(KvEntry {
                    key: key.clone(),
                    value: v.value.clone(),
                    version: v.version,
                });
            }
            if entries.is_empty() {
                continue;
            }
            left -= need;
            deltas
                .entry(plan.node)
                .or_insert_with(|| header(plan.node, state))
                .entries = entries;
        }
        deltas.into_values().collect()
    }

    // ----- small helpers ----------------------------------------------------

    fn set_own(&mut self, key: String, value: Vec<u8>) {
        self.own.max_version += 1;
        let version = self.own.max_version;
        self.own.kv.insert(key, Versioned { value, version });
    }

    /// Arms `timer` (the gossip timer with jitter) and records when it is due.
    fn arm(&mut self, now: Time, timer: Timer) {
        let after = match timer {
            Timer::Heartbeat => self.config.heartbeat_interval,
            Timer::Gossip => jitter(&mut self.rng, self.config.gossip_interval, GOSSIP_JITTER),
            Timer::Check => self.config.check_interval,
        };
        self.due.insert(timer, now + after);
        self.outbox.push_back(Output::SetTimer { after, timer });
    }

    /// Whether a firing `timer` is the one armed (and consumes it).
    fn take_due(&mut self, now: Time, timer: Timer) -> bool {
        match self.due.get(&timer) {
            Some(&due) if now >= due => {
                self.due.remove(&timer);
                true
            }
            _ => false,
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        self.outbox.push_back(Output::Send { to, msg });
    }

    fn emit(&mut self, event: Event) {
        self.outbox.push_back(Output::Event(event));
    }
}

/// Encoded size of a [`NodeDelta`].
pub(crate) fn node_delta_bytes(delta: &NodeDelta) -> usize {
    delta
        .entries
        .iter()
        .fold(NODE_DELTA_HEADER_BYTES, |acc, e| {
            acc.saturating_add(kv_entry_bytes(&e.key, &e.value))
        })
}
