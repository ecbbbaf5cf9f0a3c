//! Signed broadcasts: the origin of an ephemeral room message
//! ([`crate::Node::broadcast`]) is the node whose signature it carries, not
//! whatever a relaying member claims.
//!
//! The author signs, with its identity's Ed25519 key,
//!
//! ```text
//! BROADCAST_SIG_DOMAIN || room_tag (8) || author (32) || seq (u64 LE) || payload
//! ```
//!
//! `author` and `seq` are the Plumtree `Gossip` fields the message id hashes
//! ([`crate::id::MessageId::for_broadcast`]); the id itself cannot be
//! signed, since it hashes the envelope that carries the signature. Signing
//! both binds the signature to this one broadcast: a relay cannot hand the
//! payload out under another author, or again under another `seq` (a new
//! id, which duplicate suppression would not catch). The room tag binds it
//! to the room, since one identity may sit in several rooms. The payload
//! comes last and every field before it has a fixed size, so no two inputs
//! give one signed message.
//!
//! A receiver checks the signature before its Plumtree engine takes the
//! message ([`crate::proto::route::Admission`]), so a forged broadcast is
//! neither delivered nor relayed. Format, rules and a test vector:
//! `docs/protocol.md`, "Signed broadcasts".

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::identity::Identity;
use super::room::ROOM_TAG_BYTES;
use crate::id::NodeId;

/// Domain tag signed in front of every broadcast.
pub const BROADCAST_SIG_DOMAIN: &[u8] = b"flashmesh/broadcast/v1";
/// Bytes of an Ed25519 signature.
pub const SIGNATURE_BYTES: usize = 64;
/// Bytes the signature adds to an encoded [`SignedBroadcast`], over the
/// unsigned envelope that carried the bare payload: its u64 length and the
/// 64 bytes.
pub const SIGNATURE_OVERHEAD_BYTES: usize = 8 + SIGNATURE_BYTES;

/// An application's broadcast with its author's signature, as it travels
/// inside [`crate::proto::wire::Envelope::Broadcast`]. The author and the
/// sequence number it is signed with are the carrying `Gossip`'s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBroadcast {
    /// The application's bytes.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Ed25519 by the author over [`signing_message`]. Always
    /// [`SIGNATURE_BYTES`] long from an honest author (serde has no 64-byte
    /// arrays); any other length does not verify.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

/// Why a broadcast's signature was refused. The broadcast is dropped: not
/// delivered, cached or relayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastError {
    /// The claimed author is not an Ed25519 point, or is a weak
    /// (small-order) key.
    #[error("the author id is not a usable Ed25519 key")]
    WeakKey,
    /// The signature is not 64 bytes, or fails strict verification under
    /// the claimed author for this room, `seq` and payload.
    #[error("the signature does not verify for the claimed author")]
    BadSignature,
}

/// What the author signs: [`BROADCAST_SIG_DOMAIN`] || `room_tag` ||
/// `author` || `seq` as u64 LE || `payload`.
pub fn signing_message(
    room_tag: &[u8; ROOM_TAG_BYTES],
    author: &NodeId,
    seq: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(BROADCAST_SIG_DOMAIN.len() + ROOM_TAG_BYTES + 32 + 8 + payload.len());
    m.extend_from_slice(BROADCAST_SIG_DOMAIN);
    m.extend_from_slice(room_tag);
    m.extend_from_slice(author.as_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

impl SignedBroadcast {
    /// Signs `payload` as `identity`'s broadcast number `seq` in the room
    /// tagged `room_tag`.
    pub fn sign(
        identity: &Identity,
        room_tag: &[u8; ROOM_TAG_BYTES],
        seq: u64,
        payload: Vec<u8>,
    ) -> SignedBroadcast {
        let sig = identity.sign(&signing_message(
            room_tag,
            &identity.node_id(),
            seq,
            &payload,
        ));
        SignedBroadcast {
            payload,
            sig: sig.to_vec(),
        }
    }

    /// Checks that `author` signed this payload as its broadcast number
    /// `seq` in the room tagged `room_tag` (strict verification; weak keys
    /// refused).
    pub fn verify(
        &self,
        room_tag: &[u8; ROOM_TAG_BYTES],
        author: &NodeId,
        seq: u64,
    ) -> Result<(), BroadcastError> {
        let sig: [u8; SIGNATURE_BYTES] = self
            .sig
            .as_slice()
            .try_into()
            .map_err(|_| BroadcastError::BadSignature)?;
        let key =
            VerifyingKey::from_bytes(author.as_bytes()).map_err(|_| BroadcastError::WeakKey)?;
        if key.is_weak() {
            return Err(BroadcastError::WeakKey);
        }
        key.verify_strict(
            &signing_message(room_tag, author, seq, &self.payload),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| BroadcastError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::id::{MessageId, to_hex};
    use crate::proto::wire::Envelope;

    const ROOM: [u8; ROOM_TAG_BYTES] = [0x33; ROOM_TAG_BYTES];

    use crate::crypto::ConstRng;

    fn identity(byte: u8) -> Identity {
        Identity::generate_with(&mut ConstRng(byte))
    }

    #[test]
    fn a_signed_broadcast_verifies_for_its_author_seq_and_room_only() {
        let (alice, bob) = (identity(1), identity(2));
        let signed = SignedBroadcast::sign(&alice, &ROOM, 7, b"hi".to_vec());
        assert_eq!(signed.verify(&ROOM, &alice.node_id(), 7), Ok(()));
        // Claimed by another node, replayed under another seq, or in
        // another room: refused.
        assert_eq!(
            signed.verify(&ROOM, &bob.node_id(), 7),
            Err(BroadcastError::BadSignature)
        );
        assert_eq!(
            signed.verify(&ROOM, &alice.node_id(), 8),
            Err(BroadcastError::BadSignature)
        );
        assert_eq!(
            signed.verify(&[0x34; ROOM_TAG_BYTES], &alice.node_id(), 7),
            Err(BroadcastError::BadSignature)
        );
    }

    #[test]
    fn a_changed_payload_or_signature_does_not_verify() {
        let alice = identity(1);
        let signed = SignedBroadcast::sign(&alice, &ROOM, 1, b"hi".to_vec());
        let mut payload = signed.clone();
        payload.payload[0] ^= 1;
        assert_eq!(
            payload.verify(&ROOM, &alice.node_id(), 1),
            Err(BroadcastError::BadSignature)
        );
        let mut sig = signed.clone();
        sig.sig[10] ^= 1;
        assert_eq!(
            sig.verify(&ROOM, &alice.node_id(), 1),
            Err(BroadcastError::BadSignature)
        );
        for len in [0, 63, 65] {
            let mut short = signed.clone();
            short.sig.resize(len, 0);
            assert_eq!(
                short.verify(&ROOM, &alice.node_id(), 1),
                Err(BroadcastError::BadSignature),
                "a {len}-byte signature"
            );
        }
    }

    #[test]
    fn a_weak_author_key_is_refused() {
        let signed = SignedBroadcast::sign(&identity(1), &ROOM, 1, b"hi".to_vec());
        // The identity point: small order.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert_eq!(
            signed.verify(&ROOM, &NodeId(weak), 1),
            Err(BroadcastError::WeakKey)
        );
    }

    /// The vector in `docs/protocol.md`, "Signed broadcasts".
    #[test]
    fn the_signed_broadcast_test_vector_holds() {
        let author = identity(1);
        let id = author.node_id();
        assert_eq!(
            to_hex(id.as_bytes()),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
        let seq = 1;
        let signed = SignedBroadcast::sign(&author, &ROOM, seq, b"hello room".to_vec());
        assert_eq!(
            to_hex(&signing_message(&ROOM, &id, seq, b"hello room")),
            concat!(
                "666c6173686d6573682f62726f6164636173742f7631",
                "3333333333333333",
                "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
                "0100000000000000",
                "68656c6c6f20726f6f6d",
            )
        );
        assert_eq!(
            to_hex(&signed.sig),
            concat!(
                "b610d44ccb1dbefb7e6c585b594fc1303f3eff2216cc44d69e9d291e7b88779f",
                "52d903e7ad4b4faaf079d2e4809f3813961b1bd0d17d269fe789f382cc391d0e",
            )
        );
        assert_eq!(signed.verify(&ROOM, &id, seq), Ok(()));
        let envelope = codec::encode_value(&Envelope::Broadcast(signed.clone())).expect("encodes");
        assert_eq!(
            to_hex(&envelope),
            format!(
                "00000000 0a00000000000000 68656c6c6f20726f6f6d 4000000000000000 {}",
                to_hex(&signed.sig)
            )
            .replace(' ', "")
        );
        assert_eq!(envelope.len(), 4 + 8 + 10 + SIGNATURE_OVERHEAD_BYTES);
        assert_eq!(
            codec::decode_value::<Envelope>(&envelope),
            Ok(Envelope::Broadcast(signed))
        );
        assert_eq!(
            to_hex(&MessageId::for_broadcast(&id, seq, &envelope).0),
            "56b19ebc217fc947f2b779ca567de0d3b5d046ab762d6133a618b53c9d073c13"
        );
    }
}
