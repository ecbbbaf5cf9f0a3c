//! The op-log actor: owns the node's [`Replica`] (log engine + anti-entropy)
//! and its [`Store`].
//!
//! * Start: every op in the store is read back and ingested (one batch
//!   verification per chunk), so a restarted node has everything it
//!   acknowledged.
//! * Publish: the op is made, **stored durably, then** taken into the log,
//!   broadcast, and acknowledged; a store error (a full disk) refuses the
//!   op and changes nothing.
//! * Ops from broadcast or anti-entropy: ingested, then the newly chained
//!   ones (and equivocation proofs) are stored in one durable commit (the
//!   anti-entropy messages already queued, up to [`NET_BATCH_MAX`], share
//!   one commit), then
//!   announced on the bus (`Event::Op`; `Event::Mail` for a direct message
//!   to this node).
//! * Notices: after each batch it took in (received or its own) and at
//!   start, the actor asks every applet what it has to tell this node's
//!   user ([`crate::proto::oplog::fold::Applet::notices`]) and raises each
//!   notice once per time it comes to hold (`Event::Notice`). It knows no
//!   applet by name but `dm` (whose ops it opens for `Event::Mail`).
//!
//! Store calls block (an fsync per commit), so they run on tokio's blocking
//! pool while the actor waits.
//!
//! Every [`STATE_PUBLISH_INTERVAL`], when the log changed, the actor
//! publishes the state mark (state hash prefix and op count) in membership
//! (key `state`), so every member's view of the room shows who agrees.
//!
//! Kept outside the engine, for a restart after a panic: the neighbours;
//! the log itself is reloaded from the store (in-memory nodes start empty).

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::membership::MembershipCtl;
use super::plumtree::BroadcastCtl;
use super::transport::TransportCmd;
use super::{Clock, Supervised, Timers, fresh_rng, sleep_until};
use crate::applets::{self, dm as dm_applet};
use crate::codec;
use crate::config::AppletFactory;
use crate::crypto::dm;
use crate::crypto::identity::Identity;
use crate::event::Event;
use crate::id::{NodeId, OpId};
use crate::net::links::RosterAdmission;
use crate::proto::Time;
use crate::proto::oplog::fold::FoldKey;
use crate::proto::oplog::op::open_body;
use crate::proto::oplog::pow;
use crate::proto::oplog::sync::{self, Replica};
use crate::proto::oplog::{IngestReport, NoticeBoard, Op, OpLog, SignedOp, Snapshot, VerifiedOp};
use crate::proto::route::{Effect, RosterWatch, Routed, StateMarker};
use crate::proto::wire::{Envelope, Wire};
use crate::store::{Batch, StorageError, Store};

/// A snapshot is written after this many new ops, at least...
pub const SNAPSHOT_EVERY_OPS: u64 = 1000;
/// ...and after a quarter of the ops held (writing one costs time in
/// proportion to the state, so a fixed interval would be quadratic).
pub const SNAPSHOT_FRACTION_DIVISOR: u64 = 4;

/// Most queued anti-entropy messages handled before one durable commit of
/// what they chained (64 `Ops` messages of at most 48 KiB: 3 MiB).
pub const NET_BATCH_MAX: usize = 64;

/// How often, at most, the state mark is published in membership (it is
/// gossiped to every member: once a second would be wasteful at 1000
/// nodes, and convergence shows within a few seconds either way).
pub const STATE_PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
/// Making proof of work that takes longer than this is shown to the
/// person (`Event::ProofOfWork`).
pub const POW_PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// Makes the proof of work the room asks of `op` off the async
/// runtime; tells the person when it takes longer than
/// [`POW_PROGRESS_AFTER`] (and again when it is done).
async fn make_pow(
    bus: broadcast::Sender<Event>,
    cancel: CancellationToken,
    mut op: Op,
    bits: u8,
) -> Result<Op, String> {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut told = false;
        let found = pow::grind(&mut op, bits, |_| {
            if !told && started.elapsed() >= POW_PROGRESS_AFTER {
                told = true;
                let _ = bus.send(Event::ProofOfWork {
                    bits,
                    done: false,
                    elapsed_ms: ms(started.elapsed()),
                });
            }
            !cancel.is_cancelled()
        });
        if told {
            let _ = bus.send(Event::ProofOfWork {
                bits,
                done: found.is_some(),
                elapsed_ms: ms(started.elapsed()),
            });
        }
        found
            .map(|_| op)
            .ok_or_else(|| "the node is stopping".to_string())
    })
    .await
    .map_err(|e| format!("proof of work failed: {e}"))?
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A change of who the roster admits (a revocation, the first invitation)
/// reaches the transport this long after it is folded (the first answer,
/// at start, at once): the op that made it is being broadcast meanwhile,
/// so the node it shuts out hears it before its links close, and its own
/// node refuses its next ops with the reason.
pub const ROSTER_TELL_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// Most ops one history page looks at (matching or not).
pub const HISTORY_SCAN_MAX: usize = 4096;

/// One op as [`crate::Node::history`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryOp {
    /// The op's id.
    pub id: OpId,
    /// Who wrote and signed it.
    pub author: NodeId,
    /// Its place in its author's log, from 1.
    pub seq: u64,
    /// Its Lamport time (history is in `(lamport, author, seq)` order).
    pub lamport: u64,
    /// The author's wall clock when writing, milliseconds since the Unix
    /// epoch (for display only).
    pub wall_ms: u64,
    /// The applet it is for.
    pub applet: String,
    /// The applet's kind of op.
    pub kind: u16,
    /// The body opened with the room key (`None` if it does not open).
    pub body: Option<Vec<u8>>,
    /// For a direct message: its recipient (in the clear on every node).
    pub dm_to: Option<NodeId>,
    /// For a direct message to this node: its text, opened and its sender
    /// checked (nobody else, its sender included, can open it).
    pub dm_text: Option<Vec<u8>>,
}

/// The log's state, as [`crate::Node::log_state`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogState {
    /// The hash of every applet's folded state (see
    /// [`crate::proto::oplog::Folder::state_hash`]): equal on nodes holding the same ops.
    pub state_hash: [u8; 32],
    /// The hash of the frontier (each author's chain head; what
    /// anti-entropy compares first).
    pub frontier_hash: [u8; 32],
    /// Ops held (chained).
    pub ops: u64,
    /// Authors in the frontier.
    pub authors: usize,
    /// Authors flagged for equivocation.
    pub equivocators: usize,
    /// Whether ops are stored durably (false: memory only).
    pub durable: bool,
    /// Ops applied when the node started (after its snapshot, if any).
    pub replayed_at_start: u64,
    /// Ops covered by the newest snapshot, if there is one.
    pub snapshot_ops: Option<u64>,
}

/// What the op-log actor hears besides peers' sync messages.
pub(crate) enum OpLogCtl {
    NeighborUp(NodeId),
    NeighborDown(NodeId),
    /// Ops that came by broadcast.
    Ops(Vec<SignedOp>),
    Publish {
        applet: String,
        kind: u16,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<OpId, String>>,
    },
    History {
        applet: Option<String>,
        limit: usize,
        reply: oneshot::Sender<Vec<HistoryOp>>,
    },
    /// Up to `limit` ops after `cursor` in fold order (of `applet`, if
    /// given), with the cursor to ask from next (`None`: the end).
    HistoryPage {
        applet: Option<String>,
        cursor: Option<FoldKey>,
        limit: usize,
        reply: oneshot::Sender<(Vec<HistoryOp>, Option<FoldKey>)>,
    },
    State(oneshot::Sender<LogState>),
    /// Runs a read-only query against the folded applet states.
    Query(Box<dyn FnOnce(&OpLog) + Send>),
    /// Write a snapshot now; the reply is the ops it covers.
    Snapshot(oneshot::Sender<Result<u64, String>>),
    Panic,
}

pub(crate) struct OpLogActor {
    pub(crate) identity: Arc<Identity>,
    pub(crate) seal_key: [u8; 32],
    /// The room's root, if it names one (the fold's [`OpLog::rooted`]).
    root: Option<NodeId>,
    pub(crate) replica: Replica,
    pub(crate) store: Option<Arc<Store>>,
    pub(crate) clock: Clock,
    pub(crate) timers: Timers<sync::Timer>,
    pub(crate) net: mpsc::Receiver<sync::Input>,
    pub(crate) ctl: mpsc::UnboundedReceiver<OpLogCtl>,
    pub(crate) transport: mpsc::UnboundedSender<TransportCmd>,
    pub(crate) broadcast: mpsc::UnboundedSender<BroadcastCtl>,
    pub(crate) bus: broadcast::Sender<Event>,
    pub(crate) membership: mpsc::UnboundedSender<MembershipCtl>,
    pub(crate) cancel: CancellationToken,
    started: bool,
    /// The state mark's publisher (nothing is hashed while nothing moved).
    state_marker: StateMarker,
    state_tick: Option<Time>,
    /// The applets' notices that held at the last look (each is raised
    /// once per time it comes to hold). Kept over a restart after a
    /// panic, so nothing is raised twice.
    notices: NoticeBoard,
    /// What the roster admits, as last told to the transport.
    roster_watch: RosterWatch,
    /// The fold's count of ops without effect at the last look.
    no_effect_seen: u64,
    /// This node's own ops it told the person have no effect.
    told_no_effect: BTreeSet<OpId>,
    /// Whether the transport was told what the roster admits at all.
    roster_told: bool,
    /// A change of what the roster admits, told to the transport then.
    roster_due: Option<(Time, RosterAdmission)>,
    neighbors: BTreeSet<NodeId>,
    replayed_at_start: u64,
    snapshot_ops: Option<u64>,
    /// A memory-only log's ops, carried over a restart after a panic (with
    /// a store, the restart reads them back from it instead). Without this
    /// a panic would empty the log, and the node's next op would take seq 1
    /// again: an equivocation in every peer's eyes.
    carried: Vec<SignedOp>,
    /// The library user's applets (`Config::applets`).
    custom_applets: Vec<AppletFactory>,
}

fn fresh_replica(
    me: NodeId,
    seal_key: [u8; 32],
    root: Option<NodeId>,
    custom: &[AppletFactory],
) -> Replica {
    let mut all = applets::builtin();
    all.extend(custom.iter().map(AppletFactory::make));
    Replica::new(
        OpLog::new(me, seal_key, all).rooted(root),
        sync::Config::default(),
        fresh_rng(),
    )
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| format!("storage task failed: {e}"))?
        .map_err(|e| e.to_string())
}

impl OpLogActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        identity: Arc<Identity>,
        seal_key: [u8; 32],
        root: Option<NodeId>,
        store: Option<Arc<Store>>,
        clock: Clock,
        net: mpsc::Receiver<sync::Input>,
        ctl: mpsc::UnboundedReceiver<OpLogCtl>,
        transport: mpsc::UnboundedSender<TransportCmd>,
        broadcast: mpsc::UnboundedSender<BroadcastCtl>,
        bus: broadcast::Sender<Event>,
        membership: mpsc::UnboundedSender<MembershipCtl>,
        cancel: CancellationToken,
        custom_applets: Vec<AppletFactory>,
    ) -> OpLogActor {
        OpLogActor {
            replica: fresh_replica(identity.node_id(), seal_key, root, &custom_applets),
            identity,
            seal_key,
            root,
            store,
            clock,
            timers: Timers::new(),
            net,
            ctl,
            transport,
            broadcast,
            bus,
            membership,
            cancel,
            started: false,
            state_marker: StateMarker::default(),
            state_tick: None,
            notices: NoticeBoard::default(),
            roster_watch: RosterWatch::default(),
            roster_told: false,
            no_effect_seen: 0,
            told_no_effect: BTreeSet::new(),
            roster_due: None,
            neighbors: BTreeSet::new(),
            replayed_at_start: 0,
            snapshot_ops: None,
            carried: Vec::new(),
            custom_applets,
        }
    }

    /// Publishes the state mark if the log moved since the last one, and
    /// sets the next tick.
    fn publish_state(&mut self) {
        let now = self.clock.now();
        self.state_tick = Some(now + STATE_PUBLISH_INTERVAL);
        let mut effects = Vec::new();
        self.state_marker.mark(self.replica.oplog(), &mut effects);
        for effect in effects {
            if let Effect::Input(Routed::Membership(input)) = effect {
                let _ = self.membership.send(MembershipCtl::Input(input));
            }
        }
    }

    /// Reads the newest snapshot and every stored op back: the log holds
    /// every op, the fold starts from the snapshot and applies only newer
    /// ops.
    async fn load(&mut self) {
        let Some(store) = &self.store else {
            let carried = std::mem::take(&mut self.carried);
            if !carried.is_empty() {
                let count = carried.len();
                self.replayed_at_start = self.replica.oplog_mut().load_stored(carried, None);
                tracing::info!(ops = count, "memory-only op-log carried over the restart");
            }
            return;
        };
        let loaded = blocking(store, |s| {
            let mut ops = Vec::new();
            s.for_each_op(|_, _, bytes| {
                if let Ok(op) = SignedOp::decode(bytes) {
                    ops.push(op);
                }
                std::ops::ControlFlow::Continue(())
            })?;
            for (_, _, _, bytes) in s.equivocations()? {
                if let Ok(op) = SignedOp::decode(&bytes) {
                    ops.push(op);
                }
            }
            let snapshot = s
                .latest_snapshot()?
                .and_then(|(_, bytes)| codec::decode_state::<Snapshot>(&bytes).ok());
            Ok((ops, snapshot))
        })
        .await;
        match loaded {
            Ok((ops, snapshot)) => {
                let count = ops.len();
                self.snapshot_ops = snapshot.as_ref().map(|s| s.ops);
                self.replayed_at_start =
                    self.replica.oplog_mut().load_stored(ops, snapshot.as_ref());
                tracing::info!(
                    ops = count,
                    replayed = self.replayed_at_start,
                    snapshot = ?self.snapshot_ops,
                    "op-log loaded from the store"
                );
            }
            Err(e) => tracing::error!(error = %e, "cannot read the op-log store"),
        }
    }

    /// Writes a snapshot of the fold; returns the ops it covers.
    async fn snapshot(&mut self) -> Result<u64, String> {
        let Some(store) = &self.store else {
            return Err("this node keeps no store (memory only)".into());
        };
        let snapshot = self.replica.oplog().snapshot();
        let ops = snapshot.ops;
        let bytes = codec::encode_state(&snapshot).map_err(|e| e.to_string())?;
        blocking(store, move |s| s.put_snapshot(ops, &bytes)).await?;
        self.snapshot_ops = Some(ops);
        Ok(ops)
    }

    /// A snapshot when enough ops came since the last one.
    async fn maybe_snapshot(&mut self) {
        if self.store.is_none() {
            return;
        }
        let ops = self.replica.oplog().log().len();
        let interval = SNAPSHOT_EVERY_OPS.max(ops / SNAPSHOT_FRACTION_DIVISOR);
        if ops >= self.snapshot_ops.unwrap_or(0) + interval
            && let Err(e) = self.snapshot().await
        {
            tracing::error!(error = %e, "cannot write a snapshot");
        }
    }

    fn drain(&mut self) -> Vec<IngestReport> {
        let now = self.clock.now();
        let mut reports = Vec::new();
        while let Some(out) = self.replica.poll_output() {
            match out {
                sync::Output::Send { to, msg } => {
                    let _ = self
                        .transport
                        .send(TransportCmd::Send(to, Wire::OpLog(msg)));
                }
                sync::Output::SetTimer { after, timer } => self.timers.set(now + after, timer),
                sync::Output::Ingested(report) => reports.push(report),
            }
        }
        reports
    }

    async fn feed(&mut self, input: sync::Input) {
        self.feed_all(vec![input]).await;
    }

    /// Handles `inputs` in order, sending what each asks for at once, then
    /// stores everything they chained in **one** durable commit (a
    /// catch-up arrives as many `Ops` messages: one fsync per message would
    /// bound it by the disk).
    async fn feed_all(&mut self, inputs: Vec<sync::Input>) {
        let mut merged = IngestReport::default();
        for input in inputs {
            let now = self.clock.now();
            self.replica.handle(now, input);
            for mut report in self.drain() {
                merged.chained.append(&mut report.chained);
                for (author, seq) in report.equivocations {
                    // One fork per author (the earliest seq seen) per commit.
                    match merged.equivocations.iter_mut().find(|(a, _)| *a == author) {
                        Some((_, s)) => *s = (*s).min(seq),
                        None => merged.equivocations.push((author, seq)),
                    }
                }
            }
        }
        self.after_ingest(merged).await;
    }

    /// Stores what `report` chained (and its proofs), then announces it.
    async fn after_ingest(&mut self, report: IngestReport) {
        if report.chained.is_empty() && report.equivocations.is_empty() {
            return;
        }
        let log = self.replica.oplog().log();
        let chained: Vec<VerifiedOp> = report
            .chained
            .iter()
            .filter_map(|id| log.get(id).cloned())
            .collect();
        if let Some(store) = &self.store {
            let mut batch = Batch::default();
            let mut authors = BTreeSet::new();
            for op in &chained {
                let o = op.op();
                authors.insert(o.author);
                batch
                    .ops
                    .push((o.author, o.seq, op.id(), op.signed().encode()));
            }
            for author in authors {
                if let Some((seq, id)) = log.chain_head(&author) {
                    batch.heads.push((author, seq, id));
                }
            }
            for (author, _) in &report.equivocations {
                for p in log.proofs().filter(|p| p.op().author == *author) {
                    let o = p.op();
                    batch
                        .equivocations
                        .push((o.author, o.seq, p.id(), p.signed().encode()));
                }
            }
            if let Err(e) = blocking(store, move |s| s.append(&batch)).await {
                // Held in memory and re-fetched by anti-entropy after a
                // restart; nothing acknowledged is at stake (these are
                // other nodes' ops).
                tracing::error!(error = %e, "cannot store received ops");
            }
        }
        for (author, seq) in &report.equivocations {
            tracing::warn!(author = %author.fmt_short(), seq, "author forked its log (equivocation)");
            let _ = self.bus.send(Event::Equivocation {
                author: *author,
                seq: *seq,
            });
        }
        for op in &chained {
            self.announce(op);
        }
        self.tell_notices();
        self.maybe_snapshot().await;
    }

    /// Asks every applet what it has to tell this node's user now, and
    /// raises (`Event::Notice`) each notice that did not hold at the last
    /// look. Knows no applet: see [`crate::proto::oplog::notice`].
    /// Tells the person about their own ops that have no effect (once
    /// each): looked for only when the fold's count of ops without effect
    /// moved.
    fn tell_no_effect(&mut self) {
        let stats = self.replica.oplog().folder().stats();
        let count = stats.refused + stats.ruled_out + stats.unopened;
        if count == self.no_effect_seen {
            return;
        }
        self.no_effect_seen = count;
        let me = self.identity.node_id();
        let oplog = self.replica.oplog();
        let mut news = Vec::new();
        for (id, reason) in oplog.folder().refusals() {
            if self.told_no_effect.contains(id) {
                continue;
            }
            if let Some(op) = oplog.log().get(id).filter(|op| op.op().author == me) {
                news.push((*id, op.op().applet.clone(), reason.to_string()));
            }
        }
        for (id, applet, reason) in news {
            self.told_no_effect.insert(id);
            let _ = self.bus.send(Event::OpNoEffect { id, applet, reason });
        }
    }

    fn tell_notices(&mut self) {
        self.tell_no_effect();
        if let Some(admission) = self.roster_watch.check(self.replica.oplog()) {
            if self.roster_told {
                // Later changes wait a little (see ROSTER_TELL_DELAY).
                self.roster_due = Some((self.clock.now() + ROSTER_TELL_DELAY, admission));
            } else {
                self.roster_told = true;
                let _ = self.transport.send(TransportCmd::Roster(admission));
            }
        }
        let me = self.identity.node_id();
        let now = self.replica.oplog().folder().notices(&me);
        for (applet, notice) in self.notices.update(now) {
            let _ = self.bus.send(Event::Notice { applet, notice });
        }
    }

    fn announce(&self, op: &VerifiedOp) {
        let o = op.op();
        let body = open_body(&self.seal_key, o).ok();
        if o.applet == dm_applet::NAME
            && let Some(plain) = &body
            && let Ok(sealed) = codec::decode_value::<dm::SealedDm>(plain)
            && sealed.to == self.identity.node_id()
        {
            match dm::open(&self.identity, &sealed) {
                Ok(opened) if opened.from == o.author => {
                    let _ = self.bus.send(Event::Mail {
                        id: op.id(),
                        from: o.author,
                        payload: opened.body,
                        wall_ms: o.wall_ms,
                        lamport: o.lamport,
                        seq: o.seq,
                    });
                }
                _ => {
                    tracing::warn!(id = %op.id().fmt_short(), "a direct message to this node did not open")
                }
            }
        }
        let _ = self.bus.send(Event::Op {
            id: op.id(),
            author: o.author,
            seq: o.seq,
            lamport: o.lamport,
            wall_ms: o.wall_ms,
            applet: o.applet.clone(),
            kind: o.kind,
            body,
        });
    }

    async fn publish(&mut self, applet: &str, kind: u16, body: &[u8]) -> Result<OpId, String> {
        let mut nonce = [0u8; 24];
        rand::fill(&mut nonce[..]);
        let mut draft = self
            .replica
            .oplog()
            .draft(applet, kind, body, crate::node::unix_micros() / 1000, nonce)
            .map_err(|e| e.to_string())?;
        let bits = self.replica.oplog().pow_bits(&draft);
        if bits > 0 {
            draft = make_pow(self.bus.clone(), self.cancel.clone(), draft, bits).await?;
        }
        let op = OpLog::finish(&self.identity, draft).map_err(|e| e.to_string())?;
        // The applet's rules first: a command that breaks one (a vote on a
        // closed poll) never becomes an op.
        self.replica.oplog().check(&op, body)?;
        if let Some(store) = &self.store {
            let o = op.op();
            let batch = Batch {
                ops: vec![(o.author, o.seq, op.id(), op.signed().encode())],
                heads: vec![(o.author, o.seq, op.id())],
                equivocations: Vec::new(),
            };
            blocking(store, move |s| s.append(&batch)).await?;
        }
        let report = self.replica.oplog_mut().ingest(vec![op.clone()]);
        if let Some((_, reason)) = report.refused.first() {
            return Err(reason.clone());
        }
        self.announce(&op);
        self.tell_notices();
        self.maybe_snapshot().await;
        let (reply, _) = oneshot::channel();
        let _ = self.broadcast.send(BroadcastCtl::Publish {
            envelope: Envelope::Op(op.signed().clone()),
            reply,
        });
        Ok(op.id())
    }

    fn history_op(&self, op: &VerifiedOp) -> HistoryOp {
        let o = op.op();
        let body = open_body(&self.seal_key, o).ok();
        let sealed = (o.applet == dm_applet::NAME)
            .then(|| {
                body.as_ref()
                    .and_then(|b| codec::decode_value::<dm::SealedDm>(b).ok())
            })
            .flatten();
        let dm_text = sealed
            .as_ref()
            .filter(|s| s.to == self.identity.node_id())
            .and_then(|s| dm::open(&self.identity, s).ok())
            .filter(|opened| opened.from == o.author)
            .map(|opened| opened.body);
        HistoryOp {
            id: op.id(),
            author: o.author,
            seq: o.seq,
            lamport: o.lamport,
            wall_ms: o.wall_ms,
            applet: o.applet.clone(),
            kind: o.kind,
            body,
            dm_to: sealed.map(|s| s.to),
            dm_text,
        }
    }

    fn history(&self, applet: Option<&str>, limit: usize) -> Vec<HistoryOp> {
        let oplog = self.replica.oplog();
        let ids: Vec<OpId> = oplog.folder().order_ids().collect();
        let mut out: Vec<HistoryOp> = ids
            .iter()
            .rev()
            .filter_map(|id| oplog.log().get(id))
            .filter(|op| applet.is_none_or(|a| op.op().applet == a))
            .take(limit)
            .map(|op| self.history_op(op))
            .collect();
        out.reverse();
        out
    }

    /// One page of [`OpLogCtl::HistoryPage`]. Ops of other applets are
    /// skipped, at most [`HISTORY_SCAN_MAX`] of them per page, so a page
    /// never holds the actor long; the cursor then moves past them.
    fn history_page(
        &self,
        applet: Option<&str>,
        cursor: Option<FoldKey>,
        limit: usize,
    ) -> (Vec<HistoryOp>, Option<FoldKey>) {
        let oplog = self.replica.oplog();
        let mut out = Vec::new();
        let mut last = cursor;
        for (scanned, (key, id)) in oplog.folder().order_after(cursor).enumerate() {
            if out.len() >= limit.max(1) || scanned >= HISTORY_SCAN_MAX {
                return (out, last);
            }
            last = Some(key);
            if let Some(op) = oplog.log().get(&id)
                && applet.is_none_or(|a| op.op().applet == a)
            {
                out.push(self.history_op(op));
            }
        }
        (out, None)
    }

    fn state(&self) -> LogState {
        let oplog = self.replica.oplog();
        LogState {
            state_hash: oplog.state_hash(),
            frontier_hash: oplog.log().frontier_hash(),
            ops: oplog.log().len(),
            authors: oplog.log().frontier().len(),
            equivocators: oplog.log().equivocators().len(),
            durable: self.store.is_some(),
            replayed_at_start: self.replayed_at_start,
            snapshot_ops: self.snapshot_ops,
        }
    }

    async fn on_ctl(&mut self, ctl: OpLogCtl) {
        match ctl {
            OpLogCtl::NeighborUp(p) => {
                self.neighbors.insert(p);
                self.feed(sync::Input::NeighborUp(p)).await;
            }
            OpLogCtl::NeighborDown(p) => {
                self.neighbors.remove(&p);
                self.feed(sync::Input::NeighborDown(p)).await;
            }
            OpLogCtl::Ops(ops) => self.feed(sync::Input::Ops(ops)).await,
            OpLogCtl::Publish {
                applet,
                kind,
                body,
                reply,
            } => {
                let result = self.publish(&applet, kind, &body).await;
                let _ = reply.send(result);
            }
            OpLogCtl::History {
                applet,
                limit,
                reply,
            } => {
                let _ = reply.send(self.history(applet.as_deref(), limit));
            }
            OpLogCtl::HistoryPage {
                applet,
                cursor,
                limit,
                reply,
            } => {
                let _ = reply.send(self.history_page(applet.as_deref(), cursor, limit));
            }
            OpLogCtl::Query(query) => query(self.replica.oplog()),
            OpLogCtl::State(reply) => {
                let _ = reply.send(self.state());
            }
            OpLogCtl::Snapshot(reply) => {
                let result = self.snapshot().await;
                let _ = reply.send(result);
            }
            OpLogCtl::Panic => panic!("injected panic (test hook)"),
        }
    }
}

impl Supervised for OpLogActor {
    const NAME: &'static str = "oplog";

    async fn run(&mut self) {
        if !self.started {
            self.started = true;
            self.load().await;
            self.tell_notices();
            self.feed(sync::Input::Start).await;
            for p in self.neighbors.clone() {
                self.feed(sync::Input::NeighborUp(p)).await;
            }
            self.publish_state();
        }
        loop {
            let deadline = self.timers.next();
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return,
                _ = sleep_until(self.clock, self.state_tick) => self.publish_state(),
                _ = sleep_until(self.clock, self.roster_due.as_ref().map(|(t, _)| *t)) => {
                    if let Some((_, admission)) = self.roster_due.take() {
                        let _ = self.transport.send(TransportCmd::Roster(admission));
                    }
                }
                ctl = self.ctl.recv() => match ctl {
                    None => return,
                    Some(ctl) => self.on_ctl(ctl).await,
                },
                msg = self.net.recv() => match msg {
                    None => return,
                    Some(input) => {
                        // What else is queued already goes in the same commit.
                        let mut inputs = vec![input];
                        while inputs.len() < NET_BATCH_MAX
                            && let Ok(input) = self.net.try_recv()
                        {
                            inputs.push(input);
                        }
                        self.feed_all(inputs).await;
                    }
                },
                _ = sleep_until(self.clock, deadline) => {
                    let now = self.clock.now();
                    while let Some(timer) = self.timers.pop_due(now) {
                        self.feed(sync::Input::Timer(timer)).await;
                    }
                }
            }
        }
    }

    fn restart(&mut self) {
        // The engine is rebuilt from the store at the top of `run`; a
        // memory-only log keeps its verified ops (and proofs) for it.
        if self.store.is_none() {
            let log = self.replica.oplog().log();
            self.carried = log
                .iter()
                .chain(log.proofs())
                .map(|op| op.clone().into_signed())
                .collect();
        }
        self.replica = fresh_replica(
            self.identity.node_id(),
            self.seal_key,
            self.root,
            &self.custom_applets,
        );
        self.timers.clear();
        self.started = false;
        self.state_marker.forget();
    }
}
