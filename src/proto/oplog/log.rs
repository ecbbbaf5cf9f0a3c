//! The set of verified ops a node holds, by author: chains, pending ops,
//! equivocation proofs, the frontier.
//!
//! Chain rule: an author's op `seq = n` joins the author's chain only once
//! op `n − 1` is in it, its `prev` is that op's id, and its `lamport` is
//! above that op's. An op that arrives before its predecessor waits in a
//! bounded pending table ([`PENDING_PER_AUTHOR_MAX`]); one whose `prev` or
//! `lamport` does not fit is refused as a broken chain.
//!
//! Equivocation: two different ops with the same `(author, seq)` are proof
//! that the author forked its log. Both are kept (the proof travels with
//! anti-entropy), the author is flagged, and its ops from the first forked
//! `seq` on are not folded into applet state on any node that holds the
//! proof, so every such node folds the same ops.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use super::op::VerifiedOp;
use crate::id::{NodeId, OpId};

/// Ops held per author while waiting for their predecessors.
pub const PENDING_PER_AUTHOR_MAX: usize = 1024;
/// Domain tag of the frontier hash.
pub const FRONTIER_DOMAIN: &[u8] = b"flashmesh/frontier/v1";

/// What happened to one ingested op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// Joined its author's chain: `added` is this op followed by the pending
    /// ops it unblocked (in chain order), all now in the chain; `dropped` is
    /// a pending op that turned out not to fit the new head (a broken
    /// chain), with the reason. Ops above a dropped one keep waiting.
    Chained {
        /// This op, then the pending ops it unblocked, in chain order.
        added: Vec<OpId>,
        /// Pending ops refused as a broken chain, each with the reason.
        dropped: Vec<(OpId, String)>,
    },
    /// Already held.
    Duplicate,
    /// Waits for its author's op `seq − 1`.
    Pending,
    /// Another op holds the same `(author, seq)`: kept as proof, author
    /// flagged from `seq` on.
    Equivocation {
        /// The author that forked its log.
        author: NodeId,
        /// The seq both ops claim.
        seq: u64,
    },
    /// Refused; nothing kept.
    Refused(String),
}

/// One author's log as held here.
#[derive(Debug, Default)]
struct AuthorLog {
    /// The contiguous chain from seq 1.
    chain: Vec<VerifiedOp>,
    pending: BTreeMap<u64, VerifiedOp>,
    /// First forked seq, if the author equivocated.
    forked_at: Option<u64>,
    /// Every second op seen for a taken `(seq)`.
    proofs: BTreeMap<(u64, OpId), VerifiedOp>,
}

impl AuthorLog {
    fn head(&self) -> Option<&VerifiedOp> {
        self.chain.last()
    }

    fn at(&self, seq: u64) -> Option<&VerifiedOp> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.chain.get(i)
    }
}

/// Every op this node holds.
#[derive(Debug, Default)]
pub struct Log {
    authors: BTreeMap<NodeId, AuthorLog>,
    by_id: BTreeMap<OpId, (NodeId, u64)>,
    chained: u64,
}

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// Adds one verified op; see [`Ingested`].
    pub fn ingest(&mut self, op: VerifiedOp) -> Ingested {
        let author = op.op().author;
        let seq = op.op().seq;
        let id = op.id();
        let log = self.authors.entry(author).or_default();
        if let Some(held) = log.at(seq) {
            if held.id() == id {
                return Ingested::Duplicate;
            }
            return Self::equivocate(log, op);
        }
        if let Some(waiting) = log.pending.get(&seq) {
            if waiting.id() == id {
                return Ingested::Duplicate;
            }
            return Self::equivocate(log, op);
        }
        if log.proofs.contains_key(&(seq, id)) {
            return Ingested::Duplicate;
        }
        let next = log.chain.len() as u64 + 1;
        if seq > next {
            if log.pending.len() >= PENDING_PER_AUTHOR_MAX {
                return Ingested::Refused(format!(
                    "too many ops of {} wait for earlier ones",
                    author.fmt_short()
                ));
            }
            log.pending.insert(seq, op);
            return Ingested::Pending;
        }
        // seq == next: it must extend the head.
        if let Err(reason) = fits(log.head(), &op) {
            return Ingested::Refused(reason);
        }
        let mut added = vec![id];
        let mut dropped = Vec::new();
        self.by_id.insert(id, (author, seq));
        log.chain.push(op);
        // Unblock what waited for it.
        while let Some(op) = log.pending.remove(&(log.chain.len() as u64 + 1)) {
            match fits(log.head(), &op) {
                Ok(()) => {
                    added.push(op.id());
                    self.by_id.insert(op.id(), (author, op.op().seq));
                    log.chain.push(op);
                }
                Err(reason) => {
                    // A broken chain: refused, nothing kept.
                    dropped.push((op.id(), reason));
                    break;
                }
            }
        }
        self.chained += added.len() as u64;
        Ingested::Chained { added, dropped }
    }

    fn equivocate(log: &mut AuthorLog, op: VerifiedOp) -> Ingested {
        let author = op.op().author;
        let seq = op.op().seq;
        log.forked_at = Some(log.forked_at.map_or(seq, |f| f.min(seq)));
        log.proofs.insert((seq, op.id()), op);
        Ingested::Equivocation { author, seq }
    }

    /// The op with this id, if chained.
    pub fn get(&self, id: &OpId) -> Option<&VerifiedOp> {
        let (author, seq) = self.by_id.get(id)?;
        self.authors.get(author)?.at(*seq)
    }

    /// The op at `(author, seq)`, if chained.
    pub fn at(&self, author: &NodeId, seq: u64) -> Option<&VerifiedOp> {
        self.authors.get(author)?.at(seq)
    }

    /// Chained ops of `author` from `from_seq` on, at most `limit`.
    pub fn range(&self, author: &NodeId, from_seq: u64, limit: usize) -> &[VerifiedOp] {
        let Some(log) = self.authors.get(author) else {
            return &[];
        };
        let start = usize::try_from(from_seq.saturating_sub(1))
            .unwrap_or(usize::MAX)
            .min(log.chain.len());
        let end = start.saturating_add(limit).min(log.chain.len());
        &log.chain[start..end]
    }

    /// `author`'s chain head `(seq, id)`, fork or not (where its next op
    /// goes).
    pub fn chain_head(&self, author: &NodeId) -> Option<(u64, OpId)> {
        let h = self.authors.get(author)?.head()?;
        Some((h.op().seq, h.id()))
    }

    /// Chained ops in all.
    pub fn len(&self) -> u64 {
        self.chained
    }

    /// Whether no op is chained (pending ops and proofs do not count).
    pub fn is_empty(&self) -> bool {
        self.chained == 0
    }

    /// Each author's chain head: `(seq, id)`. For an author flagged for
    /// equivocation, the op before the fork (and no entry when the fork is
    /// at seq 1): nodes that hold different branches agree on it, and
    /// nothing past the fork is folded anyway.
    pub fn frontier(&self) -> BTreeMap<NodeId, (u64, OpId)> {
        self.authors
            .iter()
            .filter_map(|(a, l)| {
                let head = match l.forked_at {
                    Some(f) => l.at(f.checked_sub(1)?)?,
                    None => l.head()?,
                };
                Some((*a, (head.op().seq, head.id())))
            })
            .collect()
    }

    /// One hash of the whole frontier: SHA-256 over the domain tag and, by
    /// author, `author || seq (u64 LE) || head id`. Equal frontiers, equal
    /// hashes.
    pub fn frontier_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(FRONTIER_DOMAIN);
        for (author, (seq, id)) in self.frontier() {
            h.update(author.as_bytes());
            h.update(seq.to_le_bytes());
            h.update(id.as_bytes());
        }
        h.finalize().into()
    }

    /// Whether `author`'s ops from `seq` on are excluded (it equivocated
    /// at or before `seq`).
    pub fn is_forked(&self, author: &NodeId, seq: u64) -> bool {
        self.authors
            .get(author)
            .and_then(|l| l.forked_at)
            .is_some_and(|f| seq >= f)
    }

    /// Authors flagged for equivocation, with the first forked seq.
    pub fn equivocators(&self) -> BTreeMap<NodeId, u64> {
        self.authors
            .iter()
            .filter_map(|(a, l)| l.forked_at.map(|f| (*a, f)))
            .collect()
    }

    /// The second ops kept as proof.
    pub fn proofs(&self) -> impl Iterator<Item = &VerifiedOp> {
        self.authors.values().flat_map(|l| l.proofs.values())
    }

    /// The highest Lamport time of any chained op (0 when empty).
    pub fn max_lamport(&self) -> u64 {
        self.authors
            .values()
            .filter_map(|l| l.head().map(|h| h.op().lamport))
            .max()
            .unwrap_or(0)
    }

    /// Every author with a chain.
    pub fn authors(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.authors.keys().copied()
    }

    /// Every chained op, by author then seq.
    pub fn iter(&self) -> impl Iterator<Item = &VerifiedOp> {
        self.authors.values().flat_map(|l| l.chain.iter())
    }
}

/// Whether `op` may follow `head` in its author's chain.
fn fits(head: Option<&VerifiedOp>, op: &VerifiedOp) -> Result<(), String> {
    match head {
        None => {
            if op.op().seq == 1 {
                Ok(())
            } else {
                Err("broken chain: no predecessor".into())
            }
        }
        Some(h) => {
            if op.op().prev != Some(h.id()) {
                return Err(format!(
                    "broken chain: seq {} does not point at seq {}",
                    op.op().seq,
                    h.op().seq
                ));
            }
            if op.op().lamport <= h.op().lamport {
                return Err(format!(
                    "broken chain: lamport {} is not above the previous op's {}",
                    op.op().lamport,
                    h.op().lamport
                ));
            }
            Ok(())
        }
    }
}
