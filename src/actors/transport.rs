//! The transport actor: the TCP listener, dials, the link table, the
//! address book, and one reader and one writer task per link.
//!
//! ## Links
//!
//! A connection becomes a link once its Noise handshake
//! ([`crate::net::link::handshake`]) proves the peer's node id. There
//! is at most one link per peer. When a second connection to a peer
//! completes while a link exists (both sides dialled at once, a seed dialled
//! at two of its addresses, a peer that dialled again), both ends keep the
//! connection with the **lower handshake hash** and close the other. The
//! hash is the same at both ends of a connection and differs between
//! connections, so the two ends agree whatever order they saw the
//! connections in. (A rule such as "the newer one wins" does not: the
//! acceptor and the dialler can see two concurrent connections complete in
//! opposite orders, and each would close the one the other kept.) A stale
//! connection that wins (the peer restarted and its old connection is
//! half-open) is gone at its next write, which the restarted host answers
//! with a reset; the peer's next dial then links. A replaced connection is
//! closed only after [`LINK_RETIRE_GRACE`], so the other end has finished
//! the replacing handshake (and made the same choice) before it sees the old
//! connection end.
//!
//! A replacement is invisible to the engines (the peer stays linked). A
//! dial for a node id that reaches another node (a stale address) is closed
//! and that address is dropped from the book.
//!
//! ## Address book
//!
//! The in-memory book holds, per node, the addresses to try in order:
//! *observed* ones first (a beacon's source, the address a link was dialled
//! at, an accepted link's source IP with the listening port the peer gave in
//! the handshake; an accepted connection's own source port is ephemeral and
//! never recorded), then *published* ones (membership's `addr` key). When a
//! node has a store, each link-up hands the peer's list, the address that
//! reached it first, to the address-book writer
//! (`AddrBookWriter` in [`super::addr_book`]: off the runtime, rate-limited per
//! node, never this node's id), and a stale address is dropped from the
//! stored entry too. At start the node loads the newest stored entries into
//! this book and dials them (`TransportCmd::DialNode`, answered to the
//! asking loop, not to topology).
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

use std::collections::{HashMap, HashSet};
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
use crate::proto::topology;
use crate::proto::wire::Wire;

/// A TCP connect attempt to one address gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Handshakes in progress at once; further inbound connections are closed
/// at once (counted in [`TransportStats::busy_refusals`]).
pub const HANDSHAKES_MAX: usize = 64;
/// Nodes the address book remembers addresses for.
pub const ADDR_BOOK_NODES_MAX: usize = 4096;
/// Addresses remembered per node.
pub const ADDRS_PER_NODE_MAX: usize = 8;
/// How long a graceful shutdown waits for link writers to flush.
pub const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// A link replaced by a second connection to the same peer stays open this
/// long (unused) before it is closed, so that the other end settles on the
/// same connection first (see the module docs).
pub const LINK_RETIRE_GRACE: Duration = Duration::from_secs(2);
/// A failed `accept` (out of file descriptors, say) is retried after this.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Counters of the transport, readable at any time.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub links_accepted: AtomicU64,
    pub links_dialed: AtomicU64,
    pub dials_failed: AtomicU64,
    /// Handshakes that failed: another room, a bad identity, another
    /// version, garbage, a timeout.
    pub handshakes_failed: AtomicU64,
    /// Links closed for oversized, truncated, undecryptable or undecodable
    /// frames.
    pub bad_frames: AtomicU64,
    pub slow_peer_drops: AtomicU64,
    /// Second connections to a linked peer that were closed or replaced.
    pub duplicate_links: AtomicU64,
    pub busy_refusals: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Messages for a peer with no link (dropped).
    pub sends_without_link: AtomicU64,
}

/// A copy of [`TransportStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStatsSnapshot {
    pub links_accepted: u64,
    pub links_dialed: u64,
    pub dials_failed: u64,
    pub handshakes_failed: u64,
    pub bad_frames: u64,
    pub slow_peer_drops: u64,
    pub duplicate_links: u64,
    pub busy_refusals: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub sends_without_link: u64,
}

impl TransportStats {
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

struct Link {
    conn: u64,
    handshake_hash: [u8; 32],
    outbound: bool,
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

/// Where nodes may be reached, observed addresses first.
#[derive(Default)]
struct AddressBook {
    map: HashMap<NodeId, Vec<SocketAddr>>,
}

impl AddressBook {
    fn add(&mut self, node: NodeId, addr: SocketAddr, observed: bool) {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return;
        }
        if !self.map.contains_key(&node) && self.map.len() >= ADDR_BOOK_NODES_MAX {
            return;
        }
        let list = self.map.entry(node).or_default();
        if let Some(pos) = list.iter().position(|a| *a == addr) {
            if observed && pos > 0 {
                list.remove(pos);
                list.insert(0, addr);
            }
            return;
        }
        if observed {
            list.insert(0, addr);
        } else {
            list.push(addr);
        }
        list.truncate(ADDRS_PER_NODE_MAX);
    }

    fn remove(&mut self, node: &NodeId, addr: &SocketAddr) {
        if let Some(list) = self.map.get_mut(node) {
            list.retain(|a| a != addr);
        }
    }

    fn get(&self, node: &NodeId) -> Vec<SocketAddr> {
        self.map.get(node).cloned().unwrap_or_default()
    }
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
    links: HashMap<NodeId, Link>,
    dialing: HashSet<NodeId>,
    /// Peers topology was told are linked (and not since told otherwise):
    /// what a restart must take back, whatever state `links` was left in.
    reported_up: HashSet<NodeId>,
    book: AddressBook,
    /// Writes the addresses of peers that linked to the store (when the
    /// node has one).
    book_writer: Option<AddrBookWriter>,
    handshakes: usize,
    next_conn: u64,
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
    ) -> TransportActor {
        TransportActor {
            me: identity.node_id(),
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
            links: HashMap::new(),
            dialing: HashSet::new(),
            reported_up: HashSet::new(),
            book: AddressBook::default(),
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
                        self.book.add(node, addr, observed);
                    }
                }
            }
            TransportCmd::Peers(reply) => {
                let mut peers: Vec<PeerInfo> = self
                    .links
                    .iter()
                    .map(|(peer, l)| PeerInfo {
                        peer: *peer,
                        outbound: l.outbound,
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
                        self.dialing.remove(&peer);
                        bump(&self.stats.dials_failed);
                        tracing::debug!(peer = %peer.fmt_short(), %reason, "dial failed");
                        if !self.links.contains_key(&peer) {
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
                if self.links.get(&peer).is_some_and(|l| l.conn == conn) {
                    self.close_link(&peer, &reason, false);
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
            self.book.remove(&node, addr);
        }
        if let Some(writer) = &self.book_writer {
            writer.stale(node, stale);
        }
    }

    fn tell_topology(&mut self, input: topology::Input) {
        match &input {
            topology::Input::LinkUp { peer, .. } => {
                self.reported_up.insert(*peer);
            }
            topology::Input::LinkDown(peer) => {
                self.reported_up.remove(peer);
            }
            _ => {}
        }
        let _ = self.topology.send(TopologyCtl::Input(input));
    }

    fn publish_count(&self) {
        self.link_count.send_replace(self.links.len());
    }

    /// Queues `wire` for `to`'s writer; false when there is no link.
    fn send(&mut self, to: NodeId, wire: Wire) -> bool {
        let Some(link) = self.links.get(&to) else {
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
        let Some(link) = self.links.remove(peer) else {
            return;
        };
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

    fn on_dial(&mut self, peer: NodeId) {
        if peer == self.me || self.links.contains_key(&peer) || self.dialing.contains(&peer) {
            if self.links.contains_key(&peer) {
                // Already linked (it dialled us first): topology treats a
                // repeated LinkUp as a no-op but needs an answer to its dial.
                let outbound = self.links.get(&peer).is_some_and(|l| l.outbound);
                self.tell_topology(topology::Input::LinkUp { peer, outbound });
            }
            return;
        }
        let addrs = self.book.get(&peer);
        if addrs.is_empty() {
            bump(&self.stats.dials_failed);
            self.tell_topology(topology::Input::DialFailed(peer));
            return;
        }
        self.dialing.insert(peer);
        self.spawn_dial(addrs, Requester::Topology(peer));
    }

    fn on_dial_node(&mut self, node: NodeId, reply: oneshot::Sender<Result<NodeId, String>>) {
        if node == self.me {
            let _ = reply.send(Err("that node is this node itself".into()));
            return;
        }
        if self.links.contains_key(&node) {
            let _ = reply.send(Ok(node));
            return;
        }
        let addrs = self.book.get(&node);
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
                self.dialing.remove(&expected);
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
            self.book.add(peer, reach, true);
        }
        let replacing = match self.links.get(&peer) {
            None => false,
            Some(old) => {
                bump(&self.stats.duplicate_links);
                if old.handshake_hash < done.handshake_hash {
                    tracing::debug!(peer = %peer.fmt_short(), "second connection: keeping the first");
                    return; // dropping `framed` closes the new connection
                }
                true
            }
        };
        if replacing && let Some(old) = self.links.remove(&peer) {
            self.retire(old);
        }
        if outbound {
            bump(&self.stats.links_dialed);
        } else {
            bump(&self.stats.links_accepted);
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let link = self.spawn_link(conn, peer, outbound, addr, framed, done);
        self.links.insert(peer, link);
        self.publish_count();
        if !replacing {
            tracing::info!(peer = %peer.fmt_short(), %addr, outbound, "link up");
            // Remembered over a restart: the address that reached the peer
            // first (added above), then the others known.
            if let Some(writer) = &self.book_writer {
                writer.linked(peer, self.book.get(&peer));
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
        &self,
        conn: u64,
        peer: NodeId,
        outbound: bool,
        addr: SocketAddr,
        framed: Framed<TcpStream, LengthDelimitedCodec>,
        done: Secured,
    ) -> Link {
        let handshake_hash = done.handshake_hash;
        let (sink, stream) = framed.split();
        let (writer, queue) = mpsc::channel(LINK_SEND_QUEUE);
        let close = self.cancel.child_token();
        let counters = Arc::new(LinkCounters::default());
        let writer_task = self.tasks.spawn(write_loop(
            sink,
            done.sealer,
            queue,
            close.clone(),
            counters.clone(),
            self.stats.clone(),
        ));
        self.tasks.spawn(read_loop(
            stream,
            done.opener,
            peer,
            conn,
            self.router.clone(),
            close.clone(),
            self.self_tx.clone(),
            counters.clone(),
            self.stats.clone(),
        ));
        Link {
            conn,
            handshake_hash,
            outbound,
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
        for (peer, link) in self.links.drain() {
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
        for (_, link) in self.links.drain() {
            link.close.cancel();
        }
    }

    /// After a panic the link table may be half-updated, so every link is
    /// closed (`LinkDown` to topology and on the bus) and the mesh re-forms:
    /// topology dials again from the address book, which is kept, and peers
    /// redial too. Handshakes and dials in flight finish normally and report
    /// back as usual.
    fn restart(&mut self) {
        let peers: Vec<NodeId> = self.links.keys().copied().collect();
        for peer in peers {
            self.close_link(&peer, "the transport restarted after a panic", false);
        }
        // Topology hears of every link it believes in, even one the panic
        // left out of the table.
        let mut up: Vec<NodeId> = self.reported_up.drain().collect();
        up.sort();
        for peer in up {
            self.tell_topology(topology::Input::LinkDown(peer));
        }
        // A dial the panic interrupted would block that peer's dials for
        // good; one still running reports as usual when it ends (topology
        // times its dials out on its own).
        self.dialing.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    #[test]
    fn observed_addresses_are_tried_before_published_ones() {
        let mut book = AddressBook::default();
        let a: SocketAddr = "10.0.0.1:9000".parse().expect("addr");
        let b: SocketAddr = "10.0.0.2:9000".parse().expect("addr");
        let c: SocketAddr = "10.0.0.3:9000".parse().expect("addr");
        book.add(node(1), a, false);
        book.add(node(1), b, false);
        book.add(node(1), c, true);
        book.add(node(1), b, true);
        assert_eq!(book.get(&node(1)), vec![b, c, a]);
        book.remove(&node(1), &c);
        assert_eq!(book.get(&node(1)), vec![b, a]);
    }

    #[test]
    fn the_address_book_ignores_unusable_addresses_and_stays_bounded() {
        let mut book = AddressBook::default();
        book.add(node(1), "10.0.0.1:0".parse().expect("addr"), true);
        book.add(node(1), "0.0.0.0:9000".parse().expect("addr"), true);
        assert!(book.get(&node(1)).is_empty());
        for i in 0..20u16 {
            book.add(node(2), SocketAddr::from(([10, 0, 0, 1], 9000 + i)), false);
        }
        assert_eq!(book.get(&node(2)).len(), ADDRS_PER_NODE_MAX);
    }
}
