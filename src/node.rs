//! [`Node`]: the public handle of a running node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), flashmesh::Error> {
//! use flashmesh::{Config, Node, Room, RoomCode};
//!
//! let room = Room::derive(RoomCode::parse("amber-otter-lamp-mesa-quilt-river-4821")?)?;
//! let node = Node::start(Config::new(room)).await?;
//! let mut events = node.subscribe();
//! node.broadcast(b"hello, room".to_vec()).await?;
//! while let Ok(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! node.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Lifecycle
//!
//! [`Node::start`] binds the TCP port and the discovery port, then spawns
//! the actors (see [`crate::actors`]). [`Node::shutdown`] is graceful: the
//! node tells its neighbours it leaves (they mark it left at once), the
//! links flush and close, then every task is stopped; each step is bounded
//! in time, after which the next is forced. Dropping the last `Node` handle
//! without `shutdown` stops every task at once, sending nothing: to the
//! room the node has crashed, and failure detection will mark it dead.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::actors::addr_book::{self, AddrBookWriter};
use crate::actors::beacon::{Discovery, DiscoveryConfig, DiscoveryStats, Found};
use crate::actors::discovery::{SeedLoop, Target};
use crate::actors::membership::{ADDR_KEY, MembershipActor, MembershipCtl, NICK_KEY, format_addrs};
use crate::actors::oplog::{HistoryOp, LogState, OpLogActor, OpLogCtl};
use crate::actors::plumtree::{BroadcastCtl, BroadcastStats, PlumtreeActor};
use crate::actors::router::{BroadcastNet, Router};
use crate::actors::topology::{TopologyActor, TopologyCtl};
use crate::actors::transport::{
    Listener, SHUTDOWN_FLUSH_TIMEOUT, TransportActor, TransportCmd, TransportStats,
    TransportStatsSnapshot,
};
use crate::actors::{self, Clock, ENGINE_NET_INBOX, EVENT_BUS_CAPACITY, Supervised, supervise};
use crate::config::{Config, IdentitySource, check_nick};
use crate::crypto::dm;
use crate::crypto::identity::Identity;
use crate::crypto::room::RoomKeys;
use crate::error::Error;
use crate::event::{Delivery, Event, Member, PeerInfo};
use crate::id::{MessageId, NodeId, OpId};
use crate::join::JoinUri;
use crate::proto::oplog::sync;
use crate::proto::wire::{Envelope, Wire};
use crate::proto::{membership, topology};
use crate::store::Store;

/// Ops per page of [`Node::history`].
pub const HISTORY_PAGE: usize = 256;

/// How long a graceful shutdown waits for the leave to be queued.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a shutdown waits for tasks after cancelling them.
pub const FORCE_TIMEOUT: Duration = Duration::from_secs(2);

/// A running node. Cheap to clone; every clone is the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Arc<Identity>,
    room_code: crate::crypto::room::RoomCode,
    room_root: Option<NodeId>,
    room_tag: String,
    local_addr: SocketAddr,
    published: Vec<SocketAddr>,
    /// Whether the op-log is kept in a store (a data directory was given).
    has_store: bool,
    transport: mpsc::UnboundedSender<TransportCmd>,
    membership: mpsc::UnboundedSender<MembershipCtl>,
    topology: mpsc::UnboundedSender<TopologyCtl>,
    broadcast: mpsc::UnboundedSender<BroadcastCtl>,
    oplog: mpsc::UnboundedSender<OpLogCtl>,
    bus: broadcast::Sender<Event>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    stopped: AtomicBool,
    /// The bus's first receiver, created before any actor ran: handed to
    /// the first [`Node::subscribe`], so it misses nothing from the start.
    first_events: std::sync::Mutex<Option<broadcast::Receiver<Event>>>,
    transport_stats: Arc<TransportStats>,
    broadcast_stats: Arc<BroadcastStats>,
    discovery: Option<Discovery>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: stop everything now (no Leave).
        self.cancel.cancel();
    }
}

/// Counters of a node, for operators and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Links, handshakes and frames.
    pub transport: TransportStatsSnapshot,
    /// Broadcast payloads that were not envelopes.
    pub bad_envelopes: u64,
    /// Peers' broadcasts whose signature did not verify for their claimed
    /// author (dropped: not delivered, not relayed).
    pub bad_signatures: u64,
    /// Direct messages to this node that did not open.
    pub bad_direct: u64,
    /// Beacons this node sent.
    pub beacons_sent: u64,
    /// This room's beacons heard from other nodes.
    pub beacons_received: u64,
    /// Datagrams on the discovery port that were not this room's beacons.
    pub beacons_dropped: u64,
    /// Of those, beacon-sized datagrams that did not open with this room's
    /// key (other rooms' beacons: see [`Event::OtherRoomBeacons`]).
    pub beacons_other_room: u64,
}

impl Node {
    /// Starts a node: loads or creates its identity, binds its ports and
    /// spawns its actors. Must be called inside a tokio runtime.
    ///
    /// The steps, in order: check the configuration, load the identity,
    /// bind the TCP port, open the store, make the channels, start
    /// discovery, open the address book, spawn the engines' actors, spawn
    /// the transport, start the seed loops, then publish this node's
    /// addresses and nick. A step that fails ends the start with an error
    /// that says what failed; what the earlier steps opened is dropped
    /// (closed) with it.
    pub async fn start(config: Config) -> Result<Node, Error> {
        config.validate()?;
        let identity = load_identity(config.identity.clone()).await?;
        let me = identity.node_id();
        let listening = bind_links(config.listen).await?;
        let local_addr = listening.local_addr;
        let published = published_addrs(local_addr);
        let keys = config.room.keys().clone();
        let store = open_store(config.data_dir.as_deref(), &keys, me).await?;
        let has_store = store.is_some();

        let (bus, first_events) = broadcast::channel(EVENT_BUS_CAPACITY);
        let Channels {
            controls,
            engines,
            links,
            found,
            link_count,
        } = Channels::new();
        let wiring = Wiring {
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            clock: Clock::new(),
            bus,
            controls,
        };
        let discovery = start_discovery(
            config.discovery.as_ref(),
            keys.beacon_key,
            me,
            local_addr.port(),
            found,
            link_count.clone(),
            &wiring,
        )
        .await?;
        let (book_writer, remembered) = open_addr_book(store.as_ref(), me, &wiring).await;
        let broadcast_stats = Arc::new(BroadcastStats::default());
        spawn_engines(
            &config,
            &identity,
            &keys,
            store,
            engines,
            broadcast_stats.clone(),
            &wiring,
        );
        let transport_stats = Arc::new(TransportStats::default());
        spawn_transport(
            &identity,
            keys.link_psk,
            listening,
            links,
            book_writer,
            transport_stats.clone(),
            lists(&config),
            &wiring,
        );
        start_seed_loops(&config.seeds, remembered, &link_count, &wiring);

        let Wiring {
            cancel,
            tasks,
            bus,
            controls,
            ..
        } = wiring;
        let node = Node {
            inner: Arc::new(Inner {
                identity,
                room_code: config.room.code().clone(),
                room_root: config.room.root(),
                room_tag: keys.room_tag_hex(),
                local_addr,
                published: published.clone(),
                has_store,
                transport: controls.transport,
                membership: controls.membership,
                topology: controls.topology,
                broadcast: controls.broadcast,
                oplog: controls.oplog,
                bus,
                cancel,
                tasks,
                stopped: AtomicBool::new(false),
                first_events: std::sync::Mutex::new(Some(first_events)),
                transport_stats,
                broadcast_stats,
                discovery,
            }),
        };
        node.set_key(ADDR_KEY, format_addrs(&published).into_bytes())
            .await?;
        if let Some(nick) = &config.nick {
            node.set_nick(nick).await?;
        }
        tracing::info!(id = %me, addr = %local_addr, room = %node.inner.room_tag, "node started");
        Ok(node)
    }

    /// This node's id (its Ed25519 public key).
    pub fn id(&self) -> NodeId {
        self.inner.identity.node_id()
    }

    /// The address the node accepts links on (with the real port when it
    /// was started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The addresses this node publishes to the room.
    pub fn published_addrs(&self) -> &[SocketAddr] {
        &self.inner.published
    }

    /// The room's root, if it names one (see [`crate::config::Room`]).
    pub fn room_root(&self) -> Option<NodeId> {
        self.inner.room_root
    }

    /// The room's public tag (hex), safe for logs and file names.
    pub fn room_tag(&self) -> &str {
        &self.inner.room_tag
    }

    /// Events. The first call returns a receiver holding every event since
    /// the node started (so links and members found while `start` ran are
    /// not missed); later calls get the events from the time of the call. A
    /// subscriber more than [`EVENT_BUS_CAPACITY`] events behind loses the
    /// oldest ones.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        let first = self
            .inner
            .first_events
            .lock()
            .map(|mut f| f.take())
            .unwrap_or_else(|poisoned| poisoned.into_inner().take());
        first.unwrap_or_else(|| self.inner.bus.subscribe())
    }

    fn check_running(&self) -> Result<(), Error> {
        if self.inner.stopped.load(Ordering::Acquire) || self.inner.cancel.is_cancelled() {
            Err(Error::Stopped)
        } else {
            Ok(())
        }
    }

    /// Sends `payload` to every node of the room (ephemeral: not stored).
    /// Delivered at most once per node; not delivered back to this node.
    /// It is signed with this node's key: the other nodes deliver it (as
    /// [`Event::Message`], `from` this node) only if the signature verifies,
    /// and relay it only then. The signature takes 72 bytes of the
    /// broadcast's `payload_bytes_max`.
    pub async fn broadcast(&self, payload: Vec<u8>) -> Result<MessageId, Error> {
        self.ask_broadcast(|reply| BroadcastCtl::Broadcast { payload, reply })
            .await
    }

    async fn publish_envelope(&self, envelope: Envelope) -> Result<MessageId, Error> {
        self.ask_broadcast(|reply| BroadcastCtl::Publish { envelope, reply })
            .await
    }

    /// Sends the Plumtree actor the request `ctl` makes around a reply
    /// channel; the broadcast's id, or why it was not sent.
    async fn ask_broadcast(
        &self,
        ctl: impl FnOnce(oneshot::Sender<Result<MessageId, String>>) -> BroadcastCtl,
    ) -> Result<MessageId, Error> {
        self.check_running()?;
        let (reply, rx) = oneshot::channel();
        self.inner
            .broadcast
            .send(ctl(reply))
            .map_err(|_| Error::Stopped)?;
        rx.await
            .map_err(|_| Error::Stopped)?
            .map_err(Error::Rejected)
    }

    /// Sends `payload` to one node, sealed so that only it can read it and
    /// it can verify it came from this node: over the direct link if there
    /// is one, else through the mesh.
    pub async fn send(&self, to: NodeId, payload: Vec<u8>) -> Result<Delivery, Error> {
        self.check_running()?;
        if to == self.id() {
            return Err(Error::ToSelf);
        }
        let sealed = dm::seal(&self.inner.identity, &to, &payload, &mut rand::rng())?;
        let (reply, rx) = oneshot::channel();
        self.inner
            .transport
            .send(TransportCmd::SendIfLinked {
                to,
                wire: Wire::Direct(sealed.clone()),
                reply,
            })
            .map_err(|_| Error::Stopped)?;
        if rx.await.map_err(|_| Error::Stopped)? {
            return Ok(Delivery::Link);
        }
        self.publish_envelope(Envelope::Direct(sealed)).await?;
        Ok(Delivery::Mesh)
    }

    /// Writes a durable op of `applet` (and applet-defined `kind`) with
    /// `body` (sealed with the room key): returns once it is stored (when
    /// the node has a data directory), then it goes to the room. A store
    /// error (a full disk) refuses it and changes nothing.
    pub async fn publish(&self, applet: &str, kind: u16, body: Vec<u8>) -> Result<OpId, Error> {
        self.check_running()?;
        let (reply, rx) = oneshot::channel();
        self.inner
            .oplog
            .send(OpLogCtl::Publish {
                applet: applet.to_string(),
                kind,
                body,
                reply,
            })
            .map_err(|_| Error::Stopped)?;
        rx.await
            .map_err(|_| Error::Stopped)?
            .map_err(Error::Rejected)
    }

    /// A durable chat line to the room.
    pub async fn chat(&self, text: &str) -> Result<OpId, Error> {
        self.publish(
            crate::applets::chat::NAME,
            crate::applets::chat::KIND_MESSAGE,
            text.as_bytes().to_vec(),
        )
        .await
    }

    /// A durable direct message: sealed to `to`, stored and relayed by
    /// every node, so it reaches `to` later if it is offline now.
    pub async fn mail(&self, to: NodeId, payload: Vec<u8>) -> Result<OpId, Error> {
        if to == self.id() {
            return Err(Error::ToSelf);
        }
        let sealed = dm::seal(&self.inner.identity, &to, &payload, &mut rand::rng())?;
        let body = crate::codec::encode_value(&sealed)?;
        self.publish(
            crate::applets::dm::NAME,
            crate::applets::dm::KIND_MESSAGE,
            body,
        )
        .await
    }

    /// Every op held (of `applet`, if given), oldest first in the room's
    /// total order, as a stream read in pages of [`HISTORY_PAGE`]: a long
    /// log is never copied whole, and ops that arrive while the stream is
    /// read are included when they sort after the page being read. The
    /// stream ends at the newest op, or when the node stops.
    pub fn history(
        &self,
        applet: Option<&str>,
    ) -> impl futures_util::Stream<Item = HistoryOp> + Send + 'static {
        struct Reader {
            oplog: mpsc::UnboundedSender<OpLogCtl>,
            applet: Option<String>,
            cursor: Option<crate::proto::oplog::fold::FoldKey>,
            page: std::collections::VecDeque<HistoryOp>,
            done: bool,
        }
        let reader = Reader {
            oplog: self.inner.oplog.clone(),
            applet: applet.map(str::to_string),
            cursor: None,
            page: Default::default(),
            done: false,
        };
        futures_util::stream::unfold(reader, |mut r| async move {
            loop {
                if let Some(op) = r.page.pop_front() {
                    return Some((op, r));
                }
                if r.done {
                    return None;
                }
                let (reply, rx) = oneshot::channel();
                r.oplog
                    .send(OpLogCtl::HistoryPage {
                        applet: r.applet.clone(),
                        cursor: r.cursor,
                        limit: HISTORY_PAGE,
                        reply,
                    })
                    .ok()?;
                let (ops, next) = rx.await.ok()?;
                r.page.extend(ops);
                r.done = next.is_none();
                r.cursor = next;
            }
        })
    }

    /// The newest `limit` ops (of `applet`, if given), oldest first, in
    /// the room's total order.
    pub async fn history_tail(
        &self,
        applet: Option<&str>,
        limit: usize,
    ) -> Result<Vec<HistoryOp>, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .oplog
            .send(OpLogCtl::History {
                applet: applet.map(str::to_string),
                limit,
                reply,
            })
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Publishes a typed applet op (an announcement, a vote, a queue
    /// join...): the applet's rules are checked against the current state
    /// first, and a refusal ([`Error::Rejected`], with the reason) writes
    /// nothing. Returns the op's id once it is durable.
    pub async fn act(&self, op: &impl crate::applets::AppletOp) -> Result<OpId, Error> {
        let (kind, body) = op.kind_and_body();
        self.publish(op.applet(), kind, body).await
    }

    /// Reads the folded state of the applet `A` named `name`: `read` runs
    /// inside the op-log actor on the current state (keep it short; copy
    /// out what you need). Fails with [`Error::NoApplet`] when no applet of
    /// that name and type is registered.
    pub async fn query<A, R>(
        &self,
        name: &str,
        read: impl FnOnce(&A) -> R + Send + 'static,
    ) -> Result<R, Error>
    where
        A: crate::proto::oplog::fold::Applet + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let name = name.to_string();
        let query = move |oplog: &crate::proto::oplog::OpLog| {
            let state = oplog
                .folder()
                .applet(&name)
                .and_then(|a| a.as_any().downcast_ref::<A>());
            let _ = reply.send(state.map(read).ok_or(name));
        };
        self.inner
            .oplog
            .send(OpLogCtl::Query(Box::new(query)))
            .map_err(|_| Error::Stopped)?;
        rx.await
            .map_err(|_| Error::Stopped)?
            .map_err(|name| Error::NoApplet { name })
    }

    /// The seq of the newest op of `author`'s chain this node holds (0:
    /// none): the revocation point `/revoke` names, so that what this node
    /// has seen of the revoked node keeps its effect.
    pub async fn chain_head(&self, author: NodeId) -> Result<u64, Error> {
        let (reply, rx) = oneshot::channel();
        let query = move |oplog: &crate::proto::oplog::OpLog| {
            let head = oplog.log().chain_head(&author).map_or(0, |(seq, _)| seq);
            let _ = reply.send(head);
        };
        self.inner
            .oplog
            .send(OpLogCtl::Query(Box::new(query)))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// The op-log's state: state hash, frontier hash, op and author counts.
    pub async fn log_state(&self) -> Result<LogState, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .oplog
            .send(OpLogCtl::State(reply))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Writes a snapshot of the room's state now (one is also written every
    /// 1,000 ops): a restart then applies only newer ops. Returns the ops
    /// it covers. A node without a store refuses with [`Error::NoStore`].
    pub async fn snapshot(&self) -> Result<u64, Error> {
        if !self.inner.has_store {
            return Err(Error::NoStore);
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .oplog
            .send(OpLogCtl::Snapshot(reply))
            .map_err(|_| Error::Stopped)?;
        rx.await
            .map_err(|_| Error::Stopped)?
            .map_err(Error::Rejected)
    }

    /// Blocks `node` (`true`) or lifts the block: a blocked node gets no
    /// link with this node (a link it has closes at once, after the node
    /// is told why). Local to this node: the room's state does not change.
    pub async fn block(&self, node: NodeId, block: bool) -> Result<(), Error> {
        self.check_running()?;
        self.inner
            .transport
            .send(TransportCmd::Block(node, block))
            .map_err(|_| Error::Stopped)
    }

    /// This node's blocklist and allowlist (`None`: no allowlist; every
    /// node the room admits may link).
    pub async fn lists(&self) -> Result<(Vec<NodeId>, Option<Vec<NodeId>>), Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .transport
            .send(TransportCmd::Lists(reply))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// The current links.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .transport
            .send(TransportCmd::Peers(reply))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Every other node this node knows of, with liveness and nick.
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .membership
            .send(MembershipCtl::Members(reply))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// The nick of `node` (this node included), if it published one.
    pub async fn nick_of(&self, node: NodeId) -> Result<Option<String>, Error> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .membership
            .send(MembershipCtl::Nick(node, reply))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Publishes this node's nick (trimmed, 1..=32 characters).
    pub async fn set_nick(&self, nick: &str) -> Result<(), Error> {
        let nick = check_nick(nick)?;
        self.set_key(NICK_KEY, nick.into_bytes()).await
    }

    async fn set_key(&self, key: &str, value: Vec<u8>) -> Result<(), Error> {
        self.check_running()?;
        let (reply, rx) = oneshot::channel();
        self.inner
            .membership
            .send(MembershipCtl::Set {
                key: key.to_string(),
                value,
                reply,
            })
            .map_err(|_| Error::Stopped)?;
        rx.await
            .map_err(|_| Error::Stopped)?
            .map_err(Error::Rejected)
    }

    /// A `flashmesh://join?...` invitation: this node's addresses and id,
    /// and the room code when `with_room` (anyone who sees the URI or its QR
    /// code can then join).
    pub fn join_uri(&self, with_room: bool) -> JoinUri {
        JoinUri {
            room: with_room.then(|| self.inner.room_code.clone()),
            peers: self.inner.published.iter().map(|a| a.to_string()).collect(),
            node: Some(self.id()),
            root: self.inner.room_root,
        }
    }

    /// Counters of the transport, broadcast and discovery layers.
    pub fn stats(&self) -> NodeStats {
        let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let b = &self.inner.broadcast_stats;
        let mut stats = NodeStats {
            transport: self.inner.transport_stats.snapshot(),
            bad_envelopes: g(&b.bad_envelopes),
            bad_signatures: g(&b.bad_signatures),
            bad_direct: g(&b.bad_direct),
            ..NodeStats::default()
        };
        if let Some(d) = &self.inner.discovery {
            let d: Arc<DiscoveryStats> = d.stats();
            stats.beacons_sent = g(&d.sent);
            stats.beacons_received = g(&d.received);
            stats.beacons_dropped = g(&d.dropped_bad);
            stats.beacons_other_room = g(&d.other_room);
        }
        stats
    }

    /// Graceful shutdown: tells the room this node leaves, flushes and
    /// closes the links, stops every task. Each step is bounded in time
    /// ([`LEAVE_TIMEOUT`], [`SHUTDOWN_FLUSH_TIMEOUT`], [`FORCE_TIMEOUT`]).
    /// Calling it again does nothing.
    pub async fn shutdown(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let (reply, rx) = oneshot::channel();
        if self
            .inner
            .membership
            .send(MembershipCtl::Leave(reply))
            .is_ok()
        {
            let _ = tokio::time::timeout(LEAVE_TIMEOUT, rx).await;
        }
        let (reply, rx) = oneshot::channel();
        if self
            .inner
            .transport
            .send(TransportCmd::Shutdown(reply))
            .is_ok()
        {
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH_TIMEOUT + LEAVE_TIMEOUT, rx).await;
        }
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(FORCE_TIMEOUT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop in time");
        }
        tracing::info!(id = %self.id().fmt_short(), "node stopped");
    }

    /// Test hook: makes the named actor (`membership`, `topology`,
    /// `broadcast`, `oplog`, `transport` or `discovery`) panic, to exercise
    /// supervision.
    #[doc(hidden)]
    pub fn inject_panic(&self, actor: &str) -> Result<(), Error> {
        let sent = match actor {
            "transport" => self.inner.transport.send(TransportCmd::Panic).is_ok(),
            "discovery" => match &self.inner.discovery {
                Some(d) => {
                    d.inject_panic();
                    true
                }
                None => return Err(Error::Rejected("discovery is off".into())),
            },
            "membership" => self.inner.membership.send(MembershipCtl::Panic).is_ok(),
            "topology" => self.inner.topology.send(TopologyCtl::Panic).is_ok(),
            "broadcast" => self.inner.broadcast.send(BroadcastCtl::Panic).is_ok(),
            "oplog" => self.inner.oplog.send(OpLogCtl::Panic).is_ok(),
            other => return Err(Error::Rejected(format!("no actor named {other}"))),
        };
        if sent { Ok(()) } else { Err(Error::Stopped) }
    }
}

// ---- the steps of `Node::start` ---------------------------------------------

/// What every task of one node shares: its lifetime (the cancel token and
/// the task tracker), its clock and event bus, and every actor's control
/// sender.
struct Wiring {
    cancel: CancellationToken,
    tasks: TaskTracker,
    clock: Clock,
    bus: broadcast::Sender<Event>,
    controls: Controls,
}

impl Wiring {
    /// Spawns `actor` under the supervisor (restarted after a panic,
    /// reported on the bus), tracked so that shutdown awaits it.
    fn spawn<A: Supervised + 'static>(&self, actor: A) {
        self.tasks.spawn(supervise(actor, self.bus.clone()));
    }
}

/// Each actor's control inbox sender. Unbounded: the actors send to each
/// other in cycles, and a bounded cycle can deadlock (see
/// [`crate::actors`], "Channels").
struct Controls {
    transport: mpsc::UnboundedSender<TransportCmd>,
    membership: mpsc::UnboundedSender<MembershipCtl>,
    topology: mpsc::UnboundedSender<TopologyCtl>,
    broadcast: mpsc::UnboundedSender<BroadcastCtl>,
    oplog: mpsc::UnboundedSender<OpLogCtl>,
}

/// What the four engines' actors read: each one's control inbox, and its
/// network inbox (fed by the [`Router`], bounded by [`ENGINE_NET_INBOX`]).
struct EngineInboxes {
    membership: mpsc::UnboundedReceiver<MembershipCtl>,
    membership_net: mpsc::Receiver<membership::Input>,
    topology: mpsc::UnboundedReceiver<TopologyCtl>,
    topology_net: mpsc::Receiver<topology::Input>,
    broadcast: mpsc::UnboundedReceiver<BroadcastCtl>,
    broadcast_net: mpsc::Receiver<BroadcastNet>,
    oplog: mpsc::UnboundedReceiver<OpLogCtl>,
    oplog_net: mpsc::Receiver<sync::Input>,
}

/// What the transport's tasks take: its control inbox, the router its
/// links' readers feed the engines through, the link count it publishes,
/// and the peers discovery finds.
struct LinkInboxes {
    transport: mpsc::UnboundedReceiver<TransportCmd>,
    router: Router,
    link_count: watch::Sender<usize>,
    found: mpsc::UnboundedReceiver<Found>,
}

/// Every channel between one node's tasks, made before any task runs.
struct Channels {
    controls: Controls,
    engines: EngineInboxes,
    links: LinkInboxes,
    /// Where discovery reports the peers it hears.
    found: mpsc::UnboundedSender<Found>,
    /// The transport's link count, read by discovery and the seed loops.
    link_count: watch::Receiver<usize>,
}

impl Channels {
    fn new() -> Channels {
        let (transport_tx, transport) = mpsc::unbounded_channel();
        let (membership_tx, membership) = mpsc::unbounded_channel();
        let (topology_tx, topology) = mpsc::unbounded_channel();
        let (broadcast_tx, broadcast) = mpsc::unbounded_channel();
        let (oplog_tx, oplog) = mpsc::unbounded_channel();
        let (m_net_tx, membership_net) = mpsc::channel(ENGINE_NET_INBOX);
        let (t_net_tx, topology_net) = mpsc::channel(ENGINE_NET_INBOX);
        let (b_net_tx, broadcast_net) = mpsc::channel(ENGINE_NET_INBOX);
        let (o_net_tx, oplog_net) = mpsc::channel(ENGINE_NET_INBOX);
        let (found_tx, found) = mpsc::unbounded_channel();
        let (link_count_tx, link_count) = watch::channel(0usize);
        Channels {
            controls: Controls {
                transport: transport_tx,
                membership: membership_tx,
                topology: topology_tx,
                broadcast: broadcast_tx,
                oplog: oplog_tx,
            },
            engines: EngineInboxes {
                membership,
                membership_net,
                topology,
                topology_net,
                broadcast,
                broadcast_net,
                oplog,
                oplog_net,
            },
            links: LinkInboxes {
                transport,
                router: Router {
                    membership: m_net_tx,
                    topology: t_net_tx,
                    broadcast: b_net_tx,
                    oplog: o_net_tx,
                },
                link_count: link_count_tx,
                found,
            },
            found: found_tx,
            link_count,
        }
    }
}

/// Loads or creates the key file (on the blocking pool), or takes the
/// identity given.
async fn load_identity(source: IdentitySource) -> Result<Arc<Identity>, Error> {
    Ok(match source {
        IdentitySource::KeyFile(path) => Arc::new(
            tokio::task::spawn_blocking(move || Identity::load_or_create(&path))
                .await
                .map_err(|source| Error::Task {
                    task: "loading the key file",
                    source,
                })??,
        ),
        IdentitySource::Ephemeral => Arc::new(Identity::generate()),
        IdentitySource::Given(id) => id,
    })
}

/// The bound TCP listener, and the address it got (with the real port
/// when port 0 was asked for).
struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
}

/// Binds the TCP port links are accepted on.
async fn bind_links(listen: SocketAddr) -> Result<Listening, Error> {
    let failed = |source| Error::Listen {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(failed)?;
    let local_addr = listener.local_addr().map_err(failed)?;
    Ok(Listening {
        listener,
        local_addr,
    })
}

/// Opens the room's op-log store (on the blocking pool) under `data_dir`,
/// in `<room tag>-<short node id>/`; `None` without a data directory.
async fn open_store(
    data_dir: Option<&Path>,
    keys: &RoomKeys,
    me: NodeId,
) -> Result<Option<Arc<Store>>, Error> {
    let Some(root) = data_dir else {
        return Ok(None);
    };
    let dir = root.join(format!("{}-{}", keys.room_tag_hex(), me.fmt_short()));
    let store = tokio::task::spawn_blocking(move || Store::open(&dir))
        .await
        .map_err(|source| Error::Task {
            task: "opening the store",
            source,
        })??;
    Ok(Some(Arc::new(store)))
}

/// Starts beacon discovery when it is on: beacons go out on the discovery
/// port, and the peers heard go to `found`.
async fn start_discovery(
    config: Option<&DiscoveryConfig>,
    beacon_key: [u8; 32],
    me: NodeId,
    tcp_port: u16,
    found: mpsc::UnboundedSender<Found>,
    link_count: watch::Receiver<usize>,
    wiring: &Wiring,
) -> Result<Option<Discovery>, Error> {
    let Some(config) = config else {
        return Ok(None);
    };
    let discovery = Discovery::spawn(
        config.clone(),
        beacon_key,
        me,
        tcp_port,
        found,
        link_count,
        wiring.cancel.child_token(),
        wiring.bus.clone(),
    )
    .await
    .map_err(|source| Error::Discovery {
        port: config.port,
        source,
    })?;
    Ok(Some(discovery))
}

/// The peers remembered from earlier runs: their ids and addresses.
type RememberedPeers = Vec<(NodeId, Vec<SocketAddr>)>;

/// With a store: spawns the address book's writer, and reads the peers
/// remembered from earlier runs (newest first).
async fn open_addr_book(
    store: Option<&Arc<Store>>,
    me: NodeId,
    wiring: &Wiring,
) -> (Option<AddrBookWriter>, RememberedPeers) {
    let Some(store) = store else {
        return (None, Vec::new());
    };
    let (writer, task) = AddrBookWriter::new(store.clone(), me, wiring.cancel.clone());
    wiring.spawn(task);
    (Some(writer), addr_book::remembered(store, me).await)
}

/// Spawns the actors of the four engines: membership, topology, broadcast
/// (Plumtree) and the op-log (which owns the store).
fn spawn_engines(
    config: &Config,
    identity: &Arc<Identity>,
    keys: &RoomKeys,
    store: Option<Arc<Store>>,
    inboxes: EngineInboxes,
    broadcast_stats: Arc<BroadcastStats>,
    wiring: &Wiring,
) {
    let me = identity.node_id();
    let c = &wiring.controls;
    let generation = unix_micros();
    wiring.spawn(MembershipActor::new(
        me,
        config.membership.clone(),
        generation,
        wiring.clock,
        inboxes.membership_net,
        inboxes.membership,
        c.transport.clone(),
        c.topology.clone(),
        wiring.bus.clone(),
        wiring.cancel.clone(),
    ));
    wiring.spawn(TopologyActor::new(
        me,
        config.topology.clone(),
        wiring.clock,
        inboxes.topology_net,
        inboxes.topology,
        c.transport.clone(),
        c.membership.clone(),
        c.broadcast.clone(),
        c.oplog.clone(),
        wiring.cancel.clone(),
    ));
    wiring.spawn(PlumtreeActor::new(
        identity.clone(),
        keys.room_tag,
        config.plumtree.clone(),
        generation,
        wiring.clock,
        inboxes.broadcast_net,
        inboxes.broadcast,
        c.transport.clone(),
        c.oplog.clone(),
        wiring.bus.clone(),
        broadcast_stats,
        wiring.cancel.clone(),
    ));
    wiring.spawn(OpLogActor::new(
        identity.clone(),
        keys.seal_key,
        config.room.root(),
        store,
        wiring.clock,
        inboxes.oplog_net,
        inboxes.oplog,
        c.transport.clone(),
        c.broadcast.clone(),
        wiring.bus.clone(),
        c.membership.clone(),
        wiring.cancel.clone(),
        config.applets.clone(),
    ));
}

/// Spawns the transport: the actor that owns the links, the listener that
/// accepts them, and the task that hands it the peers discovery finds.
/// This node's own blocklist and allowlist, from its configuration.
fn lists(config: &Config) -> crate::net::links::Admission {
    crate::net::links::Admission {
        blocked: config.blocked.iter().copied().collect(),
        allowed: config.allowed.as_ref().map(|a| a.iter().copied().collect()),
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_transport(
    identity: &Arc<Identity>,
    link_psk: [u8; 32],
    listening: Listening,
    inboxes: LinkInboxes,
    book_writer: Option<AddrBookWriter>,
    stats: Arc<TransportStats>,
    lists: crate::net::links::Admission,
    wiring: &Wiring,
) {
    let c = &wiring.controls;
    let listener_stop = wiring.cancel.child_token();
    wiring.spawn(TransportActor::new(
        identity.clone(),
        link_psk,
        listening.local_addr.port(),
        inboxes.transport,
        c.transport.clone(),
        c.topology.clone(),
        inboxes.router,
        wiring.bus.clone(),
        stats,
        inboxes.link_count,
        wiring.cancel.clone(),
        wiring.tasks.clone(),
        listener_stop.clone(),
        book_writer,
        lists,
    ));
    wiring.spawn(Listener {
        listener: listening.listener,
        actor: c.transport.clone(),
        stop: listener_stop,
    });
    wiring.spawn(actors::discovery::ForwardFound {
        found: inboxes.found,
        transport: c.transport.clone(),
        topology: c.topology.clone(),
        cancel: wiring.cancel.clone(),
    });
}

/// One loop per seed peer, then one per remembered peer (newest first),
/// each keeping its target dialled (see [`crate::actors::discovery`]). A
/// remembered peer's addresses go to the transport's book before its loop
/// asks to dial it.
fn start_seed_loops(
    seeds: &[String],
    remembered: RememberedPeers,
    link_count: &watch::Receiver<usize>,
    wiring: &Wiring,
) {
    let transport = &wiring.controls.transport;
    let mut remembered_targets = Vec::new();
    for (node, addrs) in remembered {
        let _ = transport.send(TransportCmd::AddrHint {
            node,
            addrs,
            observed: false,
        });
        remembered_targets.push(Target::Remembered(node));
    }
    let seeds = seeds.iter().cloned().map(Target::Seed);
    for target in seeds.chain(remembered_targets) {
        wiring.spawn(SeedLoop::new(
            target,
            transport.clone(),
            link_count.clone(),
            wiring.cancel.clone(),
        ));
    }
}

/// Where other nodes can reach a node listening on `local`: that address,
/// or, for an unspecified one, every up IPv4 interface address (others
/// first, loopback last) with its port.
fn published_addrs(local: SocketAddr) -> Vec<SocketAddr> {
    if !local.ip().is_unspecified() {
        return vec![local];
    }
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| {
            ifs.into_iter()
                .map(|i| i.ip())
                .filter(|ip| ip.is_ipv4())
                .collect()
        })
        .unwrap_or_default();
    ips.sort_by_key(|ip| (ip.is_loopback(), *ip));
    ips.dedup();
    if ips.is_empty() {
        ips.push(IpAddr::from([127, 0, 0, 1]));
    }
    ips.into_iter()
        .take(crate::actors::membership::ADDRS_PUBLISHED_MAX)
        .map(|ip| SocketAddr::new(ip, local.port()))
        .collect()
}

/// Microseconds since the Unix epoch (0 if the clock is before it): the
/// generation of a fresh membership engine, so a restart starts a higher
/// one, and the first broadcast sequence number, so a restart never reuses
/// one.
pub(crate) fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `d` scaled by a random factor in [0.75, 1.25).
pub(crate) fn jittered(d: Duration) -> Duration {
    use rand::RngExt as _;
    d.mul_f64(rand::rng().random_range(0.75..1.25))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NickError, Room};
    use crate::crypto::room::RoomCode;
    use crate::store::StorageError;

    /// A node on 127.0.0.1:0, discovery off, a fresh identity, no store.
    fn config() -> Config {
        let code = RoomCode::parse("amber-otter-lamp-mesa-quilt-river-4821").expect("a code");
        let mut cfg = Config::new(Room::derive(code).expect("derives"));
        cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.discovery = None;
        cfg
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_in_use_fails_the_start_with_the_stores_own_error() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut cfg = config();
        cfg.identity = IdentitySource::Given(Arc::new(Identity::generate()));
        cfg.data_dir = Some(dir.path().to_path_buf());
        let first = Node::start(cfg.clone()).await.expect("starts");
        let second = Node::start(cfg).await.err();
        assert!(
            matches!(&second, Some(Error::Storage(StorageError::Locked { .. }))),
            "{second:?}"
        );
        assert!(second.is_some_and(|e| {
            e.to_string()
                .contains("in use by another flashmesh process")
        }));
        // The first node is untouched.
        assert_eq!(first.log_state().await.expect("running").ops, 0);
        first.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_configuration_fails_the_start_naming_the_field() {
        let mut cfg = config();
        cfg.topology.degree_min = 0;
        let e = Node::start(cfg).await.err();
        assert!(
            matches!(&e, Some(Error::Config(c)) if c.field == "topology.degree_min"),
            "{e:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_a_caller_can_act_on_are_typed_and_worded_as_before() {
        let node = Node::start(config()).await.expect("starts");
        let me = node.id();
        let to_self = node.send(me, b"hi".to_vec()).await.err();
        assert!(matches!(&to_self, Some(Error::ToSelf)), "{to_self:?}");
        assert_eq!(
            to_self.map(|e| e.to_string()).as_deref(),
            Some("cannot send a direct message to oneself")
        );
        let mail = node.mail(me, b"hi".to_vec()).await.err();
        assert!(matches!(mail, Some(Error::ToSelf)), "{mail:?}");
        let nick = node.set_nick(" ").await.err();
        assert!(
            matches!(&nick, Some(Error::Nick(NickError::Empty))),
            "{nick:?}"
        );
        assert_eq!(
            nick.map(|e| e.to_string()).as_deref(),
            Some("the nickname is empty")
        );
        let query = node
            .query("no-such-applet", |_: &crate::applets::chat::Chat| ())
            .await
            .err();
        assert!(
            matches!(&query, Some(Error::NoApplet { name }) if name == "no-such-applet"),
            "{query:?}"
        );
        let snapshot = node.snapshot().await.err();
        assert!(matches!(snapshot, Some(Error::NoStore)), "{snapshot:?}");
        node.shutdown().await;
        let stopped = node.chat("late").await.err();
        assert!(matches!(stopped, Some(Error::Stopped)), "{stopped:?}");
    }
}
