//! Applet state as a deterministic fold of ops in one total order.
//!
//! The order is `(lamport, author, seq)`: every node that holds the same
//! ops applies them in the same order and ends with the same applet states
//! and the same [`Folder::state_hash`], whatever order the ops arrived in.
//! An op that arrives after ops that sort above it (a late arrival) makes
//! the folder go back to the newest checkpoint below it and re-apply from
//! there. Checkpoints (every applet's saved state) are taken every
//! [`CHECKPOINT_EVERY`] applied ops (or an eighth of the fold, whichever is
//! more); at most [`CHECKPOINTS_MAX`] are kept
//! (the oldest go first; an op older than every checkpoint re-folds from
//! the start). Opened bodies are kept, so a re-fold decrypts nothing again
//! (a busy room's live ops mostly arrive a little out of fold order: at 40
//! ops/s over 100 nodes about three in four cause a re-fold).
//!
//! An op's body is opened with the room's seal key before its applet sees
//! it. A body that does not open, an op of an applet this node does not
//! know, or an op its applet refuses changes no state (the same on every
//! node) and is counted.
//!
//! # Room rules
//!
//! Some applets keep rules over every op, not only their own
//! ([`Applet::keeps_rules`]; the roster does: who is a member, who is
//! revoked). Before an op's own applet sees it, the folder asks each of
//! them ([`Applet::admit`]); a refusal means the op has no effect, like an
//! op its applet refuses. Rules are decided from signed content only (the
//! ops folded so far and the room's root, [`Folder::rooted`]), never from
//! arrival time or local settings, so they hold alike on every node.
//!
//! One rule cannot be decided at an op's place in the fold: a revocation
//! point. An author may write an op that sorts before ops it has already
//! seen (its Lamport time need only exceed its own previous op's), so a
//! revoked node could slip ops in before its revocation. A revocation
//! therefore names the last op of the revoked node's chain that keeps its
//! effect, and every later op of that node has no effect wherever it
//! sorts. These **cuts** (author → first seq without effect) are computed
//! by the rule-keeping applets from their own ops alone
//! ([`Applet::cuts`]), before the fold; when a new op changes them, the
//! fold goes back to the first op whose effect changes. The reason each
//! op had no effect is kept ([`Folder::refusal`]) so its author can be
//! told.

use std::collections::BTreeMap;
use std::ops::Bound;

use sha2::{Digest as _, Sha256};

use super::log::Log;
use super::notice::Notice;
use super::op::{VerifiedOp, open_body};
use crate::id::{NodeId, OpId};

/// Applied ops between checkpoints, at least.
pub const CHECKPOINT_EVERY: u64 = 256;
/// And at least this fraction of the ops in the fold: saving a state costs
/// time in proportion to its size, so a fixed interval would make a long
/// fold quadratic (100,000 chat lines: gigabytes encoded); with the
/// interval growing with the fold, saving costs about this factor times
/// the fold itself, and a refold re-applies at most that fraction.
pub const CHECKPOINT_FRACTION_DIVISOR: u64 = 8;
/// Checkpoints kept.
pub const CHECKPOINTS_MAX: usize = 64;
/// Domain tag of the state hash.
pub const STATE_DOMAIN: &[u8] = b"flashmesh/state/v1";

/// The fold order of an op.
pub type FoldKey = (u64, NodeId, u64);

/// What an applet sees of an op: its place and its opened body.
#[derive(Clone, Copy, Debug)]
pub struct AppliedOp<'a> {
    /// The op id.
    pub id: OpId,
    /// Who wrote and signed the op.
    pub author: NodeId,
    /// Its position in the author's log, from 1.
    pub seq: u64,
    /// Its Lamport time; ops are folded in `(lamport, author, seq)` order.
    pub lamport: u64,
    /// The author's wall clock when writing, milliseconds since the Unix
    /// epoch: for display, never for ordering.
    pub wall_ms: u64,
    /// Applet-defined kind of op.
    pub kind: u16,
    /// The body, opened with the room's seal key.
    pub body: &'a [u8],
    /// The room's root, if the room names one (part of the room's
    /// identity, the same on every node of the room; see
    /// [`Folder::rooted`]).
    pub root: Option<NodeId>,
}

/// A pure fold of ops into state. Built-in applets and library users'
/// applets implement it. Everything must be deterministic: the same ops in
/// the same order give the same state and the same saved bytes on every
/// node (no clock, no randomness, no iteration over hash maps).
pub trait Applet: Send + std::any::Any {
    /// The `applet` field of the ops it folds.
    fn name(&self) -> &'static str;
    /// Applies one op; an `Err` means the op is refused by the applet's
    /// rules and must leave the state unchanged.
    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String>;
    /// Would [`Applet::apply`] take this op now? The same rules, without
    /// the change: a node asks before it publishes, so that a command that
    /// breaks a rule (a vote on a closed poll) is refused with the reason
    /// and never becomes an op. Applets without rules beyond `apply` may
    /// keep the default, which takes everything.
    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        let _ = op;
        Ok(())
    }
    /// The canonical encoding of the state (hashed, checkpointed,
    /// snapshotted).
    fn save(&self) -> Vec<u8>;
    /// Restores a state [`Applet::save`] produced.
    fn load(&mut self, state: &[u8]) -> Result<(), String>;
    /// Back to the empty state.
    fn reset(&mut self);
    /// For typed queries (`downcast_ref`).
    fn as_any(&self) -> &dyn std::any::Any;
    /// What this applet has to tell the person at node `me`, from the
    /// state as it is now: the notices that **hold** now ("you're at the
    /// head of queue help"), not what changed. The op-log actor asks every
    /// applet after each batch of ops it takes in and at start, and raises
    /// each notice once per time it comes to hold (`Event::Notice`; see
    /// [`super::notice`]). A pure function of the state and `me`, like the
    /// rest: nothing about `me` may go into the state, which is the same on
    /// every node. Applets with nothing to tell keep the default (none).
    fn notices(&self, me: &NodeId) -> Vec<Notice> {
        let _ = me;
        Vec::new()
    }
    /// Whether this applet keeps room rules over the ops of every applet
    /// (the roster does). Only then does the folder ask it
    /// [`Applet::admit`] and [`Applet::cuts`]. Default: no.
    fn keeps_rules(&self) -> bool {
        false
    }
    /// The room's rules: may `op`, an op of another applet (`applet`),
    /// take effect as the room stands now (the ops folded before it)? An
    /// `Err` is the reason it has no effect. Asked only of applets that
    /// [`keep rules`](Applet::keeps_rules), for every op of every other
    /// applet, before that op's own applet sees it. Default: every op.
    fn admit(&self, applet: &str, op: &AppliedOp<'_>) -> Result<(), String> {
        let _ = (applet, op);
        Ok(())
    }
    /// Revocation points, from this applet's own ops alone (`own`, every
    /// one of them the folder holds, in fold order, opened): per author,
    /// the first seq of its chain that has no effect, whatever applet it
    /// belongs to and wherever it sorts. A pure function of `own` (no
    /// state of `self` may enter: it is called on the live instance).
    /// Asked only of applets that [keep rules](Applet::keeps_rules).
    /// Default: none.
    fn cuts(&self, own: &[AppliedOp<'_>]) -> BTreeMap<NodeId, u64> {
        let _ = own;
        BTreeMap::new()
    }
    /// The proof of work (leading zero bits of the op id,
    /// [`super::pow`]) the room asks of op `seq` of `author` now, for
    /// the author to make before it signs; [`Applet::admit`] refuses ops
    /// without it. Asked only of applets that
    /// [keep rules](Applet::keeps_rules). Default: none.
    fn pow_bits(&self, author: &NodeId, seq: u64) -> u8 {
        let _ = (author, seq);
        0
    }
}

/// Counters of the fold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldStats {
    /// Ops applied, re-applications included.
    pub applications: u64,
    /// Times the fold went back to a checkpoint (or the start).
    pub refolds: u64,
    /// Bodies opened (decrypted): once per op, a re-fold reuses them.
    pub opened: u64,
    /// Bodies that did not open.
    pub unopened: u64,
    /// Ops of applets this node does not know.
    pub unknown_applet: u64,
    /// Ops their applet refused.
    pub refused: u64,
    /// Ops the room's rules gave no effect (a revoked or uninvited author,
    /// an op after its author's revocation point).
    pub ruled_out: u64,
}

/// Folds ops into applet states.
pub struct Folder {
    seal_key: [u8; 32],
    root: Option<NodeId>,
    applets: BTreeMap<&'static str, Box<dyn Applet>>,
    order: BTreeMap<FoldKey, OpId>,
    /// Each folded op's opened body (`None`: it does not open), so that a
    /// re-fold does not decrypt again.
    opened: BTreeMap<OpId, Option<Vec<u8>>>,
    applied_upto: Option<FoldKey>,
    since_checkpoint: u64,
    checkpoints: BTreeMap<FoldKey, Vec<(&'static str, Vec<u8>)>>,
    stats: FoldStats,
    /// The ops of applets that keep rules, by fold key.
    rule_ops: BTreeMap<FoldKey, OpId>,
    /// Per author, the first seq with no effect (see the module docs).
    cuts: BTreeMap<NodeId, u64>,
    /// Why each op without effect had none, as last folded.
    refusals: BTreeMap<OpId, String>,
}

pub(crate) fn key_of(op: &VerifiedOp) -> FoldKey {
    let o = op.op();
    (o.lamport, o.author, o.seq)
}

impl Folder {
    /// A folder for these applets (one per name; a later one with the same
    /// name replaces an earlier one).
    pub fn new(seal_key: [u8; 32], applets: Vec<Box<dyn Applet>>) -> Folder {
        Folder {
            seal_key,
            root: None,
            applets: applets.into_iter().map(|a| (a.name(), a)).collect(),
            order: BTreeMap::new(),
            opened: BTreeMap::new(),
            applied_upto: None,
            since_checkpoint: 0,
            checkpoints: BTreeMap::new(),
            stats: FoldStats::default(),
            rule_ops: BTreeMap::new(),
            cuts: BTreeMap::new(),
            refusals: BTreeMap::new(),
        }
    }

    /// The same folder for a room whose root is `root` (`None`: a room
    /// known by its code alone). Every applet sees it in
    /// [`AppliedOp::root`]. Set before the first op.
    pub fn rooted(mut self, root: Option<NodeId>) -> Folder {
        self.root = root;
        self
    }

    /// The room's root, if it names one.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// Why the op `id` has no effect, if it is folded and has none (its
    /// applet refused it, the room's rules ruled it out, its body does not
    /// open, or no applet here knows it).
    pub fn refusal(&self, id: &OpId) -> Option<&str> {
        self.refusals.get(id).map(String::as_str)
    }

    /// The proof of work the room's rules ask of op `seq` of `author` now
    /// (the most any rule-keeping applet asks; see [`Applet::pow_bits`]).
    pub fn pow_bits(&self, author: &NodeId, seq: u64) -> u8 {
        self.applets
            .values()
            .filter(|a| a.keeps_rules())
            .map(|a| a.pow_bits(author, seq))
            .max()
            .unwrap_or(0)
    }

    /// Every folded op without effect, with why (see [`Folder::refusal`]).
    pub fn refusals(&self) -> impl Iterator<Item = (&OpId, &str)> {
        self.refusals.iter().map(|(id, why)| (id, why.as_str()))
    }

    /// Per author, the first seq of its chain with no effect (revocation
    /// points; see the module docs).
    pub fn cuts(&self) -> &BTreeMap<NodeId, u64> {
        &self.cuts
    }

    /// The fold's counters since this folder was made.
    pub fn stats(&self) -> FoldStats {
        self.stats
    }

    /// Ops in the fold.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no op is in the fold.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The applet named `name`, for queries.
    pub fn applet(&self, name: &str) -> Option<&dyn Applet> {
        self.applets.get(name).map(|a| a.as_ref())
    }

    /// Every applet's notices for node `me` as the state is now, by applet
    /// name (see [`Applet::notices`]).
    pub fn notices(&self, me: &NodeId) -> Vec<(&'static str, Notice)> {
        self.applets
            .iter()
            .flat_map(|(name, applet)| applet.notices(me).into_iter().map(|n| (*name, n)))
            .collect()
    }

    /// Adds a chained, unforked op of `log` to the fold.
    pub fn add(&mut self, log: &Log, op: &VerifiedOp) {
        self.add_many(log, &[op]);
    }

    /// Adds several chained, unforked ops of `log` at once: one refold at
    /// most, from the lowest of them, however they interleave with what
    /// was applied.
    pub fn add_many(&mut self, log: &Log, ops: &[&VerifiedOp]) {
        let mut new: Vec<(FoldKey, &VerifiedOp)> = ops
            .iter()
            .map(|op| (key_of(op), *op))
            .filter(|(key, op)| self.order.insert(*key, op.id()).is_none())
            .collect();
        new.sort_by_key(|(key, _)| *key);
        let Some((lowest, _)) = new.first().copied() else {
            return;
        };
        let mut rules_changed = false;
        for (key, op) in &new {
            if self.keeps_rules(&op.op().applet) {
                self.rule_ops.insert(*key, op.id());
                rules_changed = true;
            }
        }
        let affected = if rules_changed {
            self.update_cuts(log)
        } else {
            None
        };
        let lowest = affected.map_or(lowest, |a| a.min(lowest));
        if self.applied_upto.is_none_or(|upto| lowest > upto) {
            for (key, op) in new {
                self.apply_one(op);
                self.applied_upto = Some(key);
                self.maybe_checkpoint(key);
            }
        } else {
            self.refold_from(log, lowest);
        }
    }

    fn keeps_rules(&self, applet: &str) -> bool {
        self.applets.get(applet).is_some_and(|a| a.keeps_rules())
    }

    /// Computes the cuts again from the rule-keeping applets' ops; returns
    /// the key of the first folded op whose effect they change, if any.
    fn update_cuts(&mut self, log: &Log) -> Option<FoldKey> {
        // Open every rule op first (kept for the fold too).
        let held: Vec<(FoldKey, &VerifiedOp)> = self
            .rule_ops
            .iter()
            .filter_map(|(k, id)| log.get(id).map(|op| (*k, op)))
            .collect();
        for (_, op) in &held {
            let seal_key = &self.seal_key;
            let stats = &mut self.stats;
            self.opened.entry(op.id()).or_insert_with(|| {
                stats.opened += 1;
                open_body(seal_key, op.op()).ok()
            });
        }
        let mut cuts: BTreeMap<NodeId, u64> = BTreeMap::new();
        for (name, applet) in self.applets.iter().filter(|(_, a)| a.keeps_rules()) {
            let own: Vec<AppliedOp<'_>> = held
                .iter()
                .filter(|(_, op)| op.op().applet == *name)
                .filter_map(|(_, op)| {
                    let body = self.opened.get(&op.id())?.as_deref()?;
                    Some(AppliedOp::of(op, body, self.root))
                })
                .collect();
            for (author, from) in applet.cuts(&own) {
                let at = cuts.entry(author).or_insert(from);
                *at = (*at).min(from);
            }
        }
        if cuts == self.cuts {
            return None;
        }
        // Authors whose cut moved, and the lowest seq whose effect changes.
        let mut moved: BTreeMap<NodeId, u64> = BTreeMap::new();
        for author in cuts.keys().chain(self.cuts.keys()) {
            let (old, new) = (self.cuts.get(author), cuts.get(author));
            if old != new {
                let from = old
                    .copied()
                    .unwrap_or(u64::MAX)
                    .min(new.copied().unwrap_or(u64::MAX));
                moved.insert(*author, from);
            }
        }
        self.cuts = cuts;
        self.order
            .keys()
            .filter(|(_, author, seq)| moved.get(author).is_some_and(|from| seq >= from))
            .min()
            .copied()
    }

    /// Takes `author`'s ops from `seq` on out of the fold (the author
    /// equivocated there) and re-folds.
    pub fn exclude_from(&mut self, log: &Log, author: &NodeId, seq: u64) {
        let gone: Vec<FoldKey> = self
            .order
            .keys()
            .filter(|(_, a, s)| a == author && *s >= seq)
            .copied()
            .collect();
        let Some(first) = gone.iter().min().copied() else {
            return;
        };
        for k in &gone {
            if let Some(id) = self.order.remove(k) {
                self.opened.remove(&id);
                self.refusals.remove(&id);
                self.rule_ops.remove(k);
            }
        }
        let affected = self.update_cuts(log);
        self.refold_from(log, affected.map_or(first, |a| a.min(first)));
    }

    fn maybe_checkpoint(&mut self, key: FoldKey) {
        self.since_checkpoint += 1;
        let interval = CHECKPOINT_EVERY.max(self.order.len() as u64 / CHECKPOINT_FRACTION_DIVISOR);
        if self.since_checkpoint < interval {
            return;
        }
        self.since_checkpoint = 0;
        let states = self.applets.iter().map(|(n, a)| (*n, a.save())).collect();
        self.checkpoints.insert(key, states);
        while self.checkpoints.len() > CHECKPOINTS_MAX {
            self.checkpoints.pop_first();
        }
    }

    /// Re-applies everything from the newest checkpoint below `key`.
    fn refold_from(&mut self, log: &Log, key: FoldKey) {
        self.stats.refolds += 1;
        // Checkpoints at or above `key` miss the op at `key`.
        self.checkpoints.split_off(&key);
        let start = match self.checkpoints.last_key_value() {
            Some((k, states)) => {
                for (name, state) in states {
                    if let Some(a) = self.applets.get_mut(name) {
                        // A state saved by the same applet loads; if it did
                        // not, the fold would be wrong, so start over.
                        if a.load(state).is_err() {
                            self.checkpoints.clear();
                            return self.refold_from(log, key);
                        }
                    }
                }
                Some(*k)
            }
            None => {
                for a in self.applets.values_mut() {
                    a.reset();
                }
                None
            }
        };
        self.since_checkpoint = 0;
        self.applied_upto = start;
        let range = match start {
            Some(k) => self.order.range((Bound::Excluded(k), Bound::Unbounded)),
            None => self.order.range(..),
        };
        let todo: Vec<(FoldKey, OpId)> = range.map(|(k, id)| (*k, *id)).collect();
        for (k, id) in todo {
            if let Some(op) = log.get(&id) {
                self.apply_one(op);
            }
            self.applied_upto = Some(k);
            self.maybe_checkpoint(k);
        }
    }

    fn apply_one(&mut self, op: &VerifiedOp) {
        self.stats.applications += 1;
        match self.apply_checked(op) {
            Ok(()) => {
                self.refusals.remove(&op.id());
            }
            Err(reason) => {
                self.refusals.insert(op.id(), reason);
            }
        }
    }

    fn apply_checked(&mut self, op: &VerifiedOp) -> Result<(), String> {
        let o = op.op();
        if !self.applets.contains_key(o.applet.as_str()) {
            self.stats.unknown_applet += 1;
            return Err(format!("no applet {} here", o.applet));
        }
        let seal_key = &self.seal_key;
        let stats = &mut self.stats;
        let opened = self.opened.entry(op.id()).or_insert_with(|| {
            stats.opened += 1;
            open_body(seal_key, o).ok()
        });
        let Some(body) = opened.as_deref() else {
            self.stats.unopened += 1;
            return Err("the body does not open with this room's key".into());
        };
        let applied = AppliedOp::of(op, body, self.root);
        if let Err(reason) = rules_check(&self.applets, &self.cuts, &o.applet, &applied) {
            self.stats.ruled_out += 1;
            return Err(reason);
        }
        let Some(applet) = self.applets.get_mut(o.applet.as_str()) else {
            return Ok(());
        };
        applet
            .apply(&applied)
            .inspect_err(|_| self.stats.refused += 1)
    }

    /// Would `op` of applet `applet`, sorting after every op folded, take
    /// effect? The room's rules (cuts, [`Applet::admit`]), then its own
    /// applet's [`Applet::check`]; ops of applets this node does not know
    /// pass (they are stored and relayed for the nodes that know them).
    pub fn check(&self, applet: &str, op: &AppliedOp<'_>) -> Result<(), String> {
        rules_check(&self.applets, &self.cuts, applet, op)?;
        match self.applets.get(applet) {
            Some(a) => a.check(op),
            None => Ok(()),
        }
    }

    /// SHA-256 over the domain tag and, by applet name, `len(name) (u64 LE)
    /// || name || len(state) (u64 LE) || state`.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(STATE_DOMAIN);
        for (name, applet) in &self.applets {
            let state = applet.save();
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((state.len() as u64).to_le_bytes());
            h.update(&state);
        }
        h.finalize().into()
    }

    /// Where the fold stands: the key of the last applied op.
    pub fn applied_upto(&self) -> Option<FoldKey> {
        self.applied_upto
    }

    /// Restores applet states saved at `upto` (a snapshot), with nothing in
    /// the fold yet; the snapshot's ops are then added with
    /// [`Folder::mark_applied`] and newer ones with [`Folder::add_many`].
    /// On an error (a state that does not load) every applet is reset.
    pub fn restore(
        &mut self,
        upto: Option<FoldKey>,
        states: &[(String, Vec<u8>)],
    ) -> Result<(), String> {
        for (name, state) in states {
            if let Some(a) = self.applets.get_mut(name.as_str())
                && let Err(e) = a.load(state)
            {
                for a in self.applets.values_mut() {
                    a.reset();
                }
                return Err(format!("applet {name}: {e}"));
            }
        }
        self.order.clear();
        self.opened.clear();
        self.checkpoints.clear();
        self.rule_ops.clear();
        self.cuts.clear();
        self.refusals.clear();
        self.since_checkpoint = 0;
        self.applied_upto = upto;
        if let Some(k) = upto {
            let saved = self.applets.iter().map(|(n, a)| (*n, a.save())).collect();
            self.checkpoints.insert(k, saved);
        }
        Ok(())
    }

    /// Adds ops whose effect the restored state already holds (they were
    /// folded when the snapshot was taken): into the order, not applied.
    /// The cuts are computed from them (they are the cuts the snapshot was
    /// folded with: it covered every op held then).
    pub fn mark_applied(&mut self, log: &Log, ops: &[&VerifiedOp]) {
        for op in ops {
            let key = key_of(op);
            self.order.insert(key, op.id());
            if self.keeps_rules(&op.op().applet) {
                self.rule_ops.insert(key, op.id());
            }
        }
        self.update_cuts(log);
    }

    /// The ids of the folded ops, in fold order.
    pub fn order_ids(&self) -> impl DoubleEndedIterator<Item = OpId> + '_ {
        self.order.values().copied()
    }

    /// The folded ops after `cursor` (all, from the start, when `None`),
    /// in fold order, with their keys: a reader pages through the fold
    /// with the last key it saw as the next cursor.
    pub fn order_after(
        &self,
        cursor: Option<FoldKey>,
    ) -> impl Iterator<Item = (FoldKey, OpId)> + '_ {
        let from = match cursor {
            Some(k) => Bound::Excluded(k),
            None => Bound::Unbounded,
        };
        self.order
            .range((from, Bound::Unbounded))
            .map(|(k, id)| (*k, *id))
    }

    /// Every applet's saved state, by name (for snapshots).
    pub fn save_all(&self) -> Vec<(String, Vec<u8>)> {
        self.applets
            .iter()
            .map(|(n, a)| ((*n).to_string(), a.save()))
            .collect()
    }
}

impl<'a> AppliedOp<'a> {
    /// What applets see of a verified op with its opened (or, before it
    /// is written, plain) `body`, in a room whose root is `root`.
    pub fn of(op: &'a VerifiedOp, body: &'a [u8], root: Option<NodeId>) -> AppliedOp<'a> {
        let o = op.op();
        AppliedOp {
            id: op.id(),
            author: o.author,
            seq: o.seq,
            lamport: o.lamport,
            wall_ms: o.wall_ms,
            kind: o.kind,
            body,
            root,
        }
    }
}

/// The room's rules over `op` of `applet`: its author's cut, then every
/// rule-keeping applet but its own.
fn rules_check(
    applets: &BTreeMap<&'static str, Box<dyn Applet>>,
    cuts: &BTreeMap<NodeId, u64>,
    applet: &str,
    op: &AppliedOp<'_>,
) -> Result<(), String> {
    if cuts.get(&op.author).is_some_and(|from| op.seq >= *from) {
        return Err(format!(
            "node {} was revoked: its ops after the revocation point have no effect",
            op.author.fmt_short()
        ));
    }
    for (name, rules) in applets.iter().filter(|(_, a)| a.keeps_rules()) {
        if *name != applet {
            rules.admit(applet, op)?;
        }
    }
    Ok(())
}
