//! The plumtree state machine. Protocol, invariants and rounds are described
//! in the module docs (`mod.rs`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::*;
use crate::proto::Time;

/// Counters for what the engine dropped or did, for logs and the simulator.
/// They only ever grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Broadcasts delivered to the application (first copies).
    pub delivered: u64,
    /// Gossip copies of a message already seen (each answered by a Prune).
    pub duplicates: u64,
    /// Gossip from peers whose id does not match the content, or whose
    /// payload is over `payload_bytes_max`; dropped without a state change.
    pub invalid_dropped: u64,
    /// `Command::Broadcast`s refused: payload over `payload_bytes_max`, or
    /// the sequence numbers are exhausted.
    pub broadcasts_rejected: u64,
    /// `Graft { id: Some(..) }` sent for missing messages.
    pub grafts_sent: u64,
    /// Missing messages given up (graft rounds exhausted, announcers gone,
    /// or expired by the sweep).
    pub grafts_given_up: u64,
    /// Tree optimisations (a Graft without id plus a Prune) performed.
    pub optimizations: u64,
    /// Announcements not recorded or not queued because a bound was hit
    /// (`MISSING_ENTRIES_MAX`, `ANNOUNCERS_MAX`, `IHAVE_QUEUE_MAX`).
    pub announcements_dropped: u64,
    /// Announcements queued again for a neighbour that had not shown it
    /// holds the message (`reannounce_interval`), one per neighbour and
    /// round.
    pub reannounced: u64,
    /// Announcements of a held message repeated by a neighbour that had
    /// already announced it (so it had not heard ours), answered with ours.
    pub reannouncements_answered: u64,
}

/// Plumtree broadcast: one instance per node.
///
/// # Driver contract
///
/// As for every engine (see [`crate::proto`]):
///
/// 1. Build with [`Plumtree::new`], then call `handle(now, Input::Start)`
///    once; it arms the periodic [`Timer::Sweep`] (without it nothing
///    expires, though every table stays bounded).
/// 2. Report links with `Input::NeighborUp` / `Input::NeighborDown`. Only
///    neighbours are pushed to, announced to or grafted.
/// 3. Feed every received plumtree message as `Input::Message`, every
///    application request as `Input::Command`, and every timer that comes due
///    as `Input::Timer`. `now` must never go backwards.
/// 4. After each `handle`, drain [`Plumtree::poll_output`] until `None` and
///    act on every output: `Send` to the named neighbour (dropping a send is
///    allowed, plumtree repairs loss on lazy links), `SetTimer` by feeding
///    the timer back no earlier than `now + after`, `Event` to the
///    application.
///
/// Timers that fire late, twice, or after their purpose is gone are ignored.
/// Messages that claim to come from this node itself are ignored.
/// Messages from a peer that is not a neighbour only count for their
/// content: a new valid `Gossip` is still delivered, everything else from it
/// (IHave, Graft, Prune, and the eager/lazy bookkeeping) is ignored.
pub struct Plumtree {
    me: NodeId,
    config: Config,
    /// The sequence number of the next own broadcast.
    next_seq: u64,
    /// Neighbours we push full messages to.
    eager: BTreeSet<NodeId>,
    /// Neighbours we only announce to. Disjoint from `eager`; together they
    /// are exactly the neighbours.
    lazy: BTreeSet<NodeId>,
    /// Every message delivered or sent within `seen_ttl`.
    seen: BTreeMap<MessageId, Seen>,
    /// `seen` in insertion order (so in time order), for expiry.
    seen_order: VecDeque<(Time, MessageId)>,
    /// Payloads, to answer grafts.
    cache: BTreeMap<MessageId, Cached>,
    /// `cache` in insertion order, for expiry and eviction.
    cache_order: VecDeque<(Time, MessageId)>,
    /// Sum of the cached payload sizes.
    cache_bytes: usize,
    /// Announced messages we have not received. No key is in `seen`.
    missing: BTreeMap<MessageId, Missing>,
    /// Announcements waiting for the next `DispatchIHave`, per lazy peer.
    ihave_queue: BTreeMap<NodeId, Vec<IHave>>,
    /// When the pending `DispatchIHave` is due; `None` if none is pending.
    ihave_due: Option<Time>,
    /// When the pending `Sweep` is due; `None` before `Start`.
    sweep_due: Option<Time>,
    /// Cached messages with a re-announcement due, by due time. Each entry
    /// matches its cache entry's `reannounce`; at most one per cached id.
    reannounce_queue: BTreeSet<(Time, MessageId)>,
    /// When the pending `Reannounce` is due; `None` if none is pending.
    reannounce_due: Option<Time>,
    stats: Stats,
    outbox: VecDeque<Output>,
}

struct Seen {
    at: Time,
    /// Hops from the author of the best path we know (0 for our own).
    round: u16,
    /// The neighbour on that path; `None` for our own messages.
    parent: Option<NodeId>,
}

struct Cached {
    at: Time,
    /// Ready to send: `round` is the round at which we hold it.
    gossip: Gossip,
    /// Neighbours it was announced to that have not shown they hold it (no
    /// `Gossip` or `IHave` for it from them since): re-announced to. Empty
    /// without `reannounce_interval`.
    unacked: Vec<NodeId>,
    /// Neighbours that announced it to us, at most
    /// `Plumtree::ANNOUNCERS_MAX`, and whether we answered one of them
    /// already: another `IHave` for it from one of them is a
    /// re-announcement (ours was lost), answered with ours once, so that an
    /// answer crossing a re-announcement cannot start a ping-pong.
    announced_by: Vec<(NodeId, bool)>,
    /// The next re-announcement (when, and how many came before); `None`
    /// once every neighbour holds it or the rounds are over.
    reannounce: Option<(Time, u32)>,
}

struct Missing {
    first_at: Time,
    /// Who announced it, with the round they announced, in arrival order.
    announcers: Vec<(NodeId, u16)>,
    /// The `attempt` of the one graft timer that counts; other fires are
    /// stale.
    attempt: u32,
    /// When that timer is due.
    due: Time,
}

impl Plumtree {
    /// Most messages tracked as missing at once. Announcements for further
    /// ids are ignored until entries resolve or expire; an announcer that
    /// floods bogus ids can fill this, but each entry is gone within one
    /// graft schedule (at most `cache_ttl` by the sweep).
    pub const MISSING_ENTRIES_MAX: usize = 4096;
    /// Most announcers remembered per missing message (more than any sane
    /// degree; further announcers are not needed to repair).
    pub const ANNOUNCERS_MAX: usize = 16;
    /// Most ids remembered for duplicate suppression. Beyond this the oldest
    /// id is forgotten early, which is the only way exactly-once delivery can
    /// end before `seen_ttl` (at ~2,900 messages/s sustained for 90 s).
    pub const SEEN_ENTRIES_MAX: usize = 262_144;
    /// Most payload bytes cached; the oldest entries are evicted beyond it.
    /// Bounds memory at 64 MiB whatever `cache_entries_max` says.
    pub const CACHE_BYTES_MAX: usize = 64 * 1024 * 1024;
    /// Most announcements queued per lazy peer between two dispatches;
    /// further ones are dropped (the peer can still get the message
    /// eagerly or from another announcer).
    pub const IHAVE_QUEUE_MAX: usize = 4096;

    /// A new engine for node `me`. Own broadcasts are numbered from
    /// `seq_start` on, so a restarted node that persisted (or otherwise
    /// advanced) its counter gives its new messages new ids.
    pub fn new(me: NodeId, config: Config, seq_start: u64) -> Self {
        Plumtree {
            me,
            config,
            next_seq: seq_start,
            eager: BTreeSet::new(),
            lazy: BTreeSet::new(),
            seen: BTreeMap::new(),
            seen_order: VecDeque::new(),
            cache: BTreeMap::new(),
            cache_order: VecDeque::new(),
            cache_bytes: 0,
            missing: BTreeMap::new(),
            ihave_queue: BTreeMap::new(),
            ihave_due: None,
            sweep_due: None,
            reannounce_queue: BTreeSet::new(),
            reannounce_due: None,
            stats: Stats::default(),
            outbox: VecDeque::new(),
        }
    }

    /// Feeds one input; outputs queue up for [`Plumtree::poll_output`].
    pub fn handle(&mut self, now: Time, input: Input) {
        match input {
            Input::Start => self.on_start(now),
            Input::Message { from, .. } if from == self.me => {}
            Input::Message { from, msg } => match msg {
                Message::Gossip(gossip) => self.on_gossip(now, from, gossip),
                Message::IHave(list) => self.on_ihave(now, from, list),
                Message::Graft { id, round } => self.on_graft(from, id, round),
                Message::Prune => self.on_prune(from),
            },
            Input::Timer(Timer::Graft { id, attempt }) => self.on_graft_timer(now, id, attempt),
            Input::Timer(Timer::DispatchIHave) => self.on_dispatch_ihave_timer(now),
            Input::Timer(Timer::Sweep) => self.on_sweep_timer(now),
            Input::Timer(Timer::Reannounce) => self.on_reannounce_timer(now),
            Input::NeighborUp(peer) => self.on_neighbor_up(peer),
            Input::NeighborDown(peer) => self.on_neighbor_down(peer),
            Input::Command(Command::Broadcast(payload)) => self.on_broadcast(now, payload),
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

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Neighbours we push full messages to, sorted.
    pub fn eager_peers(&self) -> Vec<NodeId> {
        self.eager.iter().copied().collect()
    }

    /// Neighbours we only announce to, sorted.
    pub fn lazy_peers(&self) -> Vec<NodeId> {
        self.lazy.iter().copied().collect()
    }

    /// Whether `id` was delivered or sent here within `seen_ttl`.
    pub fn has_seen(&self, id: &MessageId) -> bool {
        self.seen.contains_key(id)
    }

    /// Payloads held to answer grafts.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Announced messages not yet received.
    pub fn missing_len(&self) -> usize {
        self.missing.len()
    }

    /// The sequence number the next own broadcast will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Counters since creation.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ---- inputs ----------------------------------------------------------

    fn on_start(&mut self, now: Time) {
        if self.sweep_due.is_none() {
            self.arm_sweep(now);
        }
    }

    fn on_neighbor_up(&mut self, peer: NodeId) {
        if peer == self.me || self.is_neighbor(&peer) {
            return;
        }
        self.eager.insert(peer);
    }

    fn on_neighbor_down(&mut self, peer: NodeId) {
        self.eager.remove(&peer);
        self.lazy.remove(&peer);
        self.ihave_queue.remove(&peer);
        let mut orphaned = Vec::new();
        for (id, entry) in self.missing.iter_mut() {
            entry.announcers.retain(|(p, _)| *p != peer);
            if entry.announcers.is_empty() {
                orphaned.push(*id);
            }
        }
        // Nobody left to graft from: forget the entry (its timer becomes
        // stale); a later announcement starts a new one.
        for id in orphaned {
            self.missing.remove(&id);
            self.stats.grafts_given_up += 1;
        }
    }

    fn on_broadcast(&mut self, now: Time, payload: Vec<u8>) {
        if payload.len() > self.config.payload_bytes_max {
            self.stats.broadcasts_rejected += 1;
            return;
        }
        let seq = self.next_seq;
        let Some(next) = seq.checked_add(1) else {
            self.stats.broadcasts_rejected += 1;
            return;
        };
        self.next_seq = next;
        let id = MessageId::for_broadcast(&self.me, seq, &payload);
        let gossip = Gossip {
            id,
            author: self.me,
            seq,
            round: 0,
            payload,
        };
        self.mark_seen(now, id, 0, None);
        self.outbox
            .push_back(Output::Event(Event::Sent { id, seq }));
        self.push_to_tree(now, &gossip, None);
        let unacked = self.neighbors_except(None, &[]);
        self.cache_insert(now, gossip, unacked, Vec::new());
    }

    fn on_gossip(&mut self, now: Time, from: NodeId, gossip: Gossip) {
        if gossip.payload.len() > self.config.payload_bytes_max
            || gossip.id != MessageId::for_broadcast(&gossip.author, gossip.seq, &gossip.payload)
        {
            self.stats.invalid_dropped += 1;
            return;
        }
        let neighbor = self.is_neighbor(&from);
        if self.seen.contains_key(&gossip.id) {
            // A duplicate: the link it came on is redundant for the tree.
            self.stats.duplicates += 1;
            self.held_by(gossip.id, from);
            if neighbor {
                self.make_lazy(from);
                self.send(from, Message::Prune);
            }
            return;
        }
        let announcers = self
            .missing
            .remove(&gossip.id)
            .map(|m| m.announcers)
            .unwrap_or_default();
        let received_round = gossip.round;
        let held = received_round.saturating_add(1);
        if neighbor {
            self.make_eager(from);
        }
        self.mark_seen(now, gossip.id, held, Some(from));
        self.stats.delivered += 1;
        self.outbox.push_back(Output::Event(Event::Delivered {
            id: gossip.id,
            author: gossip.author,
            seq: gossip.seq,
            payload: gossip.payload.clone(),
            round: held,
            from,
        }));
        let id = gossip.id;
        let forward = Gossip {
            round: held,
            ..gossip
        };
        self.push_to_tree(now, &forward, Some(from));
        // The sender and the announcers hold it; every other neighbour is
        // re-announced to until it shows it does too.
        let mut holders: Vec<NodeId> = announcers.iter().map(|(p, _)| *p).collect();
        holders.truncate(Self::ANNOUNCERS_MAX);
        let unacked = self.neighbors_except(Some(from), &holders);
        let announced_by = holders.into_iter().map(|p| (p, false)).collect();
        self.cache_insert(now, forward, unacked, announced_by);
        if neighbor {
            self.optimize_after_gossip(id, received_round, from, &announcers);
        }
    }

    fn on_ihave(&mut self, now: Time, from: NodeId, list: Vec<IHave>) {
        if !self.is_neighbor(&from) {
            return;
        }
        for IHave { id, round } in list {
            if self.seen.contains_key(&id) {
                self.optimize_after_ihave(id, round, from);
                self.announced_by(now, id, from);
                continue;
            }
            if let Some(entry) = self.missing.get_mut(&id) {
                if entry.announcers.iter().any(|(p, _)| *p == from) {
                    continue;
                }
                if entry.announcers.len() >= Self::ANNOUNCERS_MAX {
                    self.stats.announcements_dropped += 1;
                    continue;
                }
                entry.announcers.push((from, round));
                continue;
            }
            if self.missing.len() >= Self::MISSING_ENTRIES_MAX {
                self.stats.announcements_dropped += 1;
                continue;
            }
            let after = self.config.graft_timeout_1;
            self.missing.insert(
                id,
                Missing {
                    first_at: now,
                    announcers: vec![(from, round)],
                    attempt: 0,
                    due: now + after,
                },
            );
            self.outbox.push_back(Output::SetTimer {
                after,
                timer: Timer::Graft { id, attempt: 0 },
            });
        }
    }

    fn on_graft(&mut self, from: NodeId, id: Option<MessageId>, _round: u16) {
        if !self.is_neighbor(&from) {
            return;
        }
        self.make_eager(from);
        if let Some(id) = id
            && let Some(cached) = self.cache.get(&id)
        {
            let gossip = cached.gossip.clone();
            self.send(from, Message::Gossip(gossip));
        }
    }

    fn on_prune(&mut self, from: NodeId) {
        if self.is_neighbor(&from) {
            self.make_lazy(from);
        }
    }

    // ---- timers ----------------------------------------------------------

    fn on_graft_timer(&mut self, now: Time, id: MessageId, attempt: u32) {
        let rounds_max = self.config.graft_rounds_max;
        let after = self.config.graft_timeout_2;
        let Some(entry) = self.missing.get_mut(&id) else {
            return; // received, given up or expired: a late timer
        };
        if entry.attempt != attempt || now < entry.due {
            return; // a stale or repeated timer
        }
        let count = entry.announcers.len();
        let limit = u64::from(rounds_max).saturating_mul(count as u64);
        let Some(next_attempt) = attempt.checked_add(1) else {
            self.missing.remove(&id);
            self.stats.grafts_given_up += 1;
            return;
        };
        if count == 0 || u64::from(attempt) >= limit {
            self.missing.remove(&id);
            self.stats.grafts_given_up += 1;
            return;
        }
        // Round-robin over the announcers, in the order they announced.
        let (peer, round) = entry.announcers[attempt as usize % count];
        entry.attempt = next_attempt;
        entry.due = now + after;
        self.make_eager(peer);
        self.stats.grafts_sent += 1;
        self.send(
            peer,
            Message::Graft {
                id: Some(id),
                round,
            },
        );
        self.outbox.push_back(Output::SetTimer {
            after,
            timer: Timer::Graft {
                id,
                attempt: next_attempt,
            },
        });
    }

    fn on_dispatch_ihave_timer(&mut self, now: Time) {
        match self.ihave_due {
            Some(due) if now >= due => {}
            _ => return, // none pending, or an early stale one
        }
        self.ihave_due = None;
        let batch_max = self.config.ihave_batch_max.max(1);
        let queue = std::mem::take(&mut self.ihave_queue);
        for (peer, list) in queue {
            for chunk in list.chunks(batch_max) {
                self.send(peer, Message::IHave(chunk.to_vec()));
            }
        }
    }

    fn on_reannounce_timer(&mut self, now: Time) {
        match self.reannounce_due {
            Some(due) if now >= due => {}
            _ => return, // none pending, or an early or repeated fire
        }
        self.reannounce_due = None;
        while let Some(&(due, id)) = self.reannounce_queue.first() {
            if due > now {
                break;
            }
            self.reannounce_queue.pop_first();
            self.reannounce(now, id);
        }
        if let Some(&(due, _)) = self.reannounce_queue.first() {
            self.arm_reannounce(now, due);
        }
    }

    fn on_sweep_timer(&mut self, now: Time) {
        match self.sweep_due {
            Some(due) if now >= due => {}
            _ => return, // before Start, or a repeated fire
        }
        self.expire(now);
        self.arm_sweep(now);
    }

    // ---- helpers ---------------------------------------------------------

    fn is_neighbor(&self, peer: &NodeId) -> bool {
        self.eager.contains(peer) || self.lazy.contains(peer)
    }

    /// Moves a neighbour to the eager set (callers check it is one).
    fn make_eager(&mut self, peer: NodeId) {
        self.lazy.remove(&peer);
        self.eager.insert(peer);
    }

    /// Moves a neighbour to the lazy set (callers check it is one).
    fn make_lazy(&mut self, peer: NodeId) {
        self.eager.remove(&peer);
        self.lazy.insert(peer);
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        self.outbox.push_back(Output::Send { to, msg });
    }

    fn arm_sweep(&mut self, now: Time) {
        let after = self.config.sweep_interval;
        self.sweep_due = Some(now + after);
        self.outbox.push_back(Output::SetTimer {
            after,
            timer: Timer::Sweep,
        });
    }

    /// Pushes `gossip` (already at the round we hold it) to the eager peers
    /// and queues its announcement for the lazy peers (and, with
    /// `announce_to_eager`, for the eager ones too), except `except`.
    fn push_to_tree(&mut self, now: Time, gossip: &Gossip, except: Option<NodeId>) {
        let eager: Vec<NodeId> = self
            .eager
            .iter()
            .copied()
            .filter(|p| Some(*p) != except)
            .collect();
        for peer in &eager {
            self.send(*peer, Message::Gossip(gossip.clone()));
        }
        let mut announce_to: Vec<NodeId> = self
            .lazy
            .iter()
            .copied()
            .filter(|p| Some(*p) != except)
            .collect();
        if self.config.announce_to_eager {
            announce_to.extend(eager);
        }
        // With re-announcement, the neighbour it came from hears that we
        // hold it too: that is its acknowledgement.
        if self.config.reannounce_interval.is_some()
            && let Some(sender) = except
            && self.is_neighbor(&sender)
        {
            announce_to.push(sender);
        }
        let announcement = IHave {
            id: gossip.id,
            round: gossip.round,
        };
        for peer in announce_to {
            self.queue_ihave(now, peer, announcement);
        }
    }

    /// Appends `announcement` to `peer`'s IHave queue (or drops it if the
    /// queue is full) and arms the dispatch if none is pending.
    fn queue_ihave(&mut self, now: Time, peer: NodeId, announcement: IHave) {
        let queue = self.ihave_queue.entry(peer).or_default();
        if queue.len() >= Self::IHAVE_QUEUE_MAX {
            self.stats.announcements_dropped += 1;
            return;
        }
        queue.push(announcement);
        if self.ihave_due.is_none() {
            let after = self.config.ihave_interval;
            self.ihave_due = Some(now + after);
            self.outbox.push_back(Output::SetTimer {
                after,
                timer: Timer::DispatchIHave,
            });
        }
    }

    /// The neighbours, sorted, without `except` and `holders`: those a new
    /// message is tracked for with `reannounce_interval` (none without it).
    fn neighbors_except(&self, except: Option<NodeId>, holders: &[NodeId]) -> Vec<NodeId> {
        if self.config.reannounce_interval.is_none() {
            return Vec::new();
        }
        let mut peers: Vec<NodeId> = self
            .eager
            .iter()
            .chain(&self.lazy)
            .copied()
            .filter(|p| Some(*p) != except && !holders.contains(p))
            .collect();
        peers.sort_unstable();
        peers
    }

    /// `peer` showed it holds `id` (a copy or an announcement of it): it is
    /// not re-announced to any more.
    fn held_by(&mut self, id: MessageId, peer: NodeId) {
        let Some(cached) = self.cache.get_mut(&id) else {
            return;
        };
        cached.unacked.retain(|p| *p != peer);
        if cached.unacked.is_empty()
            && let Some((due, _)) = cached.reannounce.take()
        {
            self.reannounce_queue.remove(&(due, id));
        }
    }

    /// Neighbour `peer` announced `id`, which we hold. The first time, that
    /// is its acknowledgement; a repeat is a re-announcement, so it has not
    /// heard ours: announce it to `peer` again (once per message and peer).
    fn announced_by(&mut self, now: Time, id: MessageId, peer: NodeId) {
        self.held_by(id, peer);
        let Some(cached) = self.cache.get_mut(&id) else {
            return;
        };
        let round = cached.gossip.round;
        match cached.announced_by.iter().position(|(p, _)| *p == peer) {
            Some(k) if !cached.announced_by[k].1 => {
                cached.announced_by[k].1 = true;
                self.stats.reannouncements_answered += 1;
                self.queue_ihave(now, peer, IHave { id, round });
            }
            Some(_) => {}
            None if cached.announced_by.len() < Self::ANNOUNCERS_MAX => {
                cached.announced_by.push((peer, false));
            }
            None => {}
        }
    }

    /// Re-announces cached `id` (its re-announcement came due) to the
    /// neighbours that have not shown they hold it, and schedules the next
    /// round after twice the last wait, if that leaves one
    /// `reannounce_interval` before the cache drops it.
    fn reannounce(&mut self, now: Time, id: MessageId) {
        let Some(interval) = self.config.reannounce_interval else {
            return;
        };
        let cache_ttl = self.config.cache_ttl;
        let Some(cached) = self.cache.get_mut(&id) else {
            return;
        };
        let Some((_, rounds)) = cached.reannounce.take() else {
            return;
        };
        let (eager, lazy) = (&self.eager, &self.lazy);
        cached
            .unacked
            .retain(|p| eager.contains(p) || lazy.contains(p));
        if cached.unacked.is_empty() {
            return;
        }
        let rounds = rounds.saturating_add(1);
        let wait = interval.saturating_mul(2u32.saturating_pow(rounds));
        let next = now + wait;
        if next + interval <= cached.at + cache_ttl {
            cached.reannounce = Some((next, rounds));
            self.reannounce_queue.insert((next, id));
        }
        let announcement = IHave {
            id,
            round: cached.gossip.round,
        };
        let peers = cached.unacked.clone();
        for peer in peers {
            self.stats.reannounced += 1;
            self.queue_ihave(now, peer, announcement);
        }
        // The caller arms the timer for the earliest entry left.
    }

    /// Arms `Reannounce` for `due` unless one is pending no later.
    fn arm_reannounce(&mut self, now: Time, due: Time) {
        if self.reannounce_due.is_some_and(|d| d <= due) {
            return;
        }
        self.reannounce_due = Some(due);
        self.outbox.push_back(Output::SetTimer {
            after: due.saturating_since(now),
            timer: Timer::Reannounce,
        });
    }

    /// Paper §3.8, on first receipt: if an announcer offered the message at
    /// least `optimization_threshold` hops closer to the author than the
    /// neighbour that delivered it, make the announcer's link eager
    /// (`Graft` without id) and the delivering link lazy (`Prune`).
    fn optimize_after_gossip(
        &mut self,
        id: MessageId,
        received_round: u16,
        from: NodeId,
        announcers: &[(NodeId, u16)],
    ) {
        let best = announcers
            .iter()
            .filter(|(p, _)| *p != from && self.is_neighbor(p))
            .min_by_key(|(_, r)| *r)
            .copied();
        let Some((peer, round)) = best else {
            return;
        };
        if !self.shorter_by_threshold(round, received_round) {
            return;
        }
        self.rewire(id, peer, round, Some(from));
    }

    /// Paper §3.8, for an announcement of a message already received: the
    /// same test against the round our current parent sent it at.
    fn optimize_after_ihave(&mut self, id: MessageId, round: u16, from: NodeId) {
        let Some(seen) = self.seen.get(&id) else {
            return;
        };
        let Some(parent) = seen.parent else {
            return; // our own message
        };
        if parent == from {
            return;
        }
        let parent_round = seen.round.saturating_sub(1);
        if !self.shorter_by_threshold(round, parent_round) {
            return;
        }
        let old_parent = self.eager.contains(&parent).then_some(parent);
        self.rewire(id, from, round, old_parent);
    }

    fn shorter_by_threshold(&self, lazy_round: u16, eager_round: u16) -> bool {
        lazy_round < eager_round
            && eager_round - lazy_round >= self.config.optimization_threshold.max(1)
    }

    /// Makes `peer` (announced `id` at `round`) eager and prunes `old`.
    fn rewire(&mut self, id: MessageId, peer: NodeId, round: u16, old: Option<NodeId>) {
        self.stats.optimizations += 1;
        self.make_eager(peer);
        self.send(peer, Message::Graft { id: None, round });
        if let Some(old) = old {
            self.make_lazy(old);
            self.send(old, Message::Prune);
        }
        if let Some(seen) = self.seen.get_mut(&id) {
            seen.round = round.saturating_add(1);
            seen.parent = Some(peer);
        }
    }

    fn mark_seen(&mut self, now: Time, id: MessageId, round: u16, parent: Option<NodeId>) {
        self.seen.insert(
            id,
            Seen {
                at: now,
                round,
                parent,
            },
        );
        self.seen_order.push_back((now, id));
        while self.seen.len() > Self::SEEN_ENTRIES_MAX {
            if !self.forget_oldest_seen() {
                break;
            }
        }
    }

    /// Pops the oldest `seen_order` entry and removes its id if that entry
    /// is current. Returns false if the order queue is empty.
    fn forget_oldest_seen(&mut self) -> bool {
        let Some((at, id)) = self.seen_order.pop_front() else {
            return false;
        };
        if self.seen.get(&id).is_some_and(|s| s.at == at) {
            self.seen.remove(&id);
        }
        true
    }

    /// Caches `gossip`; with `reannounce_interval` and `unacked`
    /// neighbours, schedules its first re-announcement.
    fn cache_insert(
        &mut self,
        now: Time,
        gossip: Gossip,
        unacked: Vec<NodeId>,
        announced_by: Vec<(NodeId, bool)>,
    ) {
        if self.cache.contains_key(&gossip.id) {
            return;
        }
        let id = gossip.id;
        let reannounce = match self.config.reannounce_interval {
            Some(after) if !unacked.is_empty() && after < self.config.cache_ttl => {
                Some((now + after, 0))
            }
            _ => None,
        };
        self.cache_bytes = self.cache_bytes.saturating_add(gossip.payload.len());
        self.cache.insert(
            id,
            Cached {
                at: now,
                gossip,
                unacked,
                announced_by,
                reannounce,
            },
        );
        if let Some((due, _)) = reannounce {
            self.reannounce_queue.insert((due, id));
            self.arm_reannounce(now, due);
        }
        self.cache_order.push_back((now, id));
        while self.cache.len() > self.config.cache_entries_max
            || self.cache_bytes > Self::CACHE_BYTES_MAX
        {
            if !self.evict_oldest_cached() {
                break;
            }
        }
    }

    /// Pops the oldest `cache_order` entry and removes its payload if that
    /// entry is current. Returns false if the order queue is empty.
    fn evict_oldest_cached(&mut self) -> bool {
        let Some((at, id)) = self.cache_order.pop_front() else {
            return false;
        };
        if self.cache.get(&id).is_some_and(|c| c.at == at)
            && let Some(cached) = self.cache.remove(&id)
        {
            self.cache_bytes = self.cache_bytes.saturating_sub(cached.gossip.payload.len());
            if let Some((due, _)) = cached.reannounce {
                self.reannounce_queue.remove(&(due, id));
            }
        }
        true
    }

    /// Drops payloads older than `cache_ttl`, ids older than `seen_ttl`, and
    /// missing entries older than `cache_ttl` (no peer still caches them).
    fn expire(&mut self, now: Time) {
        while let Some(&(at, _)) = self.cache_order.front() {
            if at + self.config.cache_ttl > now {
                break;
            }
            self.evict_oldest_cached();
        }
        while let Some(&(at, _)) = self.seen_order.front() {
            if at + self.config.seen_ttl > now {
                break;
            }
            self.forget_oldest_seen();
        }
        let cache_ttl = self.config.cache_ttl;
        let before = self.missing.len();
        self.missing.retain(|_, m| m.first_at + cache_ttl > now);
        self.stats.grafts_given_up += (before - self.missing.len()) as u64;
    }
}
