//! The link handshake: Noise `XXpsk3_25519_ChaChaPoly_SHA256` (the `snow`
//! crate, RustCrypto backends only) keyed with the room's link PSK, whose
//! payloads bind each side's Noise static key to its node id.
//!
//! Sans-IO: the caller moves the handshake messages over a connection (as
//! length-delimited frames) and calls [`Handshake::read`] / [`Handshake::write`]
//! in turn; [`Handshake::finish`] yields the verified peer id and the Noise
//! transport state. Message flow (XX): initiator `e` with an empty payload;
//! responder `e, ee, s, es` + its payload; initiator `s, se, psk` + its
//! payload. The Noise prologue is empty (no prologue is set). Bytes and
//! sizes: `docs/protocol.md`, "Link handshake".
//!
//! Known limit of XXpsk3 (the pattern the design fixes): the responder's
//! second message is not yet keyed by the PSK, so anyone who dials a node
//! learns its node id before the handshake fails. Nothing else leaks: the
//! initiator's identity and all traffic are PSK-protected.

use serde::{Deserialize, Serialize};
use snow::{Builder, HandshakeState, StatelessTransportState};

use crate::codec;
use crate::crypto::identity::{Identity, verify_noise_binding};
use crate::id::NodeId;
use crate::proto::wire::WIRE_VERSION;

/// The Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
/// Largest Noise message (the Noise spec's limit).
pub const NOISE_MESSAGE_MAX: usize = 65_535;

/// What each side says about itself inside the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakePayload {
    /// [`WIRE_VERSION`] of the sender.
    pub version: u16,
    /// The sender's node id (Ed25519 public key); the link is bound to it.
    pub node: NodeId,
    /// Ed25519 signature by `node` over the sender's Noise static key
    /// (see `crypto::identity::Identity::noise_binding`).
    #[serde(with = "serde_bytes")]
    pub binding: Vec<u8>,
    /// The TCP port the sender accepts links on (0: it does not listen).
    /// With the address the connection came from, it tells an accepting
    /// node how to reach the dialler later.
    pub listen_port: u16,
}

/// A finished handshake: who the peer is and the keys for the link.
pub struct Finished {
    /// The peer's node id, proven by its binding signature over the Noise
    /// static key it used.
    pub peer: NodeId,
    /// The peer's [`HandshakePayload::listen_port`].
    pub peer_listen_port: u16,
    /// The Noise handshake hash: the same at both ends of this connection
    /// and different for every connection, so both ends can agree on which
    /// of two connections to keep.
    pub handshake_hash: [u8; 32],
    /// Transport keys; nonces are counted by the caller (one counter per
    /// direction, starting at 0), so reading and writing can run in
    /// separate tasks.
    pub transport: StatelessTransportState,
}

/// Why a handshake failed. The link is closed; nothing else changes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The message did not decrypt: another room's PSK (or garbage).
    #[error("handshake failed: not the same room, or corrupted ({0})")]
    WrongRoom(String),
    /// The peer's payload decrypted but does not decode as a
    /// [`HandshakePayload`] (or its binding is not 64 bytes); the reason.
    #[error("handshake payload is malformed: {0}")]
    Malformed(String),
    /// The peer's payload starts with another [`WIRE_VERSION`].
    #[error("peer speaks protocol version {theirs}, this node {ours}")]
    Version {
        /// The peer's version.
        theirs: u16,
        /// This node's [`WIRE_VERSION`].
        ours: u16,
    },
    /// The binding signature does not verify for the claimed node id and
    /// the Noise static key used, or the id is a weak key; the reason.
    #[error("peer's identity does not check out: {0}")]
    Identity(String),
    /// `write` when it is the peer's turn or after the end, `read` when it
    /// is this side's turn or after the end, or `finish` before the peer's
    /// payload was verified or the exchange was complete.
    #[error("handshake used out of turn")]
    OutOfTurn,
    /// The Noise library refused an operation (building the state, writing
    /// a message, switching to transport mode); its reason.
    #[error("noise: {0}")]
    Noise(String),
}

/// One side of a link handshake in progress.
pub struct Handshake {
    state: HandshakeState,
    payload: Vec<u8>,
    peer: Option<(NodeId, u16)>,
}

impl Handshake {
    /// The dialling side.
    pub fn initiator(
        identity: &Identity,
        link_psk: &[u8; 32],
        listen_port: u16,
    ) -> Result<Handshake, HandshakeError> {
        Handshake::new(identity, link_psk, listen_port, true)
    }

    /// The accepting side.
    pub fn responder(
        identity: &Identity,
        link_psk: &[u8; 32],
        listen_port: u16,
    ) -> Result<Handshake, HandshakeError> {
        Handshake::new(identity, link_psk, listen_port, false)
    }

    fn new(
        identity: &Identity,
        psk: &[u8; 32],
        listen_port: u16,
        initiator: bool,
    ) -> Result<Handshake, HandshakeError> {
        let noise = |e: snow::Error| HandshakeError::Noise(e.to_string());
        let params = NOISE_PATTERN
            .parse()
            .map_err(|e: snow::Error| HandshakeError::Noise(e.to_string()))?;
        let secret = identity.noise_secret();
        let builder = Builder::new(params)
            .local_private_key(&secret)
            .map_err(noise)?
            .psk(3, psk)
            .map_err(noise)?;
        let state = if initiator {
            builder.build_initiator()
        } else {
            builder.build_responder()
        }
        .map_err(noise)?;
        let payload = codec::encode_value(&HandshakePayload {
            version: WIRE_VERSION,
            node: identity.node_id(),
            binding: identity.noise_binding().to_vec(),
            listen_port,
        })
        .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
        Ok(Handshake {
            state,
            payload,
            peer: None,
        })
    }

    /// Whether it is this side's turn to write.
    pub fn is_my_turn(&self) -> bool {
        self.state.is_my_turn()
    }

    /// Whether both sides have sent everything.
    pub fn is_finished(&self) -> bool {
        self.state.is_handshake_finished()
    }

    /// The next handshake message to send. Message 1 carries no payload;
    /// messages 2 and 3 carry this side's [`HandshakePayload`].
    pub fn write(&mut self) -> Result<Vec<u8>, HandshakeError> {
        if !self.state.is_my_turn() || self.is_finished() {
            return Err(HandshakeError::OutOfTurn);
        }
        let payload: &[u8] = if self.state.is_initiator() && self.peer.is_none() {
            // The initiator's first message has no payload (it would go out
            // unencrypted); its identity rides in message 3.
            &[]
        } else {
            &self.payload
        };
        let mut buf = vec![0u8; NOISE_MESSAGE_MAX];
        let n = self
            .state
            .write_message(payload, &mut buf)
            .map_err(|e| HandshakeError::Noise(e.to_string()))?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Reads the peer's next handshake message; checks its payload (version,
    /// and the signature binding its Noise key to its node id) when it has one.
    pub fn read(&mut self, message: &[u8]) -> Result<(), HandshakeError> {
        if self.state.is_my_turn() || self.is_finished() {
            return Err(HandshakeError::OutOfTurn);
        }
        let mut buf = vec![0u8; NOISE_MESSAGE_MAX];
        let n = self
            .state
            .read_message(message, &mut buf)
            .map_err(|e| HandshakeError::WrongRoom(e.to_string()))?;
        if n == 0 {
            return Ok(()); // message 1: only an ephemeral key
        }
        // The version comes first and is checked on its own, so a peer of
        // another version whose payload has another shape is told apart
        // from a malformed one.
        if let Some(version) = buf.get(..2).map(|v| u16::from_le_bytes([v[0], v[1]]))
            && version != WIRE_VERSION
        {
            return Err(HandshakeError::Version {
                theirs: version,
                ours: WIRE_VERSION,
            });
        }
        let payload: HandshakePayload =
            codec::decode_value(&buf[..n]).map_err(|e| HandshakeError::Malformed(e.to_string()))?;
        let remote: [u8; 32] = self
            .state
            .get_remote_static()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| HandshakeError::Identity("no static key".into()))?;
        let binding: [u8; 64] = payload
            .binding
            .as_slice()
            .try_into()
            .map_err(|_| HandshakeError::Malformed("binding is not 64 bytes".into()))?;
        verify_noise_binding(&payload.node, &remote, &binding)
            .map_err(|e| HandshakeError::Identity(e.to_string()))?;
        self.peer = Some((payload.node, payload.listen_port));
        Ok(())
    }

    /// The verified peer and the transport state, once finished.
    pub fn finish(self) -> Result<Finished, HandshakeError> {
        let Some((peer, peer_listen_port)) = self.peer else {
            return Err(HandshakeError::OutOfTurn);
        };
        if !self.state.is_handshake_finished() {
            return Err(HandshakeError::OutOfTurn);
        }
        let handshake_hash: [u8; 32] = self
            .state
            .get_handshake_hash()
            .try_into()
            .map_err(|_| HandshakeError::Noise("handshake hash is not 32 bytes".into()))?;
        let transport = self
            .state
            .into_stateless_transport_mode()
            .map_err(|e| HandshakeError::Noise(e.to_string()))?;
        Ok(Finished {
            peer,
            peer_listen_port,
            handshake_hash,
            transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ids() -> (Identity, Identity) {
        let mut rng = crate::proto::EngineRng::seed_from_u64(5);
        (
            Identity::generate_with(&mut rng),
            Identity::generate_with(&mut rng),
        )
    }

    /// Runs a whole handshake; returns both sides' results.
    fn run(a: &mut Handshake, b: &mut Handshake) -> Result<(), HandshakeError> {
        let m1 = a.write()?;
        b.read(&m1)?;
        let m2 = b.write()?;
        a.read(&m2)?;
        let m3 = a.write()?;
        b.read(&m3)?;
        Ok(())
    }

    #[test]
    fn same_room_peers_learn_each_others_verified_ids_and_talk() {
        let (alice, bob) = ids();
        let mut a = Handshake::initiator(&alice, &[7; 32], 9000).expect("builds");
        let mut b = Handshake::responder(&bob, &[7; 32], 9001).expect("builds");
        run(&mut a, &mut b).expect("handshake completes");
        let a_done = a.finish().expect("finished");
        let b_done = b.finish().expect("finished");
        assert_eq!(a_done.peer, bob.node_id());
        assert_eq!(a_done.peer_listen_port, 9001);
        assert_eq!(b_done.peer, alice.node_id());
        assert_eq!(b_done.peer_listen_port, 9000);
        assert_eq!(a_done.handshake_hash, b_done.handshake_hash);
        let mut ct = vec![0u8; 128];
        let n = a_done
            .transport
            .write_message(0, b"hello", &mut ct)
            .expect("encrypts");
        let mut pt = vec![0u8; 128];
        let m = b_done
            .transport
            .read_message(0, &ct[..n], &mut pt)
            .expect("decrypts");
        assert_eq!(&pt[..m], b"hello");
        assert!(
            !ct[..n].windows(5).any(|w| w == b"hello"),
            "no plaintext on the wire"
        );
    }

    /// `docs/protocol.md` ("Link handshake"): 48, 204 and 172 bytes, and a
    /// payload of version, node id, length-prefixed binding, listen port.
    #[test]
    fn handshake_messages_have_the_documented_sizes_and_payload_layout() {
        let (alice, bob) = ids();
        let mut a = Handshake::initiator(&alice, &[7; 32], 9000).expect("builds");
        let mut b = Handshake::responder(&bob, &[7; 32], 9001).expect("builds");
        let m1 = a.write().expect("writes");
        b.read(&m1).expect("reads");
        let m2 = b.write().expect("writes");
        a.read(&m2).expect("reads");
        let m3 = a.write().expect("writes");
        b.read(&m3).expect("reads");
        assert_eq!((m1.len(), m2.len(), m3.len()), (48, 204, 172));
        let mut layout = vec![0x01, 0x00];
        layout.extend_from_slice(bob.node_id().as_bytes());
        layout.extend_from_slice(&64u64.to_le_bytes());
        layout.extend_from_slice(&bob.noise_binding());
        layout.extend_from_slice(&9001u16.to_le_bytes());
        assert_eq!(b.payload, layout);
    }

    #[test]
    fn a_first_message_with_a_payload_is_refused() {
        let (_, bob) = ids();
        let params = NOISE_PATTERN.parse().expect("pattern");
        let mut raw = Builder::new(params)
            .local_private_key(&[3; 32])
            .and_then(|b| b.psk(3, &[7; 32]))
            .and_then(|b| b.build_initiator())
            .expect("builds");
        let mut m1 = vec![0u8; 1024];
        let n = raw.write_message(b"hi", &mut m1).expect("writes");
        let mut b = Handshake::responder(&bob, &[7; 32], 0).expect("builds");
        assert!(b.read(&m1[..n]).is_err());
    }

    #[test]
    fn another_rooms_initiator_is_refused_and_its_identity_never_read() {
        let (alice, bob) = ids();
        let mut a = Handshake::initiator(&alice, &[1; 32], 0).expect("builds");
        let mut b = Handshake::responder(&bob, &[2; 32], 0).expect("builds");
        let err = run(&mut a, &mut b).expect_err("refused");
        assert!(matches!(err, HandshakeError::WrongRoom(_)), "{err}");
        assert!(b.finish().is_err());
    }

    #[test]
    fn a_payload_claiming_someone_elses_id_is_refused() {
        let (alice, bob) = ids();
        let mut rng = crate::proto::EngineRng::seed_from_u64(9);
        let mallory = Identity::generate_with(&mut rng);
        let mut a = Handshake::initiator(&mallory, &[7; 32], 0).expect("builds");
        // Mallory's Noise key, Alice's id and Alice's binding (for Alice's
        // Noise key): the signature does not cover Mallory's key.
        a.payload = codec::encode_value(&HandshakePayload {
            version: WIRE_VERSION,
            node: alice.node_id(),
            binding: alice.noise_binding().to_vec(),
            listen_port: 0,
        })
        .expect("encodes");
        let mut b = Handshake::responder(&bob, &[7; 32], 9001).expect("builds");
        let err = run(&mut a, &mut b).expect_err("refused");
        assert!(matches!(err, HandshakeError::Identity(_)), "{err}");
    }

    #[test]
    fn another_protocol_version_is_refused_with_both_versions() {
        let (alice, bob) = ids();
        let mut a = Handshake::initiator(&alice, &[7; 32], 9000).expect("builds");
        a.payload = codec::encode_value(&HandshakePayload {
            version: WIRE_VERSION + 1,
            node: alice.node_id(),
            binding: alice.noise_binding().to_vec(),
            listen_port: 0,
        })
        .expect("encodes");
        let mut b = Handshake::responder(&bob, &[7; 32], 9001).expect("builds");
        let err = run(&mut a, &mut b).expect_err("refused");
        assert!(matches!(err, HandshakeError::Version { .. }), "{err}");
    }

    #[test]
    fn garbage_and_out_of_turn_calls_are_errors_not_panics() {
        let (alice, bob) = ids();
        let mut b = Handshake::responder(&bob, &[7; 32], 9001).expect("builds");
        assert!(matches!(b.write(), Err(HandshakeError::OutOfTurn)));
        assert!(b.read(&[0xff; 3]).is_err());
        let mut a = Handshake::initiator(&alice, &[7; 32], 9000).expect("builds");
        assert!(matches!(a.read(&[0; 32]), Err(HandshakeError::OutOfTurn)));
        assert!(a.finish().is_err());
    }
}
