//! The transport actor: the TCP listener, dials, the link table, the
//! address book, and one reader and one writer task per link.
//!
//! ## Links and the address book
//!
//! A connection becomes a link once its Noise handshake
//! ([`crate::net::link::handshake`]) proves the peer's node id. Which of
//! two connections to one peer stays, the grace before the loser closes,
//! what topology hears and the order addresses are tried in are the link
//! table's rules ([`crate::net::links`]); this actor carries them out on
//! real connections. A dial for a node id that reaches another node (a
//! stale address) is closed and that address is dropped from the book.
//!
//! When a node has a store, each link-up hands the peer's list, the
//! address that reached it first, to the address-book writer
//! (`AddrBookWriter` in [`super::addr_book`]: off the runtime, rate-limited per
//! node, never this node's id), and a stale address is dropped from the
//! stored entry too. At start the node loads the newest stored entries into
//! the book and dials them (`TransportCmd::DialNode`, answered to the
//! asking loop, not to topology). An accepted connection's own source port
//! is ephemeral and never recorded: the book gets its source IP with the
//! listening port the peer gave in the handshake.
//!
//! ## Closing
//!
//! Closing a link drops its writer's queue sender: the writer sends what is
//! queued, shuts down its half of the connection, then stops the reader. A
//! reader that sees the connection end, or a frame that is oversized,
//! truncated, undecryptable or not one canonical `Wire` value, stops the
//! writer and reports the link closed (bad frames are counted in
//! [`TransportStats::bad_frames`]). A peer whose send queue is full is
//! dropped ([`TransportStats::slow_peer_drops`]).
//!
//! ## Supervision
//!
//! The actor and the accept loop (`Listener`) each run under the
//! supervisor. A restarted transport closes every link (its table may be
//! half-updated after a panic) and keeps its address book; topology and the
//! peers dial again, so the mesh re-forms within a dial round.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::addr_book::AddrBookWriter;
use super::router::Router;
use super::{LINK_SEND_QUEUE, Supervised, topology::TopologyCtl};
use crate::crypto::identity::Identity;
use crate::event::{Event, PeerInfo};
use crate::id::NodeId;
use crate::net::link::{self, LinkError, Opener, Role, Sealer, Secured};
use crate::net::links::{self, Admission, Conn, Dial, LinkTable, RosterAdmission};
pub use crate::net::links::{ADDR_BOOK_NODES_MAX, ADDRS_PER_NODE_MAX, LINK_RETIRE_GRACE};
use crate::proto::topology;
use crate::proto::wire::{Wire, goodbye_reason};

/// A TCP connect attempt to one address gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Handshakes in progress at once; further inbound connections are closed
/// at once (counted in [`TransportStats::busy_refusals`]).
pub const HANDSHAKES_MAX: usize = 64;
/// How long a graceful shutdown waits for link writers to flush.
pub const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// A failed `accept` (out of file descriptors, say) is retried after this.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Counters of the transport, readable at any time.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Inbound connections that became a peer's link (a replacement of an
    /// older link included).
    pub links_accepted: AtomicU64,
    /// Outbound connections that became a peer's link (a replacement of an
    /// older link included).
    pub links_dialed: AtomicU64,
    /// Topology's dials that failed for any reason (no known address,
    /// connect error or timeout, failed handshake, another node answering).
    /// Failed dials of a seed or a given address count in
    /// `handshakes_failed` instead.
    pub dials_failed: AtomicU64,
    /// Handshakes that failed: another room, a bad identity, another
    /// version, garbage, a timeout.
    pub handshakes_failed: AtomicU64,
    /// Links closed for oversized, truncated, undecryptable or undecodable
    /// frames.
    pub bad_frames: AtomicU64,
    /// Links dropped because their send queue was full (the peer reads too
    /// slowly).
    pub slow_peer_drops: AtomicU64,
    /// Second connections to a linked peer that were closed or replaced.
    pub duplicate_links: AtomicU64,
    /// Inbound connections closed unanswered because [`HANDSHAKES_MAX`]
    /// handshakes were in progress.
    pub busy_refusals: AtomicU64,
    /// Frames received on links after the handshake, counted before they
    /// are decrypted.
    pub frames_in: AtomicU64,
    /// Frames written to links.
    pub frames_out: AtomicU64,
    /// Bytes of the frames in `frames_in` (encrypted bodies, without the
    /// 2-byte length header).
    pub bytes_in: AtomicU64,
    /// Bytes of the frames in `frames_out` (encrypted bodies, without the
    /// 2-byte length header).
    pub bytes_out: AtomicU64,
    /// Messages for a peer with no link (dropped).
    pub sends_without_link: AtomicU64,
    /// Connections whose peer was not admitted (revoked, not invited,
    /// blocked, not on the allowlist): told why and closed.
    pub links_denied: AtomicU64,
}

/// A copy of [`TransportStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStatsSnapshot {
    /// Copy of [`TransportStats::links_accepted`].
    pub links_accepted: u64,
    /// Copy of [`TransportStats::links_dialed`].
    pub links_dialed: u64,
    /// Copy of [`TransportStats::dials_failed`].
    pub dials_failed: u64,
    /// Copy of [`TransportStats::handshakes_failed`].
    pub handshakes_failed: u64,
    /// Copy of [`TransportStats::bad_frames`].
    pub bad_frames: u64,
    /// Copy of [`TransportStats::slow_peer_drops`].
    pub slow_peer_drops: u64,
    /// Copy of [`TransportStats::duplicate_links`].
    pub duplicate_links: u64,
    /// Copy of [`TransportStats::busy_refusals`].
    pub busy_refusals: u64,
    /// Copy of [`TransportStats::frames_in`].
    pub frames_in: u64,
    /// Copy of [`TransportStats::frames_out`].
    pub frames_out: u64,
    /// Copy of [`TransportStats::bytes_in`].
    pub bytes_in: u64,
    /// Copy of [`TransportStats::bytes_out`].
    pub bytes_out: u64,
    /// Copy of [`TransportStats::sends_without_link`].
    pub sends_without_link: u64,
    /// Copy of [`TransportStats::links_denied`].
    pub links_denied: u64,
}

impl TransportStats {
    /// Reads every counter; each is read on its own, so the copy is not
    /// taken at one instant.
    pub fn snapshot(&self) -> TransportStatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportStatsSnapshot {
            links_accepted: g(&self.links_accepted),
            links_dialed: g(&self.links_dialed),
            dials_failed: g(&self.dials_failed),
            handshakes_failed: g(&self.handshakes_failed),
            bad_frames: g(&self.bad_frames),
            slow_peer_drops: g(&self.slow_peer_drops),
            duplicate_links: g(&self.duplicate_links),
            busy_refusals: g(&self.busy_refusals),
            links_denied: g(&self.links_denied),
            frames_in: g(&self.frames_in),
            frames_out: g(&self.frames_out),
            bytes_in: g(&self.bytes_in),
            bytes_out: g(&self.bytes_out),
            sends_without_link: g(&self.sends_without_link),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the transport actor is asked to do.
pub(crate) enum TransportCmd {
    /// Topology: open a link to this node (answered by `LinkUp` or
    /// `DialFailed` to topology).
    Dial(NodeId),
    /// A seed: dial this address, whoever answers.
    DialAddr {
        addr: SocketAddr,
        reply: oneshot::Sender<Result<NodeId, String>>,
    },
    /// A remembered peer: dial `node` at the addresses the book has for it
    /// (only `node` may answer). Answered at once when already linked.
    DialNode {
        node: NodeId,
        reply: oneshot::Sender<Result<NodeId, String>>,
    },
    /// Topology: close the link (answered by `LinkDown`).
    Disconnect(NodeId),
    Send(NodeId, Wire),
    /// Send over the link to `to` if there is one; the reply says whether.
    SendIfLinked {
        to: NodeId,
        wire: Wire,
        reply: oneshot::Sender<bool>,
    },
    /// Addresses where `node` may be reached. `observed` ones (a beacon's
    /// source, a link's far end) are tried before published ones.
    AddrHint {
        node: NodeId,
        addrs: Vec<SocketAddr>,
        observed: bool,
    },
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    /// The room's roster, as the op-log folded it: who may link.
    Roster(RosterAdmission),
    /// This node's own lists: block (`true`) or unblock a node.
    Block(NodeId, bool),
    /// This node's blocklist and allowlist (`None`: no allowlist).
    Lists(oneshot::Sender<(Vec<NodeId>, Option<Vec<NodeId>>)>),
    /// Stop accepting, flush and close every link, then reply.
    Shutdown(oneshot::Sender<()>),
    /// Test hook: panic, to exercise supervision.
    Panic,
    // ---- from the transport's own tasks ----
    Inbound(TcpStream, SocketAddr),
    Established(Box<Established>),
    /// An inbound handshake failed.
    HandshakeFailed {
        addr: SocketAddr,
        reason: String,
    },
    DialFailed {
        requester: Requester,
        /// The last address tried.
        addr: SocketAddr,
        reason: String,
        /// Addresses that answered as another node: dropped from the book.
        stale: Vec<SocketAddr>,
    },
    Closed {
        conn: u64,
        peer: NodeId,
        reason: String,
        violation: bool,
    },
}

/// Who asked for a dial, and so who hears how it went.
pub(crate) enum Requester {
    /// Topology, for this node: answered with `LinkUp` or `DialFailed` to
    /// topology.
    Topology(NodeId),
    /// A seed or remembered-peer loop: answered on `reply`. `expect`: the
    /// node that must answer (anyone when `None`).
    Caller {
        expect: Option<NodeId>,
        reply: oneshot::Sender<Result<NodeId, String>>,
    },
}

impl Requester {
    /// The node the dial is for, if it is for one.
    fn expect(&self) -> Option<NodeId> {
        match self {
            Requester::Topology(node) => Some(*node),
            Requester::Caller { expect, .. } => *expect,
        }
    }
}

pub(crate) struct Established {
    outbound: bool,
    addr: SocketAddr,
    framed: Framed<TcpStream, LengthDelimitedCodec>,
    done: Secured,
    /// `None` for an inbound connection.
    requester: Option<Requester>,
    stale: Vec<SocketAddr>,
}

/// A link's tasks and queue (its connection is the table's).
struct Link {
    addr: SocketAddr,
    since: Instant,
    writer: mpsc::Sender<Wire>,
    writer_task: JoinHandle<()>,
    close: CancellationToken,
    counters: Arc<LinkCounters>,
}

#[derive(Default)]
struct LinkCounters {
    frames_in: AtomicU64,
    frames_out: AtomicU64,
}

pub(crate) struct TransportActor {
    pub(crate) me: NodeId,
    pub(crate) identity: Arc<Identity>,
    pub(crate) link_psk: [u8; 32],
    pub(crate) listen_port: u16,
    pub(crate) inbox: mpsc::UnboundedReceiver<TransportCmd>,
    pub(crate) self_tx: mpsc::UnboundedSender<TransportCmd>,
    pub(crate) topology: mpsc::UnboundedSender<TopologyCtl>,
    pub(crate) router: Router,
    pub(crate) bus: broadcast::Sender<Event>,
    pub(crate) stats: Arc<TransportStats>,
    pub(crate) link_count: watch::Sender<usize>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) listener_stop: CancellationToken,
    /// Links, dials under way, what topology was told, the address book.
    table: LinkTable<Link>,
    /// Writes the addresses of peers that linked to the store (when the
    /// node has one).
    book_writer: Option<AddrBookWriter>,
    handshakes: usize,
    next_conn: u64,
}

/// What starting a link's tasks takes from the actor (borrowed apart from
/// its link table, which decides whether to start them).
#[derive(Clone, Copy)]
struct LinkSpawner<'a> {
    tasks: &'a TaskTracker,
    cancel: &'a CancellationToken,
    router: &'a Router,
    self_tx: &'a mpsc::UnboundedSender<TransportCmd>,
    stats: &'a Arc<TransportStats>,
}

/// The accept loop: hands each connection to the actor until `stop`.
/// Supervised on its own (a restart accepts on the same socket).
pub(crate) struct Listener {
    pub(crate) listener: TcpListener,
    pub(crate) actor: mpsc::UnboundedSender<TransportCmd>,
    pub(crate) stop: CancellationToken,
}

impl Supervised for Listener {
    const NAME: &'static str = "listener";

    async fn run(&mut self) {
        loop {
            let accepted = tokio::select! {
                _ = self.stop.cancelled() => return,
                a = self.listener.accept() => a,
            };
            match accepted {
                Ok((stream, addr)) => {
                    if self
                        .actor
                        .send(TransportCmd::Inbound(stream, addr))
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep(ACCEPT_RETRY) => {}
                    }
                }
            }
        }
    }

    fn restart(&mut self) {}
}

impl TransportActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        identity: Arc<Identity>,
        link_psk: [u8; 32],
        listen_port: u16,
        inbox: mpsc::UnboundedReceiver<TransportCmd>,
        self_tx: mpsc::UnboundedSender<TransportCmd>,
        topology: mpsc::UnboundedSender<TopologyCtl>,
        router: Router,
        bus: broadcast::Sender<Event>,
        stats: Arc<TransportStats>,
        link_count: watch::Sender<usize>,
        cancel: CancellationToken,
        tasks: TaskTracker,
        listener_stop: CancellationToken,
        book_writer: Option<AddrBookWriter>,
        lists: Admission,
    ) -> TransportActor {
        let mut table = LinkTable::new(identity.node_id());
        table.set_admission(lists);
        TransportActor {
            me: identity.node_id(),
            table,
            identity,
            link_psk,
            listen_port,
            inbox,
            self_tx,
            topology,
            router,
            bus,
            stats,
            link_count,
            cancel,
            tasks,
            listener_stop,
            book_writer,
            handshakes: 0,
            next_conn: 0,
        }
    }

    /// Handles one command; returns the reply channel of a shutdown.
    fn handle(&mut self, cmd: TransportCmd) -> Option<oneshot::Sender<()>> {
        match cmd {
            TransportCmd::Dial(peer) => self.on_dial(peer),
            TransportCmd::DialAddr { addr, reply } => self.spawn_dial(
                vec![addr],
                Requester::Caller {
                    expect: None,
                    reply,
                },
            ),
            TransportCmd::DialNode { node, reply } => self.on_dial_node(node, reply),
            TransportCmd::Disconnect(peer) => {
                self.close_link(
                    &peer,
                    "closed by this node (links rebalanced, or the peer left)",
                    true,
                );
                self.tell_topology(topology::Input::LinkDown(peer));
            }
            TransportCmd::Send(to, wire) => {
                self.send(to, wire);
            }
            TransportCmd::SendIfLinked { to, wire, reply } => {
                let sent = self.send(to, wire);
                let _ = reply.send(sent);
            }
            TransportCmd::AddrHint {
                node,
                addrs,
                observed,
            } => {
                if node != self.me {
                    for addr in addrs {
                        self.table.book.add(node, addr, observed);
                    }
                }
            }
            TransportCmd::Roster(roster) => {
                let mut admission = self.table.admission().clone();
                admission.roster = roster;
                self.admit(admission);
            }
            TransportCmd::Block(node, block) => {
                let mut admission = self.table.admission().clone();
                if block {
                    admission.blocked.insert(node);
                } else {
                    admission.blocked.remove(&node);
                }
                self.admit(admission);
            }
            TransportCmd::Lists(reply) => {
                let a = self.table.admission();
                let _ = reply.send((
                    a.blocked.iter().copied().collect(),
                    a.allowed.as_ref().map(|l| l.iter().copied().collect()),
                ));
            }
            TransportCmd::Peers(reply) => {
                let mut peers: Vec<PeerInfo> = self
                    .table
                    .iter()
                    .map(|(peer, (conn, l))| PeerInfo {
                        peer: *peer,
                        outbound: conn.outbound,
                        addr: l.addr,
                        up_ms: u64::try_from(l.since.elapsed().as_millis()).unwrap_or(u64::MAX),
                        frames_in: l.counters.frames_in.load(Ordering::Relaxed),
                        frames_out: l.counters.frames_out.load(Ordering::Relaxed),
                    })
                    .collect();
                peers.sort_by_key(|p| p.peer);
                let _ = reply.send(peers);
            }
            TransportCmd::Shutdown(reply) => return Some(reply),
            TransportCmd::Panic => panic!("injected panic (test hook)"),
            TransportCmd::Inbound(stream, addr) => self.on_inbound(stream, addr),
            TransportCmd::Established(est) => {
                self.handshakes = self.handshakes.saturating_sub(1);
                self.on_established(*est);
            }
            TransportCmd::HandshakeFailed { addr, reason } => {
                self.handshakes = self.handshakes.saturating_sub(1);
                self.on_refused(addr, reason, None);
            }
            TransportCmd::DialFailed {
                requester,
                addr,
                reason,
                stale,
            } => {
                self.handshakes = self.handshakes.saturating_sub(1);
                if let Some(node) = requester.expect() {
                    self.forget_stale(node, stale);
                }
                match requester {
                    Requester::Topology(peer) => {
                        bump(&self.stats.dials_failed);
                        tracing::debug!(peer = %peer.fmt_short(), %reason, "dial failed");
                        if self.table.dial_ended(peer, true) {
                            self.tell_topology(topology::Input::DialFailed(peer));
                        }
                    }
                    Requester::Caller { reply, .. } => self.on_refused(addr, reason, Some(reply)),
                }
            }
            TransportCmd::Closed {
                conn,
                peer,
                reason,
                violation,
            } => {
                if violation {
                    bump(&self.stats.bad_frames);
                    tracing::warn!(peer = %peer.fmt_short(), %reason, "link closed: bad frame");
                }
                if let Some((_, link)) = self.table.closed(&peer, conn) {
                    self.end_link(&peer, link, &reason, false);
                    self.tell_topology(topology::Input::LinkDown(peer));
                }
            }
        }
        None
    }

    /// A connection that did not become a link: an inbound handshake, or
    /// a seed's or remembered peer's dial.
    fn on_refused(
        &mut self,
        addr: SocketAddr,
        reason: String,
        reply: Option<oneshot::Sender<Result<NodeId, String>>>,
    ) {
        bump(&self.stats.handshakes_failed);
        tracing::info!(%addr, %reason, "connection refused");
        let _ = self.bus.send(Event::LinkRefused {
            addr,
            reason: reason.clone(),
        });
        if let Some(reply) = reply {
            let _ = reply.send(Err(reason));
        }
    }

    /// Drops addresses that answered a dial for `node` as another node,
    /// from the book and from the store's.
    fn forget_stale(&mut self, node: NodeId, stale: Vec<SocketAddr>) {
        if stale.is_empty() {
            return;
        }
        for addr in &stale {
            self.table.book.remove(&node, addr);
        }
        if let Some(writer) = &self.book_writer {
            writer.stale(node, stale);
        }
    }

    fn tell_topology(&self, input: topology::Input) {
        let _ = self.topology.send(TopologyCtl::Input(input));
    }

    fn publish_count(&self) {
        self.link_count.send_replace(self.table.len());
    }

    /// Queues `wire` for `to`'s writer; false when there is no link.
    fn send(&mut self, to: NodeId, wire: Wire) -> bool {
        let Some((_, link)) = self.table.get(&to) else {
            bump(&self.stats.sends_without_link);
            return false;
        };
        match link.writer.try_send(wire) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                bump(&self.stats.slow_peer_drops);
                tracing::warn!(peer = %to.fmt_short(), "peer too slow: send queue full, dropping the link");
                self.close_link(&to, "too slow: send queue full", false);
                self.tell_topology(topology::Input::LinkDown(to));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Removes the link to `peer`. `flush`: let the writer send what is
    /// queued first (a local decision); otherwise stop both halves now.
    fn close_link(&mut self, peer: &NodeId, reason: &str, flush: bool) {
        if let Some((_, link)) = self.table.remove(peer) {
            self.end_link(peer, link, reason, flush);
        }
    }

    /// Stops a link the table no longer holds and says so on the bus.
    fn end_link(&mut self, peer: &NodeId, link: Link, reason: &str, flush: bool) {
        tracing::debug!(peer = %peer.fmt_short(), reason, "link closed");
        if !flush {
            link.close.cancel();
        }
        // Dropping `link.writer` ends the writer after its queue drains.
        drop(link);
        self.publish_count();
        let _ = self.bus.send(Event::LinkDown {
            peer: *peer,
            reason: reason.to_string(),
        });
    }

    /// Admits as `admission` says from now on: each link it no longer
    /// admits hears why ([`Wire::Goodbye`]) and closes once that is sent.
    fn admit(&mut self, admission: Admission) {
        for ((peer, (_, link)), why) in self.table.set_admission(admission) {
            let reason = why.to_string();
            tracing::info!(peer = %peer.fmt_short(), %reason, "link closed: not admitted");
            let _ = link.writer.try_send(Wire::Goodbye(goodbye_reason(&reason)));
            self.end_link(&peer, link, &reason, true);
            self.tell_topology(topology::Input::LinkDown(peer));
        }
    }

    fn on_dial(&mut self, peer: NodeId) {
        match self.table.dial(peer) {
            Dial::Linked { outbound } => {
                self.tell_topology(topology::Input::LinkUp { peer, outbound })
            }
            Dial::Nothing => {}
            Dial::Denied(why) => {
                tracing::debug!(peer = %peer.fmt_short(), reason = %why, "not dialling");
                self.tell_topology(topology::Input::DialFailed(peer));
            }
            Dial::NoAddress => {
                bump(&self.stats.dials_failed);
                self.tell_topology(topology::Input::DialFailed(peer));
            }
            Dial::Go(addrs) => self.spawn_dial(addrs, Requester::Topology(peer)),
        }
    }

    fn on_dial_node(&mut self, node: NodeId, reply: oneshot::Sender<Result<NodeId, String>>) {
        if node == self.me {
            let _ = reply.send(Err("that node is this node itself".into()));
            return;
        }
        if self.table.get(&node).is_some() {
            let _ = reply.send(Ok(node));
            return;
        }
        let addrs = self.table.book.get(&node);
        if addrs.is_empty() {
            let _ = reply.send(Err(format!("no address known for {}", node.fmt_short())));
            return;
        }
        self.spawn_dial(
            addrs,
            Requester::Caller {
                expect: Some(node),
                reply,
            },
        );
    }

    fn spawn_dial(&mut self, addrs: Vec<SocketAddr>, requester: Requester) {
        self.handshakes += 1;
        let expect = requester.expect();
        let identity = self.identity.clone();
        let psk = self.link_psk;
        let port = self.listen_port;
        let me = self.me;
        let tx = self.self_tx.clone();
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            let mut stale = Vec::new();
            let attempt = dial(addrs, expect, me, &identity, &psk, port, &mut stale);
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = attempt => r,
            };
            let cmd = match result {
                Ok((addr, framed, done)) => TransportCmd::Established(Box::new(Established {
                    outbound: true,
                    addr,
                    framed,
                    done,
                    requester: Some(requester),
                    stale,
                })),
                Err((addr, reason)) => TransportCmd::DialFailed {
                    requester,
                    addr,
                    reason,
                    stale,
                },
            };
            let _ = tx.send(cmd);
        });
    }

    fn on_inbound(&mut self, stream: TcpStream, addr: SocketAddr) {
        if self.handshakes >= HANDSHAKES_MAX {
            bump(&self.stats.busy_refusals);
            tracing::warn!(%addr, "too many handshakes in progress; connection closed");
            return;
        }
        self.handshakes += 1;
        let _ = stream.set_nodelay(true);
        let identity = self.identity.clone();
        let psk = self.link_psk;
        let port = self.listen_port;
        let tx = self.self_tx.clone();
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            // Nothing is written to `stream` before its message 1 has
            // authenticated under the room's PSK; on any handshake error it
            // is dropped, so a stranger's connection closes unanswered.
            let hs = link::handshake(stream, Role::Acceptor, &identity, &psk, port);
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = hs => r,
            };
            let cmd = match result {
                Ok((framed, done)) => TransportCmd::Established(Box::new(Established {
                    outbound: false,
                    addr,
                    framed,
                    done,
                    requester: None,
                    stale: Vec::new(),
                })),
                Err(e) => TransportCmd::HandshakeFailed {
                    addr,
                    reason: e.to_string(),
                },
            };
            let _ = tx.send(cmd);
        });
    }

    fn on_established(&mut self, est: Established) {
        let Established {
            outbound,
            addr,
            framed,
            done,
            requester,
            stale,
        } = est;
        let peer = done.peer;
        let reply = match requester {
            Some(Requester::Topology(expected)) => {
                self.table.dial_ended(expected, false);
                self.forget_stale(expected, stale);
                None
            }
            Some(Requester::Caller { expect, reply }) => {
                if let Some(expected) = expect {
                    self.forget_stale(expected, stale);
                }
                Some(reply)
            }
            None => None,
        };
        if peer == self.me {
            // A seed or stale address that is this node.
            if let Some(reply) = reply {
                let _ = reply.send(Err("that address is this node itself".into()));
            }
            return;
        }
        if let Some(reply) = reply {
            let _ = reply.send(Ok(peer));
        }
        // Remember how to reach the peer: the address we dialled, or the
        // accepted connection's source IP with the port it listens on.
        let reach = if outbound {
            Some(addr)
        } else if done.peer_listen_port != 0 {
            Some(SocketAddr::new(addr.ip(), done.peer_listen_port))
        } else {
            None
        };
        if let Some(reach) = reach {
            self.table.book.add(peer, reach, true);
        }
        if let Err(why) = self.table.admission().check(&peer) {
            // Not admitted: say why on the secured connection, then close.
            let reason = why.to_string();
            bump(&self.stats.links_denied);
            tracing::info!(peer = %peer.fmt_short(), %addr, %reason, "link refused");
            let _ = self.bus.send(Event::LinkRefused {
                addr,
                reason: reason.clone(),
            });
            self.tasks.spawn(say_goodbye(framed, done.sealer, reason));
            return;
        }
        let conn = Conn {
            id: self.next_conn,
            handshake_hash: done.handshake_hash,
            outbound,
        };
        self.next_conn += 1;
        let ctx = LinkSpawner {
            tasks: &self.tasks,
            cancel: &self.cancel,
            router: &self.router,
            self_tx: &self.self_tx,
            stats: &self.stats,
        };
        let verdict = self.table.on_established(peer, conn, || {
            Self::spawn_link(ctx, conn.id, peer, addr, framed, done)
        });
        let replacing = match verdict {
            // Checked above; dropping `framed` closes the connection.
            links::Established::Own => return,
            // Checked above, with the same admission.
            links::Established::Denied(_) => return,
            links::Established::Refused => {
                bump(&self.stats.duplicate_links);
                tracing::debug!(peer = %peer.fmt_short(), "second connection: keeping the first");
                return; // dropping `framed` closes the new connection
            }
            links::Established::Replaced { old } => {
                bump(&self.stats.duplicate_links);
                self.retire(old.1);
                true
            }
            links::Established::Up => false,
        };
        if outbound {
            bump(&self.stats.links_dialed);
        } else {
            bump(&self.stats.links_accepted);
        }
        self.publish_count();
        if !replacing {
            tracing::info!(peer = %peer.fmt_short(), %addr, outbound, "link up");
            // Remembered over a restart: the address that reached the peer
            // first (added above), then the others known.
            if let Some(writer) = &self.book_writer {
                writer.linked(peer, self.table.book.get(&peer));
            }
            self.tell_topology(topology::Input::LinkUp { peer, outbound });
            let _ = self.bus.send(Event::LinkUp {
                peer,
                outbound,
                addr,
            });
        }
    }

    /// Starts the reader and writer of a link.
    fn spawn_link(
        ctx: LinkSpawner<'_>,
        conn: u64,
        peer: NodeId,
        addr: SocketAddr,
        framed: Framed<TcpStream, LengthDelimitedCodec>,
        done: Secured,
    ) -> Link {
        let (sink, stream) = framed.split();
        let (writer, queue) = mpsc::channel(LINK_SEND_QUEUE);
        let close = ctx.cancel.child_token();
        let counters = Arc::new(LinkCounters::default());
        let writer_task = ctx.tasks.spawn(write_loop(
            sink,
            done.sealer,
            queue,
            close.clone(),
            counters.clone(),
            ctx.stats.clone(),
        ));
        ctx.tasks.spawn(read_loop(
            stream,
            done.opener,
            peer,
            conn,
            ctx.router.clone(),
            close.clone(),
            ctx.self_tx.clone(),
            counters.clone(),
            ctx.stats.clone(),
        ));
        Link {
            addr,
            since: Instant::now(),
            writer,
            writer_task,
            close,
            counters,
        }
    }

    /// Closes a replaced link after [`LINK_RETIRE_GRACE`]: closing it at
    /// once could reach the other end before that end has finished the
    /// replacing connection's handshake, and it would see its link drop.
    fn retire(&self, old: Link) {
        let cancel = self.cancel.clone();
        // The writer's sender must live until the end of the grace: once
        // every sender is gone the writer closes the connection.
        let Link { close, writer, .. } = old;
        self.tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(LINK_RETIRE_GRACE) => {}
            }
            close.cancel();
            drop(writer);
        });
    }

    /// Graceful: stop accepting, let every writer flush (bounded by
    /// [`SHUTDOWN_FLUSH_TIMEOUT`]), then close.
    async fn shutdown(&mut self, reply: oneshot::Sender<()>) {
        self.listener_stop.cancel();
        let mut writers = Vec::new();
        let mut closers = Vec::new();
        for (peer, (_, link)) in self.table.drain() {
            let _ = self.bus.send(Event::LinkDown {
                peer,
                reason: "this node is shutting down".into(),
            });
            writers.push(link.writer_task);
            closers.push(link.close);
            // `link.writer` is dropped here: the writer drains and closes.
        }
        self.publish_count();
        let flushed = futures_util::future::join_all(writers);
        if tokio::time::timeout(SHUTDOWN_FLUSH_TIMEOUT, flushed)
            .await
            .is_err()
        {
            tracing::warn!("some links did not flush before the shutdown timeout");
        }
        for close in closers {
            close.cancel();
        }
        let _ = reply.send(());
    }
}

impl Supervised for TransportActor {
    const NAME: &'static str = "transport";

    async fn run(&mut self) {
        loop {
            let cmd = tokio::select! {
                _ = self.cancel.cancelled() => break,
                cmd = self.inbox.recv() => cmd,
            };
            let Some(cmd) = cmd else { break };
            if let Some(reply) = self.handle(cmd) {
                self.shutdown(reply).await;
                break;
            }
        }
        for (_, (_, link)) in self.table.drain() {
            link.close.cancel();
        }
    }

    /// After a panic the link table may be half-updated, so every link is
    /// closed (`LinkDown` to topology and on the bus) and the mesh re-forms:
    /// topology dials again from the address book, which is kept, and peers
    /// redial too. Handshakes and dials in flight finish normally and report
    /// back as usual.
    fn restart(&mut self) {
        // A dial the panic interrupted would block that peer's dials for
        // good, so dials are forgotten too; one still running reports as
        // usual when it ends (topology times its dials out on its own).
        let (links, told) = self.table.reset();
        for (peer, (_, link)) in links {
            self.end_link(&peer, link, "the transport restarted after a panic", false);
        }
        // Topology hears of every link it believes in, even one the panic
        // left out of the table.
        for peer in told {
            self.tell_topology(topology::Input::LinkDown(peer));
        }
        self.publish_count();
    }
}

/// Tries `addrs` in order until one completes a handshake with `expect`
/// (any node when `None`). On failure: the last address and why. Addresses
/// that answered as another node are added to `stale`.
async fn dial(
    addrs: Vec<SocketAddr>,
    expect: Option<NodeId>,
    me: NodeId,
    identity: &Identity,
    psk: &[u8; 32],
    listen_port: u16,
    stale: &mut Vec<SocketAddr>,
) -> Result<(SocketAddr, Framed<TcpStream, LengthDelimitedCodec>, Secured), (SocketAddr, String)> {
    let mut last = (
        SocketAddr::from(([0, 0, 0, 0], 0)),
        "no address".to_string(),
    );
    for addr in addrs {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                last = (addr, format!("connect to {addr}: {e}"));
                continue;
            }
            Err(_) => {
                last = (addr, format!("connect to {addr}: timed out"));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match link::handshake(stream, Role::Dialer, identity, psk, listen_port).await {
            Ok((framed, done)) => {
                if done.peer == me && expect.is_some() {
                    last = (addr, format!("{addr} is this node"));
                    stale.push(addr);
                    continue;
                }
                if expect.is_some_and(|e| e != done.peer) {
                    stale.push(addr);
                    last = (
                        addr,
                        format!(
                            "{addr} is node {}, not the one dialled",
                            done.peer.fmt_short()
                        ),
                    );
                    continue;
                }
                return Ok((addr, framed, done));
            }
            Err(e) => last = (addr, format!("handshake with {addr}: {e}")),
        }
    }
    Err(last)
}

/// Sends one [`Wire::Goodbye`] on a secured connection that does not
/// become a link, then closes it (within [`GOODBYE_TIMEOUT`]).
async fn say_goodbye(
    framed: Framed<TcpStream, LengthDelimitedCodec>,
    mut sealer: Sealer,
    reason: String,
) {
    let Ok(frame) = sealer.seal(&Wire::Goodbye(goodbye_reason(&reason))) else {
        return;
    };
    let (mut sink, _stream) = framed.split();
    let send = async {
        let _ = sink.send(frame).await;
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(GOODBYE_TIMEOUT, send).await;
}

/// Longest a goodbye to a node that is not admitted may take to send.
pub const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<Framed<TcpStream, LengthDelimitedCodec>, Bytes>,
    mut sealer: Sealer,
    mut queue: mpsc::Receiver<Wire>,
    close: CancellationToken,
    counters: Arc<LinkCounters>,
    stats: Arc<TransportStats>,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = close.cancelled() => break,
            w = queue.recv() => w,
        };
        let Some(wire) = next else {
            // Every sender is gone: a graceful close. Flush below.
            break;
        };
        let frame = match sealer.seal(&wire) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot seal a frame; dropping it");
                continue;
            }
        };
        let len = frame.len() as u64;
        if sink.feed(frame).await.is_err() {
            break;
        }
        bump(&counters.frames_out);
        bump(&stats.frames_out);
        stats.bytes_out.fetch_add(len, Ordering::Relaxed);
        if queue.is_empty() && sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    close.cancel();
}

#[allow(clippy::too_many_arguments)]
async fn read_loop(
    mut stream: futures_util::stream::SplitStream<Framed<TcpStream, LengthDelimitedCodec>>,
    mut opener: Opener,
    peer: NodeId,
    conn: u64,
    router: Router,
    close: CancellationToken,
    actor: mpsc::UnboundedSender<TransportCmd>,
    counters: Arc<LinkCounters>,
    stats: Arc<TransportStats>,
) {
    let (reason, violation) = loop {
        let next = tokio::select! {
            biased;
            _ = close.cancelled() => break ("closed".to_string(), false),
            f = stream.next() => f,
        };
        let frame = match next {
            None => break ("the peer closed the link".to_string(), false),
            Some(Err(e)) => {
                let e = link::frame_error(e);
                break (e.to_string(), e.is_protocol_violation());
            }
            Some(Ok(frame)) => frame,
        };
        bump(&counters.frames_in);
        bump(&stats.frames_in);
        stats
            .bytes_in
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        let wire = match opener.open(&frame) {
            Ok(w) => w,
            Err(e) => break (e.to_string(), LinkError::is_protocol_violation(&e)),
        };
        if let Wire::Goodbye(reason) = &wire {
            break (
                format!("the peer ended the link: {}", goodbye_reason(reason)),
                false,
            );
        }
        let delivered = tokio::select! {
            _ = close.cancelled() => false,
            ok = router.dispatch(peer, wire) => ok,
        };
        if !delivered {
            break ("this node is stopping".to_string(), false);
        }
    };
    close.cancel();
    let _ = actor.send(TransportCmd::Closed {
        conn,
        peer,
        reason,
        violation,
    });
}
