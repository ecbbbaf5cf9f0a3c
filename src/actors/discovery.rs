//! Finding peers: what beacons report, and seed peers.
//!
//! A beacon ([`crate::actors::beacon`]) proves a node of this room is
//! reachable at the datagram's source address and the TCP port it names:
//! the address goes to the transport's address book (as observed) and the
//! node becomes a dial candidate for topology. Topology decides whether to
//! dial it (only while below its minimum degree, or to swap).
//!
//! A seed (`host:port`) is dialled by address, whoever answers: it is how a
//! node joins when broadcasts do not cross the network. Each seed is
//! resolved again on every attempt (DNS may change), retried with
//! exponential backoff from [`SEED_RETRY_MIN`] to [`SEED_RETRY_MAX`] until
//! it links, and dialled again whenever this node has no link at all. A
//! seed link that drops within [`SEED_STABLE`] does not reset the backoff
//! (a full seed sheds newcomers; they should not hammer it).
//!
//! A remembered peer (from the store's address book, see
//! [`super::addr_book`]) is dialled by the same loop, with the same
//! backoff, but by node id: the transport tries the addresses its book has
//! for that node (only that node may answer; an address that answers as
//! another is dropped from the book and the store), and only while this
//! node has no link at all: once linked, membership and topology find the
//! room's other peers. A wait of [`SEED_STABLE`] or more while linked
//! resets the backoff.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Supervised;
use super::topology::TopologyCtl;
use super::transport::TransportCmd;
use crate::actors::beacon::Found;
use crate::id::NodeId;
use crate::proto::topology;

/// First wait before retrying a seed.
pub const SEED_RETRY_MIN: Duration = Duration::from_secs(1);
/// Longest wait between seed attempts.
pub const SEED_RETRY_MAX: Duration = Duration::from_secs(30);
/// A seed link that lasted this long resets the backoff.
pub const SEED_STABLE: Duration = Duration::from_secs(30);

/// Forwards beacon findings to the transport and topology.
pub(crate) struct ForwardFound {
    pub(crate) found: mpsc::UnboundedReceiver<Found>,
    pub(crate) transport: mpsc::UnboundedSender<TransportCmd>,
    pub(crate) topology: mpsc::UnboundedSender<TopologyCtl>,
    pub(crate) cancel: CancellationToken,
}

impl Supervised for ForwardFound {
    const NAME: &'static str = "discovery-forward";

    async fn run(&mut self) {
        loop {
            let next = tokio::select! {
                _ = self.cancel.cancelled() => return,
                f = self.found.recv() => f,
            };
            let Some(Found { node, addr }) = next else {
                return;
            };
            let _ = self.transport.send(TransportCmd::AddrHint {
                node,
                addrs: vec![addr],
                observed: true,
            });
            let _ = self
                .topology
                .send(TopologyCtl::Input(topology::Input::MemberAlive(node)));
        }
    }

    fn restart(&mut self) {}
}

/// What a [`SeedLoop`] dials.
pub(crate) enum Target {
    /// A configured seed `host:port`, resolved on every attempt; whoever
    /// answers.
    Seed(String),
    /// A peer from the store's address book, dialled by id while this node
    /// has no link.
    Remembered(NodeId),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Seed(seed) => write!(f, "seed {seed}"),
            Target::Remembered(node) => write!(f, "remembered peer {}", node.fmt_short()),
        }
    }
}

/// Keeps one seed or remembered peer dialled (see the module docs).
pub(crate) struct SeedLoop {
    target: Target,
    transport: mpsc::UnboundedSender<TransportCmd>,
    links: watch::Receiver<usize>,
    cancel: CancellationToken,
    /// Kept over a restart, so a panicking loop does not hammer the seed.
    backoff: Duration,
}

impl SeedLoop {
    pub(crate) fn new(
        target: Target,
        transport: mpsc::UnboundedSender<TransportCmd>,
        links: watch::Receiver<usize>,
        cancel: CancellationToken,
    ) -> SeedLoop {
        SeedLoop {
            target,
            transport,
            links,
            cancel,
            backoff: SEED_RETRY_MIN,
        }
    }
}

impl Supervised for SeedLoop {
    const NAME: &'static str = "seeds";

    async fn run(&mut self) {
        loop {
            let result = match &self.target {
                Target::Seed(seed) => dial_seed(seed, &self.transport).await,
                Target::Remembered(node) => {
                    let node = *node;
                    let waiting_since = Instant::now();
                    if !self.until_alone().await {
                        return;
                    }
                    if waiting_since.elapsed() >= SEED_STABLE {
                        self.backoff = SEED_RETRY_MIN;
                    }
                    dial_node(node, &self.transport).await
                }
            };
            match result {
                Ok(peer) => {
                    tracing::info!(dialled = %self.target, peer = %peer.fmt_short(), "linked");
                    let linked_at = Instant::now();
                    if !self.until_alone().await {
                        return;
                    }
                    if linked_at.elapsed() >= SEED_STABLE {
                        self.backoff = SEED_RETRY_MIN;
                    }
                }
                Err(reason) => {
                    tracing::info!(dialled = %self.target, %reason, retry_in = ?self.backoff, "not reached");
                }
            }
            let wait = super::super::node::jittered(self.backoff);
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            self.backoff = (self.backoff * 2).min(SEED_RETRY_MAX);
        }
    }

    fn restart(&mut self) {}
}

impl SeedLoop {
    /// Waits until this node has no link at all; false when the node stops.
    async fn until_alone(&mut self) -> bool {
        loop {
            if *self.links.borrow_and_update() == 0 {
                return true;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return false,
                changed = self.links.changed() => if changed.is_err() { return false },
            }
        }
    }
}

/// Asks the transport to dial `node` at the addresses its book has.
async fn dial_node(
    node: NodeId,
    transport: &mpsc::UnboundedSender<TransportCmd>,
) -> Result<NodeId, String> {
    let (reply, rx) = oneshot::channel();
    transport
        .send(TransportCmd::DialNode { node, reply })
        .map_err(|_| "the node is stopping".to_string())?;
    rx.await.map_err(|_| "the node is stopping".to_string())?
}

/// Resolves `seed` and dials its addresses in turn (IPv4 first).
async fn dial_seed(
    seed: &str,
    transport: &mpsc::UnboundedSender<TransportCmd>,
) -> Result<crate::id::NodeId, String> {
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host(seed)
        .await
        .map_err(|e| format!("cannot resolve {seed}: {e}"))?
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    let mut last = format!("{seed} resolved to no address");
    for addr in addrs {
        let (reply, rx) = oneshot::channel();
        if transport
            .send(TransportCmd::DialAddr { addr, reply })
            .is_err()
        {
            return Err("the node is stopping".into());
        }
        match rx.await {
            Ok(Ok(peer)) => return Ok(peer),
            Ok(Err(e)) => last = e,
            Err(_) => return Err("the node is stopping".into()),
        }
    }
    Err(last)
}
