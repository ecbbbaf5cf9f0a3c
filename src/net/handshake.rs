//! The link handshake: Noise `XXpsk0_25519_ChaChaPoly_SHA256` (the `snow`
//! crate, RustCrypto backends only) keyed with the room's link PSK, whose
//! payloads bind each side's Noise static key to its node id.
//!
//! Sans-IO: the caller moves the handshake messages over a connection (as
//! length-delimited frames) and calls [`Handshake::read`] / [`Handshake::write`]
//! in turn; [`Handshake::finish`] yields the verified peer id and the Noise
//! transport state. Message flow (XXpsk0): initiator `psk, e` with an empty
//! payload; responder `e, ee, s, es` + its payload; initiator `s, se` + its
//! payload. The Noise prologue is empty (no prologue is set). Bytes and
//! sizes: `docs/protocol.md`, "Link handshake".
//!
//! What an outsider learns: nothing. The PSK is mixed in before message 1's
//! ephemeral key, so message 1's (empty) payload is sealed under a key that
//! needs the room code, and the responder authenticates message 1 before it
//! writes anything. A message 1 that does not authenticate (another room,
//! an old protocol version, garbage) fails [`Handshake::read`] with
//! [`HandshakeError::WrongRoom`], and the handshake is over: `write` then
//! refuses, so the caller has nothing to send and closes the connection
//! without writing a byte. Every later message, and so each side's node id,
//! static key and payload, is encrypted under keys that include the PSK.
//! A replayed copy of a member's message 1 does authenticate and gets a
//! message 2, but the replayer can read none of it (its keys need the PSK
//! and the original initiator's ephemeral key) and cannot go on.
//! A member of the room (anyone with the room code) still learns the node
//! id of whoever it dials or accepts; that is what the handshake is for.

use serde::{Deserialize, Serialize};
use snow::{Builder, HandshakeState, StatelessTransportState};

use crate::codec;
use crate::crypto::identity::{Identity, verify_noise_binding};
use crate::id::NodeId;
use crate::proto::wire::WIRE_VERSION;

/// The Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_XXpsk0_25519_ChaChaPoly_SHA256";
/// Where the link PSK goes in [`NOISE_PATTERN`]: before message 1's `e`.
const PSK_POSITION: u8 = 0;
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
    /// The message did not decrypt: another room's PSK, a node of an older
    /// protocol version (whose handshake mixes the PSK in later), or
    /// garbage. Nothing of this side has been written.
    #[error("handshake failed: not the same room, or corrupted ({0})")]
    WrongRoom(String),
    /// The peer's message decrypted but its payload is not what that
    /// message carries: message 1 with a payload, message 2 or 3 without
    /// one, or one that does not decode as a [`HandshakePayload`] (or whose
    /// binding is not 64 bytes); the reason.
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
    /// payload was verified or the exchange was complete. A failed `read`
    /// ends the handshake: every call after it is out of turn.
    #[error("handshake used out of turn")]
    OutOfTurn,
    /// The Noise library refused an operation (building the state, writing
    /// a message, switching to transport mode); its reason.
    #[error("noise: {0}")]
    Noise(String),
}

/// One side of a link handshake in progress.
///
/// Driver contract: while not [`is_finished`](Handshake::is_finished),
/// call [`write`](Handshake::write) and send its message when
/// [`is_my_turn`](Handshake::is_my_turn), else [`read`](Handshake::read)
/// the peer's next message; then [`finish`](Handshake::finish). On any
/// error, close the connection: after a failed `read` this side has
/// nothing more to send (`write` refuses), so a responder whose message 1
/// did not authenticate has written nothing at all.
pub struct Handshake {
    state: HandshakeState,
    payload: Vec<u8>,
    peer: Option<(NodeId, u16)>,
    /// Messages of the peer read so far (a responder's first is message 1,
    /// which carries no payload).
    messages_read: u8,
    /// A `read` failed: the handshake is over.
    failed: bool,
}

impl Handshake {
    /// The dialling side.
    pub fn initiator(
        identity: &Identity,
        link_psk: &[u8; 32],
        listen_port: u16,
    ) -> Result<Handshake, HandshakeError> {
        Handshake::new(identity, link_psk, listen_port, true, None)
    }

    /// The accepting side.
    pub fn responder(
        identity: &Identity,
        link_psk: &[u8; 32],
        listen_port: u16,
    ) -> Result<Handshake, HandshakeError> {
        Handshake::new(identity, link_psk, listen_port, false, None)
    }

    fn new(
        identity: &Identity,
        psk: &[u8; 32],
        listen_port: u16,
        initiator: bool,
        fixed_ephemeral: Option<&[u8; 32]>,
    ) -> Result<Handshake, HandshakeError> {
        let noise = |e: snow::Error| HandshakeError::Noise(e.to_string());
        let params = NOISE_PATTERN
            .parse()
            .map_err(|e: snow::Error| HandshakeError::Noise(e.to_string()))?;
        let secret = identity.noise_secret();
        let mut builder = Builder::new(params)
            .local_private_key(&secret)
            .map_err(noise)?
            .psk(PSK_POSITION, psk)
            .map_err(noise)?;
        if let Some(ephemeral) = fixed_ephemeral {
            // Test vectors only: the public constructors pass `None`.
            builder = builder.fixed_ephemeral_key_for_testing_only(ephemeral);
        }
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
            messages_read: 0,
            failed: false,
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
    /// messages 2 and 3 carry this side's [`HandshakePayload`]. Refused
    /// (out of turn) after a failed [`read`](Handshake::read).
    pub fn write(&mut self) -> Result<Vec<u8>, HandshakeError> {
        if self.failed || !self.state.is_my_turn() || self.is_finished() {
            return Err(HandshakeError::OutOfTurn);
        }
        let payload: &[u8] = if self.state.is_initiator() && self.peer.is_none() {
            // Message 1's keys come from the PSK and the ephemeral key
            // alone: any room member could read a payload there, and
            // anyone who learns the room code later. The initiator's
            // identity waits for message 3, whose keys also come from
            // Diffie-Hellman (`ee`, `es`, `se`).
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

    /// Reads the peer's next handshake message: message 1 must
    /// authenticate under the room's PSK and carry no payload; messages 2
    /// and 3 must carry a payload, whose version and signature (binding the
    /// peer's Noise key to its node id) are checked. Any error ends the
    /// handshake (see [`HandshakeError::OutOfTurn`]).
    pub fn read(&mut self, message: &[u8]) -> Result<(), HandshakeError> {
        if self.failed || self.state.is_my_turn() || self.is_finished() {
            return Err(HandshakeError::OutOfTurn);
        }
        let result = self.read_message(message);
        match result {
            Ok(()) => self.messages_read = self.messages_read.saturating_add(1),
            Err(_) => self.failed = true,
        }
        result
    }

    fn read_message(&mut self, message: &[u8]) -> Result<(), HandshakeError> {
        let mut buf = vec![0u8; NOISE_MESSAGE_MAX];
        let n = self
            .state
            .read_message(message, &mut buf)
            .map_err(|e| HandshakeError::WrongRoom(e.to_string()))?;
        let message_1 = !self.state.is_initiator() && self.messages_read == 0;
        match (message_1, n) {
            (true, 0) => return Ok(()), // only an ephemeral key, authenticated
            (true, _) => {
                return Err(HandshakeError::Malformed(format!(
                    "message 1 carries a {n}-byte payload"
                )));
            }
            (false, 0) => {
                return Err(HandshakeError::Malformed("no payload".into()));
            }
            (false, _) => {}
        }
        // The version comes first and is checked on its own, so a peer of
        // another version whose payload has another shape is told apart
        // from a malformed one.
        if let Some(version) = buf[..n].get(..2).map(|v| u16::from_le_bytes([v[0], v[1]]))
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
        let mut layout = vec![0x02, 0x00];
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
            .and_then(|b| b.psk(PSK_POSITION, &[7; 32]))
            .and_then(|b| b.build_initiator())
            .expect("builds");
        let mut m1 = vec![0u8; 1024];
        let n = raw.write_message(b"hi", &mut m1).expect("writes");
        let mut b = Handshake::responder(&bob, &[7; 32], 0).expect("builds");
        let err = b.read(&m1[..n]).expect_err("refused");
        assert!(matches!(err, HandshakeError::Malformed(_)), "{err}");
        assert!(matches!(b.write(), Err(HandshakeError::OutOfTurn)));
    }

    /// Whoever connects without the room code must get nothing
    /// of the responder, not even message 2 (its static key and node id).
    #[test]
    fn a_responder_refuses_another_rooms_first_message_and_writes_nothing() {
        let (alice, bob) = ids();
        let mut a = Handshake::initiator(&alice, &[1; 32], 0).expect("builds");
        let m1 = a.write().expect("writes");
        let mut b = Handshake::responder(&bob, &[2; 32], 9001).expect("builds");
        let err = b.read(&m1).expect_err("refused");
        assert!(matches!(err, HandshakeError::WrongRoom(_)), "{err}");
        // The responder's only way to produce bytes is `write`: it refuses,
        // so it produced none, and a retry with a good message is refused
        // too (the handshake is over).
        let mut written: Vec<u8> = Vec::new();
        for _ in 0..2 {
            match b.write() {
                Ok(m) => written.extend_from_slice(&m),
                Err(e) => assert!(matches!(e, HandshakeError::OutOfTurn), "{e}"),
            }
        }
        assert_eq!(written, Vec::<u8>::new());
        let mut same_room = Handshake::initiator(&alice, &[2; 32], 0).expect("builds");
        let good = same_room.write().expect("writes");
        assert!(matches!(b.read(&good), Err(HandshakeError::OutOfTurn)));
        assert!(matches!(b.write(), Err(HandshakeError::OutOfTurn)));
        assert!(b.finish().is_err());

        // The control: the same message 1 with the right PSK does get a
        // message 2, and it is the one that carries the responder's key.
        let mut b = Handshake::responder(&bob, &[2; 32], 9001).expect("builds");
        b.read(&good).expect("same room: message 1 authenticates");
        let m2 = b.write().expect("writes message 2");
        same_room
            .read(&m2)
            .expect("message 2 carries bob's verified id");
        assert_eq!(same_room.peer, Some((bob.node_id(), 9001)));
    }

    /// A replayed message 1 is answered, but message 2 shows nothing of
    /// the responder in clear: its static key and id are under the PSK.
    #[test]
    fn a_replayed_first_message_gets_a_message_2_with_nothing_in_clear() {
        let (alice, bob) = ids();
        let m1 = Handshake::initiator(&alice, &[7; 32], 0)
            .and_then(|mut a| a.write())
            .expect("writes");
        let mut b = Handshake::responder(&bob, &[7; 32], 9001).expect("builds");
        b.read(&m1)
            .expect("a copy of a member's message 1 authenticates");
        let m2 = b.write().expect("writes");
        for needle in [&bob.node_id().as_bytes()[..], &bob.noise_public()[..]] {
            assert!(!m2.windows(32).any(|w| w == needle));
        }
        let mut outsider = Handshake::initiator(&alice, &[8; 32], 0).expect("builds");
        outsider.write().expect("writes");
        assert!(matches!(
            outsider.read(&m2),
            Err(HandshakeError::WrongRoom(_))
        ));
    }

    #[test]
    fn random_bytes_or_a_truncated_first_message_get_no_answer() {
        let (alice, bob) = ids();
        let mut a = Handshake::initiator(&alice, &[7; 32], 0).expect("builds");
        let m1 = a.write().expect("writes");
        let mut flipped = m1.clone();
        flipped[40] ^= 1; // in the tag
        for bad in [&[0x5a; 48][..], &m1[..32], &m1[..47], &flipped[..], &[][..]] {
            let mut b = Handshake::responder(&bob, &[7; 32], 0).expect("builds");
            let err = b.read(bad).expect_err("refused");
            assert!(matches!(err, HandshakeError::WrongRoom(_)), "{err}");
            assert!(matches!(b.write(), Err(HandshakeError::OutOfTurn)));
        }
    }

    /// `docs/protocol.md` ("Link handshake", test vector): message 1 for
    /// the `demo-room` link PSK and the ephemeral private key 11 × 32.
    #[test]
    fn message_1_matches_the_documented_test_vector() {
        let (alice, bob) = ids();
        let psk: [u8; 32] =
            crate::id::from_hex("af5773cf492404d62efd42e693ce0e845ce13852f116268f767e1f34c3d50b9d")
                .expect("hex");
        let mut a = Handshake::new(&alice, &psk, 0, true, Some(&[0x11; 32])).expect("builds");
        let m1 = a.write().expect("writes");
        assert_eq!(crate::id::to_hex(&m1), MESSAGE_1_VECTOR);
        let mut b = Handshake::responder(&bob, &psk, 0).expect("builds");
        b.read(&m1).expect("the room's responder reads it");
        let mut other = Handshake::responder(&bob, &[0; 32], 0).expect("builds");
        assert!(matches!(other.read(&m1), Err(HandshakeError::WrongRoom(_))));
    }

    const MESSAGE_1_VECTOR: &str = "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13\
                                     b8532cd890faa0b8f07708adf052e93d";

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
