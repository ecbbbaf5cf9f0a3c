//! The topology engine: a sans-IO state machine that keeps each node's links
//! between `degree_min` and `degree_max`, picked at random among live members.
//!
//! # Driver contract
//!
//! The contract of [`crate::proto`] applies: feed `Input::Start` once, then
//! every input with a `now` that never goes backwards, and after each call
//! drain [`Topology::poll_output`] until `None`. In addition:
//!
//! * Answer every `Output::Dial(p)` with `LinkUp { peer: p, outbound: true }`
//!   or `DialFailed(p)` (a late answer after the dial timed out is fine).
//! * After `Output::Disconnect(p)`, report `LinkDown(p)` to this end too.
//! * Keep at most one link per pair of nodes (merge simultaneous dials), and
//!   report a pair's `LinkDown` before any later `LinkUp` of the same pair.
//! * Validate the [`Config`] with [`Config::validate`] first: a zero interval
//!   would make a periodic timer fire in a loop at one instant.
//!
//! # State
//!
//! * `links`: peers with a link that is part of the overlay.
//! * `closing`: peers we asked the driver to disconnect and whose `LinkDown`
//!   has not come yet. They already left the overlay (we emitted
//!   `NeighborDown` when we disconnected them) and are not dialled again until
//!   the `LinkDown`.
//! * `pending`: dials in flight, each with its attempt number.
//! * `members`: what membership said about each peer (alive, suspect, dead
//!   since when). Alive peers are dial candidates, dead ones are reconnect
//!   candidates for `reconnect_window`.
//! * `backoff`: consecutive dial failures per peer and when it may be dialled
//!   again.
//!
//! # Invariants (checked by the unit tests and the in-test simulation)
//!
//! * `links`, `closing` and `pending` are pairwise disjoint, and never
//!   contain this node.
//! * `NeighborUp(p)` and `NeighborDown(p)` alternate for each peer, starting
//!   with `NeighborUp`, and `neighbors()` is the set of peers with an
//!   unmatched `NeighborUp`.
//! * A link beyond `degree_hard_max` is never accepted.
//! * No candidates means no dials: a node alone with one peer sits below
//!   `degree_min` quietly instead of spinning.
//!
//! # Choices the brief left open
//!
//! * **Degree announcements.** A new link gets our degree at once
//!   (`Send Degree` right after `NeighborUp`); every rebalance sends our
//!   degree to each neighbour that was last told a different number. So each
//!   neighbour hears at most one `Degree` per rebalance interval, and only
//!   when it changed, instead of every link change being broadcast to every
//!   neighbour. A lost `Degree` is only repaired by the next change; a peer
//!   whose degree is unknown counts as degree 0 when shedding (least
//!   preferred), which is the safe direction.
//! * **Shedding our own links.** A peer we disconnect leaves the overlay at
//!   once: `Disconnect(p)` is followed by `Event::NeighborDown(p)` in the same
//!   outbox, so gossip and broadcast stop using a link that is going away,
//!   and the later `LinkDown(p)` is silent. Links that go down on their own
//!   emit `NeighborDown` on `LinkDown`.
//! * **Which link to shed.** Highest last reported degree first (a peer with
//!   more links loses least, and one above `degree_min` is always preferred
//!   to one at it), then inbound before outbound (our outbound links are our
//!   own random picks; an inbound flood cannot push them out), then at random.
//! * **Swaps.** A rebalance dials one extra random candidate with probability
//!   `swap_probability` only while `degree + pending <= degree_min`, that is,
//!   while the node has no spare link. Once a node holds `degree_min + 1`
//!   links it stops swapping, so the whole room becomes quiet after it has
//!   settled: a swap never pushes the swapper over `degree_max`, and when it
//!   pushes a full target over, the target sheds a link to its highest-degree
//!   neighbour, which rarely drops to `degree_min` and swaps again. Swapping
//!   while below `degree_max` instead keeps one "hole" wandering around a
//!   settled room forever (every swap into a full node opens a new hole), and
//!   a swap that sheds the oldest link churns at a fixed rate forever. The
//!   spare link also means a single link loss does not force a dial.
//!   Figures from `sim_tests` (50 nodes, `small_room`, seeds 0..8): with this
//!   rule no link changes between 120 s and 240 s and degrees end at 4 or 5;
//!   swapping whenever `degree + pending < degree_max` gave 54 to 116
//!   `NeighborUp`/`NeighborDown` events in that window for 7 of the 8 seeds.
//!   The price: a settled graph is not re-mixed, so after a healed partition
//!   the two halves stay joined by the links made while reconnecting (8 to
//!   15 of about 120 links for 25 + 25 nodes; the other rule gave 5 to 20).
//! * **Reconnect dials** go to dead members regardless of degree (that is
//!   what heals a partition); any excess is shed by the next rebalance. One
//!   per interval, except on an isolated node (no link, no dial pending),
//!   which dials `degree_min` at once: cut off by a partition with every
//!   link across it, such a node sees its own side as dead too, and one
//!   random dial per interval found its side only after 15 s in the
//!   simulator (seed 2 of the partition test, three dials across first). A
//!   dead member that links up (either direction) counts as alive from then
//!   on, until membership says otherwise: otherwise shedding and
//!   reconnecting the same peer would loop until membership caught up.
//! * **Cool-down.** A peer whose link just closed is not dialled for
//!   `backoff_base` (no failure counted), so a node shed by a full peer does
//!   not dial it straight back.
//! * **After `DisconnectAll`** the engine is stopped for good: timers do
//!   nothing, nothing is dialled, and a `LinkUp` is answered with
//!   `Disconnect`. Membership inputs are still recorded.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::RngExt;
use rand::seq::{IndexedRandom, SliceRandom};

use super::*;
use crate::proto::{EngineRng, Time, jitter};

/// Up to this fraction of `rebalance_interval` / `reconnect_interval` is added
/// at random to each periodic timer, so the nodes of a room started together
/// do not rebalance in lockstep.
pub(crate) const PERIODIC_JITTER_FRACTION: f64 = 0.2;

/// The backoff doubles at most this many times (already far past any sane
/// `backoff_max`); keeps the shift from overflowing.
const BACKOFF_DOUBLINGS_MAX: u32 = 20;

/// A link that is part of the overlay.
#[derive(Clone, Debug)]
struct Link {
    /// We dialled it (as opposed to the peer dialling us).
    outbound: bool,
    /// The peer's last `Message::Degree`, if any.
    reported_degree: Option<u16>,
    /// The degree we last sent this peer.
    told_degree: Option<u16>,
}

/// What membership last said about a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Alive,
    Suspect,
    Dead { since: Time },
}

/// Consecutive dial failures to one peer.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    failures: u32,
    /// Not dialled (except by an explicit `Connect`) before this.
    until: Time,
}

/// Degree-constrained link manager: see the module docs for the driver
/// contract and the state machine.
pub struct Topology {
    me: NodeId,
    config: Config,
    rng: EngineRng,
    links: BTreeMap<NodeId, Link>,
    closing: BTreeSet<NodeId>,
    /// Peer → attempt number of the dial in flight.
    pending: BTreeMap<NodeId, u64>,
    members: BTreeMap<NodeId, Status>,
    backoff: BTreeMap<NodeId, Backoff>,
    /// The last attempt number handed out (the first dial is attempt 1).
    last_attempt: u64,
    started: bool,
    stopped: bool,
    /// A `Rebalance` timer before this is a stale duplicate.
    rebalance_due: Time,
    /// A `Reconnect` timer before this is a stale duplicate.
    reconnect_due: Time,
    outbox: VecDeque<Output>,
}

impl Topology {
    /// The engine of node `me`, with no links, members or timers until
    /// `Input::Start`. `config` should have passed [`Config::validate`];
    /// `rng` draws every random choice (dial picks, shed ties, swaps,
    /// jitter), so the same seed and inputs give the same outputs.
    pub fn new(me: NodeId, config: Config, rng: EngineRng) -> Self {
        Topology {
            me,
            config,
            rng,
            links: BTreeMap::new(),
            closing: BTreeSet::new(),
            pending: BTreeMap::new(),
            members: BTreeMap::new(),
            backoff: BTreeMap::new(),
            last_attempt: 0,
            started: false,
            stopped: false,
            rebalance_due: Time::ZERO,
            reconnect_due: Time::ZERO,
            outbox: VecDeque::new(),
        }
    }

    /// Feeds one input; drain [`Topology::poll_output`] afterwards.
    pub fn handle(&mut self, now: Time, input: Input) {
        match input {
            Input::Start => self.on_start(now),
            Input::Message { from, msg } => self.on_message(from, msg),
            Input::Timer(Timer::Rebalance) => self.on_rebalance_timer(now),
            Input::Timer(Timer::Reconnect) => self.on_reconnect_timer(now),
            Input::Timer(Timer::DialTimeout { peer, attempt }) => {
                self.on_dial_timeout(now, peer, attempt)
            }
            Input::MemberAlive(peer) => self.on_member_alive(peer),
            Input::MemberSuspect(peer) => self.on_member_suspect(peer),
            Input::MemberDead(peer) => self.on_member_dead(now, peer),
            Input::MemberGone(peer) => self.on_member_gone(now, peer),
            Input::LinkUp { peer, outbound } => self.on_link_up(peer, outbound),
            Input::LinkDown(peer) => self.on_link_down(now, peer),
            Input::DialFailed(peer) => self.on_dial_failed(now, peer),
            Input::Command(Command::Connect(peer)) => self.on_connect(peer),
            Input::Command(Command::DisconnectAll) => self.on_disconnect_all(),
        }
    }

    /// The next output, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// Peers linked in the overlay, sorted.
    pub fn neighbors(&self) -> Vec<NodeId> {
        self.links.keys().copied().collect()
    }

    /// How many links are part of the overlay.
    pub fn degree(&self) -> usize {
        self.links.len()
    }

    /// How many dials are in flight.
    pub fn pending_dials(&self) -> usize {
        self.pending.len()
    }

    /// Whether `peer` is linked in the overlay.
    pub fn is_linked(&self, peer: &NodeId) -> bool {
        self.links.contains_key(peer)
    }

    // ---- inputs -------------------------------------------------------

    fn on_start(&mut self, now: Time) {
        if self.started {
            return;
        }
        self.started = true;
        self.arm_rebalance(now);
        self.arm_reconnect(now);
    }

    fn on_message(&mut self, from: NodeId, msg: Message) {
        match msg {
            Message::Degree(degree) => {
                if let Some(link) = self.links.get_mut(&from) {
                    link.reported_degree = Some(degree);
                }
            }
        }
    }

    fn on_rebalance_timer(&mut self, now: Time) {
        if !self.started || self.stopped || now < self.rebalance_due {
            return;
        }
        self.fill(now);
        self.shed();
        self.maybe_swap(now);
        self.announce_degree();
        self.arm_rebalance(now);
    }

    fn on_reconnect_timer(&mut self, now: Time) {
        if !self.started || self.stopped || now < self.reconnect_due {
            return;
        }
        let window = self.config.reconnect_window;
        let expired: Vec<NodeId> = self
            .members
            .iter()
            .filter(|(_, status)| matches!(status, Status::Dead { since } if now - *since > window))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in expired {
            self.members.remove(&peer);
            self.backoff.remove(&peer);
        }
        let candidates: Vec<NodeId> = self
            .members
            .iter()
            .filter(|(peer, status)| {
                matches!(status, Status::Dead { .. })
                    && self.may_dial(peer)
                    && !self.in_backoff(peer, now)
            })
            .map(|(peer, _)| *peer)
            .collect();
        // An isolated node has nothing to lose and everything it knows looks
        // dead to it: it tries `degree_min` at once instead of one.
        let isolated = self.links.is_empty() && self.pending.is_empty();
        let count = if isolated { self.config.degree_min } else { 1 };
        let picked: Vec<NodeId> = candidates.sample(&mut self.rng, count).copied().collect();
        for peer in picked {
            self.dial(peer);
        }
        self.arm_reconnect(now);
    }

    fn on_dial_timeout(&mut self, now: Time, peer: NodeId, attempt: u64) {
        if self.pending.get(&peer) == Some(&attempt) {
            self.on_dial_failed(now, peer);
        }
    }

    fn on_member_alive(&mut self, peer: NodeId) {
        if peer != self.me {
            self.members.insert(peer, Status::Alive);
        }
    }

    fn on_member_suspect(&mut self, peer: NodeId) {
        if peer != self.me {
            self.members.insert(peer, Status::Suspect);
        }
    }

    fn on_member_dead(&mut self, now: Time, peer: NodeId) {
        if peer == self.me {
            return;
        }
        let status = self.members.entry(peer).or_insert(Status::Alive);
        if !matches!(status, Status::Dead { .. }) {
            *status = Status::Dead { since: now };
        }
        if self.links.contains_key(&peer) {
            self.disconnect(peer);
            self.fill(now);
        }
    }

    fn on_member_gone(&mut self, now: Time, peer: NodeId) {
        if peer == self.me {
            return;
        }
        self.members.remove(&peer);
        self.backoff.remove(&peer);
        let was_pending = self.pending.remove(&peer).is_some();
        let was_linked = self.links.contains_key(&peer);
        if was_linked {
            self.disconnect(peer);
        }
        if was_linked || was_pending {
            self.fill(now);
        }
    }

    fn on_link_up(&mut self, peer: NodeId, outbound: bool) {
        if peer == self.me || self.links.contains_key(&peer) {
            return;
        }
        self.pending.remove(&peer);
        // The driver keeps one link per pair and reports the old link's
        // `LinkDown` first, so a `LinkUp` here is a new link.
        self.closing.remove(&peer);
        if self.stopped || self.links.len() >= self.config.degree_hard_max {
            self.closing.insert(peer);
            self.outbox.push_back(Output::Disconnect(peer));
            return;
        }
        let degree = degree_u16(self.links.len() + 1);
        self.links.insert(
            peer,
            Link {
                outbound,
                reported_degree: None,
                told_degree: Some(degree),
            },
        );
        self.backoff.remove(&peer);
        // A link proves the peer is reachable: a stranger or a dead member
        // (answering a reconnect dial) becomes an ordinary candidate, so a
        // reconnected peer that is later shed is not reconnect-dialled again.
        let status = self.members.entry(peer).or_insert(Status::Alive);
        if matches!(status, Status::Dead { .. }) {
            *status = Status::Alive;
        }
        self.outbox
            .push_back(Output::Event(Event::NeighborUp(peer)));
        self.outbox.push_back(Output::Send {
            to: peer,
            msg: Message::Degree(degree),
        });
    }

    fn on_link_down(&mut self, now: Time, peer: NodeId) {
        if self.links.remove(&peer).is_some() {
            self.outbox
                .push_back(Output::Event(Event::NeighborDown(peer)));
            self.cool_down(now, peer);
            self.fill(now);
        } else if self.closing.remove(&peer) {
            // We closed it and already said NeighborDown.
            self.cool_down(now, peer);
        } else if self.pending.contains_key(&peer) {
            self.on_dial_failed(now, peer);
        }
    }

    /// A peer whose link just closed is not dialled for `backoff_base`
    /// (without counting a failure): if it shed us because it is full,
    /// dialling it straight back would only make it shed again, and if it
    /// crashed the dial would fail.
    fn cool_down(&mut self, now: Time, peer: NodeId) {
        let until = now + self.config.backoff_base;
        let entry = self
            .backoff
            .entry(peer)
            .or_insert(Backoff { failures: 0, until });
        entry.until = entry.until.max(until);
    }

    fn on_dial_failed(&mut self, now: Time, peer: NodeId) {
        if self.pending.remove(&peer).is_none() {
            return; // Late: the dial already timed out, or it linked.
        }
        let failures = self
            .backoff
            .get(&peer)
            .map_or(1, |b| b.failures.saturating_add(1));
        let doublings = (failures - 1).min(BACKOFF_DOUBLINGS_MAX);
        let wait = self
            .config
            .backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.config.backoff_max);
        self.backoff.insert(
            peer,
            Backoff {
                failures,
                until: now + wait,
            },
        );
        self.fill(now);
    }

    fn on_connect(&mut self, peer: NodeId) {
        if peer == self.me {
            return;
        }
        let status = self.members.entry(peer).or_insert(Status::Alive);
        if matches!(status, Status::Dead { .. }) {
            *status = Status::Alive;
        }
        if self.may_dial(&peer) {
            self.dial(peer);
        }
    }

    fn on_disconnect_all(&mut self) {
        self.stopped = true;
        self.pending.clear();
        for peer in self.neighbors() {
            self.disconnect(peer);
        }
    }

    // ---- actions ------------------------------------------------------

    /// Dials random candidates while `degree + pending < degree_min`.
    fn fill(&mut self, now: Time) {
        if self.stopped {
            return;
        }
        let need = self
            .config
            .degree_min
            .saturating_sub(self.links.len() + self.pending.len());
        if need == 0 {
            return;
        }
        let candidates = self.dial_candidates(now);
        let mut chosen: Vec<NodeId> = candidates.sample(&mut self.rng, need).copied().collect();
        chosen.sort();
        for peer in chosen {
            self.dial(peer);
        }
    }

    /// Disconnects `degree - degree_max` links, preferring peers with the
    /// highest reported degree, then inbound links, then at random.
    fn shed(&mut self) {
        let excess = self.links.len().saturating_sub(self.config.degree_max);
        if excess == 0 {
            return;
        }
        let mut ranked: Vec<(NodeId, (u16, bool))> = self
            .links
            .iter()
            .map(|(peer, link)| (*peer, (link.reported_degree.unwrap_or(0), !link.outbound)))
            .collect();
        ranked.shuffle(&mut self.rng);
        // Stable: equal keys keep their random order.
        ranked.sort_by_key(|&(_, key)| Reverse(key));
        for (peer, _) in ranked.into_iter().take(excess) {
            self.disconnect(peer);
        }
    }

    /// With `swap_probability`, dials one random candidate beyond
    /// `degree_min` while the node has no spare link (see the module docs).
    fn maybe_swap(&mut self, now: Time) {
        let committed = self.links.len() + self.pending.len();
        if self.links.len() < self.config.degree_min
            || committed > self.config.degree_min
            || committed >= self.config.degree_max
        {
            return;
        }
        // NaN or out-of-range probabilities compare false or saturate: never
        // panics.
        if self.rng.random_range(0.0..1.0) >= self.config.swap_probability {
            return;
        }
        let candidates = self.dial_candidates(now);
        if let Some(&peer) = candidates.choose(&mut self.rng) {
            self.dial(peer);
        }
    }

    /// Tells each neighbour our degree if it was last told another one.
    fn announce_degree(&mut self) {
        let degree = degree_u16(self.links.len());
        for (peer, link) in self.links.iter_mut() {
            if link.told_degree != Some(degree) {
                link.told_degree = Some(degree);
                self.outbox.push_back(Output::Send {
                    to: *peer,
                    msg: Message::Degree(degree),
                });
            }
        }
    }

    fn dial(&mut self, peer: NodeId) {
        self.last_attempt += 1;
        let attempt = self.last_attempt;
        self.pending.insert(peer, attempt);
        self.outbox.push_back(Output::Dial(peer));
        self.outbox.push_back(Output::SetTimer {
            after: self.config.dial_timeout,
            timer: Timer::DialTimeout { peer, attempt },
        });
    }

    /// Closes a link in the overlay: it leaves the overlay now.
    fn disconnect(&mut self, peer: NodeId) {
        if self.links.remove(&peer).is_some() {
            self.closing.insert(peer);
            self.outbox.push_back(Output::Disconnect(peer));
            self.outbox
                .push_back(Output::Event(Event::NeighborDown(peer)));
        }
    }

    fn arm_rebalance(&mut self, now: Time) {
        let after = jitter(
            &mut self.rng,
            self.config.rebalance_interval,
            PERIODIC_JITTER_FRACTION,
        );
        self.rebalance_due = now + after;
        self.outbox.push_back(Output::SetTimer {
            after,
            timer: Timer::Rebalance,
        });
    }

    fn arm_reconnect(&mut self, now: Time) {
        let after = jitter(
            &mut self.rng,
            self.config.reconnect_interval,
            PERIODIC_JITTER_FRACTION,
        );
        self.reconnect_due = now + after;
        self.outbox.push_back(Output::SetTimer {
            after,
            timer: Timer::Reconnect,
        });
    }

    // ---- queries ------------------------------------------------------

    /// Not this node, not linked, not closing, no dial in flight, not
    /// stopped. Backoff is checked separately.
    fn may_dial(&self, peer: &NodeId) -> bool {
        !self.stopped
            && *peer != self.me
            && !self.links.contains_key(peer)
            && !self.closing.contains(peer)
            && !self.pending.contains_key(peer)
    }

    fn in_backoff(&self, peer: &NodeId, now: Time) -> bool {
        self.backoff.get(peer).is_some_and(|b| now < b.until)
    }

    /// Alive members we may dial now, sorted.
    fn dial_candidates(&self, now: Time) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(peer, status)| {
                **status == Status::Alive && self.may_dial(peer) && !self.in_backoff(peer, now)
            })
            .map(|(peer, _)| *peer)
            .collect()
    }
}

/// A degree as carried by `Message::Degree` (saturating).
fn degree_u16(degree: usize) -> u16 {
    u16::try_from(degree).unwrap_or(u16::MAX)
}
