//! The link table: at most one link per peer, which of two connections to
//! the same peer wins, what topology was told, and where nodes may be
//! reached (the address book).
//!
//! Pure, like the engines: no socket, no task, no clock. The transport
//! actor ([`crate::actors::transport`]) keeps one around its real
//! connections (`L` is its per-link tasks and queues); the simulator keeps
//! one per node around modelled connections. Both carry out what it
//! decides, so the rules below hold in both and are tested once, here.
//!
//! ## One link per peer
//!
//! A connection becomes a link once its handshake proves the peer's node
//! id ([`LinkTable::on_established`]). When a second connection to a linked
//! peer completes (both sides dialled at once, a seed dialled at two of its
//! addresses, a peer that dialled again), both ends keep the connection
//! with the **lower handshake hash** and close the other. The hash is the
//! same at both ends of a connection and differs between connections, so
//! the two ends agree whatever order they saw the connections complete in.
//! (A rule such as "the newer one wins" does not: the acceptor and the
//! dialler can see two concurrent connections complete in opposite orders,
//! and each would close the one the other kept.)
//!
//! * A newer connection that loses ([`Established::Refused`]) closes at
//!   once: the other end makes the same choice, so nothing it needs is on
//!   it.
//! * A link that loses to a newer connection ([`Established::Replaced`])
//!   closes only after [`LINK_RETIRE_GRACE`], so the other end has finished
//!   the replacing handshake (and made the same choice) before it sees the
//!   old connection end. A replacement is invisible to the engines: the
//!   peer stays linked.
//! * A stale connection that wins (the peer restarted and its old
//!   connection is half-open) is gone at its next write, which the
//!   restarted host answers with a reset; the peer's next dial then links.
//!
//! ## What topology hears
//!
//! Topology hears `LinkUp` once per peer when the first link comes up, and
//! `LinkDown` when the current link closes (not a replaced or refused
//! one). The table remembers which peers topology was told are up
//! ([`LinkTable::told`]), so a driver that must start over (the transport
//! after a panic) can take every one of them back.
//!
//! ## Who may link
//!
//! A table holds an [`Admission`]: what the room's roster says (folded from
//! signed ops: revoked nodes, and, once the room is invite-only, who is a
//! member) and this node's own lists (a blocklist, and an allowlist that,
//! when set, admits only the nodes it names). A connection from or to a
//! node it does not admit ends after its handshake ([`Established::Denied`],
//! with the reason, which the driver sends to the peer before closing so
//! both sides see it); a dial to such a node is not made
//! ([`Dial::Denied`]); and a new admission closes the links it no longer
//! admits ([`LinkTable::set_admission`]). The roster's part comes from the
//! fold and is the same on every node that holds the same ops; the lists
//! are local and change nothing but this node's links.
//!
//! ## Address book
//!
//! Per node, the addresses to try in order: *observed* ones first (a
//! beacon's source, the address a link was dialled at, an accepted link's
//! source IP with the listening port the peer gave in the handshake), then
//! *published* ones (membership's `addr` key). At most
//! [`ADDR_BOOK_NODES_MAX`] nodes and [`ADDRS_PER_NODE_MAX`] addresses each;
//! an address that answered a dial as another node is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use crate::id::NodeId;

/// A link replaced by a second connection to the same peer stays open this
/// long (unused) before it is closed, so that the other end settles on the
/// same connection first.
pub const LINK_RETIRE_GRACE: Duration = Duration::from_secs(2);
/// Nodes the address book remembers addresses for.
pub const ADDR_BOOK_NODES_MAX: usize = 4096;
/// Addresses remembered per node.
pub const ADDRS_PER_NODE_MAX: usize = 8;

/// One connection whose handshake completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn {
    /// The driver's number for it (unique within the driver).
    pub id: u64,
    /// The handshake hash: the same at both ends, different for every
    /// connection.
    pub handshake_hash: [u8; 32],
    /// Whether this end dialled.
    pub outbound: bool,
}

/// Why a node is not admitted to a link.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// The room's roster revoked it.
    #[error("node {} is revoked from this room", .0.fmt_short())]
    Revoked(NodeId),
    /// The room is invite-only and it is not a member.
    #[error("node {} is not invited to this invite-only room", .0.fmt_short())]
    NotInvited(NodeId),
    /// This node's own blocklist names it.
    #[error("node {} is blocked by this node", .0.fmt_short())]
    Blocked(NodeId),
    /// This node keeps an allowlist, and it is not on it.
    #[error("node {} is not on this node's allowlist", .0.fmt_short())]
    NotAllowed(NodeId),
}

/// What the room's roster says about links, as folded ([`Admission`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RosterAdmission {
    /// Whether only members are admitted (the room has had an
    /// invitation).
    pub invite_only: bool,
    /// The members (root, organisers, invited; not revoked), when invite-only.
    pub members: BTreeSet<NodeId>,
    /// Revoked nodes.
    pub revoked: BTreeSet<NodeId>,
}

/// Who this node links with: the roster's part and its own lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// The room's roster, as this node folded it.
    pub roster: RosterAdmission,
    /// Nodes this node refuses (local).
    pub blocked: BTreeSet<NodeId>,
    /// When set, the only nodes this node links with (local).
    pub allowed: Option<BTreeSet<NodeId>>,
}

impl Admission {
    /// Whether `peer` may be linked with, and if not, why: this node's
    /// blocklist and allowlist first, then the roster.
    pub fn check(&self, peer: &NodeId) -> Result<(), Denied> {
        if self.blocked.contains(peer) {
            return Err(Denied::Blocked(*peer));
        }
        if self.allowed.as_ref().is_some_and(|a| !a.contains(peer)) {
            return Err(Denied::NotAllowed(*peer));
        }
        if self.roster.revoked.contains(peer) {
            return Err(Denied::Revoked(*peer));
        }
        if self.roster.invite_only && !self.roster.members.contains(peer) {
            return Err(Denied::NotInvited(*peer));
        }
        Ok(())
    }
}

/// What a completed handshake means.
#[derive(Debug, PartialEq, Eq)]
pub enum Established<L> {
    /// The first link to this peer: tell topology `LinkUp { outbound }`.
    Up,
    /// The new connection replaced the link this table held: close `old`
    /// after [`LINK_RETIRE_GRACE`]; topology hears nothing.
    Replaced {
        /// The connection it replaced, and the driver's handle of it.
        old: (Conn, L),
    },
    /// The link this table holds wins: close the new connection now.
    Refused,
    /// The connection reached this node itself: close it.
    Own,
    /// The peer is not admitted ([`Admission`]): tell it why, then close
    /// the connection. Topology hears nothing.
    Denied(Denied),
}

/// What to do about topology's request to dial a node.
#[derive(Debug, PartialEq, Eq)]
pub enum Dial {
    /// Already linked: answer topology with `LinkUp { outbound }` again (it
    /// treats a repeated `LinkUp` as an answer, not a new link).
    Linked {
        /// Whether the link was dialled by this end.
        outbound: bool,
    },
    /// A dial to it is already under way (or it is this node): nothing.
    Nothing,
    /// No address known: answer topology with `DialFailed`.
    NoAddress,
    /// The node is not admitted ([`Admission`]): answer topology with
    /// `DialFailed`.
    Denied(Denied),
    /// Dial these addresses, in order.
    Go(Vec<SocketAddr>),
}

/// Where nodes may be reached, observed addresses first.
#[derive(Clone, Debug, Default)]
pub struct AddressBook {
    map: BTreeMap<NodeId, Vec<SocketAddr>>,
}

impl AddressBook {
    /// Adds `addr` for `node`: an observed one goes (or moves) first, a
    /// published one last. Unspecified addresses and port 0 are ignored.
    pub fn add(&mut self, node: NodeId, addr: SocketAddr, observed: bool) {
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

    /// Drops `addr` from `node`'s list.
    pub fn remove(&mut self, node: &NodeId, addr: &SocketAddr) {
        if let Some(list) = self.map.get_mut(node) {
            list.retain(|a| a != addr);
        }
    }

    /// `node`'s addresses, in the order to try them.
    pub fn get(&self, node: &NodeId) -> Vec<SocketAddr> {
        self.map.get(node).cloned().unwrap_or_default()
    }
}

/// A peer, its link's connection and the driver's handle of it.
pub type Linked<L> = (NodeId, (Conn, L));

/// One node's links, dials in progress and address book; `L` is the
/// driver's handle of a link.
#[derive(Debug)]
pub struct LinkTable<L> {
    me: NodeId,
    links: BTreeMap<NodeId, (Conn, L)>,
    dialing: BTreeSet<NodeId>,
    told: BTreeSet<NodeId>,
    admission: Admission,
    /// Where nodes may be reached.
    pub book: AddressBook,
}

impl<L> LinkTable<L> {
    /// An empty table for node `me`.
    pub fn new(me: NodeId) -> LinkTable<L> {
        LinkTable {
            me,
            links: BTreeMap::new(),
            dialing: BTreeSet::new(),
            told: BTreeSet::new(),
            admission: Admission::default(),
            book: AddressBook::default(),
        }
    }

    /// Who this table admits now.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Admits from now on as `admission` says; returns the links it no
    /// longer admits, removed from the table, with why (topology must hear
    /// `LinkDown` for each; the driver tells the peer why and closes).
    pub fn set_admission(&mut self, admission: Admission) -> Vec<(Linked<L>, Denied)> {
        self.admission = admission;
        let gone: Vec<(NodeId, Denied)> = self
            .links
            .keys()
            .filter_map(|p| self.admission.check(p).err().map(|d| (*p, d)))
            .collect();
        gone.into_iter()
            .filter_map(|(peer, why)| self.remove(&peer).map(|link| ((peer, link), why)))
            .collect()
    }

    /// Topology asks for a link to `peer`. On [`Dial::Go`] the table counts
    /// the dial as under way until [`LinkTable::dial_ended`].
    pub fn dial(&mut self, peer: NodeId) -> Dial {
        let addrs = self.book.get(&peer);
        match self.dial_by_id(peer) {
            Dial::Go(_) if addrs.is_empty() => {
                self.dialing.remove(&peer);
                Dial::NoAddress
            }
            Dial::Go(_) => Dial::Go(addrs),
            other => other,
        }
    }

    /// [`LinkTable::dial`] for a driver that reaches nodes by id, with no
    /// address book (the simulator): [`Dial::Go`] carries no address.
    pub fn dial_by_id(&mut self, peer: NodeId) -> Dial {
        if let Err(why) = self.admission.check(&peer) {
            return Dial::Denied(why);
        }
        if let Some((conn, _)) = self.links.get(&peer) {
            return Dial::Linked {
                outbound: conn.outbound,
            };
        }
        if peer == self.me || !self.dialing.insert(peer) {
            return Dial::Nothing;
        }
        Dial::Go(Vec::new())
    }

    /// Topology's dial to `peer` ended (linked or not). Returns whether
    /// topology must hear `DialFailed`: the dial failed and no link to the
    /// peer came up meanwhile.
    pub fn dial_ended(&mut self, peer: NodeId, failed: bool) -> bool {
        self.dialing.remove(&peer);
        failed && !self.links.contains_key(&peer)
    }

    /// A connection to `peer` completed its handshake: which connection the
    /// peer's link is from now on (see the module docs). `link` makes the
    /// driver's handle, only when the connection becomes the link.
    pub fn on_established(
        &mut self,
        peer: NodeId,
        conn: Conn,
        link: impl FnOnce() -> L,
    ) -> Established<L> {
        if peer == self.me {
            return Established::Own;
        }
        if let Err(why) = self.admission.check(&peer) {
            return Established::Denied(why);
        }
        match self.links.get(&peer) {
            None => {
                self.links.insert(peer, (conn, link()));
                self.told.insert(peer);
                Established::Up
            }
            Some((held, _)) if held.handshake_hash < conn.handshake_hash => Established::Refused,
            Some(_) => {
                let old = self.links.insert(peer, (conn, link()));
                Established::Replaced {
                    old: old.expect("a link was held"),
                }
            }
        }
    }

    /// Connection `conn` to `peer` ended (closed by the peer, reset, a bad
    /// frame). Returns its link when it was the current one: topology must
    /// hear `LinkDown`. A replaced or refused connection ending changes
    /// nothing.
    pub fn closed(&mut self, peer: &NodeId, conn: u64) -> Option<(Conn, L)> {
        if self.links.get(peer).is_some_and(|(c, _)| c.id == conn) {
            return self.remove(peer);
        }
        None
    }

    /// This node closes its link to `peer` (topology asked, the peer is too
    /// slow): topology must hear `LinkDown` whether or not a link was held.
    pub fn remove(&mut self, peer: &NodeId) -> Option<(Conn, L)> {
        self.told.remove(peer);
        self.links.remove(peer)
    }

    /// The link to `peer`.
    pub fn get(&self, peer: &NodeId) -> Option<&(Conn, L)> {
        self.links.get(peer)
    }

    /// Every link, by peer.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &(Conn, L))> {
        self.links.iter()
    }

    /// How many peers are linked.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether no peer is linked.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Starts over (a driver restarting after a panic): removes every link
    /// and dial, and returns the links and the peers topology was told are
    /// up (in node order), which must all hear `LinkDown`.
    pub fn reset(&mut self) -> (Vec<Linked<L>>, Vec<NodeId>) {
        self.dialing.clear();
        let links = std::mem::take(&mut self.links).into_iter().collect();
        let told = std::mem::take(&mut self.told).into_iter().collect();
        (links, told)
    }

    /// Removes every link (a shutdown), in node order.
    pub fn drain(&mut self) -> Vec<Linked<L>> {
        self.reset().0
    }

    /// Peers topology was told are linked and not since told otherwise.
    pub fn told(&self) -> impl Iterator<Item = &NodeId> {
        self.told.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeId {
        NodeId([b; 32])
    }

    fn conn(id: u64, hash: u8, outbound: bool) -> Conn {
        Conn {
            id,
            handshake_hash: [hash; 32],
            outbound,
        }
    }

    #[test]
    fn the_first_connection_is_the_link_and_topology_hears_it_once() {
        let mut t = LinkTable::new(node(0));
        assert_eq!(
            t.on_established(node(1), conn(1, 5, true), || "a"),
            Established::Up
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t.told().copied().collect::<Vec<_>>(), vec![node(1)]);
        assert_eq!(t.dial(node(1)), Dial::Linked { outbound: true });
    }

    #[test]
    fn of_two_connections_both_ends_keep_the_lower_handshake_hash_whatever_the_order() {
        // End A sees the connection with hash 3 first, end B sees hash 7
        // first: both must end on hash 3.
        let low = conn(1, 3, true);
        let high = conn(2, 7, false);
        let mut a = LinkTable::new(node(0));
        assert_eq!(a.on_established(node(1), low, || "low"), Established::Up);
        assert_eq!(
            a.on_established(node(1), high, || "high"),
            Established::Refused,
            "a newer connection with a higher hash closes at once"
        );
        let mut b = LinkTable::new(node(1));
        assert_eq!(b.on_established(node(0), high, || "high"), Established::Up);
        assert_eq!(
            b.on_established(node(0), low, || "low"),
            Established::Replaced {
                old: (high, "high")
            },
            "a link with a higher hash is replaced (and retired after the grace)"
        );
        assert_eq!(a.get(&node(1)).map(|(c, _)| c.id), Some(1));
        assert_eq!(b.get(&node(0)).map(|(c, _)| c.id), Some(1));
    }

    #[test]
    fn only_the_current_connection_ending_takes_the_link_down() {
        let mut t = LinkTable::new(node(0));
        t.on_established(node(1), conn(1, 9, true), || ());
        t.on_established(node(1), conn(2, 2, false), || ());
        assert_eq!(t.closed(&node(1), 1), None, "the replaced one");
        assert_eq!(t.len(), 1);
        assert!(t.closed(&node(1), 2).is_some(), "the current one");
        assert!(t.is_empty());
        assert_eq!(t.told().count(), 0);
    }

    #[test]
    fn a_connection_to_this_node_itself_is_refused() {
        let mut t = LinkTable::new(node(0));
        assert_eq!(
            t.on_established(node(0), conn(1, 1, true), || "x"),
            Established::Own
        );
        assert!(t.is_empty());
        assert_eq!(t.dial(node(0)), Dial::Nothing);
    }

    #[test]
    fn a_dial_needs_an_address_and_runs_once_at_a_time() {
        let mut t: LinkTable<()> = LinkTable::new(node(0));
        assert_eq!(t.dial(node(1)), Dial::NoAddress);
        let addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        t.book.add(node(1), addr, false);
        assert_eq!(t.dial(node(1)), Dial::Go(vec![addr]));
        assert_eq!(t.dial(node(1)), Dial::Nothing, "one dial at a time");
        assert!(
            t.dial_ended(node(1), true),
            "failed, not linked: tell topology"
        );
        t.dial(node(1));
        t.on_established(node(1), conn(1, 1, false), || ());
        assert!(
            !t.dial_ended(node(1), true),
            "the peer dialled us meanwhile: topology has its LinkUp"
        );
    }

    #[test]
    fn a_reset_returns_every_link_and_every_peer_topology_believes_in() {
        let mut t = LinkTable::new(node(0));
        t.on_established(node(2), conn(1, 1, true), || ());
        t.on_established(node(1), conn(2, 1, true), || ());
        assert_eq!(t.dial_by_id(node(3)), Dial::Go(Vec::new()));
        assert_eq!(t.dial_by_id(node(3)), Dial::Nothing, "under way");
        let (links, told) = t.reset();
        assert_eq!(links.len(), 2);
        assert_eq!(told, vec![node(1), node(2)]);
        assert_eq!(
            t.dial_by_id(node(3)),
            Dial::Go(Vec::new()),
            "dials are forgotten too"
        );
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

    #[test]
    fn a_node_not_admitted_gets_no_link_no_dial_and_loses_the_one_it_had() {
        let mut t = LinkTable::new(node(0));
        assert_eq!(
            t.on_established(node(1), conn(1, 5, true), || "a"),
            Established::Up
        );
        assert_eq!(
            t.on_established(node(2), conn(2, 5, false), || "b"),
            Established::Up
        );
        // Node 1 is revoked, node 3 blocked: 1's link goes, with why.
        let mut admission = Admission::default();
        admission.roster.revoked.insert(node(1));
        admission.blocked.insert(node(3));
        let gone = t.set_admission(admission);
        assert_eq!(
            gone,
            vec![((node(1), (conn(1, 5, true), "a")), Denied::Revoked(node(1)))]
        );
        assert_eq!(t.told().copied().collect::<Vec<_>>(), vec![node(2)]);
        assert_eq!(
            t.on_established(node(1), conn(3, 1, false), || "c"),
            Established::Denied(Denied::Revoked(node(1)))
        );
        assert!(t.get(&node(1)).is_none(), "a denied connection is no link");
        assert_eq!(
            t.dial_by_id(node(3)),
            Dial::Denied(Denied::Blocked(node(3)))
        );
        // Invite-only: members only; an allowlist narrows further.
        let mut admission = Admission::default();
        admission.roster.invite_only = true;
        admission.roster.members = [node(2), node(4)].into();
        admission.allowed = Some([node(2)].into());
        assert!(t.set_admission(admission).is_empty(), "node 2 stays");
        assert_eq!(
            t.on_established(node(5), conn(4, 1, false), || "d"),
            Established::Denied(Denied::NotAllowed(node(5)))
        );
        let mut admission = t.admission().clone();
        admission.allowed = None;
        t.set_admission(admission);
        assert_eq!(
            t.on_established(node(5), conn(5, 1, false), || "e"),
            Established::Denied(Denied::NotInvited(node(5)))
        );
        assert_eq!(
            t.on_established(node(4), conn(6, 1, true), || "f"),
            Established::Up
        );
        assert_eq!(
            Denied::NotInvited(node(5)).to_string(),
            "node 05050505 is not invited to this invite-only room"
        );
    }
}
