//! The durable op-log: each author's signed, append-only log of ops, and
//! (to come) the engine that ingests, orders and folds them and the
//! anti-entropy that syncs them.
//!
//! See `docs/protocol.md` ("Ops").

pub mod op;

pub use op::{Op, SignedOp, VerifiedOp, VerifyError, verify_batch};
