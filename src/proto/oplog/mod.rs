//! The durable op-log: each author's signed, append-only log of ops
//! ([`op`]), the chains, pending ops and equivocation proofs a node holds
//! ([`log`]), the deterministic fold of ops into applet state ([`fold`]),
//! the engine that ties them together ([`ledger`]), anti-entropy, which
//! repairs what broadcast missed ([`sync`]; its `Replica` is what the
//! op-log actor drives), and what applets tell the local user
//! ([`notice`]).
//!
//! See `docs/protocol.md` ("Ops", "The log").

pub mod fold;
pub mod ledger;
pub mod log;
pub mod notice;
pub mod op;
pub mod pow;
pub mod sync;
#[cfg(test)]
mod tests;

pub use fold::{Applet, AppliedOp, FoldStats, Folder};
pub use ledger::{AuthorError, IngestReport, OpLog, SNAPSHOT_VERSION, Snapshot};
pub use log::{Ingested, Log};
pub use notice::{Notice, NoticeBoard};
pub use op::{Op, SignedOp, VerifiedOp, VerifyError, verify_batch};
