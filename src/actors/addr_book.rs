//! The store's address book: peers this node has linked to, kept over a
//! restart so that a node with no seed and no discovery (`--no-discovery`,
//! or beacons that do not cross the network) finds its room again.
//!
//! ## Writing
//!
//! When a link comes up, the transport actor hands the peer's addresses, as
//! its in-memory book holds them, to the `AddrBookWriter`: first the
//! address that reached the peer (for an outbound link the address dialled;
//! for an inbound link the connection's source IP with the listening port
//! the peer gave in the handshake, since the source port of an accepted
//! connection is an ephemeral one), then the others known (the ones the
//! peer publishes in membership, when they have arrived). The writer is a task of its own that runs each
//! store call on the blocking pool (redb commits block), one at a time, so
//! writes for a node land in the order they were asked for. It never writes
//! this node's own id.
//!
//! Writes are rate-limited per node (`SaveGate`): a link-up with the
//! same set of addresses as the last write for that node, less than
//! [`ADDR_SAVE_INTERVAL`] ago, is not written, so a flapping link does not
//! write on every flap. The queue to the writer holds [`ADDR_SAVE_QUEUE`]
//! requests; past that a request is dropped (the book is a hint). When the
//! node stops, the writer still writes what is queued.
//!
//! An address that answers a dial for a node as another node is dropped from
//! the in-memory book and, through `AddrBookWriter::stale`, from that
//! node's stored entry (which keeps its update time; an entry left with no
//! address is removed).
//!
//! ## Encoding
//!
//! [`encode_addrs`] is the one encoding of a stored entry: the same text as
//! the membership `addr` key, `ip:port` entries (IPv6 in brackets) separated
//! by single spaces, UTF-8, in the order to try them, at most
//! [`ADDRS_PER_NODE_MAX`] entries and [`ADDRS_BYTES_MAX`] bytes.
//! [`decode_addrs`] skips entries that do not parse and unusable ones (port
//! 0, an unspecified IP).
//!
//! ## Restart
//!
//! `remembered` reads the [`RESTART_DIALS_MAX`] most recently updated
//! entries. The node loads them into the transport's in-memory book and
//! starts one retry loop per peer, newest first; the loops dial at once,
//! side by side (see [`super::discovery`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Supervised;
use super::transport::ADDRS_PER_NODE_MAX;
use crate::id::NodeId;
use crate::store::{ADDR_BOOK_MAX, ADDRS_BYTES_MAX, StorageError, Store};

/// Peers from the store's address book a restarting node dials (the most
/// recently updated ones).
pub const RESTART_DIALS_MAX: usize = 16;
/// A link-up whose addresses were written for the same node less than this
/// long ago is not written again.
pub const ADDR_SAVE_INTERVAL: Duration = Duration::from_secs(60);
/// Requests queued for the writer; past it, requests are dropped.
pub const ADDR_SAVE_QUEUE: usize = 64;

/// Encodes the addresses of one address-book entry (see the module docs).
/// Entries past [`ADDRS_PER_NODE_MAX`], or that would take the text past
/// [`ADDRS_BYTES_MAX`], are left out.
pub fn encode_addrs(addrs: &[SocketAddr]) -> Vec<u8> {
    let mut out = String::new();
    for addr in addrs.iter().take(ADDRS_PER_NODE_MAX) {
        let entry = addr.to_string();
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + entry.len() > ADDRS_BYTES_MAX {
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(&entry);
    }
    out.into_bytes()
}

/// Decodes an address-book entry; entries that do not parse or cannot be
/// dialled are skipped.
pub fn decode_addrs(bytes: &[u8]) -> Vec<SocketAddr> {
    String::from_utf8_lossy(bytes)
        .split(' ')
        .filter_map(|s| s.parse::<SocketAddr>().ok())
        .filter(|a| a.port() != 0 && !a.ip().is_unspecified())
        .take(ADDRS_PER_NODE_MAX)
        .collect()
}

/// Up to [`RESTART_DIALS_MAX`] peers from `store`'s address book, most
/// recently updated first, with their addresses (never `me`, never an entry
/// with no usable address). A store that cannot be read gives none (logged):
/// the book is a hint.
pub(crate) async fn remembered(store: &Arc<Store>, me: NodeId) -> Vec<(NodeId, Vec<SocketAddr>)> {
    let s = store.clone();
    // One more than needed, in case `me` is in there.
    let read = tokio::task::spawn_blocking(move || s.newest_addrs(RESTART_DIALS_MAX + 1)).await;
    let entries = match read {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the address book; no remembered peer dialled");
            return Vec::new();
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the address book failed; no remembered peer dialled");
            return Vec::new();
        }
    };
    entries
        .into_iter()
        .filter(|(node, ..)| *node != me)
        .map(|(node, _, bytes)| (node, decode_addrs(&bytes)))
        .filter(|(_, addrs)| !addrs.is_empty())
        .take(RESTART_DIALS_MAX)
        .collect()
}

/// Which link-ups are written: per node, not the same set of addresses
/// again within [`ADDR_SAVE_INTERVAL`]. Remembers at most
/// [`ADDR_BOOK_MAX`] nodes.
#[derive(Default)]
pub(crate) struct SaveGate {
    last: HashMap<NodeId, (Instant, Vec<SocketAddr>)>,
}

impl SaveGate {
    /// Whether to write `addrs` for `node` now; if so, it is noted as
    /// written at `now`.
    pub(crate) fn admit(&mut self, node: NodeId, addrs: &[SocketAddr], now: Instant) -> bool {
        let mut set = addrs.to_vec();
        set.sort();
        set.dedup();
        if let Some((at, last)) = self.last.get(&node)
            && *last == set
            && now.saturating_duration_since(*at) < ADDR_SAVE_INTERVAL
        {
            return false;
        }
        if !self.last.contains_key(&node) && self.last.len() >= ADDR_BOOK_MAX {
            self.last
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < ADDR_SAVE_INTERVAL);
            if self.last.len() >= ADDR_BOOK_MAX {
                // More nodes linked within one interval than the book
                // holds: not written (the bound holds; so does the limit).
                return false;
            }
        }
        self.last.insert(node, (now, set));
        true
    }

    /// Forgets what was written for `node` (its stored entry changed).
    pub(crate) fn forget(&mut self, node: &NodeId) {
        self.last.remove(node);
    }
}

/// What the writer is asked to do.
pub(crate) enum BookWrite {
    /// A link to `node` came up; `addrs` in the order to try them.
    Linked {
        node: NodeId,
        addrs: Vec<SocketAddr>,
    },
    /// `addrs` answered a dial for `node` as another node.
    Stale {
        node: NodeId,
        addrs: Vec<SocketAddr>,
    },
}

/// The handle of the address-book writer (see the module docs). Cheap to
/// clone; the task ends when every handle is gone or the node stops.
#[derive(Clone)]
pub(crate) struct AddrBookWriter {
    tx: mpsc::Sender<BookWrite>,
}

impl AddrBookWriter {
    /// A writer for `store` and the task that serves it, to be spawned
    /// under the supervisor.
    pub(crate) fn new(
        store: Arc<Store>,
        me: NodeId,
        cancel: CancellationToken,
    ) -> (AddrBookWriter, AddrBookTask) {
        let (tx, inbox) = mpsc::channel(ADDR_SAVE_QUEUE);
        let task = AddrBookTask {
            store,
            me,
            inbox,
            cancel,
            gate: SaveGate::default(),
        };
        (AddrBookWriter { tx }, task)
    }

    /// A link to `node` came up; `addrs` first the one that reached it.
    pub(crate) fn linked(&self, node: NodeId, addrs: Vec<SocketAddr>) {
        self.request(BookWrite::Linked { node, addrs });
    }

    /// `addrs` answered a dial for `node` as another node: drop them.
    pub(crate) fn stale(&self, node: NodeId, addrs: Vec<SocketAddr>) {
        self.request(BookWrite::Stale { node, addrs });
    }

    fn request(&self, write: BookWrite) {
        // `try_send`: the transport actor never waits on the disk.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(write) {
            tracing::debug!("address-book writer busy; an update was dropped");
        }
    }
}

/// The writer's task: owns the store handle and the [`SaveGate`].
pub(crate) struct AddrBookTask {
    store: Arc<Store>,
    me: NodeId,
    inbox: mpsc::Receiver<BookWrite>,
    cancel: CancellationToken,
    gate: SaveGate,
}

impl AddrBookTask {
    async fn apply(&mut self, write: BookWrite) {
        let result = match write {
            BookWrite::Linked { node, addrs } => {
                if node == self.me
                    || addrs.is_empty()
                    || !self.gate.admit(node, &addrs, Instant::now())
                {
                    return;
                }
                let bytes = encode_addrs(&addrs);
                let now_ms = crate::node::unix_micros() / 1000;
                self.blocking(move |s| s.put_addrs(&node, &bytes, now_ms))
                    .await
            }
            BookWrite::Stale { node, addrs } => {
                self.gate.forget(&node);
                self.blocking(move |s| {
                    let Some((updated, bytes)) = s.addrs_of(&node)? else {
                        return Ok(());
                    };
                    let stored = decode_addrs(&bytes);
                    let kept: Vec<SocketAddr> = stored
                        .iter()
                        .copied()
                        .filter(|a| !addrs.contains(a))
                        .collect();
                    if kept.len() == stored.len() {
                        Ok(())
                    } else if kept.is_empty() {
                        s.remove_addrs(&node)
                    } else {
                        s.put_addrs(&node, &encode_addrs(&kept), updated)
                    }
                })
                .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot write the address book");
        }
    }

    /// Runs `f` on the blocking pool and waits for it: a write in progress
    /// is never abandoned, so the store is released when the task ends.
    async fn blocking(
        &self,
        f: impl FnOnce(&Store) -> Result<(), StorageError> + Send + 'static,
    ) -> Result<(), String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| format!("address-book task failed: {e}"))?
            .map_err(|e| e.to_string())
    }
}

impl Supervised for AddrBookTask {
    const NAME: &'static str = "address-book";

    async fn run(&mut self) {
        loop {
            let next = tokio::select! {
                _ = self.cancel.cancelled() => break,
                w = self.inbox.recv() => w,
            };
            let Some(write) = next else { return };
            self.apply(write).await;
        }
        // Stopping: what is queued (at most ADDR_SAVE_QUEUE requests) is
        // still written, so a link that came up just before a shutdown is
        // remembered.
        while let Ok(write) = self.inbox.try_recv() {
            self.apply(write).await;
        }
    }

    /// Nothing to rebuild: the gate and the queue are kept.
    fn restart(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn addresses_round_trip_through_the_encoding_in_order() {
        let addrs = vec![
            addr("10.0.0.2:9000"),
            addr("[fe80::1]:4000"),
            addr("127.0.0.1:1"),
        ];
        let bytes = encode_addrs(&addrs);
        assert_eq!(bytes, b"10.0.0.2:9000 [fe80::1]:4000 127.0.0.1:1");
        assert_eq!(decode_addrs(&bytes), addrs);
        assert_eq!(
            decode_addrs(b"junk 0.0.0.0:9000 10.0.0.1:0 10.0.0.3:7"),
            vec![addr("10.0.0.3:7")]
        );
    }

    #[test]
    fn the_encoding_stays_within_the_store_limits() {
        let many: Vec<SocketAddr> = (0..100u16)
            .map(|i| {
                SocketAddr::from((
                    [0xfe80, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, i],
                    65535,
                ))
            })
            .collect();
        let bytes = encode_addrs(&many);
        assert!(bytes.len() <= ADDRS_BYTES_MAX);
        assert_eq!(decode_addrs(&bytes), many[..ADDRS_PER_NODE_MAX].to_vec());
    }

    #[test]
    fn a_flapping_link_is_written_once_per_interval() {
        let mut gate = SaveGate::default();
        let t0 = Instant::now();
        let (a, b) = (addr("10.0.0.1:9000"), addr("10.0.0.2:9000"));
        assert!(gate.admit(node(1), &[a, b], t0));
        // The same set, in another order, within the interval: skipped.
        assert!(!gate.admit(node(1), &[b, a], t0 + Duration::from_secs(1)));
        assert!(!gate.admit(node(1), &[a, b], t0 + Duration::from_secs(59)));
        // Another node, or a new address, is written.
        assert!(gate.admit(node(2), &[a], t0 + Duration::from_secs(1)));
        assert!(gate.admit(node(1), &[a], t0 + Duration::from_secs(2)));
        // After the interval, the same set again.
        assert!(gate.admit(node(1), &[a], t0 + Duration::from_secs(62)));
        gate.forget(&node(1));
        assert!(gate.admit(node(1), &[a], t0 + Duration::from_secs(63)));
    }

    #[test]
    fn the_gate_stays_bounded() {
        let mut gate = SaveGate::default();
        let t0 = Instant::now();
        let id = |i: usize| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&(i as u64).to_be_bytes());
            NodeId(b)
        };
        let a = addr("10.0.0.1:9000");
        for i in 0..ADDR_BOOK_MAX {
            assert!(gate.admit(id(i), &[a], t0));
        }
        assert!(
            !gate.admit(id(ADDR_BOOK_MAX), &[a], t0),
            "full within the interval"
        );
        assert!(gate.admit(id(ADDR_BOOK_MAX), &[a], t0 + ADDR_SAVE_INTERVAL));
        assert!(gate.last.len() <= ADDR_BOOK_MAX);
    }

    /// Polls `store` until `check` holds (a deadline, never a bare sleep).
    async fn until(store: &Store, what: &str, check: impl Fn(&Store) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check(store) {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_link_up_writes_the_peers_addresses_but_never_this_nodes_own() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Arc::new(Store::open(dir.path()).expect("opens"));
        let me = node(9);
        let cancel = CancellationToken::new();
        let (writer, mut task) = AddrBookWriter::new(store.clone(), me, cancel.clone());
        let running = tokio::spawn(async move { task.run().await });
        let (a, b) = (addr("10.0.0.1:9000"), addr("10.0.0.2:9000"));

        writer.linked(me, vec![a]);
        writer.linked(node(1), vec![a, b]);
        until(&store, "node 1 written", |s| {
            s.addrs_of(&node(1)).expect("reads").is_some()
        })
        .await;
        let book = store.newest_addrs(10).expect("reads");
        assert_eq!(book.len(), 1, "this node's own id is never written");
        assert_eq!(book[0].0, node(1));
        assert_eq!(decode_addrs(&book[0].2), vec![a, b]);

        // A stale address is dropped from the entry, which keeps its time;
        // an entry left empty is removed.
        writer.stale(node(1), vec![a]);
        until(&store, "a dropped", |s| {
            s.addrs_of(&node(1))
                .expect("reads")
                .is_some_and(|(_, bytes)| decode_addrs(&bytes) == vec![b])
        })
        .await;
        assert_eq!(store.newest_addrs(10).expect("reads")[0].1, book[0].1);
        writer.stale(node(1), vec![b]);
        until(&store, "node 1 removed", |s| {
            s.addrs_of(&node(1)).expect("reads").is_none()
        })
        .await;

        cancel.cancel();
        running.await.expect("the task ends");
    }
}
