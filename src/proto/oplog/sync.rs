//! Anti-entropy for the op-log: a [`Replica`] owns a node's [`OpLog`] and
//! repairs what live broadcast missed (loss, partitions, nodes that were
//! away, newcomers).
//!
//! Every `interval` (jittered) the replica sends `Summary` (the frontier
//! hash) to a random neighbour, and at once to its first neighbour when it
//! had none (a newcomer starts catching up with its first link). A
//! neighbour whose frontier hash differs answers with its heads (`Heads`,
//! in pages of at most `heads_bytes_max`, the last page marked `done`).
//! With the whole list the first node (1) asks for what it lacks (`Want`:
//! per author, the first seq it lacks) and (2) pushes what the neighbour
//! lacks (`Ops`, never marked `last`). A `Want` is answered with `Ops`
//! messages of at most `ops_bytes_max` each, at most `reply_messages_max`
//! of them, each naming the `Want`'s `req`, the last marked `last` (one
//! empty message if nothing is held); only the answer to the current
//! `Want` counts;
//! if the asker is still behind the heads it was shown, it asks again at
//! once, so a newcomer streams a long history without waiting for the next
//! round. Heads that arrive while a `Want` to that peer is in flight only
//! update what the asker was shown (see [`WANT_SILENCE_DIVISOR`]).
//! Within a reply, ops go in chain order per author (a successor is useless
//! without its predecessor, and a chain is checked forwards), and the
//! authors whose newest op is newest (highest Lamport time of the chain
//! head the replier holds) go first: when a newcomer's catch-up takes many
//! replies, the room's recent activity arrives in the first ones, and the
//! long-quiet authors' history last.
//!
//! Proofs of equivocation travel too: when the two sides' heads show the
//! same `(author, seq)` with different ids, each sends its op there, and a
//! node pushing an author it flagged sends the proof along.
//!
//! Live ops arrive through broadcast as `Input::Ops` and are ingested the
//! same way.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::ledger::{IngestReport, OpLog};
use super::op::SignedOp;
use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::{EngineRng, Time, jitter};

/// Tunables.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Time between anti-entropy rounds.
    pub interval: Duration,
    /// Largest encoded `Heads` page.
    pub heads_bytes_max: usize,
    /// Largest encoded `Ops` message.
    pub ops_bytes_max: usize,
    /// Most `Ops` messages answering one `Want`.
    pub reply_messages_max: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            // One round per 2 s per node: a node that missed a live op has
            // it within a few seconds; a round where nothing differs costs
            // one 40-byte message.
            interval: Duration::from_secs(2),
            // Below the 60 KiB frame limit with room for the header.
            heads_bytes_max: 48 * 1024,
            ops_bytes_max: 48 * 1024,
            // 384 KiB per request: enough to keep a loopback or LAN link
            // busy between request round trips without swamping the peer's
            // send queue (512 frames).
            reply_messages_max: 8,
        }
    }
}

/// One author's chain head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The author.
    pub author: NodeId,
    /// The seq of the author's chain head as the sender holds it (for a
    /// flagged author, the op before the fork).
    pub seq: u64,
    /// That op's id: equal seqs with different ids show a fork.
    pub id: OpId,
}

/// A request for `author`'s ops from `from_seq` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The author whose chain is asked for.
    pub author: NodeId,
    /// First seq wanted: the asker's own next seq for that author.
    pub from_seq: u64,
}

/// Anti-entropy messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// "This is the hash of my frontier." A receiver whose own frontier
    /// hash differs answers with `Heads`; an equal one sends nothing.
    Summary {
        /// [`Log::frontier_hash`](super::log::Log::frontier_hash) of the
        /// sender's log.
        hash: [u8; 32],
    },
    /// One page of the sender's heads, by author; `done` on the last.
    /// With every page in, the receiver sends `Want` for what it lacks and
    /// pushes `Ops` the sender lacks.
    Heads {
        /// At most [`Config::heads_bytes_max`] encoded bytes of heads, in
        /// ascending author order.
        heads: Vec<Head>,
        /// True on the last page of this frontier.
        done: bool,
    },
    /// "Send me these authors' ops from these seqs on." `req` numbers the
    /// sender's requests; the answer echoes it.
    Want {
        /// The sender's request number, a counter from 0.
        req: u64,
        /// At most [`WANT_RANGES_MAX`] ranges, one per author.
        ranges: Vec<Range>,
    },
    /// Ops. `answer`: the `req` of the `Want` they answer (`None` for a
    /// push); `last` on the last message of an answer. The receiver ingests
    /// the ops; the `last` of the answer to its current `Want` makes it ask
    /// again for what it still lacks.
    Ops {
        /// Signed ops, in chain order per author (an author's fork proofs
        /// after its chain); within [`Config::ops_bytes_max`] encoded bytes
        /// unless one op alone is larger.
        ops: Vec<SignedOp>,
        /// The `req` of the `Want` answered, `None` for a push.
        answer: Option<u64>,
        /// True on the last message of an answer (at most
        /// [`Config::reply_messages_max`] messages); never on a push.
        last: bool,
    },
}

/// What the driver feeds the replica.
#[derive(Clone, Debug)]
pub enum Input {
    /// Once, first: arms the round timer. Later ones do nothing.
    Start,
    /// A timer asked for with [`Output::SetTimer`] has fired.
    Timer(Timer),
    /// A link joined the overlay; if it is the only one and the replica has
    /// started, a `Summary` goes to it at once.
    NeighborUp(NodeId),
    /// A link left the overlay; exchanges in progress with that peer are
    /// dropped.
    NeighborDown(NodeId),
    /// An anti-entropy message from a linked peer.
    Message {
        /// The sender.
        from: NodeId,
        /// The decoded message.
        msg: Message,
    },
    /// Ops that came by broadcast.
    Ops(Vec<SignedOp>),
}

/// Timers the replica asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Every [`Config::interval`] plus up to 20 % jitter: send `Summary` to
    /// one random neighbour.
    Round,
}

/// What the replica asks of the driver.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send `msg` over the link to `to`.
    Send {
        /// A neighbour.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// Feed back [`Input::Timer`]`(timer)` after `after`.
    SetTimer {
        /// Delay from the `now` of the call that produced this output.
        after: Duration,
        /// The timer to fire.
        timer: Timer,
    },
    /// Ops that joined the log (the driver stores them, then tells the
    /// application).
    Ingested(IngestReport),
}

/// A node's log and its anti-entropy.
pub struct Replica {
    oplog: OpLog,
    config: Config,
    rng: EngineRng,
    neighbors: BTreeSet<NodeId>,
    /// Heads pages being received, per peer.
    incoming: BTreeMap<NodeId, Vec<Head>>,
    /// The last complete heads a peer showed: what to keep asking for.
    shown: BTreeMap<NodeId, BTreeMap<NodeId, u64>>,
    /// The last `Want` sent to each peer, and when it was sent or last
    /// answered: asking the same again after its answer means the answer
    /// brought nothing that chained, so stop until next round. While one
    /// is in flight (see [`WANT_SILENCE_DIVISOR`]), new heads from that
    /// peer only update `shown`: the answer's last message asks again with
    /// them.
    asked: BTreeMap<NodeId, Asked>,
    /// The next `Want::req`.
    next_req: u64,
    started: bool,
    outbox: VecDeque<Output>,
}

/// The `Want` in flight to one peer.
#[derive(Debug)]
struct Asked {
    req: u64,
    ranges: Vec<Range>,
    /// When it was sent, or its answer last brought a message.
    at: Time,
}

/// A `Want` counts as in flight until its peer has been silent (no `Ops`
/// from it) for `interval / WANT_SILENCE_DIVISOR` (500 ms by default:
/// far above a LAN round trip, and short enough that a lost answer costs
/// less than a round).
pub const WANT_SILENCE_DIVISOR: u32 = 4;
/// Most ranges in one `Want` (a range is 40 bytes: well within a frame).
pub const WANT_RANGES_MAX: usize = 1024;
/// Bytes a `Heads` message has besides its heads.
const HEADS_HEADER_BYTES: usize = 4 + 8 + 1;
/// Bytes one head takes.
const HEAD_BYTES: usize = 32 + 8 + 32;
/// Bytes an `Ops` message has besides its ops.
const OPS_HEADER_BYTES: usize = 4 + 8 + 1;

impl Replica {
    /// Anti-entropy around `oplog`, idle until [`Input::Start`]. `rng`
    /// picks the round's neighbour and the timer jitter.
    pub fn new(oplog: OpLog, config: Config, rng: EngineRng) -> Replica {
        Replica {
            oplog,
            config,
            rng,
            neighbors: BTreeSet::new(),
            incoming: BTreeMap::new(),
            shown: BTreeMap::new(),
            asked: BTreeMap::new(),
            next_req: 0,
            started: false,
            outbox: VecDeque::new(),
        }
    }

    /// The log, for queries.
    pub fn oplog(&self) -> &OpLog {
        &self.oplog
    }

    /// The log, for writing this node's own ops ([`OpLog::prepare`],
    /// [`OpLog::ingest`]) without going through an input.
    pub fn oplog_mut(&mut self) -> &mut OpLog {
        &mut self.oplog
    }

    /// Gives the log back, dropping the anti-entropy state (neighbours,
    /// exchanges in progress): what survives a restart is the log, and a
    /// new replica around it starts again with [`Input::Start`].
    pub fn into_oplog(self) -> OpLog {
        self.oplog
    }

    /// The next output, oldest first; drain until `None` after every
    /// [`Replica::handle`].
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// Feeds one input at `now` (never earlier than the last call's); the
    /// outputs wait in the outbox for [`Replica::poll_output`].
    pub fn handle(&mut self, now: Time, input: Input) {
        match input {
            Input::Start => {
                if !self.started {
                    self.started = true;
                    self.arm();
                }
            }
            Input::Timer(Timer::Round) => {
                self.on_round();
                self.arm();
            }
            Input::NeighborUp(p) => {
                // The first link (a newcomer, or a node back from a
                // partition of its own): compare at once rather than at the
                // next round, so catching up starts with the link.
                let first = self.neighbors.is_empty();
                if self.neighbors.insert(p) && first && self.started {
                    let hash = self.oplog.log().frontier_hash();
                    self.send(p, Message::Summary { hash });
                }
            }
            Input::NeighborDown(p) => {
                self.neighbors.remove(&p);
                self.incoming.remove(&p);
                self.shown.remove(&p);
                self.asked.remove(&p);
            }
            Input::Ops(ops) => self.ingest(ops),
            Input::Message { from, msg } => match msg {
                Message::Summary { hash } => self.on_summary(from, hash),
                Message::Heads { heads, done } => self.on_heads(now, from, heads, done),
                Message::Want { req, ranges } => self.on_want(from, req, &ranges),
                Message::Ops { ops, answer, last } => {
                    // Only the answer to the `Want` in flight keeps it in
                    // flight and, at its end, asks again: a push or a late
                    // answer to an older `Want` is just ops.
                    let current = match (answer, self.asked.get_mut(&from)) {
                        (Some(r), Some(asked)) if asked.req == r => {
                            asked.at = now;
                            true
                        }
                        _ => false,
                    };
                    self.ingest(ops);
                    if current && last {
                        self.ask(now, from);
                    }
                }
            },
        }
    }

    fn arm(&mut self) {
        let after = jitter(&mut self.rng, self.config.interval, 0.2);
        self.outbox.push_back(Output::SetTimer {
            after,
            timer: Timer::Round,
        });
    }

    fn on_round(&mut self) {
        if self.neighbors.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.neighbors.len());
        if let Some(peer) = self.neighbors.iter().nth(i).copied() {
            let hash = self.oplog.log().frontier_hash();
            self.send(peer, Message::Summary { hash });
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        self.outbox.push_back(Output::Send { to, msg });
    }

    fn ingest(&mut self, ops: Vec<SignedOp>) {
        if ops.is_empty() {
            return;
        }
        let report = self.oplog.ingest_signed(ops);
        self.outbox.push_back(Output::Ingested(report));
    }

    fn on_summary(&mut self, from: NodeId, hash: [u8; 32]) {
        if hash == self.oplog.log().frontier_hash() {
            return;
        }
        let heads: Vec<Head> = self
            .oplog
            .log()
            .frontier()
            .into_iter()
            .map(|(author, (seq, id))| Head { author, seq, id })
            .collect();
        let per_page = ((self.config.heads_bytes_max - HEADS_HEADER_BYTES) / HEAD_BYTES).max(1);
        let pages: Vec<Vec<Head>> = heads.chunks(per_page).map(<[Head]>::to_vec).collect();
        let count = pages.len();
        if count == 0 {
            self.send(
                from,
                Message::Heads {
                    heads: Vec::new(),
                    done: true,
                },
            );
        }
        for (i, page) in pages.into_iter().enumerate() {
            self.send(
                from,
                Message::Heads {
                    heads: page,
                    done: i + 1 == count,
                },
            );
        }
    }

    fn on_heads(&mut self, now: Time, from: NodeId, heads: Vec<Head>, done: bool) {
        let pages = self.incoming.entry(from).or_default();
        pages.extend(heads);
        if !done {
            return;
        }
        let theirs = self.incoming.remove(&from).unwrap_or_default();
        let mine = self.oplog.log().frontier();
        let forks = self.oplog.log().equivocators();
        let mut shown = BTreeMap::new();
        let mut push: Vec<Range> = Vec::new();
        for h in &theirs {
            shown.insert(h.author, h.seq);
            if let Some(f) = forks.get(&h.author)
                && h.seq >= *f
            {
                // They fold past a fork this node has proof of: send it.
                push.push(Range {
                    author: h.author,
                    from_seq: *f,
                });
                continue;
            }
            match mine.get(&h.author) {
                Some((seq, _)) if *seq > h.seq => push.push(Range {
                    author: h.author,
                    from_seq: h.seq + 1,
                }),
                Some((seq, id)) if *seq == h.seq && *id != h.id => {
                    // A fork: show them my op there; they show me theirs.
                    push.push(Range {
                        author: h.author,
                        from_seq: h.seq,
                    });
                }
                _ => {}
            }
        }
        let theirs_authors: BTreeSet<NodeId> = theirs.iter().map(|h| h.author).collect();
        for author in mine.keys().filter(|a| !theirs_authors.contains(a)) {
            push.push(Range {
                author: *author,
                from_seq: 1,
            });
        }
        self.shown.insert(from, shown);
        // Two exchanges with one peer can overlap (both ends' rounds, a
        // round during a long catch-up, the first link's exchange): with a
        // `Want` in flight, its answer asks again with these heads.
        let in_flight = self.asked.get(&from).is_some_and(|a| {
            now.saturating_since(a.at) < self.config.interval / WANT_SILENCE_DIVISOR
        });
        if !in_flight {
            self.asked.remove(&from);
            self.ask(now, from);
        }
        if !push.is_empty() {
            self.reply(from, &push, None);
        }
    }

    /// Asks `peer` for what it showed and this node still lacks.
    fn ask(&mut self, now: Time, peer: NodeId) {
        let Some(shown) = self.shown.get(&peer) else {
            return;
        };
        let mine = self.oplog.log().frontier();
        let forks = self.oplog.log().equivocators();
        let ranges: Vec<Range> = shown
            .iter()
            // Nothing past a known fork is folded: do not ask for it.
            .filter(|(author, _)| !forks.contains_key(*author))
            .filter_map(|(author, seq)| {
                let have = mine.get(author).map_or(0, |(s, _)| *s);
                (have < *seq).then_some(Range {
                    author: *author,
                    from_seq: have + 1,
                })
            })
            .take(WANT_RANGES_MAX)
            .collect();
        if ranges.is_empty() || self.asked.get(&peer).is_some_and(|a| a.ranges == ranges) {
            self.shown.remove(&peer);
            self.asked.remove(&peer);
            return;
        }
        let req = self.next_req;
        self.next_req += 1;
        self.asked.insert(
            peer,
            Asked {
                req,
                ranges: ranges.clone(),
                at: now,
            },
        );
        self.send(peer, Message::Want { req, ranges });
    }

    fn on_want(&mut self, from: NodeId, req: u64, ranges: &[Range]) {
        let ranges = &ranges[..ranges.len().min(WANT_RANGES_MAX)];
        self.reply(from, ranges, Some(req));
    }

    /// Sends `to` the ops in `ranges`, within the reply budget, authors
    /// with the newest chain head first. An `answer` to a `Want` (its
    /// `req`) always ends with a message marked `last` (an empty one if
    /// nothing is held); a push (`None`) never is.
    fn reply(&mut self, to: NodeId, ranges: &[Range], answer: Option<u64>) {
        let log = self.oplog.log();
        let newest = |author: &NodeId| {
            log.chain_head(author)
                .and_then(|(_, id)| log.get(&id))
                .map(|op| op.op().lamport)
        };
        let mut ranges = ranges.to_vec();
        // Stable: ties keep the order asked.
        ranges.sort_by_key(|r| std::cmp::Reverse(newest(&r.author)));
        let budget = self.config.ops_bytes_max - OPS_HEADER_BYTES;
        let mut messages: Vec<Vec<SignedOp>> = Vec::new();
        let mut current: Vec<SignedOp> = Vec::new();
        let mut bytes = 0usize;
        let mut full = false;
        // No reply holds more ops than this (ops are over 128 bytes), so
        // never copy more of a long chain.
        let ops_cap = self.config.ops_bytes_max * self.config.reply_messages_max / 128 + 1;
        'ranges: for range in &ranges {
            let log = self.oplog.log();
            let mut batch: Vec<SignedOp> = log
                .range(&range.author, range.from_seq.max(1), ops_cap)
                .iter()
                .map(|v| v.signed().clone())
                .collect();
            // Proofs of a fork ride along with the author's ops.
            if log.equivocators().contains_key(&range.author) {
                batch.extend(
                    log.proofs()
                        .filter(|p| p.op().author == range.author)
                        .map(|p| p.signed().clone()),
                );
            }
            for op in batch {
                let len = codec::encoded_len(&op) + 8;
                if bytes + len > budget && !current.is_empty() {
                    messages.push(std::mem::take(&mut current));
                    bytes = 0;
                    if messages.len() >= self.config.reply_messages_max {
                        full = true;
                        break 'ranges;
                    }
                }
                bytes += len;
                current.push(op);
            }
        }
        if !current.is_empty() && !full {
            messages.push(current);
        }
        if answer.is_some() && messages.is_empty() {
            messages.push(Vec::new());
        }
        let count = messages.len();
        for (i, ops) in messages.into_iter().enumerate() {
            self.send(
                to,
                Message::Ops {
                    ops,
                    answer,
                    last: answer.is_some() && i + 1 == count,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applets;
    use crate::crypto::identity::Identity;
    use crate::sim::schedule::Schedule;
    use rand::SeedableRng;

    const SEAL: [u8; 32] = [0x5e; 32];

    /// Replicas on the simulator's clock with instant, lossless delivery in
    /// send order: each event is (to, from, message), all due now.
    struct Net {
        nodes: Vec<(NodeId, Replica)>,
        schedule: Schedule<(usize, NodeId, Message)>,
    }

    impl Net {
        fn new(ids: &[Identity]) -> Net {
            let nodes: Vec<(NodeId, Replica)> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let oplog = OpLog::new(id.node_id(), SEAL, applets::builtin());
                    let rng = EngineRng::seed_from_u64(i as u64);
                    (id.node_id(), Replica::new(oplog, Config::default(), rng))
                })
                .collect();
            let mut net = Net {
                nodes,
                schedule: Schedule::new(),
            };
            let all: Vec<NodeId> = net.nodes.iter().map(|(n, _)| *n).collect();
            for i in 0..net.nodes.len() {
                net.feed(i, Input::Start);
                for p in &all {
                    if *p != net.nodes[i].0 {
                        net.feed(i, Input::NeighborUp(*p));
                    }
                }
            }
            // The first links' exchanges (nothing to exchange yet).
            net.deliver_all();
            net
        }

        fn index(&self, id: &NodeId) -> usize {
            self.nodes
                .iter()
                .position(|(n, _)| n == id)
                .expect("a node")
        }

        fn feed(&mut self, i: usize, input: Input) {
            let now = self.schedule.now();
            self.nodes[i].1.handle(now, input);
            while let Some(out) = self.nodes[i].1.poll_output() {
                if let Output::Send { to, msg } = out {
                    let from = self.nodes[i].0;
                    let to = self.index(&to);
                    self.schedule.at(now, (to, from, msg));
                }
            }
        }

        /// One anti-entropy round at every node, then every message.
        fn round(&mut self) -> usize {
            for i in 0..self.nodes.len() {
                self.feed(i, Input::Timer(Timer::Round));
            }
            self.deliver_all()
        }

        /// Delivers queued messages until one matching `stop` is at the
        /// front (left queued) or the queue is empty; how many it delivered.
        fn deliver_until(&mut self, stop: impl Fn(&Message) -> bool) -> usize {
            let mut delivered = 0;
            while let Some((_, _, msg)) = self.schedule.peek() {
                if stop(msg) {
                    break;
                }
                let Some((to, from, msg)) = self.schedule.next() else {
                    break;
                };
                delivered += 1;
                self.feed(to, Input::Message { from, msg });
            }
            delivered
        }

        fn deliver_all(&mut self) -> usize {
            self.deliver_until(|_| false)
        }

        fn converged(&self) -> bool {
            let h = self.nodes[0].1.oplog().state_hash();
            let f = self.nodes[0].1.oplog().log().frontier_hash();
            self.nodes
                .iter()
                .all(|(_, r)| r.oplog().state_hash() == h && r.oplog().log().frontier_hash() == f)
        }
    }

    fn ids(n: usize) -> Vec<Identity> {
        let mut rng = EngineRng::seed_from_u64(77);
        (0..n).map(|_| Identity::generate_with(&mut rng)).collect()
    }

    fn write(net: &mut Net, ids: &[Identity], who: usize, n: usize) {
        for k in 0..n {
            let text = format!("{who}:{k}");
            net.nodes[who]
                .1
                .oplog_mut()
                .author(
                    &ids[who],
                    "chat",
                    1,
                    text.as_bytes(),
                    k as u64,
                    [k as u8; 24],
                )
                .expect("authored");
        }
    }

    #[test]
    fn nodes_that_wrote_apart_converge_within_a_few_rounds() {
        let ids = ids(4);
        let mut net = Net::new(&ids);
        for who in 0..4 {
            write(&mut net, &ids, who, 30 + who * 10);
        }
        let mut rounds = 0;
        while !net.converged() {
            rounds += 1;
            assert!(rounds <= 10, "not converged after 10 rounds");
            net.round();
        }
        assert_eq!(net.nodes[3].1.oplog().log().len(), 30 + 40 + 50 + 60);
    }

    #[test]
    fn a_newcomer_streams_a_long_history_in_one_exchange() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        write(&mut net, &ids, 0, 3000);
        // Node 1 sends its summary to node 0 (its only neighbour).
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_all();
        assert_eq!(net.nodes[1].1.oplog().log().len(), 3000);
        assert!(net.converged());
    }

    #[test]
    fn overlapping_exchanges_with_one_peer_do_not_cut_a_catch_up_short() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        write(&mut net, &ids, 0, 3000);
        // Two rounds of node 1 pick node 0 before any answer arrives (a
        // round during a long catch-up, or the first link's exchange and a
        // round): the second exchange's heads must not end the first's
        // streaming.
        net.feed(1, Input::Timer(Timer::Round));
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_all();
        assert_eq!(net.nodes[1].1.oplog().log().len(), 3000);
        assert!(net.converged());
    }

    #[test]
    fn a_push_does_not_end_the_receivers_own_request() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        // Several answers' worth (each is at most 8 × 48 KiB).
        write(&mut net, &ids, 0, 8000);
        // Both rounds at once: node 1 asks node 0 for its history while
        // node 0, seeing node 1's empty heads, pushes the same history.
        // The push's end must not count as the end of node 1's request.
        net.feed(1, Input::Timer(Timer::Round));
        net.feed(0, Input::Timer(Timer::Round));
        net.deliver_all();
        assert_eq!(net.nodes[1].1.oplog().log().len(), 8000);
    }

    #[test]
    fn a_want_for_what_the_peer_lacks_is_answered_with_an_empty_last() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        let from = net.nodes[1].0;
        net.feed(
            0,
            Input::Message {
                from,
                msg: Message::Want {
                    req: 7,
                    ranges: vec![Range {
                        author: ids[1].node_id(),
                        from_seq: 1,
                    }],
                },
            },
        );
        let replies: Vec<Message> = std::iter::from_fn(|| net.schedule.next())
            .map(|(_, _, m)| m)
            .collect();
        assert!(
            matches!(&replies[..], [Message::Ops { ops, answer: Some(7), last: true }] if ops.is_empty()),
            "{replies:?}"
        );
    }

    #[test]
    fn a_late_answer_to_an_older_want_does_not_end_the_current_one() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        write(&mut net, &ids, 0, 8000);
        // Node 1 asks (W1); the answer is slow to start, so after the
        // silence limit the next round's heads ask again (W2, the same
        // ranges). Both answers then arrive, W1's first.
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_until(|m| matches!(m, Message::Want { .. }));
        let w1 = net.schedule.next().expect("W1");
        net.schedule
            .advance_to(net.schedule.now() + Duration::from_millis(600));
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_until(|m| matches!(m, Message::Want { .. }));
        let w2 = net.schedule.next().expect("W2");
        let (to, from, msg) = w1;
        net.feed(to, Input::Message { from, msg });
        let (to, from, msg) = w2;
        net.feed(to, Input::Message { from, msg });
        net.deliver_all();
        assert_eq!(net.nodes[1].1.oplog().log().len(), 8000);
    }

    #[test]
    fn a_lost_want_is_asked_again_after_the_silence_limit() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        write(&mut net, &ids, 0, 100);
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_until(|m| matches!(m, Message::Want { .. }));
        net.schedule.next().expect("the Want, lost");
        // Within the limit, new heads wait for the answer that never comes.
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_all();
        assert_eq!(net.nodes[1].1.oplog().log().len(), 0, "still waiting");
        net.schedule
            .advance_to(net.schedule.now() + Duration::from_millis(600));
        net.feed(1, Input::Timer(Timer::Round));
        net.deliver_all();
        assert_eq!(net.nodes[1].1.oplog().log().len(), 100);
    }

    #[test]
    fn the_first_link_starts_an_exchange_at_once_and_later_ones_wait_for_the_round() {
        let ids = ids(3);
        let oplog = OpLog::new(ids[0].node_id(), SEAL, applets::builtin());
        let mut r = Replica::new(oplog, Config::default(), EngineRng::seed_from_u64(3));
        let summaries = |r: &mut Replica| {
            let mut to = Vec::new();
            while let Some(o) = r.poll_output() {
                if let Output::Send {
                    to: peer,
                    msg: Message::Summary { .. },
                } = o
                {
                    to.push(peer);
                }
            }
            to
        };
        // Before Start (a replica being rebuilt) a link sends nothing.
        r.handle(Time::ZERO, Input::NeighborUp(ids[1].node_id()));
        assert!(summaries(&mut r).is_empty());
        r.handle(Time::ZERO, Input::NeighborDown(ids[1].node_id()));
        r.handle(Time::ZERO, Input::Start);
        r.handle(Time::ZERO, Input::NeighborUp(ids[1].node_id()));
        assert_eq!(summaries(&mut r), vec![ids[1].node_id()], "the first link");
        r.handle(Time::ZERO, Input::NeighborUp(ids[2].node_id()));
        r.handle(Time::ZERO, Input::NeighborUp(ids[1].node_id()));
        assert!(
            summaries(&mut r).is_empty(),
            "a second link, a repeated one"
        );
        // Alone again, then a link: the first link again.
        r.handle(Time::ZERO, Input::NeighborDown(ids[1].node_id()));
        r.handle(Time::ZERO, Input::NeighborDown(ids[2].node_id()));
        r.handle(Time::ZERO, Input::NeighborUp(ids[2].node_id()));
        assert_eq!(summaries(&mut r), vec![ids[2].node_id()]);
    }

    #[test]
    fn a_reply_serves_the_authors_with_the_newest_ops_first() {
        let ids = ids(4);
        let mut net = Net::new(&ids[..2]);
        // Node 0 holds a long quiet history by ids[2] and a short recent
        // one by ids[3] (its Lamport times are above all of ids[2]'s).
        let mut quiet = OpLog::new(ids[2].node_id(), SEAL, applets::builtin());
        let mut recent = OpLog::new(ids[3].node_id(), SEAL, applets::builtin());
        let mut old_ops = Vec::new();
        for k in 0..2000u64 {
            let op = quiet
                .author(
                    &ids[2],
                    "chat",
                    1,
                    format!("old {k}").as_bytes(),
                    k,
                    [1; 24],
                )
                .expect("authored");
            old_ops.push(op.into_signed());
        }
        recent.ingest_signed(old_ops.clone());
        let mut new_ops = Vec::new();
        for k in 0..5u64 {
            let op = recent
                .author(
                    &ids[3],
                    "chat",
                    1,
                    format!("new {k}").as_bytes(),
                    k,
                    [2; 24],
                )
                .expect("authored");
            new_ops.push(op.into_signed());
        }
        net.nodes[0].1.oplog_mut().ingest_signed(old_ops);
        net.nodes[0].1.oplog_mut().ingest_signed(new_ops);
        // Node 1 asks for both authors, the quiet one first.
        let want = vec![
            Range {
                author: ids[2].node_id(),
                from_seq: 1,
            },
            Range {
                author: ids[3].node_id(),
                from_seq: 1,
            },
        ];
        let from = net.nodes[1].0;
        net.feed(
            0,
            Input::Message {
                from,
                msg: Message::Want {
                    req: 0,
                    ranges: want,
                },
            },
        );
        let Some((_, _, Message::Ops { ops, .. })) = net.schedule.next() else {
            panic!("no reply");
        };
        let authors: Vec<NodeId> = ops.iter().take(5).map(|o| o.op.author).collect();
        assert_eq!(
            authors,
            vec![ids[3].node_id(); 5],
            "the recent author first"
        );
        assert_eq!(ops[5].op.author, ids[2].node_id());
        assert_eq!(ops[5].op.seq, 1, "then the quiet one, in chain order");
    }

    #[test]
    fn converged_nodes_exchange_only_summaries() {
        let ids = ids(3);
        let mut net = Net::new(&ids);
        write(&mut net, &ids, 0, 5);
        while !net.converged() {
            net.round();
        }
        let delivered = net.round();
        assert_eq!(delivered, 3, "one summary per node, no answer");
    }

    #[test]
    fn a_replica_rebuilt_around_its_log_keeps_the_ops_and_forgets_its_neighbours() {
        let ids = ids(2);
        let mut net = Net::new(&ids);
        write(&mut net, &ids, 0, 5);
        while !net.converged() {
            net.round();
        }
        let (_, old) = net.nodes.remove(1);
        let oplog = old.into_oplog();
        assert_eq!(oplog.log().len(), 5);
        // What a restart does: a new replica around the durable log.
        let mut fresh = Replica::new(oplog, Config::default(), EngineRng::seed_from_u64(9));
        fresh.handle(Time::ZERO, Input::Start);
        fresh.handle(Time::ZERO, Input::Timer(Timer::Round));
        let mut out = Vec::new();
        while let Some(o) = fresh.poll_output() {
            out.push(o);
        }
        // Two timers (start, then the round re-arming), and no summary: it
        // has no neighbour until topology says so.
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out.iter().all(|o| matches!(
                o,
                Output::SetTimer {
                    timer: Timer::Round,
                    ..
                }
            )),
            "{out:?}"
        );
        assert_eq!(fresh.oplog().log().len(), 5);
    }

    #[test]
    fn a_fork_proof_reaches_a_node_that_saw_only_one_branch() {
        let ids = ids(3);
        let mut net = Net::new(&ids);
        let a = &ids[0];
        let one = crate::proto::oplog::op::Op {
            author: a.node_id(),
            seq: 1,
            prev: None,
            lamport: 1,
            wall_ms: 0,
            applet: "chat".into(),
            kind: 1,
            body: vec![1; 48],
            pow_nonce: 0,
        };
        let two = |b: u8| crate::proto::oplog::op::Op {
            seq: 2,
            prev: Some(one.id()),
            lamport: 2,
            body: vec![b; 48],
            ..one.clone()
        };
        let (s1, s2a, s2b) = (one.clone().sign(a), two(2).sign(a), two(3).sign(a));
        net.feed(1, Input::Ops(vec![s1.clone(), s2a]));
        net.feed(2, Input::Ops(vec![s1, s2b]));
        for _ in 0..6 {
            net.round();
        }
        for (_, r) in &net.nodes[1..] {
            assert_eq!(r.oplog().log().equivocators().get(&a.node_id()), Some(&2));
        }
        assert!(net.converged());
    }
}
