//! The roster: who runs the room, who is invited, who is revoked, which
//! nodes are kiosks; and the room rules it keeps over every op.
//!
//! # Root and organisers
//!
//! A room may name its **root**: the node of the person who runs it. The
//! root is part of the room's identity, not of its ops: it comes with the
//! join link (`root=`) or `--root`, and it is mixed into the room's keys
//! (`docs/protocol.md`, "Keys"), so every node of a rooted room folds with
//! the same root, and a node given the code alone is in another room. The
//! fold sees it in [`AppliedOp::root`]. Pinning the root out of band closes
//! the hole an in-band "first author founds the room" rule has: an author
//! chooses its op's Lamport time, so it could always sort its own claim
//! first.
//!
//! The root names **organisers**. The root and the organisers (not
//! revoked) may invite, revoke and designate kiosks; only the root names
//! or removes organisers, and only the root may revoke an organiser. The
//! root cannot be revoked (nor leave: a room's root stays its root; to hand
//! a room over, start a new one). A room known by its code alone has no
//! root, hence no organisers: its roster stays open, and the only roster op
//! it takes is a node leaving (revoking itself).
//!
//! # Ops
//!
//! | kind | op | body |
//! |---|---|---|
//! | [`KIND_INVITE`] | invite a node | [`Subject`] `{ node }` |
//! | [`KIND_REVOKE`] | revoke a node | [`Revocation`] `{ node, upto }` |
//! | [`KIND_KIOSK_ADD`] | designate a kiosk | [`Subject`] |
//! | [`KIND_KIOSK_REMOVE`] | stop designating it | [`Subject`] |
//! | [`KIND_ORGANISER_ADD`] | name an organiser (root only) | [`Subject`] |
//! | [`KIND_ORGANISER_REMOVE`] | stop naming it (root only) | [`Subject`] |
//!
//! Build bodies with [`RosterOp::body`]; [`RosterOp::decode`] refuses
//! unknown kinds and bodies that do not decode.
//!
//! # Rules
//!
//! In the order they are checked; the first that fails refuses the op
//! with its reason and changes nothing:
//!
//! 1. The op decodes.
//! 2. **Leaving** (revoking oneself) is allowed to anyone but the root,
//!    unless already revoked: it only takes rights away. Its revocation
//!    point is the leaving op itself (`upto` is not read).
//! 3. Every other op needs a root (a room without one refuses it: "this
//!    room has no root") and an author that is the root or an organiser,
//!    and not revoked.
//! 4. **invite**: not oneself; the node is not revoked (revocation always
//!    wins); it is not a member already.
//! 5. **revoke**: not the root; not revoked already; an organiser only by
//!    the root. Any other node may be revoked, invited or not (revoking
//!    one not yet invited bars it in advance).
//! 6. **kiosk add**: the node is not revoked; it is a member, or the room
//!    is open; it is not a kiosk already.
//! 7. **kiosk remove**: the node is a kiosk now.
//! 8. **organiser add** / **remove**: by the root only; not the root
//!    itself; add: not revoked, not an organiser already; remove: an
//!    organiser now.
//!
//! # Open, then invite-only
//!
//! The room is **open** (the code admits anyone) until the first accepted
//! invitation; from then on it is invite-only: the members are the root,
//! the organisers and the invited, none of them revoked. Naming an
//! organiser does not close the room.
//!
//! # Rules over every op
//!
//! The roster [keeps rules](Applet::keeps_rules) over the ops of every
//! applet ([`Applet::admit`]): once the room is invite-only, an op by a
//! node that is not a member (at that op's place in the fold) has no
//! effect. Ops written while the room was open keep theirs.
//!
//! # Revocation points
//!
//! A revocation names `upto`: the last seq of the revoked node's chain
//! that keeps its effect (the command takes the revoked node's chain head
//! as the revoking node holds it). Every op of the revoked node after it,
//! of any applet, has no effect wherever it sorts in the fold, so a node
//! cannot slip ops in before its revocation by writing them with a low
//! Lamport time ([`Roster::cuts`]; the folder applies them, see
//! [`crate::proto::oplog::fold`]). Ops up to the point stand, and so do
//! the revoked node's invitations and designations made with them; whoever
//! it invited can be revoked in turn.
//!
//! Revocation always wins: once a node is revoked no invitation makes it a
//! member again, whether the invitation sorts before the revocation or
//! after it (membership is computed when asked: "root, organiser or
//! invited, and not revoked"), and revocations are final.
//!
//! The points are a fixed point over the roster's own ops: revocations
//! are folded, their points taken, the roster ops of revoked nodes past
//! their points dropped, and the roster folded again until the points stop
//! moving. Rights only flow down (root → organisers → members; a node's
//! own ops never decide whether it is revoked), so this settles within a
//! few rounds ([`CUT_ROUNDS_MAX`] bounds it), and it is a function of the
//! set of roster ops alone: the same on every node, whatever order the
//! ops arrived in.
//!
//! A kiosk counts as one while it is designated, not revoked, and a member
//! (or the room is open): a kiosk designated while the room was open stops
//! counting once the room closes, unless it is invited.
//!
//! # Commands
//!
//! ```text
//! /invite ID
//! /revoke ID
//! /kiosk add ID
//! /kiosk remove ID
//! /organiser add ID
//! /organiser remove ID
//! /roster
//! /block ID        (this node only: no link with it; no op)
//! /unblock ID
//! /blocked
//! ```
//!
//! `ID` is a node id: 64 hex digits, or a prefix of at least
//! [`PREFIX_HEX_MIN`] that the node resolves against the nodes it knows
//! ([`Target::resolve`]).
//!
//! # Layout
//!
//! This file is the fold: pure, no IO, no clock, no randomness. Beside
//! it, [`line`](mod@line) runs the commands on a node for the line client,
//! and `sim.rs` plans this applet's ops in the simulator; the applet's
//! entry in [`crate::applets::BUILTIN`] names both.

pub mod line;
pub(crate) mod sim;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};
use crate::proto::oplog::pow::{self, POW_BITS_MAX};

/// The applet's name in ops.
pub const NAME: &str = "roster";
/// Fewest hex digits of a node-id prefix people may type.
pub const PREFIX_HEX_MIN: usize = 4;
/// Hex digits of a full node id.
pub const NODE_HEX: usize = 64;
/// Most rounds of the revocation-point fixed point ([`Roster::cuts`]).
/// Rights flow down three levels (root, organisers, members), so it
/// settles in at most four; a set of ops that has not settled by then
/// keeps the last round's points (still a function of the ops alone).
pub const CUT_ROUNDS_MAX: usize = 8;

/// The body of most roster ops: the node it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The node invited, designated a kiosk or an organiser (or no longer).
    pub node: NodeId,
}

impl From<NodeId> for Subject {
    fn from(node: NodeId) -> Subject {
        Subject { node }
    }
}

impl From<Subject> for NodeId {
    fn from(s: Subject) -> NodeId {
        s.node
    }
}

/// The body of a revocation: the node, and its revocation point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The node revoked.
    pub node: NodeId,
    /// The last seq of `node`'s chain that keeps its effect (0: none
    /// does). Not read when `node` is the author (leaving: the point is
    /// the leaving op).
    pub upto: u64,
}

crate::applet_ops! {
    /// One op of this applet, typed: [`RosterOp::body`] encodes it,
    /// [`RosterOp::decode`] reads it back.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RosterOp for NAME {
        /// Invites a node; body [`Subject`].
        KIND_INVITE = 1 => Invite(NodeId as Subject),
        /// Revokes a node from a point of its chain on; body [`Revocation`].
        KIND_REVOKE = 2 => Revoke(Revocation),
        /// Designates a kiosk; body [`Subject`].
        KIND_KIOSK_ADD = 3 => KioskAdd(NodeId as Subject),
        /// Stops designating a kiosk; body [`Subject`].
        KIND_KIOSK_REMOVE = 4 => KioskRemove(NodeId as Subject),
        /// Names an organiser (the root only); body [`Subject`].
        KIND_ORGANISER_ADD = 5 => OrganiserAdd(NodeId as Subject),
        /// Stops naming an organiser (the root only); body [`Subject`].
        KIND_ORGANISER_REMOVE = 6 => OrganiserRemove(NodeId as Subject),
        /// Sets the room's proof-of-work policy (root and organisers);
        /// body [`PowPolicy`].
        KIND_POW = 7 => SetPow(PowPolicy),
    }
}

/// The room's proof-of-work policy: the leading zero bits an op's id must
/// carry ([`crate::proto::oplog::pow`]). Both at most
/// [`POW_BITS_MAX`]; 0 asks for nothing (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowPolicy {
    /// Bits for an author's first op (seq 1): what a new identity pays.
    pub first: u8,
    /// Bits for every op.
    pub every: u8,
}

impl PowPolicy {
    /// The bits op `seq` of an author must carry.
    pub fn bits_for(&self, seq: u64) -> u8 {
        if seq == 1 {
            self.first.max(self.every)
        } else {
            self.every
        }
    }
}

impl RosterOp {
    /// The node the op is about (none for a policy).
    pub fn node(&self) -> Option<NodeId> {
        Some(match *self {
            RosterOp::SetPow(_) => return None,
            RosterOp::Invite(n)
            | RosterOp::KioskAdd(n)
            | RosterOp::KioskRemove(n)
            | RosterOp::OrganiserAdd(n)
            | RosterOp::OrganiserRemove(n) => n,
            RosterOp::Revoke(r) => r.node,
        })
    }

    /// Revokes `node`, keeping the effect of its ops up to seq `upto`.
    pub fn revoke(node: NodeId, upto: u64) -> RosterOp {
        RosterOp::Revoke(Revocation { node, upto })
    }
}

/// One roster fact: `node` was invited, revoked or designated by `by`, in
/// op `op` (the root's entry is all zeros: it is the root by the room's
/// identity, not by an op).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The node it is about.
    pub node: NodeId,
    /// Who did it (the op's author).
    pub by: NodeId,
    /// The op.
    pub op: OpId,
    /// The op's wall time (display only).
    pub wall_ms: u64,
}

/// A revoked node and its revocation point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// Who revoked it, when.
    pub entry: Entry,
    /// The first seq of its chain with no effect.
    pub from_seq: u64,
}

/// The whole roster as `/roster` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RosterView {
    /// No invitation yet: anyone with the room code is admitted.
    pub open: bool,
    /// The room's root, once a roster op has been folded (the node knows
    /// it from the room's identity anyway).
    pub root: Option<NodeId>,
    /// Organisers now (the root not included), by node id.
    pub organisers: Vec<Entry>,
    /// Members now (root, organisers and invited, not revoked), the root
    /// first, then by node id.
    pub members: Vec<Entry>,
    /// Revoked nodes, by node id.
    pub revoked: Vec<Revoked>,
    /// Kiosks now, by node id.
    pub kiosks: Vec<Entry>,
}

/// The roster applet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The room's root, as the folded ops carried it (the same for every
    /// op of a room).
    root: Option<NodeId>,
    /// Organisers the root named (revoked ones are kept but do not count).
    organisers: BTreeMap<NodeId, Entry>,
    /// Organisers the root removed: members still, with their naming.
    former_organisers: BTreeMap<NodeId, Entry>,
    /// The first accepted invitation of each node (revoked ones included).
    invited: BTreeMap<NodeId, Entry>,
    revoked: BTreeMap<NodeId, Revoked>,
    /// Designations (revoked ones are kept but do not count).
    kiosks: BTreeMap<NodeId, Entry>,
    /// The room's proof-of-work policy, and who set it (none: no work).
    pow: Option<(Entry, PowPolicy)>,
}

impl Roster {
    /// No invitation accepted yet: the room admits anyone with its code.
    pub fn is_open(&self) -> bool {
        self.invited.is_empty()
    }

    /// The room's root, once a roster op has been folded.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// The room's proof-of-work policy now (the default asks for none).
    pub fn pow(&self) -> PowPolicy {
        self.pow.map(|(_, p)| p).unwrap_or_default()
    }

    /// Why `op` does not carry the work the policy asks of it, if it does
    /// not.
    fn check_pow(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        let bits = self.pow().bits_for(op.seq);
        let has = pow::leading_zero_bits(&op.id);
        if has < u32::from(bits) {
            return Err(format!(
                "the op carries {has} bits of proof of work; this room asks for {bits}"
            ));
        }
        Ok(())
    }

    /// Whether `node` was revoked (for good: a revocation is not undone).
    pub fn is_revoked(&self, node: &NodeId) -> bool {
        self.revoked.contains_key(node)
    }

    /// The first seq of `node`'s chain with no effect, if it is revoked.
    pub fn revoked_from(&self, node: &NodeId) -> Option<u64> {
        self.revoked.get(node).map(|r| r.from_seq)
    }

    /// The root, or named an organiser and not revoked.
    pub fn is_organiser(&self, node: &NodeId) -> bool {
        self.organiser_under(self.root, node)
    }

    /// [`Roster::is_organiser`] in a room whose root is `root` (the rules
    /// take it from the op: the state learns it with its first op).
    fn organiser_under(&self, root: Option<NodeId>, node: &NodeId) -> bool {
        Self::is_root(root, node) || (self.organisers.contains_key(node) && !self.is_revoked(node))
    }

    /// [`Roster::is_member`] in a room whose root is `root`.
    fn member_under(&self, root: Option<NodeId>, node: &NodeId) -> bool {
        !self.is_revoked(node) && (Self::is_root(root, node) || self.named(node))
    }

    fn is_root(root: Option<NodeId>, node: &NodeId) -> bool {
        root == Some(*node)
    }

    /// Root, organiser or invited, and not revoked. In an open room this
    /// says who was named, not who is admitted (see [`Roster::is_open`]
    /// and [`Roster::admits`]).
    pub fn is_member(&self, node: &NodeId) -> bool {
        self.member_under(self.root, node)
    }

    /// Named by an op as a member: invited, or named an organiser (now
    /// or before).
    fn named(&self, node: &NodeId) -> bool {
        self.organisers.contains_key(node)
            || self.former_organisers.contains_key(node)
            || self.invited.contains_key(node)
    }

    /// Whether the room takes `node` in now: not revoked, and the room is
    /// open or `node` is a member.
    pub fn admits(&self, node: &NodeId) -> bool {
        !self.is_revoked(node) && (self.is_open() || self.is_member(node))
    }

    /// Designated, not revoked, and a member (or the room is open).
    pub fn is_kiosk(&self, node: &NodeId) -> bool {
        self.kiosks.contains_key(node) && self.admits(node)
    }

    /// May `node` invite, revoke and designate now (the root or an
    /// organiser)?
    pub fn may_act(&self, node: &NodeId) -> bool {
        self.root.is_some() && self.is_organiser(node)
    }

    /// Organisers now (the root not included), by node id.
    pub fn organisers(&self) -> Vec<Entry> {
        self.organisers
            .values()
            .filter(|e| !self.is_revoked(&e.node))
            .copied()
            .collect()
    }

    /// Members now: the root first, then organisers and invited by node
    /// id, with who named them (the root's entry is all zeros).
    pub fn members(&self) -> Vec<Entry> {
        let root = self.root.map(|r| Entry {
            node: r,
            by: r,
            op: OpId([0; 32]),
            wall_ms: 0,
        });
        let mut named: BTreeMap<NodeId, Entry> = BTreeMap::new();
        for e in self
            .invited
            .values()
            .chain(self.organisers.values())
            .chain(self.former_organisers.values())
        {
            if !self.is_revoked(&e.node) && !Self::is_root(self.root, &e.node) {
                named.entry(e.node).or_insert(*e);
            }
        }
        root.into_iter().chain(named.into_values()).collect()
    }

    /// Every accepted invitation, revoked nodes' included, by node id.
    pub fn invitations(&self) -> Vec<Entry> {
        self.invited.values().copied().collect()
    }

    /// Revoked nodes, with who revoked them and from which seq, by node id.
    pub fn revoked(&self) -> Vec<Revoked> {
        self.revoked.values().copied().collect()
    }

    /// Kiosks now, with who designated them, by node id.
    pub fn kiosks(&self) -> Vec<Entry> {
        self.kiosks
            .values()
            .filter(|e| self.is_kiosk(&e.node))
            .copied()
            .collect()
    }

    /// Every node the roster names (to resolve typed prefixes against,
    /// together with the members the node sees).
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut all: Vec<NodeId> = self
            .root
            .iter()
            .copied()
            .chain(self.organisers.keys().copied())
            .chain(self.former_organisers.keys().copied())
            .chain(self.invited.keys().copied())
            .chain(self.revoked.keys().copied())
            .chain(self.kiosks.keys().copied())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The roster as `/roster` shows it.
    pub fn view(&self) -> RosterView {
        RosterView {
            open: self.is_open(),
            root: self.root,
            organisers: self.organisers(),
            members: self.members(),
            revoked: self.revoked(),
            kiosks: self.kiosks(),
        }
    }

    /// The rules: what `op` would change, or why it is refused.
    fn validate(&self, op: &AppliedOp<'_>) -> Result<RosterOp, String> {
        let decoded = RosterOp::decode(op.kind, op.body)?;
        self.check_pow(op)?;
        let node = decoded.node().unwrap_or(op.author);
        let who = node.fmt_short();
        let author_is_root = Self::is_root(op.root, &op.author);
        if matches!(decoded, RosterOp::Revoke(r) if r.node == op.author) {
            if author_is_root {
                return Err("the root cannot leave its room".into());
            }
            if self.is_revoked(&node) {
                return Err(format!("node {who} is already revoked"));
            }
            return Ok(decoded);
        }
        let Some(root) = op.root else {
            return Err("this room has no root, so its roster cannot change \
                        (a room started with a root has organisers)"
                .into());
        };
        if self.is_revoked(&op.author) {
            return Err(format!(
                "node {} is revoked and cannot change the roster",
                op.author.fmt_short()
            ));
        }
        if !self.organiser_under(op.root, &op.author) {
            return Err(format!(
                "only the root and organisers can change the roster (node {} is not an organiser)",
                op.author.fmt_short()
            ));
        }
        let is_organiser = |n: &NodeId| self.organiser_under(op.root, n);
        let is_member = |n: &NodeId| self.member_under(op.root, n);
        match decoded {
            RosterOp::Invite(_) => {
                if node == op.author {
                    return Err("you cannot invite yourself".into());
                }
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is revoked: revocation always wins"));
                }
                if is_member(&node) {
                    return Err(format!("node {who} is already a member"));
                }
            }
            RosterOp::Revoke(_) => {
                if node == root {
                    return Err("the root cannot be revoked".into());
                }
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is already revoked"));
                }
                if is_organiser(&node) && !author_is_root {
                    return Err(format!(
                        "node {who} is an organiser: only the root can revoke it"
                    ));
                }
            }
            RosterOp::KioskAdd(_) => {
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is revoked: revocation always wins"));
                }
                if !self.is_open() && !is_member(&node) {
                    return Err(format!("node {who} is not a member: invite it first"));
                }
                if self.kiosks.contains_key(&node) && (self.is_open() || is_member(&node)) {
                    return Err(format!("node {who} is already a kiosk"));
                }
            }
            RosterOp::KioskRemove(_) => {
                if !(self.kiosks.contains_key(&node)
                    && !self.is_revoked(&node)
                    && (self.is_open() || is_member(&node)))
                {
                    return Err(format!("node {who} is not a kiosk"));
                }
            }
            RosterOp::OrganiserAdd(_) | RosterOp::OrganiserRemove(_) if !author_is_root => {
                return Err("only the root names and removes organisers".into());
            }
            RosterOp::OrganiserAdd(_) => {
                if node == root {
                    return Err("the root is an organiser already".into());
                }
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is revoked: revocation always wins"));
                }
                if is_organiser(&node) {
                    return Err(format!("node {who} is already an organiser"));
                }
            }
            RosterOp::OrganiserRemove(_) => {
                if node == root || !is_organiser(&node) {
                    return Err(format!("node {who} is not an organiser the root named"));
                }
            }
            RosterOp::SetPow(p) => {
                if p.first.max(p.every) > POW_BITS_MAX {
                    return Err(format!(
                        "at most {POW_BITS_MAX} bits of proof of work may be asked for"
                    ));
                }
            }
        }
        Ok(decoded)
    }
}

impl Applet for Roster {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        self.validate(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        let change = self.validate(op)?;
        self.root = op.root;
        let node = change.node().unwrap_or(op.author);
        let entry = Entry {
            node,
            by: op.author,
            op: op.id,
            wall_ms: op.wall_ms,
        };
        match change {
            RosterOp::Invite(_) => {
                self.invited.insert(node, entry);
            }
            RosterOp::Revoke(r) => {
                let from_seq = if r.node == op.author {
                    op.seq.saturating_add(1)
                } else {
                    r.upto.saturating_add(1)
                };
                self.revoked.insert(node, Revoked { entry, from_seq });
            }
            RosterOp::KioskAdd(_) => {
                self.kiosks.insert(node, entry);
            }
            RosterOp::KioskRemove(_) => {
                self.kiosks.remove(&node);
            }
            RosterOp::OrganiserAdd(_) => {
                self.former_organisers.remove(&node);
                self.organisers.insert(node, entry);
            }
            RosterOp::OrganiserRemove(_) => {
                if let Some(named) = self.organisers.remove(&node) {
                    self.former_organisers.insert(node, named);
                }
            }
            RosterOp::SetPow(p) => {
                self.pow = Some((entry, p));
            }
        }
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(self).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        *self = super::chat::decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        *self = Roster::default();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn keeps_rules(&self) -> bool {
        true
    }

    /// Once the room is invite-only, only members' ops take effect.
    fn admit(&self, _applet: &str, op: &AppliedOp<'_>) -> Result<(), String> {
        self.check_pow(op)?;
        if self.is_open() {
            return Ok(());
        }
        if self.member_under(op.root, &op.author) {
            Ok(())
        } else {
            Err(format!(
                "node {} is not a member of this invite-only room",
                op.author.fmt_short()
            ))
        }
    }

    fn cuts(&self, own: &[AppliedOp<'_>]) -> BTreeMap<NodeId, u64> {
        Roster::cuts(own)
    }

    fn pow_bits(&self, _author: &NodeId, seq: u64) -> u8 {
        self.pow().bits_for(seq)
    }
}

impl Roster {
    /// The revocation points of a set of roster ops (`own`, in fold
    /// order): per revoked node, the first seq of its chain with no
    /// effect. The fixed point described in the module docs: a pure
    /// function of `own`.
    pub fn cuts(own: &[AppliedOp<'_>]) -> BTreeMap<NodeId, u64> {
        let mut cuts: BTreeMap<NodeId, u64> = BTreeMap::new();
        for _ in 0..CUT_ROUNDS_MAX {
            let mut r = Roster::default();
            for op in own {
                if cuts.get(&op.author).is_some_and(|from| op.seq >= *from) {
                    continue;
                }
                // A refused op changes nothing; the fold counts it.
                let _ = r.apply(op);
            }
            let next: BTreeMap<NodeId, u64> =
                r.revoked.iter().map(|(n, v)| (*n, v.from_seq)).collect();
            if next == cuts {
                break;
            }
            cuts = next;
        }
        cuts
    }
}

/// A node as typed: a full id, or a prefix the node resolves against the
/// nodes it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A whole node id (64 hex digits).
    Full(NodeId),
    /// [`PREFIX_HEX_MIN`] to 63 lower-case hex digits.
    Prefix(String),
}

impl Target {
    /// Parses 64 hex digits, or a prefix of at least [`PREFIX_HEX_MIN`]
    /// (any case).
    pub fn parse(s: &str) -> Result<Target, String> {
        let s = s.trim();
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{s:?} is not a node id (hex digits)"));
        }
        if s.len() > NODE_HEX {
            return Err(format!(
                "a node id has {NODE_HEX} hex digits, not {}",
                s.len()
            ));
        }
        if s.len() < PREFIX_HEX_MIN {
            return Err(format!(
                "type at least {PREFIX_HEX_MIN} hex digits of the node id"
            ));
        }
        if s.len() == NODE_HEX {
            return NodeId::from_hex(s)
                .map(Target::Full)
                .map_err(|e| e.to_string());
        }
        Ok(Target::Prefix(s.to_ascii_lowercase()))
    }

    /// The node meant: a full id as it is (it need not be known: an
    /// invitee may not have joined yet), a prefix as the one node of
    /// `known` it starts.
    pub fn resolve<'a>(
        &self,
        known: impl IntoIterator<Item = &'a NodeId>,
    ) -> Result<NodeId, String> {
        let prefix = match self {
            Target::Full(node) => return Ok(*node),
            Target::Prefix(p) => p,
        };
        let mut found: Vec<NodeId> = known
            .into_iter()
            .filter(|n| n.to_string().starts_with(prefix.as_str()))
            .copied()
            .collect();
        found.sort();
        found.dedup();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("no known node {prefix} (give all 64 hex digits)")),
            _ => Err(format!(
                "{prefix} matches more than one node: type more of it"
            )),
        }
    }
}

/// A roster command typed on the line client, before the node resolves
/// its target and makes it an op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `/invite ID`.
    Invite(Target),
    /// `/revoke ID`.
    Revoke(Target),
    /// `/kiosk add ID`.
    KioskAdd(Target),
    /// `/kiosk remove ID`.
    KioskRemove(Target),
    /// `/organiser add ID`.
    OrganiserAdd(Target),
    /// `/organiser remove ID`.
    OrganiserRemove(Target),
    /// `/block ID`: this node's own blocklist (no op).
    Block(Target),
    /// `/unblock ID`.
    Unblock(Target),
    /// `/blocked`: this node's blocklist and allowlist.
    Blocked,
    /// `/policy` (show) or `/policy pow first=N every=N` (set).
    Policy(Option<PowPolicy>),
    /// `/roster`.
    Show,
}

/// A command's parser: the text after the slash-word.
pub type Parser = fn(&str) -> Result<Command, String>;

/// The slash-words of this applet and their parsers.
pub const COMMANDS: &[(&str, Parser)] = &[
    ("invite", parse_invite),
    ("revoke", parse_revoke),
    ("kiosk", parse_kiosk),
    ("organiser", parse_organiser),
    ("block", parse_block),
    ("unblock", parse_unblock),
    ("blocked", parse_blocked),
    ("policy", parse_policy),
    ("roster", parse_roster),
];

/// The parser of `word` (a slash-word without its slash), if it is one
/// of this applet's.
pub fn parser(word: &str) -> Option<Parser> {
    COMMANDS.iter().find(|(w, _)| *w == word).map(|(_, p)| *p)
}

/// `/invite ID`.
pub fn parse_invite(input: &str) -> Result<Command, String> {
    one_target(input, "usage: /invite ID").map(Command::Invite)
}

/// `/revoke ID`.
pub fn parse_revoke(input: &str) -> Result<Command, String> {
    one_target(input, "usage: /revoke ID").map(Command::Revoke)
}

/// `/kiosk add ID` or `/kiosk remove ID`.
pub fn parse_kiosk(input: &str) -> Result<Command, String> {
    add_or_remove(
        input,
        "usage: /kiosk add|remove ID",
        Command::KioskAdd,
        Command::KioskRemove,
    )
}

/// `/organiser add ID` or `/organiser remove ID` (the root only).
pub fn parse_organiser(input: &str) -> Result<Command, String> {
    add_or_remove(
        input,
        "usage: /organiser add|remove ID",
        Command::OrganiserAdd,
        Command::OrganiserRemove,
    )
}

fn add_or_remove(
    input: &str,
    usage: &str,
    add: fn(Target) -> Command,
    remove: fn(Target) -> Command,
) -> Result<Command, String> {
    let (verb, rest) = input
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((input.trim(), ""));
    match verb {
        "add" => one_target(rest, usage).map(add),
        "remove" => one_target(rest, usage).map(remove),
        _ => Err(usage.into()),
    }
}

/// `/block ID`.
pub fn parse_block(input: &str) -> Result<Command, String> {
    one_target(input, "usage: /block ID").map(Command::Block)
}

/// `/unblock ID`.
pub fn parse_unblock(input: &str) -> Result<Command, String> {
    one_target(input, "usage: /unblock ID").map(Command::Unblock)
}

/// `/blocked`.
pub fn parse_blocked(input: &str) -> Result<Command, String> {
    if input.trim().is_empty() {
        Ok(Command::Blocked)
    } else {
        Err("usage: /blocked".into())
    }
}

/// `/policy` or `/policy pow first=N every=N` (either may be left out:
/// 0).
pub fn parse_policy(input: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /policy [pow first=BITS every=BITS]";
    let mut words = input.split_whitespace();
    match words.next() {
        None => Ok(Command::Policy(None)),
        Some("pow") => {
            let mut p = PowPolicy::default();
            for word in words {
                let (key, value) = word.split_once('=').ok_or(USAGE)?;
                let bits: u8 = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not a number of bits"))?;
                if bits > POW_BITS_MAX {
                    return Err(format!(
                        "at most {POW_BITS_MAX} bits of proof of work may be asked for"
                    ));
                }
                match key {
                    "first" => p.first = bits,
                    "every" => p.every = bits,
                    _ => return Err(USAGE.into()),
                }
            }
            Ok(Command::Policy(Some(p)))
        }
        Some(_) => Err(USAGE.into()),
    }
}

/// `/roster`.
pub fn parse_roster(input: &str) -> Result<Command, String> {
    if input.trim().is_empty() {
        Ok(Command::Show)
    } else {
        Err("usage: /roster".into())
    }
}

fn one_target(input: &str, usage: &str) -> Result<Target, String> {
    let mut words = input.split_whitespace();
    match (words.next(), words.next()) {
        (Some(id), None) => Target::parse(id),
        _ => Err(usage.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::{RngExt, SeedableRng};
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::applets::chat;
    use crate::applets::testkit::{Room, assert_order_independent_rooted, state};
    use crate::proto::EngineRng;
    use crate::proto::oplog::OpLog;
    use crate::proto::oplog::fold::FoldKey;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Roster::default())]
    }

    fn with_chat() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Roster::default()), Box::new(chat::Chat::default())]
    }

    fn node(who: u8) -> NodeId {
        NodeId([who; 32])
    }

    /// Ops applied straight to one state in fold order, in a room rooted
    /// at node 1 (or no root); check and apply must agree, and a refusal
    /// must leave the saved state as it was.
    struct Bench {
        state: Roster,
        root: Option<NodeId>,
        n: u64,
    }

    impl Bench {
        fn rooted() -> Bench {
            Bench {
                state: Roster::default(),
                root: Some(node(1)),
                n: 0,
            }
        }

        fn unrooted() -> Bench {
            Bench {
                root: None,
                ..Bench::rooted()
            }
        }

        fn raw(&mut self, who: u8, kind: u16, body: &[u8]) -> Result<(), String> {
            self.n += 1;
            let op = AppliedOp {
                id: OpId(Sha256::digest(self.n.to_le_bytes()).into()),
                author: node(who),
                seq: self.n,
                lamport: self.n,
                wall_ms: 1000 + self.n,
                kind,
                body,
                root: self.root,
            };
            let before = self.state.save();
            let checked = self.state.check(&op);
            assert_eq!(self.state.save(), before, "check changed the state");
            let applied = self.state.apply(&op);
            assert_eq!(checked, applied, "check and apply disagree");
            if applied.is_err() {
                assert_eq!(self.state.save(), before, "a refusal changed the state");
            }
            applied
        }

        fn ok(&mut self, who: u8, op: RosterOp) {
            let (kind, body) = op.body();
            if let Err(e) = self.raw(who, kind, &body) {
                panic!("{op:?} by {who} refused: {e}");
            }
        }

        fn refused(&mut self, who: u8, op: RosterOp, reason: &str) {
            let (kind, body) = op.body();
            let err = self.raw(who, kind, &body).expect_err("refused");
            assert!(err.contains(reason), "{err:?} does not say {reason:?}");
        }

        fn members(&self) -> Vec<NodeId> {
            self.state.members().iter().map(|e| e.node).collect()
        }

        fn kiosks(&self) -> Vec<NodeId> {
            self.state.kiosks().iter().map(|e| e.node).collect()
        }
    }

    fn revoke(n: NodeId) -> RosterOp {
        RosterOp::revoke(n, 0)
    }

    #[test]
    fn a_room_without_a_root_stays_open_and_only_takes_leaving() {
        let mut b = Bench::unrooted();
        for op in [
            RosterOp::Invite(node(2)),
            revoke(node(2)),
            RosterOp::KioskAdd(node(2)),
            RosterOp::OrganiserAdd(node(2)),
        ] {
            b.refused(1, op, "this room has no root");
        }
        assert!(b.state.is_open() && !b.state.may_act(&node(1)));
        b.ok(3, revoke(node(3)));
        assert!(b.state.is_revoked(&node(3)) && b.state.is_open());
        assert_eq!(b.state.root(), None);
    }

    #[test]
    fn the_root_and_its_organisers_change_the_roster_and_the_first_invitation_closes_it() {
        let mut b = Bench::rooted();
        assert!(b.state.is_open());
        b.refused(
            2,
            RosterOp::Invite(node(3)),
            "only the root and organisers can change the roster (node 02020202",
        );
        b.ok(1, RosterOp::OrganiserAdd(node(2)));
        assert!(
            b.state.is_open(),
            "naming an organiser does not close the room"
        );
        assert_eq!(b.state.root(), Some(node(1)));
        assert!(b.state.is_organiser(&node(2)) && b.state.may_act(&node(2)));
        b.ok(2, RosterOp::Invite(node(3)));
        assert!(!b.state.is_open());
        assert_eq!(b.members(), vec![node(1), node(2), node(3)]);
        b.refused(3, RosterOp::Invite(node(4)), "is not an organiser");
        b.refused(
            2,
            RosterOp::OrganiserAdd(node(3)),
            "only the root names and removes organisers",
        );
        assert!(b.state.admits(&node(3)) && !b.state.admits(&node(4)));
        b.ok(1, RosterOp::OrganiserRemove(node(2)));
        assert!(!b.state.is_organiser(&node(2)) && !b.state.may_act(&node(2)));
        assert!(
            b.state.is_member(&node(2)),
            "an organiser removed stays a member"
        );
        b.refused(2, RosterOp::Invite(node(4)), "is not an organiser");
        b.refused(
            1,
            RosterOp::OrganiserRemove(node(2)),
            "is not an organiser the root named",
        );
        b.refused(
            1,
            RosterOp::OrganiserAdd(node(1)),
            "the root is an organiser",
        );
    }

    #[test]
    fn nobody_invites_themselves_or_a_member_twice() {
        let mut b = Bench::rooted();
        b.refused(1, RosterOp::Invite(node(1)), "you cannot invite yourself");
        b.ok(1, RosterOp::OrganiserAdd(node(3)));
        b.ok(1, RosterOp::Invite(node(2)));
        b.refused(
            1,
            RosterOp::Invite(node(2)),
            "node 02020202 is already a member",
        );
        b.refused(3, RosterOp::Invite(node(1)), "is already a member");
        b.refused(3, RosterOp::Invite(node(3)), "you cannot invite yourself");
        assert_eq!(b.state.invitations()[0].by, node(1));
    }

    #[test]
    fn revocation_wins_over_invitations_before_and_after_it() {
        let mut b = Bench::rooted();
        b.ok(1, RosterOp::OrganiserAdd(node(3)));
        b.ok(1, RosterOp::Invite(node(2)));
        b.ok(1, RosterOp::revoke(node(2), 7));
        assert!(!b.state.is_member(&node(2)) && b.state.is_revoked(&node(2)));
        assert_eq!(b.state.revoked_from(&node(2)), Some(8));
        assert_eq!(b.members(), vec![node(1), node(3)]);
        b.refused(3, RosterOp::Invite(node(2)), "revocation always wins");
        b.refused(3, revoke(node(2)), "is already revoked");
        // Barred before it was ever invited.
        b.ok(3, revoke(node(7)));
        b.refused(1, RosterOp::Invite(node(7)), "revocation always wins");
        let revoked = b.state.revoked();
        assert_eq!(
            revoked
                .iter()
                .map(|r| (r.entry.node, r.entry.by, r.from_seq))
                .collect::<Vec<_>>(),
            vec![(node(2), node(1), 8), (node(7), node(3), 1)]
        );
    }

    #[test]
    fn only_the_root_revokes_organisers_and_nobody_revokes_the_root() {
        let mut b = Bench::rooted();
        b.ok(1, RosterOp::OrganiserAdd(node(2)));
        b.ok(1, RosterOp::OrganiserAdd(node(3)));
        b.refused(
            2,
            revoke(node(3)),
            "node 03030303 is an organiser: only the root can revoke it",
        );
        b.refused(2, revoke(node(1)), "the root cannot be revoked");
        b.refused(1, revoke(node(1)), "the root cannot leave its room");
        b.ok(1, revoke(node(3)));
        assert!(!b.state.is_organiser(&node(3)) && !b.state.may_act(&node(3)));
        b.refused(3, RosterOp::Invite(node(4)), "node 03030303 is revoked");
        b.refused(1, RosterOp::OrganiserAdd(node(3)), "revocation always wins");
    }

    #[test]
    fn anyone_but_the_root_may_leave_but_only_once() {
        let mut b = Bench::rooted();
        b.ok(1, RosterOp::Invite(node(2)));
        b.ok(2, revoke(node(2)));
        assert_eq!(
            b.state.revoked_from(&node(2)),
            Some(3),
            "leaving: the point is the leaving op itself"
        );
        b.refused(2, revoke(node(2)), "node 02020202 is already revoked");
        // Not invited, in a closed room: leaving still only takes away.
        b.ok(5, revoke(node(5)));
        assert!(b.state.is_revoked(&node(5)));
        b.refused(1, RosterOp::Invite(node(5)), "revocation always wins");
    }

    #[test]
    fn kiosks_are_members_that_are_not_revoked() {
        let mut b = Bench::rooted();
        // Open: a kiosk needs no invitation yet.
        b.ok(1, RosterOp::KioskAdd(node(8)));
        assert!(b.state.is_kiosk(&node(8)));
        b.refused(
            1,
            RosterOp::KioskAdd(node(8)),
            "node 08080808 is already a kiosk",
        );
        // Closing the room without inviting it: no longer a kiosk.
        b.ok(1, RosterOp::Invite(node(2)));
        assert!(!b.state.is_kiosk(&node(8)) && b.kiosks().is_empty());
        b.refused(
            1,
            RosterOp::KioskRemove(node(8)),
            "node 08080808 is not a kiosk",
        );
        b.refused(
            1,
            RosterOp::KioskAdd(node(9)),
            "node 09090909 is not a member: invite it first",
        );
        b.ok(1, RosterOp::Invite(node(8)));
        assert_eq!(b.kiosks(), vec![node(8)], "the designation counts again");
        b.ok(1, RosterOp::KioskAdd(node(2)));
        assert_eq!(b.kiosks(), vec![node(2), node(8)]);
        b.ok(1, RosterOp::KioskRemove(node(2)));
        assert_eq!(b.kiosks(), vec![node(8)]);
        b.ok(1, revoke(node(8)));
        assert!(!b.state.is_kiosk(&node(8)) && b.kiosks().is_empty());
        b.refused(1, RosterOp::KioskAdd(node(8)), "revocation always wins");
        b.refused(1, RosterOp::KioskRemove(node(8)), "is not a kiosk");
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_refused() {
        let mut b = Bench::rooted();
        assert_eq!(b.raw(1, 0, &[]), Err("roster has no kind 0".into()));
        let err = b.raw(1, KIND_INVITE, &[2; 31]).expect_err("short");
        assert!(err.starts_with("roster invite body:"), "{err}");
        let err = b.raw(1, KIND_REVOKE, &[2; 33]).expect_err("short");
        assert!(err.starts_with("roster revoke body:"), "{err}");
        assert_eq!(b.state, Roster::default(), "refused ops change nothing");
    }

    #[test]
    fn the_view_saves_and_loads() {
        let mut b = Bench::rooted();
        b.ok(1, RosterOp::OrganiserAdd(node(2)));
        b.ok(1, RosterOp::Invite(node(3)));
        b.ok(2, RosterOp::KioskAdd(node(3)));
        b.ok(2, RosterOp::revoke(node(6), 4));
        let v = b.state.view();
        assert!(!v.open);
        assert_eq!(v.root, Some(node(1)));
        assert_eq!(
            v.organisers.iter().map(|e| e.node).collect::<Vec<_>>(),
            vec![node(2)]
        );
        assert_eq!(v.members.len(), 3);
        assert_eq!(v.members[0].node, node(1), "the root first");
        let r = v.revoked[0];
        assert_eq!(
            (r.entry.node, r.entry.by, r.from_seq),
            (node(6), node(2), 5)
        );
        assert_eq!((v.kiosks[0].node, v.kiosks[0].by), (node(3), node(2)));
        assert_eq!(b.state.nodes(), vec![node(1), node(2), node(3), node(6)]);
        let mut other = Roster::default();
        other.load(&b.state.save()).expect("loads");
        assert_eq!(other, b.state);
        assert!(other.load(b"junk").is_err());
        other.reset();
        assert_eq!(other, Roster::default());
    }

    #[test]
    fn bodies_match_the_spec_vectors() {
        for op in [
            RosterOp::Invite(node(0xab)),
            RosterOp::KioskAdd(node(0xab)),
            RosterOp::KioskRemove(node(0xab)),
            RosterOp::OrganiserAdd(node(0xab)),
            RosterOp::OrganiserRemove(node(0xab)),
        ] {
            let (kind, body) = op.body();
            assert_eq!(body, vec![0xab; 32], "the body is the node id's 32 bytes");
            assert_eq!(RosterOp::decode(kind, &body), Ok(op));
        }
        let op = RosterOp::revoke(node(0xab), 0x0102);
        let (kind, body) = op.body();
        let mut expected = vec![0xab; 32];
        expected.extend_from_slice(&0x0102u64.to_le_bytes());
        assert_eq!(
            body, expected,
            "node id, then upto as 8 bytes little-endian"
        );
        assert_eq!(RosterOp::decode(kind, &body), Ok(op));
        assert_eq!(
            [
                KIND_INVITE,
                KIND_REVOKE,
                KIND_KIOSK_ADD,
                KIND_KIOSK_REMOVE,
                KIND_ORGANISER_ADD,
                KIND_ORGANISER_REMOVE
            ],
            [1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn a_refused_command_never_becomes_an_op() {
        let mut room = Room::rooted(3, 5, make, 0);
        let (kind, body) = RosterOp::Invite(room.id(1)).body();
        room.write(0, NAME, kind, &body).expect("the root invites");
        let (kind, body) = RosterOp::Invite(room.id(0)).body();
        let err = room
            .write(2, NAME, kind, &body)
            .expect_err("not an organiser");
        assert!(err.contains("only the root and organisers"), "{err}");
        assert_eq!(room.ops.len(), 1);
    }

    #[test]
    fn a_concurrent_invitation_and_revocation_never_make_a_member() {
        for seed in 0..6 {
            let mut room = Room::rooted(4, seed, make, 0);
            let x = room.id(3);
            for who in [1, 2] {
                let (kind, body) = RosterOp::OrganiserAdd(room.id(who)).body();
                room.write(0, NAME, kind, &body).expect("an organiser");
            }
            // 1 and 2 both hear the roster so far (2 by writing), not
            // each other.
            let (kind, body) = RosterOp::KioskAdd(room.id(2)).body();
            room.write(2, NAME, kind, &body).expect("a kiosk");
            let (kind, body) = RosterOp::revoke(x, 0).body();
            room.write(1, NAME, kind, &body).expect("revoked");
            let (kind, body) = RosterOp::Invite(x).body();
            room.write_unheard(2, NAME, kind, &body)
                .expect("invited, as far as 2 knows");
            let e = assert_order_independent_rooted(make, &room.ops, room.root, seed, 8);
            let r = state::<Roster>(&e, NAME);
            assert!(r.is_revoked(&x) && !r.is_member(&x), "seed {seed}");
        }
    }

    /// The weakness of an in-band founder, closed: a node that has heard
    /// nothing writes roster ops at lamport 1 (sorting before the root's),
    /// and in every fold order they are refused and the root stays the
    /// root.
    #[test]
    fn a_node_with_the_code_alone_cannot_take_the_room() {
        for seed in 0..4 {
            let mut room = Room::rooted(4, seed, make, 0);
            let (kind, body) = RosterOp::Invite(room.id(2)).body();
            room.write(0, NAME, kind, &body).expect("the root invites");
            // The latecomer's own engine refuses its claims outright...
            for op in [
                RosterOp::Invite(room.id(3)),
                RosterOp::OrganiserAdd(room.id(1)),
                RosterOp::revoke(room.id(0), 0),
            ] {
                let (kind, body) = op.body();
                let err = room
                    .write_unheard(1, NAME, kind, &body)
                    .expect_err("refused");
                assert!(
                    err.contains("not an organiser") || err.contains("cannot be revoked"),
                    "{err}"
                );
            }
            let e = assert_order_independent_rooted(make, &room.ops, room.root, seed, 4);
            let r = state::<Roster>(&e, NAME);
            assert_eq!(r.root(), Some(room.id(0)));
            assert_eq!(
                r.members().iter().map(|m| m.node).collect::<Vec<_>>(),
                vec![room.id(0), room.id(2)],
                "seed {seed}"
            );
        }
    }

    /// A revoked member keeps writing, some ops with low Lamport times so
    /// that they sort before its revocation: none of them has any effect,
    /// in any fold order, while what it wrote before the point stands.
    #[test]
    fn a_revoked_members_later_ops_have_no_effect_wherever_they_sort() {
        for seed in 0..6 {
            let mut room = Room::rooted(3, seed, with_chat, 0);
            let carol = room.id(2);
            let (kind, body) = RosterOp::Invite(carol).body();
            room.write(0, NAME, kind, &body).expect("invited");
            room.write(2, chat::NAME, chat::KIND_MESSAGE, b"hello from carol")
                .expect("carol writes");
            // Busy room: the root's log runs far ahead of carol's.
            for i in 0..20 {
                room.write(
                    1,
                    chat::NAME,
                    chat::KIND_MESSAGE,
                    format!("line {i}").as_bytes(),
                )
                .expect_err("1 is not invited: its line has no effect");
                room.write(
                    0,
                    chat::NAME,
                    chat::KIND_MESSAGE,
                    format!("root {i}").as_bytes(),
                )
                .expect("the root writes");
            }
            let (kind, body) = RosterOp::revoke(carol, 1).body();
            room.write(0, NAME, kind, &body)
                .expect("revoked after her first op");
            // Carol has not heard the revocation: her ops have low lamport
            // times and sort before it; her engine takes them.
            for i in 0..3 {
                room.write_unheard(
                    2,
                    chat::NAME,
                    chat::KIND_MESSAGE,
                    format!("late {i}").as_bytes(),
                )
                .expect("as far as carol knows");
            }
            let e = assert_order_independent_rooted(with_chat, &room.ops, room.root, seed, 6);
            let lines: Vec<String> = state::<chat::Chat>(&e, chat::NAME)
                .lines()
                .iter()
                .filter(|l| l.author == carol)
                .map(|l| l.text.clone())
                .collect();
            assert_eq!(lines, vec!["hello from carol".to_string()], "seed {seed}");
            assert_eq!(e.folder().cuts().get(&carol), Some(&2), "seed {seed}");
            let late = room.ops.last().expect("written").op.id();
            let why = e.folder().refusal(&late).expect("no effect, with a reason");
            assert!(why.contains("was revoked"), "{why}");
        }
    }

    /// The root asks for proof of work on every op: ops written with it
    /// take effect, an op without it has none on any node (in any fold
    /// order), and a policy above the limit is refused.
    #[test]
    fn a_proof_of_work_policy_is_kept_by_every_op() {
        let mut room = Room::rooted(3, 9, with_chat, 0);
        let too_much = RosterOp::SetPow(PowPolicy {
            first: 0,
            every: POW_BITS_MAX + 1,
        });
        let (kind, body) = too_much.body();
        let err = room
            .write(0, NAME, kind, &body)
            .expect_err("above the limit");
        assert!(err.contains("at most 22 bits"), "{err}");
        let (kind, body) = RosterOp::SetPow(PowPolicy {
            first: 10,
            every: 6,
        })
        .body();
        room.write(0, NAME, kind, &body)
            .expect("the root sets the policy");
        // Written through the engine: it makes the work.
        let first = room
            .write(1, chat::NAME, chat::KIND_MESSAGE, b"with work")
            .expect("written with its work");
        assert!(
            pow::leading_zero_bits(&first.op.id()) >= 10,
            "a first op pays 10"
        );
        let second = room
            .write(1, chat::NAME, chat::KIND_MESSAGE, b"again")
            .expect("written with its work");
        assert!(pow::leading_zero_bits(&second.op.id()) >= 6);
        // An op made without the work (person 2's first op): refused by
        // its author's own engine, and without effect where it arrives.
        let e = room.fold();
        let mut lazy = e
            .draft(chat::NAME, chat::KIND_MESSAGE, b"no work", 5_000, [2; 24])
            .expect("drafted");
        lazy.author = room.id(2);
        lazy.seq = 1;
        lazy.prev = None;
        // Sealed for person 2's op: seal its body again.
        lazy.body = crate::proto::oplog::op::seal_body(
            &crate::applets::testkit::SEAL,
            &room.id(2),
            1,
            chat::NAME,
            chat::KIND_MESSAGE,
            b"no work",
            [2; 24],
        )
        .expect("sealed");
        while pow::meets(&lazy.id(), 1) {
            lazy.pow_nonce += 1;
        }
        let lazy = OpLog::finish(&room.people[2], lazy).expect("signed");
        let lazy_id = lazy.id();
        room.ops.push(lazy.into_signed());
        let e = assert_order_independent_rooted(with_chat, &room.ops, room.root, 9, 6);
        let texts: Vec<String> = state::<chat::Chat>(&e, chat::NAME)
            .lines()
            .iter()
            .map(|l| l.text.clone())
            .collect();
        assert_eq!(texts, vec!["with work".to_string(), "again".to_string()]);
        let why = e.folder().refusal(&lazy_id).expect("no effect");
        assert!(
            why.contains("0 bits of proof of work; this room asks for 10"),
            "{why}"
        );
    }

    /// Four people of a room of five rooted at person 0 (the fifth never
    /// writes; others name it) inviting, revoking, naming organisers and
    /// designating at random, a third of the ops unheard. Every fold order
    /// gives one state, and stepping through the fold order with the same
    /// revocation points shows revocation winning at every point.
    #[test]
    fn random_rosters_fold_alike_in_any_order_and_revocation_always_wins() {
        let mut totals = [0usize; 5];
        for seed in 0..20u64 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let mut room = Room::rooted(5, seed, make, 0);
            // Each written op, by fold key, with its plain body.
            let mut written: BTreeMap<FoldKey, (OpId, u16, Vec<u8>)> = BTreeMap::new();
            for _ in 0..60 {
                let who = if rng.random_bool(0.4) {
                    0
                } else {
                    rng.random_range(1..4usize)
                };
                let target = room.id(rng.random_range(0..5usize));
                let op = match rng.random_range(0..12u8) {
                    0..=3 => RosterOp::Invite(target),
                    4..=5 => RosterOp::revoke(target, rng.random_range(0..4)),
                    6..=7 => RosterOp::KioskAdd(target),
                    8 => RosterOp::KioskRemove(target),
                    9..=10 => RosterOp::OrganiserAdd(target),
                    _ => RosterOp::OrganiserRemove(target),
                };
                let (kind, body) = op.body();
                let result = if rng.random_bool(0.33) {
                    room.write_unheard(who, NAME, kind, &body)
                } else {
                    room.write(who, NAME, kind, &body)
                };
                if let Ok(signed) = result {
                    let o = &signed.op;
                    written.insert((o.lamport, o.author, o.seq), (o.id(), kind, body));
                }
            }
            let e = assert_order_independent_rooted(make, &room.ops, room.root, seed, 6);
            let folded = state::<Roster>(&e, NAME);
            let cuts = e.folder().cuts().clone();

            // Step through the fold order, leaving out ops past their
            // author's revocation point.
            let mut r = Roster::default();
            let mut ever_revoked = BTreeSet::new();
            let ops: Vec<AppliedOp<'_>> = written
                .iter()
                .map(|((lamport, author, seq), (id, kind, body))| AppliedOp {
                    id: *id,
                    author: *author,
                    seq: *seq,
                    lamport: *lamport,
                    wall_ms: 0,
                    kind: *kind,
                    body,
                    root: room.root,
                })
                .collect();
            assert_eq!(Roster::cuts(&ops), cuts, "seed {seed}: the folder's points");
            for op in &ops {
                if cuts.get(&op.author).is_some_and(|from| op.seq >= *from) {
                    totals[4] += 1;
                    continue;
                }
                let _ = r.apply(op);
                ever_revoked.extend(r.revoked().iter().map(|e| e.entry.node));
                for gone in &ever_revoked {
                    assert!(r.is_revoked(gone), "seed {seed}: revocations are final");
                    assert!(!r.is_member(gone) && !r.is_kiosk(gone), "seed {seed}");
                    assert!(!r.is_organiser(gone), "seed {seed}");
                }
                assert!(!r.is_revoked(&room.id(0)), "seed {seed}: the root stays");
                assert_eq!(r.is_open(), r.invitations().is_empty(), "seed {seed}");
                for k in r.kiosks() {
                    assert!(r.is_open() || r.is_member(&k.node), "seed {seed}");
                }
                for i in r.invitations() {
                    assert_ne!(i.node, i.by, "seed {seed}: nobody invites themselves");
                }
            }
            // The engine's fold (wall times aside) agrees with the step-through.
            let strip = |r: &Roster| {
                let v = r.view();
                let nodes = |es: Vec<Entry>| es.iter().map(|e| (e.node, e.by)).collect::<Vec<_>>();
                (
                    v.open,
                    v.root,
                    nodes(v.organisers),
                    nodes(v.members),
                    v.revoked
                        .iter()
                        .map(|r| (r.entry.node, r.from_seq))
                        .collect::<Vec<_>>(),
                    nodes(v.kiosks),
                )
            };
            assert_eq!(strip(folded), strip(&r), "seed {seed}");
            let v = folded.view();
            totals[0] += v.members.len();
            totals[1] += v.revoked.len();
            totals[2] += v.kiosks.len();
            totals[3] += v.organisers.len();
        }
        assert!(
            totals.iter().all(|t| *t > 0),
            "members, revocations, kiosks, organisers and ops past a point all happen: {totals:?}"
        );
    }

    #[test]
    fn targets_parse_as_full_ids_or_prefixes() {
        let full = node(0xab).to_string();
        assert_eq!(Target::parse(&full), Ok(Target::Full(node(0xab))));
        assert_eq!(
            Target::parse(&full.to_uppercase()),
            Ok(Target::Full(node(0xab)))
        );
        assert_eq!(Target::parse("ABcd"), Ok(Target::Prefix("abcd".into())));
        assert_eq!(
            Target::parse("abc"),
            Err("type at least 4 hex digits of the node id".into())
        );
        assert!(Target::parse("").unwrap_err().contains("hex digits"));
        assert!(
            Target::parse("alice")
                .unwrap_err()
                .contains("not a node id")
        );
        assert!(
            Target::parse(&format!("{full}0"))
                .unwrap_err()
                .contains("64 hex digits, not 65")
        );
    }

    #[test]
    fn prefixes_resolve_against_known_nodes() {
        let mut a = [0u8; 32];
        a[0] = 0xab;
        a[1] = 0xcd;
        let mut b = a;
        b[1] = 0xce;
        let (a, b) = (NodeId(a), NodeId(b));
        let known = [a, b, a];
        assert_eq!(Target::Prefix("abcd".into()).resolve(&known), Ok(a));
        assert!(
            Target::Prefix("abc0".into())
                .resolve(&known)
                .unwrap_err()
                .contains("no known node abc0")
        );
        let both = Target::Prefix("0000".into());
        assert!(
            both.resolve(&[NodeId([0; 32]), {
                let mut z = [0u8; 32];
                z[31] = 1;
                NodeId(z)
            }])
            .unwrap_err()
            .contains("more than one")
        );
        assert_eq!(
            Target::Full(node(7)).resolve(&known),
            Ok(node(7)),
            "unknown full ids stand"
        );
    }

    #[test]
    fn commands_parse() {
        let t = || Target::Prefix("abcd".into());
        assert_eq!(parse_invite("abcd"), Ok(Command::Invite(t())));
        assert_eq!(parse_revoke(" abcd "), Ok(Command::Revoke(t())));
        assert_eq!(parse_kiosk("add abcd"), Ok(Command::KioskAdd(t())));
        assert_eq!(parse_kiosk(" remove  abcd"), Ok(Command::KioskRemove(t())));
        assert_eq!(parse_roster(""), Ok(Command::Show));
        assert_eq!(parse_block("abcd"), Ok(Command::Block(t())));
        assert_eq!(parse_unblock(" abcd"), Ok(Command::Unblock(t())));
        assert_eq!(parse_blocked(""), Ok(Command::Blocked));
        assert_eq!(parse_policy(""), Ok(Command::Policy(None)));
        assert_eq!(
            parse_policy("pow first=20"),
            Ok(Command::Policy(Some(PowPolicy {
                first: 20,
                every: 0
            })))
        );
        assert!(
            parse_policy("pow every=23")
                .unwrap_err()
                .contains("at most 22")
        );
        assert!(parse_policy("pow x=1").unwrap_err().starts_with("usage"));
        assert_eq!(parse_blocked("x"), Err("usage: /blocked".into()));
        assert_eq!(parse_organiser("add abcd"), Ok(Command::OrganiserAdd(t())));
        assert_eq!(
            parse_organiser("remove abcd"),
            Ok(Command::OrganiserRemove(t()))
        );
        assert_eq!(
            parse_organiser("abcd"),
            Err("usage: /organiser add|remove ID".into())
        );
        assert_eq!(parse_invite(""), Err("usage: /invite ID".into()));
        assert_eq!(parse_revoke("ab cd"), Err("usage: /revoke ID".into()));
        assert_eq!(
            parse_kiosk("abcd"),
            Err("usage: /kiosk add|remove ID".into())
        );
        assert_eq!(
            parse_kiosk("add"),
            Err("usage: /kiosk add|remove ID".into())
        );
        assert_eq!(
            parse_kiosk("add abcd x"),
            Err("usage: /kiosk add|remove ID".into())
        );
        assert!(parse_kiosk("add abc").unwrap_err().contains("at least 4"));
        assert_eq!(parse_roster("all"), Err("usage: /roster".into()));
        let p = parser("kiosk").expect("a command of this applet");
        assert_eq!(p("add abcd"), Ok(Command::KioskAdd(t())));
        assert!(parser("kiosks").is_none());
    }
}
