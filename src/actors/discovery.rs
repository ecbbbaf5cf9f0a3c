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
pub(crate) async fn forward_found(
    mut found: mpsc::UnboundedReceiver<Found>,
    transport: mpsc::UnboundedSender<TransportCmd>,
    topology: mpsc::UnboundedSender<TopologyCtl>,
    cancel: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            f = found.recv() => f,
        };
        let Some(Found { node, addr }) = next else {
            return;
        };
        let _ = transport.send(TransportCmd::AddrHint {
            node,
            addrs: vec![addr],
            observed: true,
        });
        let _ = topology.send(TopologyCtl::Input(topology::Input::MemberAlive(node)));
    }
}

/// Keeps one seed dialled (see the module docs).
pub(crate) async fn seed_loop(
    seed: String,
    transport: mpsc::UnboundedSender<TransportCmd>,
    mut links: watch::Receiver<usize>,
    cancel: CancellationToken,
) {
    let mut backoff = SEED_RETRY_MIN;
    loop {
        match dial_seed(&seed, &transport).await {
            Ok(peer) => {
                tracing::info!(%seed, peer = %peer.fmt_short(), "seed linked");
                let linked_at = Instant::now();
                // Wait until this node has no link at all.
                loop {
                    if *links.borrow_and_update() == 0 {
                        break;
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        changed = links.changed() => if changed.is_err() { return },
                    }
                }
                if linked_at.elapsed() >= SEED_STABLE {
                    backoff = SEED_RETRY_MIN;
                }
            }
            Err(reason) => {
                tracing::info!(%seed, %reason, retry_in = ?backoff, "seed not reached");
            }
        }
        let wait = super::super::node::jittered(backoff);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        backoff = (backoff * 2).min(SEED_RETRY_MAX);
    }
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
