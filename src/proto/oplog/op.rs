//! Ops: the signed entries of each author's append-only log.
//!
//! An [`Op`] is what an author signs: its place in the author's log (`seq`,
//! and `prev`, the id of the author's previous op), a Lamport time, a wall
//! time, the applet and kind it belongs to, and a body. The body is sealed
//! with the room's seal key ([`seal_body`]): nodes of another room, or
//! anyone holding a copy of the log without the room code, read nothing.
//! A [`SignedOp`] adds the author's Ed25519 signature and room for witness
//! signatures (kiosk quorum, later work). The op id is SHA-256 over a domain
//! tag and the canonical encoding of the `Op` (not the signature or the
//! witnesses, so witnesses can be added without changing the id).
//!
//! Parse, don't validate: only [`SignedOp::verify`] (or [`verify_batch`])
//! makes a [`VerifiedOp`], and only verified ops are stored or folded.
//! Verification checks, in this order: size, structure, signature (strict; weak keys
//! refused). Chain, equivocation and applet rules are the log engine's
//! ("policy"), since they need the rest of the log.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::codec;
use crate::crypto::identity::Identity;
use crate::id::{NodeId, OpId};

/// Signed in front of the encoded op.
pub const OP_SIG_DOMAIN: &[u8] = b"flashmesh/op/v1";
/// Hashed in front of the encoded op to make its id.
pub const OP_ID_DOMAIN: &[u8] = b"flashmesh/op-id/v1";
/// In front of the associated data of a sealed body.
pub const OP_BODY_DOMAIN: &[u8] = b"flashmesh/op-body/v1";
/// Longest applet name, in bytes (ASCII lowercase letters, digits, `-`, `_`, `.`).
pub const APPLET_NAME_BYTES_MAX: usize = 32;
/// Largest (sealed) body.
pub const OP_BODY_BYTES_MAX: usize = 16 * 1024;
/// Largest encoded signed op: the body plus every other field, and up to
/// [`WITNESSES_MAX`] witnesses.
pub const OP_BYTES_MAX: usize = OP_BODY_BYTES_MAX + 1024 + WITNESSES_MAX * 112;
/// Most witness signatures on one op.
pub const WITNESSES_MAX: usize = 8;
/// Bytes of a sealed body's nonce (XChaCha20-Poly1305).
pub const BODY_NONCE_BYTES: usize = 24;
/// Bytes a sealed body adds: nonce and tag.
pub const BODY_SEAL_OVERHEAD_BYTES: usize = BODY_NONCE_BYTES + 16;

/// What an author signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The author's node id (its Ed25519 public key): whose log this op is
    /// in and who signs it.
    pub author: NodeId,
    /// Position in the author's log, from 1.
    pub seq: u64,
    /// The id of the author's op `seq - 1`; `None` exactly when `seq == 1`.
    pub prev: Option<OpId>,
    /// Lamport time: above every op the author had seen when writing it.
    pub lamport: u64,
    /// The author's wall clock, milliseconds since the Unix epoch (shown to
    /// people; never used for ordering).
    pub wall_ms: u64,
    /// The applet the op belongs to: 1 to [`APPLET_NAME_BYTES_MAX`] bytes of
    /// `a-z`, `0-9`, `-`, `_`, `.`.
    pub applet: String,
    /// Applet-defined.
    pub kind: u16,
    /// Sealed with the room's seal key ([`seal_body`]).
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// Proof-of-work nonce: varied until the op id carries the work the
    /// room asks for ([`super::pow`]).
    pub pow_nonce: u64,
}

/// A co-signature by another node (reserved for kiosk quorum mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The co-signing node.
    pub node: NodeId,
    /// Its signature; not checked yet (the witness scheme is reserved).
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

/// An op with its author's signature, as stored and sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOp {
    /// The signed op; its id covers only this field.
    pub op: Op,
    /// Ed25519 by `op.author` over [`OP_SIG_DOMAIN`] || encoding of `op`.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
    /// Co-signatures, at most [`WITNESSES_MAX`]; outside the id and the
    /// author's signature, so they can be added later.
    pub witnesses: Vec<Witness>,
}

/// Why an op was refused. Nothing was stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The encoded signed op is over [`OP_BYTES_MAX`], or its body over
    /// [`OP_BODY_BYTES_MAX`].
    #[error("op is {len} bytes; at most {max} are allowed")]
    TooLarge {
        /// Size found, in bytes.
        len: usize,
        /// The limit it broke, in bytes.
        max: usize,
    },
    /// The bytes are not one canonical encoding of a [`SignedOp`]; the
    /// codec's reason.
    #[error("op does not decode: {0}")]
    Malformed(String),
    /// A field breaks a structure rule (seq or lamport 0, `prev` present
    /// exactly when it must not be, bad applet name, too many witnesses, a
    /// signature that is not 64 bytes); which one.
    #[error("op structure is invalid: {0}")]
    Structure(String),
    /// The author id does not decode as an Ed25519 point, or is a weak
    /// (small-order) key.
    #[error("author key is not a usable Ed25519 key")]
    WeakKey,
    /// The author's signature over [`OP_SIG_DOMAIN`] and the encoded op
    /// fails strict Ed25519 verification.
    #[error("signature does not verify")]
    BadSignature,
}

/// Why a body could not be sealed or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Sealing: the plaintext plus nonce and tag would exceed
    /// [`OP_BODY_BYTES_MAX`].
    #[error("body is {len} bytes; at most {max} are allowed once sealed")]
    TooLarge {
        /// Sealed size it would have, in bytes.
        len: usize,
        /// [`OP_BODY_BYTES_MAX`].
        max: usize,
    },
    /// Opening: the body is shorter than nonce and tag, or fails
    /// authentication (another room's key, or a body moved from another op).
    #[error("body does not open with this room's key")]
    Open,
}

impl Op {
    /// The canonical encoding (what is signed and hashed).
    pub fn encode(&self) -> Vec<u8> {
        // Encoding an op cannot fail (no maps, no unsized floats); the
        // empty fallback would then fail verification, never pass it.
        codec::encode_value(self).unwrap_or_default()
    }

    /// SHA-256(OP_ID_DOMAIN || encoding).
    pub fn id(&self) -> OpId {
        let mut h = Sha256::new();
        h.update(OP_ID_DOMAIN);
        h.update(self.encode());
        OpId(h.finalize().into())
    }

    /// Signs the op; `identity` must be the author's.
    pub fn sign(self, identity: &Identity) -> SignedOp {
        let sig = identity.sign(&signing_message(&self.encode())).to_vec();
        SignedOp {
            op: self,
            sig,
            witnesses: Vec::new(),
        }
    }
}

fn signing_message(encoded_op: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(OP_SIG_DOMAIN.len() + encoded_op.len());
    msg.extend_from_slice(OP_SIG_DOMAIN);
    msg.extend_from_slice(encoded_op);
    msg
}

impl SignedOp {
    /// The canonical encoding (what is stored and sent).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_value(self).unwrap_or_default()
    }

    /// Decodes one signed op (size checked first, canonical, whole input).
    pub fn decode(bytes: &[u8]) -> Result<SignedOp, VerifyError> {
        if bytes.len() > OP_BYTES_MAX {
            return Err(VerifyError::TooLarge {
                len: bytes.len(),
                max: OP_BYTES_MAX,
            });
        }
        codec::decode_value(bytes).map_err(|e| VerifyError::Malformed(e.to_string()))
    }

    /// Checks size, structure and signature (proof of work is a room
    /// rule, checked by the fold: [`super::pow`]).
    pub fn verify(self) -> Result<VerifiedOp, VerifyError> {
        let (encoded, key, sig) = self.precheck()?;
        key.verify_strict(&signing_message(&encoded), &sig)
            .map_err(|_| VerifyError::BadSignature)?;
        Ok(self.into_verified(&encoded))
    }

    /// Everything but the signature; returns what checking it needs.
    fn precheck(&self) -> Result<(Vec<u8>, VerifyingKey, Signature), VerifyError> {
        let len = codec::encoded_len(self);
        if len > OP_BYTES_MAX {
            return Err(VerifyError::TooLarge {
                len,
                max: OP_BYTES_MAX,
            });
        }
        if self.op.body.len() > OP_BODY_BYTES_MAX {
            return Err(VerifyError::TooLarge {
                len: self.op.body.len(),
                max: OP_BODY_BYTES_MAX,
            });
        }
        // Proof of work is a room rule, checked by the fold (`pow`).
        check_structure(&self.op, self.witnesses.len())?;
        let sig: [u8; 64] = self
            .sig
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::Structure("signature is not 64 bytes".into()))?;
        let key = VerifyingKey::from_bytes(self.op.author.as_bytes())
            .map_err(|_| VerifyError::WeakKey)?;
        if key.is_weak() {
            return Err(VerifyError::WeakKey);
        }
        Ok((self.op.encode(), key, Signature::from_bytes(&sig)))
    }

    /// Takes an op this node verified before and stored itself (read back
    /// from its own store) without checking the signature again. Never for
    /// bytes from a peer.
    pub(crate) fn assume_verified(self) -> VerifiedOp {
        let encoded = self.op.encode();
        self.into_verified(&encoded)
    }

    fn into_verified(self, encoded: &[u8]) -> VerifiedOp {
        let mut h = Sha256::new();
        h.update(OP_ID_DOMAIN);
        h.update(encoded);
        VerifiedOp {
            id: OpId(h.finalize().into()),
            signed: self,
        }
    }
}

fn check_structure(op: &Op, witnesses: usize) -> Result<(), VerifyError> {
    let bad = |m: &str| Err(VerifyError::Structure(m.to_string()));
    if op.seq == 0 {
        return bad("seq starts at 1");
    }
    if (op.seq == 1) != op.prev.is_none() {
        return bad("prev must be absent exactly for seq 1");
    }
    if op.lamport == 0 {
        return bad("lamport starts at 1");
    }
    if op.applet.is_empty() || op.applet.len() > APPLET_NAME_BYTES_MAX {
        return bad("applet name must be 1 to 32 bytes");
    }
    if !op
        .applet
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return bad("applet name may hold only a-z, 0-9, '-', '_', '.'");
    }
    if witnesses > WITNESSES_MAX {
        return bad("too many witnesses");
    }
    Ok(())
}

/// An op whose size, structure and signature checked out. Only
/// [`SignedOp::verify`] and [`verify_batch`] make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedOp {
    id: OpId,
    signed: SignedOp,
}

impl VerifiedOp {
    /// The op id, computed once at verification.
    pub fn id(&self) -> OpId {
        self.id
    }

    /// The verified op.
    pub fn op(&self) -> &Op {
        &self.signed.op
    }

    /// The op with its signature and witnesses, as stored and sent.
    pub fn signed(&self) -> &SignedOp {
        &self.signed
    }

    /// Gives up the verified mark, for storing or sending.
    pub fn into_signed(self) -> SignedOp {
        self.signed
    }
}

/// Verifies many ops, using one Ed25519 batch verification for all whose
/// other checks pass; when the batch fails, each is checked alone to find
/// the bad ones. The result is in input order.
pub fn verify_batch(ops: Vec<SignedOp>) -> Vec<Result<VerifiedOp, VerifyError>> {
    let mut prechecked = Vec::with_capacity(ops.len());
    let mut results: Vec<Option<Result<VerifiedOp, VerifyError>>> = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match op.precheck() {
            Ok(parts) => {
                prechecked.push((i, parts));
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    let messages: Vec<Vec<u8>> = prechecked
        .iter()
        .map(|(_, (enc, _, _))| signing_message(enc))
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let sigs: Vec<Signature> = prechecked.iter().map(|(_, (_, _, s))| *s).collect();
    let keys: Vec<VerifyingKey> = prechecked.iter().map(|(_, (_, k, _))| *k).collect();
    // The batch check refuses non-canonical `s` like the strict one, and
    // weak keys were refused above; what it does not refuse is a
    // small-order `R`, which only the key's owner can produce and which
    // cannot change an op id (ids do not cover signatures). When the batch
    // fails, each op is checked strictly on its own.
    let batch_ok =
        !prechecked.is_empty() && ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_ok();
    let mut ops: Vec<Option<SignedOp>> = ops.into_iter().map(Some).collect();
    for (i, (enc, key, sig)) in prechecked {
        let Some(op) = ops[i].take() else { continue };
        let ok = batch_ok || key.verify_strict(&signing_message(&enc), &sig).is_ok();
        results[i] = Some(if ok {
            Ok(op.into_verified(&enc))
        } else {
            Err(VerifyError::BadSignature)
        });
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(VerifyError::Malformed("not checked".into()))))
        .collect()
}

/// The associated data binding a sealed body to its op's place.
fn body_aad(author: &NodeId, seq: u64, applet: &str, kind: u16) -> Vec<u8> {
    let mut aad = Vec::with_capacity(OP_BODY_DOMAIN.len() + 32 + 8 + 1 + applet.len() + 2);
    aad.extend_from_slice(OP_BODY_DOMAIN);
    aad.extend_from_slice(author.as_bytes());
    aad.extend_from_slice(&seq.to_le_bytes());
    aad.push(applet.len() as u8);
    aad.extend_from_slice(applet.as_bytes());
    aad.extend_from_slice(&kind.to_le_bytes());
    aad
}

/// Seals `plain` for an op at (`author`, `seq`, `applet`, `kind`) with the
/// room's seal key: `nonce (24 random bytes) || XChaCha20-Poly1305(plain)`.
pub fn seal_body(
    seal_key: &[u8; 32],
    author: &NodeId,
    seq: u64,
    applet: &str,
    kind: u16,
    plain: &[u8],
    nonce: [u8; BODY_NONCE_BYTES],
) -> Result<Vec<u8>, SealError> {
    let len = plain.len() + BODY_SEAL_OVERHEAD_BYTES;
    if len > OP_BODY_BYTES_MAX {
        return Err(SealError::TooLarge {
            len,
            max: OP_BODY_BYTES_MAX,
        });
    }
    let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*seal_key));
    let aad = body_aad(author, seq, applet, kind);
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::TooLarge {
            len,
            max: OP_BODY_BYTES_MAX,
        })?;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens an op's body with the room's seal key.
pub fn open_body(seal_key: &[u8; 32], op: &Op) -> Result<Vec<u8>, SealError> {
    if op.body.len() < BODY_SEAL_OVERHEAD_BYTES {
        return Err(SealError::Open);
    }
    let (nonce, ct) = op.body.split_at(BODY_NONCE_BYTES);
    let nonce: [u8; BODY_NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Open)?;
    let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*seal_key));
    let aad = body_aad(&op.author, op.seq, &op.applet, op.kind);
    cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad })
        .map_err(|_| SealError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn author() -> Identity {
        let mut rng = crate::proto::EngineRng::seed_from_u64(21);
        Identity::generate_with(&mut rng)
    }

    fn op(id: &Identity, seq: u64, prev: Option<OpId>) -> Op {
        Op {
            author: id.node_id(),
            seq,
            prev,
            lamport: seq,
            wall_ms: 1_800_000_000_000 + seq,
            applet: "chat".into(),
            kind: 1,
            body: vec![seq as u8; 40],
            pow_nonce: 0,
        }
    }

    use crate::crypto::ConstRng;

    /// The op of the documented vectors (`docs/protocol.md`, "Ops").
    fn documented_op(author: &Identity) -> Op {
        Op {
            author: author.node_id(),
            seq: 1,
            prev: None,
            lamport: 1,
            wall_ms: 1_800_000_000_000,
            applet: "chat".into(),
            kind: 1,
            body: b"hello room".to_vec(),
            pow_nonce: 0,
        }
    }

    /// The vector in `docs/protocol.md` ("Ops"), computed independently
    /// with Python's `cryptography` package.
    #[test]
    fn the_documented_test_vector_holds() {
        let id = Identity::generate_with(&mut ConstRng(0x01));
        let o = documented_op(&id);
        let hex = crate::id::to_hex;
        assert_eq!(
            hex(&o.encode()),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\
             0100000000000000 00 0100000000000000 00505c18a3010000\
             0400000000000000 63686174 0100 0a00000000000000 68656c6c6f20726f6f6d\
             0000000000000000"
                .replace(' ', "")
        );
        assert_eq!(
            o.id().to_string(),
            "895b77967f9c334d511480eaeb643f9f6644d522264c86551b0b263bf6f668fe"
        );
        let signed = o.sign(&id);
        assert_eq!(
            hex(&signed.sig),
            "3d93f1b7b7076b34df3ffe02051cad418198bf0dba59ffa18f1545b5a39097c9\
             bff4bdba11287572810d77630316e702e4ba660f73ab4f4dc45b899b09cf9c0a"
        );
        let bytes = signed.encode();
        assert!(hex(&bytes).ends_with(&format!(
            "4000000000000000{}0000000000000000",
            hex(&signed.sig)
        )));
        assert_eq!(
            signed.verify().map(|v| v.id()),
            Ok(OpId(
                crate::id::from_hex(
                    "895b77967f9c334d511480eaeb643f9f6644d522264c86551b0b263bf6f668fe"
                )
                .expect("hex")
            ))
        );
    }

    /// The frontier hash vectors in `docs/protocol.md` ("Frontier"),
    /// computed independently with Python's `hashlib`: an author whose
    /// frontier is empty (only pending ops, or forked at seq 1) adds
    /// nothing to the hash.
    #[test]
    fn the_documented_frontier_hash_vectors_hold() {
        use crate::proto::oplog::log::{Ingested, Log};
        let hex = crate::id::to_hex;
        let mut log = Log::new();
        assert_eq!(
            hex(&log.frontier_hash()),
            "73323dab9f3a34c9733e098117079966bdfb04749d360abc57d528d76f2b90c1"
        );
        let one = Identity::generate_with(&mut ConstRng(0x01));
        let documented = documented_op(&one);
        let verified = |o: Op, by: &Identity| o.sign(by).verify().expect("verifies");
        assert!(matches!(
            log.ingest(verified(documented, &one)),
            Ingested::Chained { .. }
        ));
        let with_one_author = "523328b0586a6881b1bb4d2c2e37e56a0ae1018fae63ce09a9fe8d8db7edc2f6";
        assert_eq!(hex(&log.frontier_hash()), with_one_author);
        // Only a pending op (seq 2, seq 1 missing): no frontier entry.
        let two = Identity::generate_with(&mut ConstRng(0x02));
        let pending = op(&two, 2, Some(OpId([0x77; 32])));
        assert_eq!(log.ingest(verified(pending, &two)), Ingested::Pending);
        // Two different ops at seq 1: forked at 1, no frontier entry.
        let three = Identity::generate_with(&mut ConstRng(0x03));
        let first = op(&three, 1, None);
        let mut fork = op(&three, 1, None);
        fork.lamport = 2;
        log.ingest(verified(first, &three));
        assert_eq!(
            log.ingest(verified(fork, &three)),
            Ingested::Equivocation {
                author: three.node_id(),
                seq: 1
            }
        );
        assert_eq!(log.frontier().len(), 1);
        assert_eq!(hex(&log.frontier_hash()), with_one_author);
    }

    #[test]
    fn a_signed_op_verifies_and_its_id_is_the_hash_of_the_op() {
        let id = author();
        let o = op(&id, 1, None);
        let want = o.id();
        let v = o.sign(&id).verify().expect("verifies");
        assert_eq!(v.id(), want);
        let bytes = v.signed().encode();
        assert_eq!(SignedOp::decode(&bytes).expect("decodes"), *v.signed());
    }

    #[test]
    fn a_changed_field_breaks_the_signature() {
        let id = author();
        let mut s = op(&id, 1, None).sign(&id);
        s.op.lamport += 1;
        assert_eq!(s.verify(), Err(VerifyError::BadSignature));
    }

    #[test]
    fn someone_elses_signature_is_refused() {
        let id = author();
        let other = Identity::generate();
        let mut s = op(&other, 1, None).sign(&other);
        s.op.author = id.node_id();
        assert_eq!(s.verify(), Err(VerifyError::BadSignature));
    }

    #[test]
    fn a_weak_author_key_is_refused() {
        let id = author();
        let mut s = op(&id, 1, None).sign(&id);
        // The identity point (a small-order key).
        let mut weak = [0u8; 32];
        weak[0] = 1;
        s.op.author = NodeId(weak);
        assert_eq!(s.verify(), Err(VerifyError::WeakKey));
    }

    #[test]
    fn broken_structure_is_refused_with_the_reason() {
        let id = author();
        let cases: Vec<(Op, &str)> = vec![
            (
                Op {
                    seq: 0,
                    ..op(&id, 1, None)
                },
                "seq",
            ),
            (op(&id, 2, None), "prev"),
            (op(&id, 1, Some(OpId([1; 32]))), "prev"),
            (
                Op {
                    lamport: 0,
                    ..op(&id, 1, None)
                },
                "lamport",
            ),
            (
                Op {
                    applet: String::new(),
                    ..op(&id, 1, None)
                },
                "applet",
            ),
            (
                Op {
                    applet: "Chat".into(),
                    ..op(&id, 1, None)
                },
                "applet",
            ),
            (
                Op {
                    applet: "x".repeat(33),
                    ..op(&id, 1, None)
                },
                "applet",
            ),
        ];
        for (o, what) in cases {
            match o.sign(&id).verify() {
                Err(VerifyError::Structure(m)) => assert!(m.contains(what), "{m}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_oversized_body_is_refused_before_the_signature_is_checked() {
        let id = author();
        let mut s = op(&id, 1, None).sign(&id);
        s.op.body = vec![0; OP_BODY_BYTES_MAX + 1];
        s.sig = vec![0; 64];
        assert!(matches!(s.verify(), Err(VerifyError::TooLarge { .. })));
        assert!(matches!(
            SignedOp::decode(&vec![0; OP_BYTES_MAX + 1]),
            Err(VerifyError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_batch_finds_the_one_bad_op_and_keeps_the_order() {
        let id = author();
        let mut ops = Vec::new();
        let mut prev = None;
        for seq in 1..=8 {
            let o = op(&id, seq, prev);
            prev = Some(o.id());
            ops.push(o.sign(&id));
        }
        ops[5].op.wall_ms += 1; // breaks its signature
        let results = verify_batch(ops.clone());
        for (i, r) in results.iter().enumerate() {
            if i == 5 {
                assert_eq!(*r, Err(VerifyError::BadSignature));
            } else {
                assert_eq!(r.as_ref().map(VerifiedOp::id), Ok(ops[i].op.id()));
            }
        }
        let all_good = verify_batch(ops[..5].to_vec());
        assert!(all_good.iter().all(Result::is_ok));
    }

    #[test]
    fn a_sealed_body_opens_only_with_the_room_key_and_in_its_place() {
        let id = author();
        let mut o = op(&id, 3, Some(OpId([9; 32])));
        o.body =
            seal_body(&[5; 32], &o.author, 3, "chat", 1, b"hello room", [7; 24]).expect("seals");
        assert_eq!(open_body(&[5; 32], &o).expect("opens"), b"hello room");
        assert_eq!(open_body(&[6; 32], &o), Err(SealError::Open));
        let moved = Op {
            seq: 4,
            ..o.clone()
        };
        assert_eq!(open_body(&[5; 32], &moved), Err(SealError::Open));
        let other_kind = Op { kind: 2, ..o };
        assert_eq!(open_body(&[5; 32], &other_kind), Err(SealError::Open));
        assert!(matches!(
            seal_body(
                &[5; 32],
                &id.node_id(),
                1,
                "chat",
                1,
                &vec![0; OP_BODY_BYTES_MAX],
                [0; 24]
            ),
            Err(SealError::TooLarge { .. })
        ));
    }
}
