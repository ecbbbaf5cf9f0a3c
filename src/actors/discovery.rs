//! Finding peers: what beacons report, and seed peers.
//!
//! A beacon ([`crate::transport::discovery`]) proves a node of this room is
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

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Supervised;
use super::topology::TopologyCtl;
use super::transport::TransportCmd;
use crate::proto::topology;
use crate::transport::discovery::Found;

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

/// Keeps one seed dialled (see the module docs).
pub(crate) struct SeedLoop {
    seed: String,
    transport: mpsc::UnboundedSender<TransportCmd>,
    links: watch::Receiver<usize>,
    cancel: CancellationToken,
    /// Kept over a restart, so a panicking loop does not hammer the seed.
    backoff: Duration,
}

impl SeedLoop {
    pub(crate) fn new(
        seed: String,
        transport: mpsc::UnboundedSender<TransportCmd>,
        links: watch::Receiver<usize>,
        cancel: CancellationToken,
    ) -> SeedLoop {
        SeedLoop {
            seed,
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
            match dial_seed(&self.seed, &self.transport).await {
                Ok(peer) => {
                    tracing::info!(seed = %self.seed, peer = %peer.fmt_short(), "seed linked");
                    let linked_at = Instant::now();
                    // Wait until this node has no link at all.
                    loop {
                        if *self.links.borrow_and_update() == 0 {
                            break;
                        }
                        tokio::select! {
                            _ = self.cancel.cancelled() => return,
                            changed = self.links.changed() => if changed.is_err() { return },
                        }
                    }
                    if linked_at.elapsed() >= SEED_STABLE {
                        self.backoff = SEED_RETRY_MIN;
                    }
                }
                Err(reason) => {
                    tracing::info!(seed = %self.seed, %reason, retry_in = ?self.backoff, "seed not reached");
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
