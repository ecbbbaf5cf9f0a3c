//! Connections between simulated nodes, modelled like TCP connections and
//! kept at each end in the node's [`LinkTable`]: the transport's own table,
//! so which of two connections to a peer wins, the grace before the loser
//! closes and what topology hears are the node's rules, not a copy.
//!
//! * A dial reaches the acceptor after one latency; the acceptor's
//!   handshake completes there (its table decides), and its answer reaches
//!   the dialler after another, where the dialler's completes (its table
//!   decides the same way: the handshake hash is the same at both ends).
//!   A dial to a node that is down or across a partition fails after the
//!   transport's [`CONNECT_TIMEOUT`].
//! * A connection the table refuses closes at once; one it replaces closes
//!   after [`LINK_RETIRE_GRACE`] and carries messages until then.
//! * A close (or a reset) reaches the other end after one latency, and not
//!   across a partition. Data for a connection the receiving end does not
//!   hold is answered with a reset, as TCP does: that is how an end whose
//!   close was lost, or whose peer restarted, finds out.
//! * A crashed node's connections end silently with it; its restart sends a
//!   reset on each connection its peers still hold to the old process.

use crate::actors::transport::CONNECT_TIMEOUT;
use crate::id::NodeId;
use crate::net::links::{Conn, Dial, Established, LINK_RETIRE_GRACE, LinkTable};
use crate::proto::route::Routed;
use crate::proto::topology;

use super::{Ev, Sim, derive};

/// A simulated node's links (no driver state per link).
pub(super) type Links = LinkTable<()>;

use crate::net::links::RosterAdmission;

impl Sim {
    /// Connection `id` as one end sees it: its handshake hash is derived
    /// from the seed, the same at both ends.
    fn conn(&self, id: u64, outbound: bool) -> Conn {
        Conn {
            id,
            handshake_hash: derive(b"flashmesh/sim/handshake-hash", self.cfg.seed, &[id]),
            outbound,
        }
    }

    /// The connection `node` sends to `peer` on.
    pub(super) fn conn_to(&self, node: usize, peer: &NodeId) -> Option<u64> {
        self.nodes[node].links.get(peer).map(|(c, ())| c.id)
    }

    /// Whether `node`'s end of connection `conn` to `peer` is open: its
    /// link, or one it is retiring.
    pub(super) fn holds(&self, node: usize, peer: usize, conn: u64) -> bool {
        self.conn_to(node, &self.nodes[peer].id) == Some(conn)
            || self.retiring.contains_key(&(node, conn))
    }

    /// Topology at `from` asks for a link to `peer`. Returns topology's
    /// answer when it is due at once (already linked).
    pub(super) fn dial(&mut self, from: usize, peer: NodeId) -> Option<Routed> {
        match self.nodes[from].links.dial_by_id(peer) {
            Dial::Linked { outbound } => {
                return Some(Routed::Topology(topology::Input::LinkUp { peer, outbound }));
            }
            Dial::Nothing | Dial::NoAddress => return None,
            Dial::Denied(_) => return Some(Routed::Topology(topology::Input::DialFailed(peer))),
            Dial::Go(_) => {}
        }
        let incarnation = self.nodes[from].incarnation;
        match self.index.get(&peer).copied() {
            Some(to) if self.nodes[to].up && self.reachable(from, to) => {
                let conn = self.next_conn;
                self.next_conn += 1;
                let t = self.arrival(from, to, false);
                self.at(
                    t,
                    Ev::DialArrive {
                        from,
                        to,
                        conn,
                        incarnation,
                    },
                );
            }
            _ => self.at(
                self.now() + CONNECT_TIMEOUT,
                Ev::DialFailed {
                    node: from,
                    incarnation,
                    peer,
                },
            ),
        }
        None
    }

    /// A dial from `from` (in its `incarnation`) reaches `to`.
    pub(super) fn dial_arrive(&mut self, from: usize, to: usize, conn: u64, incarnation: u32) {
        let peer = self.nodes[from].id;
        if !self.nodes[to].up || !self.reachable(from, to) {
            // Went down or got cut off while the dial was on its way.
            self.at(
                self.now() + CONNECT_TIMEOUT,
                Ev::DialFailed {
                    node: from,
                    incarnation,
                    peer: self.nodes[to].id,
                },
            );
            return;
        }
        let c = self.conn(conn, false);
        let verdict = self.nodes[to].links.on_established(peer, c, || ());
        let t = self.arrival(to, from, false);
        self.at(
            t,
            Ev::DialAck {
                acceptor: to,
                dialer: from,
                conn,
                incarnation,
            },
        );
        self.settle(to, from, conn, false, verdict);
    }

    /// The acceptor's answer reaches the dialler.
    pub(super) fn dial_ack(&mut self, acceptor: usize, dialer: usize, conn: u64, incarnation: u32) {
        let n = &self.nodes[dialer];
        if !n.up || n.incarnation != incarnation {
            return;
        }
        let peer = self.nodes[acceptor].id;
        if !self.reachable(acceptor, dialer) {
            // The answer is lost in a partition: the dial fails.
            self.dial_failed(dialer, incarnation, peer);
            return;
        }
        self.nodes[dialer].links.dial_ended(peer, false);
        let c = self.conn(conn, true);
        let verdict = self.nodes[dialer].links.on_established(peer, c, || ());
        self.settle(dialer, acceptor, conn, true, verdict);
    }

    /// `node`'s dial to `peer` failed.
    pub(super) fn dial_failed(&mut self, node: usize, incarnation: u32, peer: NodeId) {
        let n = &self.nodes[node];
        if !n.up || n.incarnation != incarnation {
            return;
        }
        if self.nodes[node].links.dial_ended(peer, true) {
            self.feed(node, Routed::Topology(topology::Input::DialFailed(peer)));
        }
    }

    /// Carries out what `node`'s table decided about connection `conn` to
    /// `peer`.
    fn settle(
        &mut self,
        node: usize,
        peer: usize,
        conn: u64,
        outbound: bool,
        verdict: Established<()>,
    ) {
        match verdict {
            Established::Up => {
                let peer = self.nodes[peer].id;
                self.feed(
                    node,
                    Routed::Topology(topology::Input::LinkUp { peer, outbound }),
                );
            }
            Established::Replaced { old: (old, ()) } => {
                self.retiring.insert((node, old.id), peer);
                let incarnation = self.nodes[node].incarnation;
                self.at(
                    self.now() + LINK_RETIRE_GRACE,
                    Ev::Retire {
                        node,
                        incarnation,
                        conn: old.id,
                    },
                );
            }
            Established::Refused | Established::Own | Established::Denied(_) => {
                self.send_close(node, peer, conn)
            }
        }
    }

    /// `from` closes (or resets) its end of `conn`; the other end hears it
    /// after one latency unless a partition is in the way.
    pub(super) fn send_close(&mut self, from: usize, to: usize, conn: u64) {
        if self.reachable(from, to) {
            let t = self.arrival(from, to, false);
            self.at(t, Ev::Close { from, to, conn });
        }
    }

    /// A close or reset from `from` reaches `to`.
    pub(super) fn close_arrive(&mut self, from: usize, to: usize, conn: u64) {
        if !self.nodes[to].up || !self.reachable(from, to) {
            return;
        }
        if self.retiring.remove(&(to, conn)).is_some() {
            return;
        }
        let peer = self.nodes[from].id;
        if self.nodes[to].links.closed(&peer, conn).is_some() {
            self.feed(to, Routed::Topology(topology::Input::LinkDown(peer)));
        }
    }

    /// The grace of a replaced connection is over: `node` closes it.
    pub(super) fn retire(&mut self, node: usize, incarnation: u32, conn: u64) {
        let n = &self.nodes[node];
        if !n.up || n.incarnation != incarnation {
            return;
        }
        if let Some(peer) = self.retiring.remove(&(node, conn)) {
            self.send_close(node, peer, conn);
        }
    }

    /// Topology at `from` closes its link to `peer`; returns the `LinkDown`
    /// its own topology hears, for the caller's task queue (the driver
    /// contract: the engine's outbox is drained before it gets new input).
    pub(super) fn disconnect(&mut self, from: usize, peer: NodeId) -> Routed {
        if let (Some((conn, ())), Some(&to)) =
            (self.nodes[from].links.remove(&peer), self.index.get(&peer))
        {
            self.send_close(from, to, conn.id);
        }
        Routed::Topology(topology::Input::LinkDown(peer))
    }

    /// Node `i` admits as its roster now says (the node's op-log tells its
    /// transport the same): the links it no longer admits close; returns
    /// the `LinkDown`s its topology hears.
    pub(super) fn admit(&mut self, i: usize, roster: RosterAdmission) -> Vec<Routed> {
        let mut admission = self.nodes[i].links.admission().clone();
        admission.roster = roster;
        let gone = self.nodes[i].links.set_admission(admission);
        gone.into_iter()
            .map(|((peer, (conn, ())), _)| {
                if let Some(&to) = self.index.get(&peer) {
                    self.send_close(i, to, conn.id);
                }
                Routed::Topology(topology::Input::LinkDown(peer))
            })
            .collect()
    }

    /// Node `i` crashed: its ends of every connection are gone, silently.
    pub(super) fn drop_conns_of(&mut self, i: usize) {
        self.nodes[i].links.reset();
        self.retiring.retain(|&(n, _), _| n != i);
    }

    /// Node `i` restarted: every connection a peer still holds to the old
    /// process gets a reset from the new one.
    pub(super) fn reset_stale_conns(&mut self, i: usize) {
        let me = self.nodes[i].id;
        let mut stale: Vec<(usize, u64)> = (0..self.nodes.len())
            .filter(|&j| j != i)
            .filter_map(|j| self.conn_to(j, &me).map(|c| (j, c)))
            .collect();
        stale.extend(
            self.retiring
                .iter()
                .filter(|&(_, &peer)| peer == i)
                .map(|(&(j, conn), _)| (j, conn)),
        );
        for (j, conn) in stale {
            self.send_close(i, j, conn);
        }
    }
}
