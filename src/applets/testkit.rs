//! Test helpers for applets: people who write ops (really signed, sealed
//! and verified, through the log engine) and folds of those ops in any
//! order, so every applet's tests check the same properties the same way.

// Not every applet test uses every helper.
#![allow(dead_code)]

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::crypto::identity::Identity;
use crate::id::NodeId;
use crate::proto::EngineRng;
use crate::proto::oplog::fold::Applet;
use crate::proto::oplog::ledger::OpLog;
use crate::proto::oplog::op::SignedOp;

/// The room seal key of every test.
pub const SEAL: [u8; 32] = [0x5e; 32];

/// Makes fresh applets of the kind under test (one per engine).
pub type Make = fn() -> Vec<Box<dyn Applet>>;

/// A room of `n` people writing ops. Each person has their own engine;
/// [`Room::write`] makes the author hear everything written so far first
/// (so later ops sort later), [`Room::write_unheard`] does not (concurrent
/// ops, whose order is the fold's tie-break).
pub struct Room {
    pub people: Vec<Identity>,
    engines: Vec<OpLog>,
    /// Every op written, in writing order.
    pub ops: Vec<SignedOp>,
    make: Make,
    step: u64,
    /// The room's root, if it names one.
    pub root: Option<NodeId>,
}

impl Room {
    pub fn new(n: usize, seed: u64, make: Make) -> Room {
        Room::with_root(n, seed, make, None)
    }

    /// A room whose root is person `root`.
    pub fn rooted(n: usize, seed: u64, make: Make, root: usize) -> Room {
        Room::with_root(n, seed, make, Some(root))
    }

    fn with_root(n: usize, seed: u64, make: Make, root: Option<usize>) -> Room {
        let mut rng = EngineRng::seed_from_u64(seed);
        let people: Vec<Identity> = (0..n).map(|_| Identity::generate_with(&mut rng)).collect();
        let root = root.map(|r| people[r].node_id());
        let engines = people
            .iter()
            .map(|p| OpLog::new(p.node_id(), SEAL, make()).rooted(root))
            .collect();
        Room {
            people,
            engines,
            ops: Vec::new(),
            make,
            step: 0,
            root,
        }
    }

    pub fn id(&self, who: usize) -> NodeId {
        self.people[who].node_id()
    }

    /// `who` hears every op so far, then writes one at wall time
    /// `1000 + step` ms. `Err` is the author's own engine refusing it (the
    /// applet's rules). The op is kept either way only when it was
    /// accepted.
    pub fn write(
        &mut self,
        who: usize,
        applet: &str,
        kind: u16,
        body: &[u8],
    ) -> Result<SignedOp, String> {
        let all = self.ops.clone();
        self.engines[who].ingest_signed(all);
        self.write_unheard(who, applet, kind, body)
    }

    /// As [`Room::write`] at wall time `wall_ms`.
    pub fn write_at(
        &mut self,
        who: usize,
        wall_ms: u64,
        applet: &str,
        kind: u16,
        body: &[u8],
    ) -> Result<SignedOp, String> {
        let all = self.ops.clone();
        self.engines[who].ingest_signed(all);
        self.write_raw(who, wall_ms, applet, kind, body)
    }

    /// `who` writes without hearing what others wrote since it last heard.
    pub fn write_unheard(
        &mut self,
        who: usize,
        applet: &str,
        kind: u16,
        body: &[u8],
    ) -> Result<SignedOp, String> {
        let wall = 1000 + self.step;
        self.write_raw(who, wall, applet, kind, body)
    }

    fn write_raw(
        &mut self,
        who: usize,
        wall_ms: u64,
        applet: &str,
        kind: u16,
        body: &[u8],
    ) -> Result<SignedOp, String> {
        self.step += 1;
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&self.step.to_le_bytes());
        nonce[8] = who as u8;
        // An op the applet refuses is still a valid op: the log keeps it
        // and every node refuses it alike. Tests want to see the refusal,
        // so check first with the applet's rules as folded so far.
        let op = self.engines[who]
            .prepare(&self.people[who], applet, kind, body, wall_ms, nonce)
            .map_err(|e| e.to_string())?;
        self.engines[who].check(&op, body)?;
        self.engines[who].ingest(vec![op.clone()]);
        let signed = op.into_signed();
        self.ops.push(signed.clone());
        Ok(signed)
    }

    /// Every op folded by a fresh engine, in writing order.
    pub fn fold(&self) -> OpLog {
        fold_rooted(self.make, self.ops.clone(), self.root)
    }
}

/// A fresh engine that took in `ops` (in one batch).
pub fn fold(make: Make, ops: Vec<SignedOp>) -> OpLog {
    fold_rooted(make, ops, None)
}

/// A fresh engine of a room rooted at `root` that took in `ops`.
pub fn fold_rooted(make: Make, ops: Vec<SignedOp>, root: Option<NodeId>) -> OpLog {
    let mut e = OpLog::new(NodeId([0xee; 32]), SEAL, make()).rooted(root);
    let report = e.ingest_signed(ops);
    assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
    e
}

/// The applet `A` named `name` in `engine`.
pub fn state<'a, A: 'static>(engine: &'a OpLog, name: &str) -> &'a A {
    engine
        .folder()
        .applet(name)
        .and_then(|a| a.as_any().downcast_ref::<A>())
        .expect("the applet is registered")
}

/// Folds `ops` in `rounds` random orders, with random duplicates and in
/// random batch sizes, and asserts every fold ends with the same state
/// hash as the ops in writing order. Returns that reference engine.
pub fn assert_order_independent(make: Make, ops: &[SignedOp], seed: u64, rounds: usize) -> OpLog {
    assert_order_independent_rooted(make, ops, None, seed, rounds)
}

/// [`assert_order_independent`] in a room rooted at `root`.
pub fn assert_order_independent_rooted(
    make: Make,
    ops: &[SignedOp],
    root: Option<NodeId>,
    seed: u64,
    rounds: usize,
) -> OpLog {
    let reference = fold_rooted(make, ops.to_vec(), root);
    let mut rng = EngineRng::seed_from_u64(seed);
    for round in 0..rounds {
        let mut shuffled = ops.to_vec();
        for op in ops {
            if rng.random_bool(0.2) {
                shuffled.push(op.clone());
            }
        }
        shuffled.shuffle(&mut rng);
        let mut e = OpLog::new(NodeId([0xdd; 32]), SEAL, make()).rooted(root);
        let chunk = rng.random_range(1..8usize);
        for part in shuffled.chunks(chunk) {
            let report = e.ingest_signed(part.to_vec());
            assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
        }
        assert_eq!(
            e.state_hash(),
            reference.state_hash(),
            "seed {seed} round {round}: the state depends on arrival order"
        );
    }
    reference
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applets::chat;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(chat::Chat::default())]
    }

    #[test]
    fn written_ops_fold_alike_in_any_order_and_refusals_are_reported() {
        let mut room = Room::new(3, 7, make);
        for i in 0..20 {
            let who = i % 3;
            let text = format!("line {i}");
            if i % 4 == 0 {
                room.write_unheard(who, chat::NAME, chat::KIND_MESSAGE, text.as_bytes())
                    .expect("written");
            } else {
                room.write(who, chat::NAME, chat::KIND_MESSAGE, text.as_bytes())
                    .expect("written");
            }
        }
        let err = room
            .write(0, chat::NAME, chat::KIND_MESSAGE, b"   ")
            .expect_err("an empty line is refused before it is written");
        assert!(err.contains("empty"), "{err}");
        assert_eq!(room.ops.len(), 20);
        let e = assert_order_independent(make, &room.ops, 1, 5);
        assert_eq!(state::<chat::Chat>(&e, chat::NAME).lines().len(), 20);
    }
}
