//! [`OpLog`]: the log engine. Ingests ops (verifying batches), keeps the
//! per-author chains ([`Log`]), folds them into applet state
//! ([`Folder`]), and writes this node's own ops.
//!
//! Sans-IO: time (`wall_ms`) and randomness (the body nonce) come in as
//! arguments; nothing here touches a clock, a socket or a global RNG.

use super::fold::{Applet, Folder};
use super::log::{Ingested, Log};
use super::op::{Op, SealError, SignedOp, VerifiedOp, seal_body, verify_batch};
use crate::crypto::identity::Identity;
use crate::id::{NodeId, OpId};

/// What one call to [`OpLog::ingest`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Ops that joined their chains (and the fold, unless their author is
    /// flagged), in the order they did.
    pub chained: Vec<OpId>,
    /// Ops already held (chained, pending or kept as a proof).
    pub duplicates: usize,
    /// Ops waiting for an earlier op of their author.
    pub pending: usize,
    /// Ops refused, with the reason (bad signature, broken chain, ...).
    pub refused: Vec<(OpId, String)>,
    /// Newly detected forks: `(author, seq)`.
    pub equivocations: Vec<(NodeId, u64)>,
}

/// A checkpoint of the fold that a restart can start from: every applet's
/// state after folding exactly the ops at or below `heads` (per author, the
/// chain's seq at the time), with the fold standing at `upto`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Format version, [`SNAPSHOT_VERSION`]; a snapshot of another version is
    /// ignored at start and everything is folded.
    pub version: u16,
    /// Chained ops when it was taken.
    pub ops: u64,
    /// Per author, the seq of its chain head when it was taken: the ops at
    /// or below it are covered by `states`.
    pub heads: Vec<(NodeId, u64)>,
    /// The fold key `(lamport, author, seq)` of the last op applied, `None`
    /// if none was; a later op that sorts below it makes the fold start over.
    pub upto: Option<(u64, NodeId, u64)>,
    /// Each applet's name and its saved state ([`Applet::save`]).
    pub states: Vec<(String, serde_bytes::ByteBuf)>,
}

/// [`Snapshot::version`] this code writes and reads.
pub const SNAPSHOT_VERSION: u16 = 1;

/// Why this node could not write an op.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorError {
    /// The body is too large to seal ([`SealError::TooLarge`]).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The new op failed its own verification (an invalid applet name, for
    /// one) or, in [`OpLog::author`], the log refused it; the reason. Nothing
    /// was kept.
    #[error("the new op was refused: {0}")]
    Refused(String),
}

/// The log engine of one node.
pub struct OpLog {
    me: NodeId,
    seal_key: [u8; 32],
    log: Log,
    folder: Folder,
}

impl OpLog {
    /// An empty log for node `me`, which writes and opens op bodies with the
    /// room's `seal_key` and folds into `applets` (one per name; a later one
    /// with the same name replaces an earlier one).
    pub fn new(me: NodeId, seal_key: [u8; 32], applets: Vec<Box<dyn Applet>>) -> OpLog {
        OpLog {
            me,
            seal_key,
            log: Log::new(),
            folder: Folder::new(seal_key, applets),
        }
    }

    /// The same engine for a room whose root is `root` (see
    /// [`Folder::rooted`]). Set before the first op.
    pub fn rooted(mut self, root: Option<NodeId>) -> OpLog {
        self.folder = self.folder.rooted(root);
        self
    }

    /// Every op held: chains, pending ops, equivocation proofs.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The fold: applet states, for queries.
    pub fn folder(&self) -> &Folder {
        &self.folder
    }

    /// The hash of every applet's state (see [`Folder::state_hash`]).
    pub fn state_hash(&self) -> [u8; 32] {
        self.folder.state_hash()
    }

    /// The fold's current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            ops: self.log.len(),
            heads: self
                .log
                .authors()
                .filter_map(|a| self.log.chain_head(&a).map(|(seq, _)| (a, seq)))
                .collect(),
            upto: self.folder.applied_upto(),
            states: self
                .folder
                .save_all()
                .into_iter()
                .map(|(n, s)| (n, serde_bytes::ByteBuf::from(s)))
                .collect(),
        }
    }

    /// Loads ops this node stored itself (not verified again) and, when
    /// given and usable, the snapshot to start the fold from: only ops the
    /// snapshot does not cover are applied. Returns how many ops were
    /// applied (the replay).
    pub fn load_stored(&mut self, ops: Vec<SignedOp>, snapshot: Option<&Snapshot>) -> u64 {
        let before = self.folder.stats().applications;
        for op in ops {
            let _ = self.log.ingest(op.assume_verified());
        }
        let foldable: Vec<&VerifiedOp> = self
            .log
            .iter()
            .filter(|op| !self.log.is_forked(&op.op().author, op.op().seq))
            .collect();
        let restored = snapshot
            .filter(|s| s.version == SNAPSHOT_VERSION)
            .is_some_and(|s| {
                let states: Vec<(String, Vec<u8>)> = s
                    .states
                    .iter()
                    .map(|(n, b)| (n.clone(), b.to_vec()))
                    .collect();
                self.folder.restore(s.upto, &states).is_ok()
            });
        match snapshot.filter(|_| restored) {
            Some(s) => {
                let heads: std::collections::BTreeMap<NodeId, u64> =
                    s.heads.iter().copied().collect();
                let covered = |op: &&VerifiedOp| {
                    heads
                        .get(&op.op().author)
                        .is_some_and(|h| op.op().seq <= *h)
                };
                let (old, new): (Vec<&VerifiedOp>, Vec<&VerifiedOp>) =
                    foldable.into_iter().partition(covered);
                self.folder.mark_applied(&self.log, &old);
                self.folder.add_many(&self.log, &new);
            }
            None => self.folder.add_many(&self.log, &foldable),
        }
        self.folder.stats().applications - before
    }

    /// Verifies `ops` as one batch, then ingests those that pass.
    pub fn ingest_signed(&mut self, ops: Vec<SignedOp>) -> IngestReport {
        let ids: Vec<OpId> = ops.iter().map(|s| s.op.id()).collect();
        let mut verified = Vec::with_capacity(ops.len());
        let mut refused = Vec::new();
        for (id, result) in ids.into_iter().zip(verify_batch(ops)) {
            match result {
                Ok(v) => verified.push(v),
                Err(e) => refused.push((id, e.to_string())),
            }
        }
        let mut report = self.ingest(verified);
        refused.append(&mut report.refused);
        report.refused = refused;
        report
    }

    /// Ingests verified ops in any order.
    pub fn ingest(&mut self, ops: Vec<VerifiedOp>) -> IngestReport {
        let mut report = IngestReport::default();
        // Chained ops are folded together at the end: one refold at most.
        let mut to_fold: Vec<OpId> = Vec::new();
        for op in ops {
            let id = op.id();
            match self.log.ingest(op) {
                Ingested::Chained { added, dropped } => {
                    to_fold.extend(&added);
                    report.chained.extend(added);
                    report.refused.extend(dropped);
                }
                Ingested::Duplicate => report.duplicates += 1,
                Ingested::Pending => report.pending += 1,
                Ingested::Equivocation { author, seq } => {
                    self.fold(&mut to_fold);
                    self.folder.exclude_from(&self.log, &author, seq);
                    report.equivocations.push((author, seq));
                }
                Ingested::Refused(reason) => report.refused.push((id, reason)),
            }
        }
        self.fold(&mut to_fold);
        report
    }

    /// Folds the chained ops in `ids` (those of unflagged authors) and
    /// empties `ids`.
    fn fold(&mut self, ids: &mut Vec<OpId>) {
        let ops: Vec<&VerifiedOp> = ids
            .iter()
            .filter_map(|id| self.log.get(id))
            .filter(|op| !self.log.is_forked(&op.op().author, op.op().seq))
            .collect();
        self.folder.add_many(&self.log, &ops);
        ids.clear();
    }

    /// Makes this node's next op without taking it in: the next `seq`
    /// after its head, `prev` = the head's id, `lamport` above every op
    /// held, the body sealed with the room key under `nonce` (24 fresh
    /// random bytes), the proof of work the room asks for made
    /// ([`OpLog::pow_bits`], here, on this thread), signed and verified. A
    /// driver that must store an op durably before anyone sees it calls
    /// this, stores the op, then [`OpLog::ingest`]s it; a driver that must
    /// not block on the work calls [`OpLog::draft`], grinds
    /// ([`super::pow::grind`]) elsewhere, then [`OpLog::finish`].
    pub fn prepare(
        &self,
        identity: &Identity,
        applet: &str,
        kind: u16,
        plain: &[u8],
        wall_ms: u64,
        nonce: [u8; 24],
    ) -> Result<VerifiedOp, AuthorError> {
        let mut op = self.draft(applet, kind, plain, wall_ms, nonce)?;
        let bits = self.pow_bits(&op);
        if bits > 0 {
            super::pow::grind(&mut op, bits, |_| true);
        }
        OpLog::finish(identity, op)
    }

    /// This node's next op, unsigned and without proof of work (see
    /// [`OpLog::prepare`]).
    pub fn draft(
        &self,
        applet: &str,
        kind: u16,
        plain: &[u8],
        wall_ms: u64,
        nonce: [u8; 24],
    ) -> Result<Op, AuthorError> {
        let me = self.me;
        let (seq, prev) = match self.log.chain_head(&me) {
            Some((seq, id)) => (seq + 1, Some(id)),
            None => (1, None),
        };
        let body = seal_body(&self.seal_key, &me, seq, applet, kind, plain, nonce)?;
        Ok(Op {
            author: me,
            seq,
            prev,
            lamport: self.log.max_lamport() + 1,
            wall_ms,
            applet: applet.to_string(),
            kind,
            body,
            pow_nonce: 0,
        })
    }

    /// The proof of work the room asks of `op` now ([`Folder::pow_bits`]).
    pub fn pow_bits(&self, op: &Op) -> u8 {
        self.folder.pow_bits(&op.author, op.seq)
    }

    /// Signs and verifies a drafted op (its proof of work made).
    pub fn finish(identity: &Identity, op: Op) -> Result<VerifiedOp, AuthorError> {
        op.sign(identity)
            .verify()
            .map_err(|e| AuthorError::Refused(e.to_string()))
    }

    /// Would `op` (made by [`OpLog::prepare`], so it sorts after every op
    /// held) with its plain `body` take effect? The room's rules, then the
    /// applet's, against the state as folded now ([`Folder::check`]). Ops
    /// of applets this node does not know pass: they are stored and
    /// relayed for the nodes that know them.
    pub fn check(&self, op: &VerifiedOp, plain: &[u8]) -> Result<(), String> {
        self.folder.check(
            &op.op().applet,
            &super::fold::AppliedOp::of(op, plain, self.folder.root()),
        )
    }

    /// [`OpLog::prepare`], then [`OpLog::ingest`]: for drivers without
    /// storage (the simulator, tests).
    pub fn author(
        &mut self,
        identity: &Identity,
        applet: &str,
        kind: u16,
        plain: &[u8],
        wall_ms: u64,
        nonce: [u8; 24],
    ) -> Result<VerifiedOp, AuthorError> {
        let verified = self.prepare(identity, applet, kind, plain, wall_ms, nonce)?;
        let report = self.ingest(vec![verified.clone()]);
        if let Some((_, reason)) = report.refused.first() {
            return Err(AuthorError::Refused(reason.clone()));
        }
        Ok(verified)
    }
}
