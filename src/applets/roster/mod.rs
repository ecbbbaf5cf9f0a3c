//! The roster: who is invited, who is revoked, which nodes are kiosks.
//!
//! The roster is state only: it answers "is this node a member, revoked, a
//! kiosk?" ([`Roster::is_member`], [`Roster::is_revoked`],
//! [`Roster::is_kiosk`]). Refusing links and ops of nodes that are not
//! members comes with the access-control work (ARCHITECTURE §10), which
//! reads these queries.
//!
//! # Ops
//!
//! | kind | op | body |
//! |---|---|---|
//! | [`KIND_INVITE`] | invite a node | [`Subject`] `{ node }` |
//! | [`KIND_REVOKE`] | revoke a node | [`Subject`] |
//! | [`KIND_KIOSK_ADD`] | designate a kiosk | [`Subject`] |
//! | [`KIND_KIOSK_REMOVE`] | stop designating it | [`Subject`] |
//!
//! Build bodies with [`RosterOp::body`]; [`RosterOp::decode`] refuses
//! unknown kinds and bodies that do not decode.
//!
//! # Who may act
//!
//! The roster is **open** until the first invitation is accepted: an open
//! room (the room code alone admits). The author of the first accepted
//! roster op is the **founder**. A node may invite, revoke and designate
//! kiosks if it is not revoked and the roster is open, or it is invited,
//! or it is the founder. That is ARCHITECTURE §10's "a member's signed
//! invitation": every member is the founder or was invited by someone who
//! could act at that point of the fold, so membership is a chain of
//! signed invitations back to the founder. It needs no knowledge outside
//! the ops (no local allowlist, no "who is folding"), so every node
//! derives the same roster.
//!
//! # Rules
//!
//! In the order they are checked; the first that fails refuses the op
//! with its reason and changes nothing:
//!
//! 1. The op decodes.
//! 2. **Revoking oneself** (leaving) is always allowed, to anyone, unless
//!    already revoked: it can only take rights away. Every other op needs
//!    the author to be allowed to act (above): a revoked author is refused
//!    ("node X is revoked"), and so is one that is neither invited nor the
//!    founder once the roster is closed.
//! 3. **invite**: not oneself; the node is not revoked (revocation always
//!    wins); it is not a member already (the founder counts as one; the
//!    first invitation in fold order is the one kept, with its inviter).
//! 4. **revoke**: the node is not revoked already. Any node may be revoked,
//!    invited or not (revoking one not yet invited bars it in advance), the
//!    founder included.
//! 5. **kiosk add**: the node is not revoked; it is a member, or the roster
//!    is open; it is not a kiosk already. A node may designate itself.
//! 6. **kiosk remove**: the node is a kiosk now.
//!
//! # Revocation always wins
//!
//! Once a node is revoked no invitation makes it a member again, whether
//! the invitation comes before the revocation in fold order or after it:
//! a later invite is refused, and an earlier one is outweighed because
//! membership is computed when asked ("invited or founder, and not
//! revoked"), never stored. A revoked node is never a kiosk, by the same
//! query-time rule. Revocations are final (there is no un-revoke), and
//! they do not undo what the revoked node did while it could act (its
//! invitations stand, and whoever it invited can be revoked in turn).
//! Each permission check reads the roster as folded up to that op; the
//! fold order is total and the same on every node, so the result is too,
//! whatever order the ops arrived in.
//!
//! A kiosk counts as one while it is designated, not revoked, and a member
//! (or the roster is open): a kiosk designated while the roster was open
//! stops counting once the roster closes, unless it is invited.
//!
//! # Known weakness
//!
//! The fold order `(lamport, author, seq)` is influenced by authors: an
//! op's lamport need only exceed its author's previous op, so an author
//! can write an op that sorts before ops it has already seen. While the
//! roster is open, a node can thereby make its own roster op the first
//! one and become the founder, and then shut out the real organiser (whose
//! ops now come after the roster closed); it takes no malice, only a
//! node writing its first op before it heard the founder's (lamport 1,
//! ties to the lower node id; tested). A member with a low lamport
//! (few ops of its own) can likewise slip an invitation in before its own
//! revocation. And any one member may revoke any other. Until the
//! access-control work adds its defences (the founder pinned out of band,
//! e.g. in the join link; ops far below the heard frontier refused;
//! revocation by a quorum of organisers, ARCHITECTURE §13), the roster
//! keeps who did what (every entry names its author and op) so abuse can
//! be seen and revoked.
//!
//! # Commands
//!
//! ```text
//! /invite ID
//! /revoke ID
//! /kiosk add ID
//! /kiosk remove ID
//! /roster
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

/// The applet's name in ops.
pub const NAME: &str = "roster";
/// Fewest hex digits of a node-id prefix people may type.
pub const PREFIX_HEX_MIN: usize = 4;
/// Hex digits of a full node id.
pub const NODE_HEX: usize = 64;

/// The body of every roster op: the node it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The node invited, revoked, or designated a kiosk (or no longer).
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

crate::applet_ops! {
    /// One op of this applet, typed: [`RosterOp::body`] encodes it,
    /// [`RosterOp::decode`] reads it back.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RosterOp for NAME {
        /// Invites a node; body [`Subject`].
        KIND_INVITE = 1 => Invite(NodeId as Subject),
        /// Revokes a node; body [`Subject`].
        KIND_REVOKE = 2 => Revoke(NodeId as Subject),
        /// Designates a kiosk; body [`Subject`].
        KIND_KIOSK_ADD = 3 => KioskAdd(NodeId as Subject),
        /// Stops designating a kiosk; body [`Subject`].
        KIND_KIOSK_REMOVE = 4 => KioskRemove(NodeId as Subject),
    }
}

impl RosterOp {
    /// The node the op is about.
    pub fn node(&self) -> NodeId {
        match *self {
            RosterOp::Invite(n)
            | RosterOp::Revoke(n)
            | RosterOp::KioskAdd(n)
            | RosterOp::KioskRemove(n) => n,
        }
    }
}

/// One roster fact: `node` was invited, revoked or designated by `by`, in
/// op `op` (for the founder, `by` is the founder itself and `op` its first
/// roster op).
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

/// The whole roster as `/roster` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RosterView {
    /// No invitation yet: anyone with the room code is admitted.
    pub open: bool,
    /// The author of the first accepted roster op, if any.
    pub founder: Option<NodeId>,
    /// Members now (founder and invited, not revoked), by node id.
    pub members: Vec<Entry>,
    /// Revoked nodes, by node id.
    pub revoked: Vec<Entry>,
    /// Kiosks now, by node id.
    pub kiosks: Vec<Entry>,
}

/// The roster applet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The author of the first accepted roster op.
    founder: Option<Entry>,
    /// The first accepted invitation of each node (revoked ones included).
    invited: BTreeMap<NodeId, Entry>,
    revoked: BTreeMap<NodeId, Entry>,
    /// Designations (revoked ones are kept but do not count).
    kiosks: BTreeMap<NodeId, Entry>,
}

impl Roster {
    /// No invitation accepted yet: the room admits anyone with its code,
    /// and anyone not revoked may change the roster.
    pub fn is_open(&self) -> bool {
        self.invited.is_empty()
    }

    /// The author of the first accepted roster op.
    pub fn founder(&self) -> Option<NodeId> {
        self.founder.map(|f| f.node)
    }

    /// Whether `node` was revoked (for good: a revocation is not undone).
    pub fn is_revoked(&self, node: &NodeId) -> bool {
        self.revoked.contains_key(node)
    }

    /// Invited (or the founder) and not revoked. In an open roster this
    /// says who was named, not who is admitted (see [`Roster::is_open`]).
    pub fn is_member(&self, node: &NodeId) -> bool {
        !self.is_revoked(node) && (self.invited.contains_key(node) || self.founder() == Some(*node))
    }

    /// Designated, not revoked, and a member (or the roster is open).
    pub fn is_kiosk(&self, node: &NodeId) -> bool {
        self.kiosks.contains_key(node)
            && !self.is_revoked(node)
            && (self.is_open() || self.is_member(node))
    }

    /// May `node` invite, revoke (others) and designate now?
    pub fn may_act(&self, node: &NodeId) -> bool {
        self.check_actor(node).is_ok()
    }

    /// Members now (founder first, then by node id), with who invited
    /// them.
    pub fn members(&self) -> Vec<Entry> {
        let founder = self.founder.filter(|f| !self.is_revoked(&f.node));
        founder
            .into_iter()
            .chain(
                self.invited
                    .values()
                    .filter(|e| !self.is_revoked(&e.node))
                    .copied(),
            )
            .collect()
    }

    /// Every accepted invitation, revoked nodes' included, by node id.
    pub fn invitations(&self) -> Vec<Entry> {
        self.invited.values().copied().collect()
    }

    /// Revoked nodes, with who revoked them, by node id.
    pub fn revoked(&self) -> Vec<Entry> {
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
            .founder
            .iter()
            .chain(self.invited.values())
            .chain(self.revoked.values())
            .chain(self.kiosks.values())
            .map(|e| e.node)
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The roster as `/roster` shows it.
    pub fn view(&self) -> RosterView {
        RosterView {
            open: self.is_open(),
            founder: self.founder(),
            members: self.members(),
            revoked: self.revoked(),
            kiosks: self.kiosks(),
        }
    }

    /// Why `node` may not change the roster, if it may not.
    fn check_actor(&self, node: &NodeId) -> Result<(), String> {
        if self.is_revoked(node) {
            return Err(format!(
                "node {} is revoked and cannot change the roster",
                node.fmt_short()
            ));
        }
        if self.is_open() || self.is_member(node) {
            return Ok(());
        }
        Err(format!(
            "only members can change the roster (node {} is not invited)",
            node.fmt_short()
        ))
    }

    /// The rules: what `op` would change, or why it is refused.
    fn validate(&self, op: &AppliedOp<'_>) -> Result<RosterOp, String> {
        let decoded = RosterOp::decode(op.kind, op.body)?;
        let node = decoded.node();
        let who = node.fmt_short();
        if decoded == RosterOp::Revoke(op.author) {
            if self.is_revoked(&node) {
                return Err(format!("node {who} is already revoked"));
            }
            return Ok(decoded);
        }
        self.check_actor(&op.author)?;
        match decoded {
            RosterOp::Invite(_) => {
                if node == op.author {
                    return Err("you cannot invite yourself".into());
                }
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is revoked: revocation always wins"));
                }
                if self.is_member(&node) {
                    return Err(format!("node {who} is already a member"));
                }
            }
            RosterOp::Revoke(_) => {
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is already revoked"));
                }
            }
            RosterOp::KioskAdd(_) => {
                if self.is_revoked(&node) {
                    return Err(format!("node {who} is revoked: revocation always wins"));
                }
                if !self.is_open() && !self.is_member(&node) {
                    return Err(format!("node {who} is not a member: invite it first"));
                }
                if self.is_kiosk(&node) {
                    return Err(format!("node {who} is already a kiosk"));
                }
            }
            RosterOp::KioskRemove(_) => {
                if !self.is_kiosk(&node) {
                    return Err(format!("node {who} is not a kiosk"));
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
        let node = change.node();
        let entry = Entry {
            node,
            by: op.author,
            op: op.id,
            wall_ms: op.wall_ms,
        };
        if self.founder.is_none() {
            self.founder = Some(Entry {
                node: op.author,
                ..entry
            });
        }
        match change {
            RosterOp::Invite(_) => {
                self.invited.insert(node, entry);
            }
            RosterOp::Revoke(_) => {
                self.revoked.insert(node, entry);
            }
            RosterOp::KioskAdd(_) => {
                self.kiosks.insert(node, entry);
            }
            RosterOp::KioskRemove(_) => {
                self.kiosks.remove(&node);
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
    const USAGE: &str = "usage: /kiosk add|remove ID";
    let (verb, rest) = input
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((input.trim(), ""));
    match verb {
        "add" => one_target(rest, USAGE).map(Command::KioskAdd),
        "remove" => one_target(rest, USAGE).map(Command::KioskRemove),
        _ => Err(USAGE.into()),
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
    use crate::applets::testkit::{Room, assert_order_independent, state};
    use crate::proto::EngineRng;
    use crate::proto::oplog::fold::FoldKey;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Roster::default())]
    }

    fn node(who: u8) -> NodeId {
        NodeId([who; 32])
    }

    /// Ops applied straight to one state in fold order; check and apply
    /// must agree, and a refusal must leave the saved state as it was.
    #[derive(Default)]
    struct Bench {
        state: Roster,
        n: u64,
    }

    impl Bench {
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

    #[test]
    fn anyone_starts_an_open_roster_and_its_first_author_founds_it() {
        let mut b = Bench::default();
        assert!(b.state.is_open());
        assert_eq!(b.state.founder(), None);
        assert!(b.state.may_act(&node(9)));
        b.ok(1, RosterOp::Invite(node(2)));
        assert!(!b.state.is_open());
        assert_eq!(b.state.founder(), Some(node(1)));
        assert_eq!(b.members(), vec![node(1), node(2)]);
        let invited = b.state.invitations();
        assert_eq!((invited[0].node, invited[0].by), (node(2), node(1)));
        assert!(b.state.is_member(&node(1)) && b.state.is_member(&node(2)));
        assert!(!b.state.is_member(&node(3)));
    }

    #[test]
    fn once_closed_only_members_change_the_roster() {
        let mut b = Bench::default();
        b.ok(1, RosterOp::Invite(node(2)));
        b.refused(
            3,
            RosterOp::Invite(node(4)),
            "only members can change the roster",
        );
        b.refused(
            3,
            RosterOp::Revoke(node(2)),
            "(node 03030303 is not invited)",
        );
        b.refused(3, RosterOp::KioskAdd(node(2)), "only members");
        b.ok(2, RosterOp::Invite(node(3)));
        b.ok(3, RosterOp::Invite(node(4)));
        assert_eq!(b.members(), vec![node(1), node(2), node(3), node(4)]);
    }

    #[test]
    fn nobody_invites_themselves_or_a_member_twice() {
        let mut b = Bench::default();
        b.refused(1, RosterOp::Invite(node(1)), "you cannot invite yourself");
        b.ok(1, RosterOp::Invite(node(2)));
        b.refused(3, RosterOp::Invite(node(3)), "only members");
        b.refused(
            1,
            RosterOp::Invite(node(2)),
            "node 02020202 is already a member",
        );
        b.refused(2, RosterOp::Invite(node(1)), "is already a member");
        assert_eq!(
            b.state.invitations()[0].by,
            node(1),
            "the first invitation is kept"
        );
    }

    #[test]
    fn revocation_wins_over_invitations_before_and_after_it() {
        let mut b = Bench::default();
        b.ok(1, RosterOp::Invite(node(2)));
        b.ok(1, RosterOp::Invite(node(3)));
        b.ok(1, RosterOp::Revoke(node(2)));
        assert!(!b.state.is_member(&node(2)) && b.state.is_revoked(&node(2)));
        assert_eq!(b.members(), vec![node(1), node(3)]);
        b.refused(3, RosterOp::Invite(node(2)), "revocation always wins");
        b.refused(
            2,
            RosterOp::Invite(node(5)),
            "node 02020202 is revoked and cannot change",
        );
        b.refused(3, RosterOp::Revoke(node(2)), "is already revoked");
        // Barred before it was ever invited.
        b.ok(3, RosterOp::Revoke(node(7)));
        b.refused(1, RosterOp::Invite(node(7)), "revocation always wins");
        let revoked = b.state.revoked();
        assert_eq!(
            revoked.iter().map(|e| (e.node, e.by)).collect::<Vec<_>>(),
            vec![(node(2), node(1)), (node(7), node(3))]
        );
    }

    #[test]
    fn anyone_may_leave_but_only_once() {
        let mut b = Bench::default();
        b.ok(1, RosterOp::Invite(node(2)));
        b.ok(2, RosterOp::Revoke(node(2)));
        b.refused(
            2,
            RosterOp::Revoke(node(2)),
            "node 02020202 is already revoked",
        );
        // Not invited, in a closed roster: leaving still only takes away.
        b.ok(5, RosterOp::Revoke(node(5)));
        assert!(b.state.is_revoked(&node(5)));
        b.refused(1, RosterOp::Invite(node(5)), "revocation always wins");
    }

    #[test]
    fn a_revoked_founder_loses_its_rights_and_its_invitations_stand() {
        let mut b = Bench::default();
        b.ok(1, RosterOp::Invite(node(2)));
        b.ok(2, RosterOp::Invite(node(3)));
        b.ok(3, RosterOp::Revoke(node(2)));
        b.ok(3, RosterOp::Revoke(node(1)));
        assert_eq!(b.state.founder(), Some(node(1)));
        assert_eq!(b.members(), vec![node(3)]);
        b.refused(1, RosterOp::Invite(node(4)), "node 01010101 is revoked");
    }

    #[test]
    fn kiosks_are_members_that_are_not_revoked() {
        let mut b = Bench::default();
        // Open: a kiosk needs no invitation yet.
        b.ok(1, RosterOp::KioskAdd(node(8)));
        assert!(b.state.is_kiosk(&node(8)));
        b.refused(
            1,
            RosterOp::KioskAdd(node(8)),
            "node 08080808 is already a kiosk",
        );
        // Closing the roster without inviting it: no longer a kiosk.
        b.ok(1, RosterOp::Invite(node(2)));
        assert!(!b.state.is_kiosk(&node(8)) && b.kiosks().is_empty());
        b.refused(
            2,
            RosterOp::KioskRemove(node(8)),
            "node 08080808 is not a kiosk",
        );
        b.refused(
            2,
            RosterOp::KioskAdd(node(9)),
            "node 09090909 is not a member: invite it first",
        );
        b.ok(2, RosterOp::Invite(node(8)));
        assert_eq!(b.kiosks(), vec![node(8)], "the designation counts again");
        b.ok(2, RosterOp::KioskAdd(node(2)));
        assert_eq!(b.kiosks(), vec![node(2), node(8)]);
        b.ok(1, RosterOp::KioskRemove(node(2)));
        assert_eq!(b.kiosks(), vec![node(8)]);
        b.ok(1, RosterOp::Revoke(node(8)));
        assert!(!b.state.is_kiosk(&node(8)) && b.kiosks().is_empty());
        b.refused(1, RosterOp::KioskAdd(node(8)), "revocation always wins");
        b.refused(1, RosterOp::KioskRemove(node(8)), "is not a kiosk");
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_refused() {
        let mut b = Bench::default();
        assert_eq!(b.raw(1, 0, &[]), Err("roster has no kind 0".into()));
        let err = b.raw(1, KIND_INVITE, &[2; 31]).expect_err("short");
        assert!(err.starts_with("roster invite body:"), "{err}");
        let err = b.raw(1, KIND_REVOKE, &[2; 33]).expect_err("long");
        assert!(err.starts_with("roster revoke body:"), "{err}");
        assert_eq!(b.state, Roster::default());
        assert_eq!(b.state.founder(), None, "refused ops found nothing");
    }

    #[test]
    fn the_view_saves_and_loads() {
        let mut b = Bench::default();
        b.ok(1, RosterOp::Invite(node(2)));
        b.ok(1, RosterOp::Invite(node(3)));
        b.ok(2, RosterOp::KioskAdd(node(3)));
        b.ok(2, RosterOp::Revoke(node(6)));
        let v = b.state.view();
        assert!(!v.open);
        assert_eq!(v.founder, Some(node(1)));
        assert_eq!(v.members.len(), 3);
        assert_eq!((v.revoked[0].node, v.revoked[0].by), (node(6), node(2)));
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
            RosterOp::Revoke(node(0xab)),
            RosterOp::KioskAdd(node(0xab)),
            RosterOp::KioskRemove(node(0xab)),
        ] {
            let (kind, body) = op.body();
            assert_eq!(body, vec![0xab; 32], "the body is the node id's 32 bytes");
            assert_eq!(RosterOp::decode(kind, &body), Ok(op));
        }
        assert_eq!(
            [KIND_INVITE, KIND_REVOKE, KIND_KIOSK_ADD, KIND_KIOSK_REMOVE],
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn a_refused_command_never_becomes_an_op() {
        let mut room = Room::new(3, 5, make);
        let (kind, body) = RosterOp::Invite(room.id(1)).body();
        room.write(0, NAME, kind, &body).expect("founded");
        let (kind, body) = RosterOp::Invite(room.id(0)).body();
        let err = room.write(2, NAME, kind, &body).expect_err("not a member");
        assert!(err.contains("only members"), "{err}");
        assert_eq!(room.ops.len(), 1);
    }

    #[test]
    fn a_concurrent_invitation_and_revocation_never_make_a_member() {
        for seed in 0..6 {
            let mut room = Room::new(4, seed, make);
            let x = room.id(3);
            let (kind, body) = RosterOp::Invite(room.id(1)).body();
            room.write(0, NAME, kind, &body).expect("founded");
            let (kind, body) = RosterOp::Invite(room.id(2)).body();
            room.write(0, NAME, kind, &body).expect("invited");
            // 1 and 2 both hear the roster so far (2 by writing), not
            // each other.
            let (kind, body) = RosterOp::KioskAdd(room.id(2)).body();
            room.write(2, NAME, kind, &body).expect("a kiosk");
            let (kind, body) = RosterOp::Revoke(x).body();
            room.write(1, NAME, kind, &body).expect("revoked");
            let (kind, body) = RosterOp::Invite(x).body();
            room.write_unheard(2, NAME, kind, &body)
                .expect("invited, as far as 2 knows");
            let e = assert_order_independent(make, &room.ops, seed, 8);
            let r = state::<Roster>(&e, NAME);
            assert!(r.is_revoked(&x) && !r.is_member(&x), "seed {seed}");
        }
    }

    /// The known weakness, pinned: a node that has heard nothing writes
    /// its first op at lamport 1; if its id sorts first it becomes the
    /// founder, and the real founder's concurrent invitation is refused.
    #[test]
    fn an_unheard_first_op_can_take_the_founder_role() {
        let mut room = Room::new(4, 1, make);
        let (founder, latecomer) = if room.id(0) > room.id(1) {
            (0, 1)
        } else {
            (1, 0)
        };
        let (kind, body) = RosterOp::Invite(room.id(2)).body();
        room.write(founder, NAME, kind, &body)
            .expect("founded, as far as it knows");
        let (kind, body) = RosterOp::Invite(room.id(3)).body();
        room.write_unheard(latecomer, NAME, kind, &body)
            .expect("founded, as far as it knows");
        let e = assert_order_independent(make, &room.ops, 1, 4);
        let r = state::<Roster>(&e, NAME);
        assert_eq!(r.founder(), Some(room.id(latecomer)));
        assert!(r.is_member(&room.id(3)));
        assert!(!r.is_member(&room.id(founder)) && !r.is_member(&room.id(2)));
    }

    /// Four people of a room of five (the fifth never writes; others name
    /// it) inviting, revoking and designating at random, a third of the
    /// ops unheard. Every fold order gives one state, and stepping
    /// through the fold order shows revocation winning at every point.
    #[test]
    fn random_rosters_fold_alike_in_any_order_and_revocation_always_wins() {
        let mut totals = [0usize; 4];
        for seed in 0..20u64 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let mut room = Room::new(5, seed, make);
            // Each written op, by fold key, with its plain body.
            let mut written: BTreeMap<FoldKey, (OpId, u16, Vec<u8>)> = BTreeMap::new();
            for _ in 0..40 {
                let who = rng.random_range(0..4usize);
                let target = room.id(rng.random_range(0..5usize));
                let op = match rng.random_range(0..10u8) {
                    0..=3 => RosterOp::Invite(target),
                    4..=5 => RosterOp::Revoke(target),
                    6..=7 => RosterOp::KioskAdd(target),
                    _ => RosterOp::KioskRemove(target),
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
            let e = assert_order_independent(make, &room.ops, seed, 6);
            let folded = state::<Roster>(&e, NAME);

            // Step through the fold order.
            let mut r = Roster::default();
            let mut ever_revoked = BTreeSet::new();
            let mut first_author = None;
            for ((lamport, author, seq), (id, kind, body)) in &written {
                let op = AppliedOp {
                    id: *id,
                    author: *author,
                    seq: *seq,
                    lamport: *lamport,
                    wall_ms: 0,
                    kind: *kind,
                    body,
                };
                if r.apply(&op).is_ok() {
                    first_author.get_or_insert(*author);
                }
                ever_revoked.extend(r.revoked().iter().map(|e| e.node));
                for gone in &ever_revoked {
                    assert!(r.is_revoked(gone), "seed {seed}: revocations are final");
                    assert!(!r.is_member(gone) && !r.is_kiosk(gone), "seed {seed}");
                }
                assert_eq!(r.is_open(), r.invitations().is_empty(), "seed {seed}");
                for k in r.kiosks() {
                    assert!(r.is_open() || r.is_member(&k.node), "seed {seed}");
                }
                for i in r.invitations() {
                    assert_ne!(i.node, i.by, "seed {seed}: nobody invites themselves");
                }
            }
            assert_eq!(r.founder(), first_author, "seed {seed}");
            // The engine's fold (wall times aside) agrees with the step-through.
            let strip = |r: &Roster| {
                let v = r.view();
                let nodes = |es: Vec<Entry>| es.iter().map(|e| (e.node, e.by)).collect::<Vec<_>>();
                (
                    v.open,
                    v.founder,
                    nodes(v.members),
                    nodes(v.revoked),
                    nodes(v.kiosks),
                )
            };
            assert_eq!(strip(folded), strip(&r), "seed {seed}");
            let v = folded.view();
            totals[0] += v.members.len();
            totals[1] += v.revoked.len();
            totals[2] += v.kiosks.len();
            totals[3] += e.folder().stats().refused as usize;
        }
        assert!(
            totals.iter().all(|t| *t > 0),
            "members, revocations, kiosks and ops lost in the fold all happen: {totals:?}"
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
