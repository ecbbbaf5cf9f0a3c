//! The log engine against its properties: order independence, idempotence,
//! refusal of bad ops with a reason, equivocation.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::ledger::OpLog;
use super::op::{Op, SignedOp, seal_body};
use crate::applets::{self, chat, dm};
use crate::crypto::identity::Identity;
use crate::id::NodeId;
use crate::proto::EngineRng;

const SEAL: [u8; 32] = [0x5e; 32];
const SEEDS: u64 = 20;

fn people(n: usize, seed: u64) -> Vec<Identity> {
    let mut rng = EngineRng::seed_from_u64(seed);
    (0..n).map(|_| Identity::generate_with(&mut rng)).collect()
}

fn engine(me: &Identity) -> OpLog {
    OpLog::new(me.node_id(), SEAL, applets::builtin())
}

/// Authors write `per_author` ops each, chat and direct messages mixed,
/// hearing each other's ops at random moments (so Lamport times interleave
/// and tie). Returns every op written.
fn history(ids: &[Identity], per_author: usize, rng: &mut EngineRng) -> Vec<SignedOp> {
    let mut engines: Vec<OpLog> = ids.iter().map(engine).collect();
    let mut all: Vec<SignedOp> = Vec::new();
    for step in 0..ids.len() * per_author {
        let who = step % ids.len();
        // Hear a random part of what was written so far.
        let heard: Vec<SignedOp> = all
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .cloned()
            .collect();
        engines[who].ingest_signed(heard);
        let mut nonce = [0u8; 24];
        rng.fill(&mut nonce[..]);
        let op = if rng.random_bool(0.8) {
            let text = format!("line {step} from {who}");
            engines[who].author(
                &ids[who],
                chat::NAME,
                chat::KIND_MESSAGE,
                text.as_bytes(),
                1000 + step as u64,
                nonce,
            )
        } else {
            let to = ids[(who + 1) % ids.len()].node_id();
            let mut crng = rand::rngs::StdRng::seed_from_u64(step as u64);
            let sealed =
                crate::crypto::dm::seal(&ids[who], &to, b"psst", &mut crng).expect("seals");
            let body = crate::codec::encode_value(&sealed).expect("encodes");
            engines[who].author(
                &ids[who],
                dm::NAME,
                dm::KIND_MESSAGE,
                &body,
                1000 + step as u64,
                nonce,
            )
        };
        all.push(op.expect("authored").into_signed());
    }
    all
}

fn replay(me: &Identity, ops: Vec<SignedOp>, chunk: usize) -> OpLog {
    let mut e = engine(me);
    for part in ops.chunks(chunk.max(1)) {
        let report = e.ingest_signed(part.to_vec());
        assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
    }
    e
}

#[test]
fn any_permutation_and_duplication_of_valid_ops_gives_the_same_state_hash() {
    for seed in 0..SEEDS {
        let mut rng = EngineRng::seed_from_u64(seed);
        let ids = people(4, seed);
        let ops = history(&ids, 12, &mut rng);
        let reference = replay(&ids[0], ops.clone(), ops.len());
        assert_eq!(reference.log().len(), ops.len() as u64, "seed {seed}");
        let chat_lines = reference
            .folder()
            .applet(chat::NAME)
            .and_then(|a| a.as_any().downcast_ref::<chat::Chat>())
            .map(|c| c.lines().len())
            .expect("chat applet");
        assert!(chat_lines > 0, "seed {seed}");
        for round in 0..5 {
            let mut shuffled = ops.clone();
            // Duplicate some, then shuffle everything.
            for op in &ops {
                if rng.random_bool(0.2) {
                    shuffled.push(op.clone());
                }
            }
            shuffled.shuffle(&mut rng);
            let chunk = rng.random_range(1..8);
            let other = replay(&ids[1], shuffled, chunk);
            assert_eq!(
                other.state_hash(),
                reference.state_hash(),
                "seed {seed} round {round}: state hashes differ"
            );
            assert_eq!(other.log().frontier_hash(), reference.log().frontier_hash());
        }
    }
}

#[test]
fn late_arrivals_refold_from_a_checkpoint_and_reach_the_same_state() {
    let mut rng = EngineRng::seed_from_u64(99);
    let ids = people(3, 99);
    let ops = history(&ids, 200, &mut rng);
    let reference = replay(&ids[0], ops.clone(), ops.len());
    // Everything but one early op of author 0, then that author's chain
    // from there arrives last: a refold over hundreds of applied ops.
    let late_author = ops[0].op.author;
    let (late, early): (Vec<_>, Vec<_>) = ops
        .into_iter()
        .partition(|o| o.op.author == late_author && o.op.seq >= 3);
    let mut e = engine(&ids[1]);
    e.ingest_signed(early);
    e.ingest_signed(late);
    assert_eq!(e.state_hash(), reference.state_hash());
    let stats = e.folder().stats();
    assert!(stats.refolds > 0, "the late ops caused a refold");
    assert!(stats.applications > e.log().len(), "ops were applied again");
    assert_eq!(stats.opened, e.log().len(), "each body was opened once");
}

fn signed(
    id: &Identity,
    seq: u64,
    prev: Option<crate::id::OpId>,
    lamport: u64,
    text: &str,
) -> SignedOp {
    let author = id.node_id();
    let body = seal_body(
        &SEAL,
        &author,
        seq,
        chat::NAME,
        chat::KIND_MESSAGE,
        text.as_bytes(),
        [seq as u8; 24],
    )
    .expect("seals");
    Op {
        author,
        seq,
        prev,
        lamport,
        wall_ms: 7,
        applet: chat::NAME.into(),
        kind: chat::KIND_MESSAGE,
        body,
        pow_nonce: 0,
    }
    .sign(id)
}

#[test]
fn forged_broken_weak_and_oversized_ops_are_refused_with_a_reason() {
    let ids = people(2, 5);
    let a = &ids[0];
    let first = signed(a, 1, None, 1, "one");
    let mut e = engine(&ids[1]);
    assert!(e.ingest_signed(vec![first.clone()]).refused.is_empty());

    let mut forged = signed(a, 2, Some(first.op.id()), 2, "two");
    forged.op.wall_ms += 1;
    let broken_prev = signed(a, 2, Some(crate::id::OpId([3; 32])), 2, "two");
    let broken_lamport = signed(a, 2, Some(first.op.id()), 1, "two");
    let mut weak = signed(a, 1, None, 1, "weak");
    let mut point = [0u8; 32];
    point[0] = 1;
    weak.op.author = NodeId(point);
    let mut oversized = signed(a, 2, Some(first.op.id()), 2, "two");
    oversized.op.body = vec![0; super::op::OP_BODY_BYTES_MAX + 1];

    for (op, why) in [
        (forged, "signature"),
        (broken_prev, "broken chain"),
        (broken_lamport, "lamport"),
        (weak, "key"),
        (oversized, "bytes"),
    ] {
        let report = e.ingest_signed(vec![op]);
        assert_eq!(report.refused.len(), 1, "{why}: {report:?}");
        assert!(
            report.refused[0].1.contains(why),
            "{why}: {}",
            report.refused[0].1
        );
        assert!(report.chained.is_empty());
    }
    assert_eq!(e.log().len(), 1, "nothing refused was kept");
}

/// Small-order (weak) Ed25519 public keys: the identity (y = 1), the
/// point of order 2 (y = −1) and a point of order 4 (y = 0).
fn weak_keys() -> [[u8; 32]; 3] {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut minus_one = [0xff; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    [identity, minus_one, [0; 32]]
}

#[test]
fn bad_ops_in_any_order_are_refused_with_their_reason_and_nothing_valid_is_lost() {
    for seed in 0..SEEDS {
        let mut rng = EngineRng::seed_from_u64(500 + seed);
        let ids = people(7, 500 + seed);
        let mut valid = history(&ids[..3], 6, &mut rng);
        // Bad ops, each with the word its refusal must name.
        let mut bad: Vec<(SignedOp, &str)> = Vec::new();
        // Authors 3..7 each write a short valid chain and then one op that
        // does not fit it: a wrong `prev`, or a `lamport` not above.
        for author in &ids[3..] {
            let len = rng.random_range(1..4u64);
            let mut prev = None;
            for seq in 1..=len {
                let op = signed(author, seq, prev, seq, &format!("{seq}"));
                prev = Some(op.op.id());
                valid.push(op);
            }
            let next = len + 1;
            let broken = if rng.random_bool(0.5) {
                let mut wrong = [0u8; 32];
                rng.fill(&mut wrong[..]);
                signed(author, next, Some(crate::id::OpId(wrong)), next, "x")
            } else {
                let lamport = rng.random_range(1..=len);
                signed(author, next, prev, lamport, "x")
            };
            bad.push((broken, "broken chain"));
        }
        for _ in 0..12 {
            let mut op = valid[rng.random_range(0..valid.len())].clone();
            match rng.random_range(0..3) {
                // Forged: a field changed after signing, or the signature.
                0 => {
                    match rng.random_range(0..4) {
                        0 => op.op.wall_ms += rng.random_range(1..1000),
                        1 => op.op.lamport += rng.random_range(1..1000),
                        2 => op.op.kind ^= 1,
                        _ => {
                            let at = rng.random_range(0..op.sig.len());
                            op.sig[at] ^= rng.random_range(1..=255u8);
                        }
                    }
                    bad.push((op, "signature"));
                }
                1 => {
                    op.op.author = NodeId(weak_keys()[rng.random_range(0..3)]);
                    bad.push((op, "key"));
                }
                _ => {
                    let extra = rng.random_range(1..4096);
                    op.op.body = vec![0; super::op::OP_BODY_BYTES_MAX + extra];
                    bad.push((op, "bytes"));
                }
            }
        }
        let reference = replay(&ids[0], valid.clone(), valid.len());

        let mut mixed: Vec<SignedOp> = valid.clone();
        for op in &valid {
            if rng.random_bool(0.2) {
                mixed.push(op.clone());
            }
        }
        mixed.extend(bad.iter().map(|(op, _)| op.clone()));
        mixed.shuffle(&mut rng);
        let mut e = engine(&ids[1]);
        let mut refused: Vec<(crate::id::OpId, String)> = Vec::new();
        let chunk = rng.random_range(1..10);
        for part in mixed.chunks(chunk) {
            refused.extend(e.ingest_signed(part.to_vec()).refused);
        }

        assert_eq!(refused.len(), bad.len(), "seed {seed}: {refused:?}");
        for (op, why) in &bad {
            let id = op.op.id();
            let (_, reason) = refused
                .iter()
                .find(|(r, _)| *r == id)
                .unwrap_or_else(|| panic!("seed {seed}: a bad op ({why}) was not refused"));
            assert!(reason.contains(why), "seed {seed}: {why}: {reason}");
        }
        assert_eq!(e.log().len(), valid.len() as u64, "seed {seed}");
        assert_eq!(e.state_hash(), reference.state_hash(), "seed {seed}");
        assert_eq!(e.log().frontier_hash(), reference.log().frontier_hash());
        assert!(e.log().equivocators().is_empty(), "seed {seed}");
    }
}

#[test]
fn an_equivocating_author_is_flagged_and_every_node_folds_the_same() {
    let ids = people(3, 8);
    let a = &ids[0];
    let one = signed(a, 1, None, 1, "one");
    let two = signed(a, 2, Some(one.op.id()), 2, "two");
    let two_bis = signed(a, 2, Some(one.op.id()), 2, "two, again, differently");
    let three = signed(a, 3, Some(two.op.id()), 3, "three");
    let honest = signed(&ids[1], 1, None, 5, "hello");

    let mut x = engine(&ids[1]);
    let rx = x.ingest_signed(vec![
        one.clone(),
        two.clone(),
        three.clone(),
        honest.clone(),
        two_bis.clone(),
    ]);
    assert_eq!(rx.equivocations, vec![(a.node_id(), 2)]);
    let mut y = engine(&ids[2]);
    let ry = y.ingest_signed(vec![two_bis, honest, one, three, two]);
    assert_eq!(ry.equivocations.len(), 1);
    assert_eq!(x.log().equivocators().get(&a.node_id()), Some(&2));
    assert_eq!(
        x.state_hash(),
        y.state_hash(),
        "both hold the proof, both fold the same"
    );
    let lines = |e: &OpLog| {
        e.folder()
            .applet(chat::NAME)
            .and_then(|c| c.as_any().downcast_ref::<chat::Chat>())
            .map(|c| c.lines().iter().map(|l| l.text.clone()).collect::<Vec<_>>())
            .expect("chat")
    };
    assert_eq!(lines(&x), vec!["one".to_string(), "hello".to_string()]);
    assert_eq!(x.log().proofs().count(), 1);
}

#[test]
fn a_direct_message_is_folded_for_everyone_and_read_only_by_its_recipient() {
    let ids = people(3, 11);
    let (alice, bob, carol) = (&ids[0], &ids[1], &ids[2]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let sealed =
        crate::crypto::dm::seal(alice, &bob.node_id(), b"for bob", &mut rng).expect("seals");
    let body = crate::codec::encode_value(&sealed).expect("encodes");
    let mut a = engine(alice);
    let op = a
        .author(alice, dm::NAME, dm::KIND_MESSAGE, &body, 1, [1; 24])
        .expect("authored");
    for reader in [bob, carol] {
        let mut e = engine(reader);
        e.ingest_signed(vec![op.signed().clone()]);
        let d = e
            .folder()
            .applet(dm::NAME)
            .and_then(|d| d.as_any().downcast_ref::<dm::Dm>())
            .expect("dm");
        assert_eq!(d.messages().len(), 1);
        assert_eq!(d.messages()[0].from, alice.node_id());
        assert_eq!(d.messages()[0].to, bob.node_id());
        let held = e.log().get(&op.id()).expect("held");
        let plain = super::op::open_body(&SEAL, held.op()).expect("room opens");
        let sealed: crate::crypto::dm::SealedDm =
            crate::codec::decode_value(&plain).expect("decodes");
        let opened = crate::crypto::dm::open(reader, &sealed);
        assert_eq!(opened.is_ok(), reader.node_id() == bob.node_id());
    }
}

#[test]
fn ops_of_an_unknown_applet_are_kept_and_change_no_state() {
    let ids = people(1, 3);
    let a = &ids[0];
    let mut with = engine(a);
    let before = with.state_hash();
    let op = with
        .author(a, "poll", 1, b"{}", 1, [2; 24])
        .expect("authored");
    assert_eq!(with.state_hash(), before);
    assert_eq!(with.log().get(&op.id()).map(|o| o.id()), Some(op.id()));
    assert_eq!(with.folder().stats().unknown_applet, 1);
}

#[test]
fn a_restart_from_a_snapshot_replays_only_the_newer_ops_and_reaches_the_same_state() {
    let mut rng = EngineRng::seed_from_u64(31);
    let ids = people(3, 31);
    let ops = history(&ids, 60, &mut rng);
    let (first, rest) = ops.split_at(150);
    let mut before = replay(&ids[0], first.to_vec(), 64);
    let snapshot = before.snapshot();
    assert_eq!(snapshot.ops, 150);
    before.ingest_signed(rest.to_vec());
    let reference = before.state_hash();

    let mut restarted = engine(&ids[0]);
    let replayed = restarted.load_stored(ops.clone(), Some(&snapshot));
    assert_eq!(
        replayed,
        (ops.len() - 150) as u64,
        "only the tail is applied"
    );
    assert_eq!(restarted.state_hash(), reference);

    // Without a snapshot, everything is applied.
    let mut cold = engine(&ids[0]);
    assert_eq!(cold.load_stored(ops.clone(), None), ops.len() as u64);
    assert_eq!(cold.state_hash(), reference);

    // A snapshot of another version is ignored, not trusted.
    let mut other = snapshot.clone();
    other.version += 1;
    let mut e = engine(&ids[0]);
    assert_eq!(e.load_stored(ops.clone(), Some(&other)), ops.len() as u64);
    assert_eq!(e.state_hash(), reference);
}
