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
}

/// Folds ops into applet states.
pub struct Folder {
    seal_key: [u8; 32],
    applets: BTreeMap<&'static str, Box<dyn Applet>>,
    order: BTreeMap<FoldKey, OpId>,
    /// Each folded op's opened body (`None`: it does not open), so that a
    /// re-fold does not decrypt again.
    opened: BTreeMap<OpId, Option<Vec<u8>>>,
    applied_upto: Option<FoldKey>,
    since_checkpoint: u64,
    checkpoints: BTreeMap<FoldKey, Vec<(&'static str, Vec<u8>)>>,
    stats: FoldStats,
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
            applets: applets.into_iter().map(|a| (a.name(), a)).collect(),
            order: BTreeMap::new(),
            opened: BTreeMap::new(),
            applied_upto: None,
            since_checkpoint: 0,
            checkpoints: BTreeMap::new(),
            stats: FoldStats::default(),
        }
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
            }
        }
        self.refold_from(log, first);
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
        let o = op.op();
        let Some(applet) = self.applets.get_mut(o.applet.as_str()) else {
            self.stats.unknown_applet += 1;
            return;
        };
        let seal_key = &self.seal_key;
        let opened = self.opened.entry(op.id()).or_insert_with(|| {
            self.stats.opened += 1;
            open_body(seal_key, o).ok()
        });
        let Some(body) = opened.as_deref() else {
            self.stats.unopened += 1;
            return;
        };
        let applied = AppliedOp {
            id: op.id(),
            author: o.author,
            seq: o.seq,
            lamport: o.lamport,
            wall_ms: o.wall_ms,
            kind: o.kind,
            body,
        };
        if applet.apply(&applied).is_err() {
            self.stats.refused += 1;
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
    pub fn mark_applied(&mut self, ops: &[&VerifiedOp]) {
        for op in ops {
            self.order.insert(key_of(op), op.id());
        }
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
