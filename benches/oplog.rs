//! Op-log throughput, printed (not asserted): single-node ingest of signed
//! ops per second (batch verification, chain checks, the fold of chat
//! ops) next to raw single Ed25519 verifications per second, measured in
//! the same run on the same machine, and their ratio.
//!
//! Run: `cargo bench --bench oplog` (add `-- N` for N ops; default 20,000).

use std::time::Instant;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use flashmesh::applets;
use flashmesh::crypto::identity::Identity;
use flashmesh::proto::oplog::{OpLog, SignedOp};

const SEAL: [u8; 32] = [0x5e; 32];

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let authors: Vec<Identity> = (0..8).map(|_| Identity::generate()).collect();

    // Ops as a room would make them: 8 authors, chat lines of ~60 bytes.
    let mut writers: Vec<OpLog> = authors
        .iter()
        .map(|a| OpLog::new(a.node_id(), SEAL, applets::builtin()))
        .collect();
    let mut ops: Vec<SignedOp> = Vec::with_capacity(n);
    for i in 0..n {
        let w = i % authors.len();
        let text = format!("line {i}: the coffee queue is by the east door, bring a cup");
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let op = writers[w]
            .author(&authors[w], "chat", 1, text.as_bytes(), i as u64, nonce)
            .expect("authored");
        ops.push(op.into_signed());
    }

    // Raw single strict verifications (what an op check does without
    // batching) of as many signatures over same-sized messages.
    let key = SigningKey::from_bytes(&[7; 32]);
    let vk: VerifyingKey = key.verifying_key();
    let msgs: Vec<Vec<u8>> = ops.iter().map(|o| o.encode()).collect();
    let sigs: Vec<Signature> = msgs.iter().map(|m| key.sign(m)).collect();
    let t = Instant::now();
    for (m, s) in msgs.iter().zip(&sigs) {
        vk.verify_strict(m, s).expect("verifies");
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();

    // Ingest in batches of 512, as anti-entropy delivers them.
    let reader = Identity::generate();
    let mut log = OpLog::new(reader.node_id(), SEAL, applets::builtin());
    let t = Instant::now();
    for chunk in ops.chunks(512) {
        let report = log.ingest_signed(chunk.to_vec());
        assert!(report.refused.is_empty());
    }
    let ingest = n as f64 / t.elapsed().as_secs_f64();
    assert_eq!(log.log().len(), n as u64);

    println!("ops: {n} (8 authors, chat)");
    println!("raw ed25519 single strict verifications/s: {raw:.0}");
    println!("op ingest (batch verify + chain + fold)/s: {ingest:.0}");
    println!("ratio ingest/raw: {:.2}", ingest / raw);
}
