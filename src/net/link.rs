//! One link over TCP: length-delimited frames, the Noise handshake, then one
//! encrypted [`Wire`] value per frame.
//!
//! Framing: a 2-byte big-endian length, then that many bytes (the Noise
//! framing convention). The length is checked against
//! [`FRAME_CIPHERTEXT_MAX`] before a byte of the body is buffered, so a
//! header cannot make the node allocate more than one maximal frame.
//! During the handshake each frame is one Noise handshake message; after it,
//! each frame is one Noise transport message whose plaintext is exactly one
//! encoded `Wire` (decoded by [`codec::decode`]: byte limit, whole frame,
//! canonical).
//!
//! **Silence towards outsiders.** The acceptor writes nothing until message
//! 1 has authenticated under the room's PSK (`XXpsk0`): on a message 1 of
//! another room, of an older protocol version, or of garbage, [`handshake`]
//! returns the error and the connection is dropped without a byte written.
//!
//! **Confirmation.** In `XX` the initiator finishes on writing message 3,
//! before the responder has checked it. By then the initiator knows the
//! responder holds the room code (message 2 decrypted under keys that
//! include the PSK), but the responder may still refuse message 3 (the
//! initiator's identity or version), and the dialler would count up a link
//! the other end dropped. So the responder, once message 3 checks out,
//! sends one transport message with an empty payload (nonce 0) and the
//! initiator counts the link up only when that decrypts. Application frames
//! then start at nonce 1 in the responder-to-initiator direction, and at 0
//! in the other.
//!
//! Nonces are counted here, one counter per direction starting at 0, which
//! lets the reading and the writing half of a link run in separate tasks
//! (snow's stateless transport mode). TCP delivers in order, so a frame that
//! does not decrypt under the next nonce is corrupt or forged: the link
//! closes.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use snow::StatelessTransportState;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::codec::{self, WireError};
use crate::crypto::identity::Identity;
use crate::id::NodeId;
use crate::net::handshake::{Finished, Handshake, HandshakeError, NOISE_MESSAGE_MAX};
use crate::proto::wire::{FRAME_BYTES_MAX, Wire};

/// Bytes the AEAD tag adds to every Noise transport message.
pub const NOISE_TAG_BYTES: usize = 16;
/// Largest frame body accepted or sent: a maximal encoded `Wire` plus its
/// tag. Below Noise's 65,535-byte message limit.
pub const FRAME_CIPHERTEXT_MAX: usize = FRAME_BYTES_MAX + NOISE_TAG_BYTES;
/// Bytes of the frame length prefix.
pub const FRAME_HEADER_BYTES: usize = 2;
/// A handshake (three messages) must finish within this time, or the
/// connection is closed: a peer that connects and stays silent costs one
/// socket for at most this long.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

const _: () = assert!(FRAME_CIPHERTEXT_MAX <= NOISE_MESSAGE_MAX);

/// The frame codec of every link.
pub fn frame_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(FRAME_HEADER_BYTES)
        .big_endian()
        .max_frame_length(FRAME_CIPHERTEXT_MAX)
        .new_codec()
}

/// Why a link failed or closed. The link is gone; nothing else changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The connection failed (reset, refused, broken pipe, ...).
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The Noise handshake or the confirmation failed: another room, a bad
    /// identity, another protocol version.
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    /// The handshake and confirmation did not finish within
    /// [`HANDSHAKE_TIMEOUT`], carried here.
    #[error("handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The peer closed the connection in the middle of the handshake.
    #[error("peer closed the connection during the handshake")]
    HandshakeClosed,
    /// A frame header announced more than [`FRAME_CIPHERTEXT_MAX`] bytes, or
    /// the stream ended inside a frame.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// A frame did not decrypt under the link's keys and next nonce.
    #[error("frame failed to decrypt")]
    Decrypt,
    /// A frame decrypted but is not exactly one canonical `Wire` value.
    #[error("frame does not decode: {0}")]
    Decode(#[from] WireError),
    /// A frame to send is larger than the limit (a local bug, not the peer's).
    #[error("frame to send is too large ({0} bytes)")]
    TooLarge(usize),
}

impl LinkError {
    /// Whether the peer sent bytes that break the protocol (counted as bad
    /// frames), as opposed to a connection that simply ended.
    pub fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            LinkError::BadFrame(_) | LinkError::Decrypt | LinkError::Decode(_)
        )
    }

    fn from_frame_io(e: io::Error) -> LinkError {
        // tokio-util reports an oversized length and a truncated final frame
        // as these kinds; anything else is the connection itself.
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::Other | io::ErrorKind::UnexpectedEof => {
                LinkError::BadFrame(e.to_string())
            }
            _ => LinkError::Io(e),
        }
    }
}

/// Which side of the connection this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// This node opened the connection: the Noise initiator, which waits
    /// for the acceptor's confirmation.
    Dialer,
    /// The peer opened the connection: the Noise responder, which sends the
    /// confirmation.
    Acceptor,
}

/// A link whose handshake and confirmation are done.
pub struct Secured {
    /// The peer's verified node id.
    pub peer: NodeId,
    /// The port the peer says it accepts links on (0: none).
    pub peer_listen_port: u16,
    /// Equal at both ends, unique per connection (see
    /// [`Finished::handshake_hash`]).
    pub handshake_hash: [u8; 32],
    /// Encrypts this node's frames to the peer, its nonce past the
    /// confirmation when this node accepted.
    pub sealer: Sealer,
    /// Decrypts the peer's frames, its nonce past the confirmation when
    /// this node dialled.
    pub opener: Opener,
}

/// Runs the Noise handshake and the confirmation over a fresh connection,
/// within [`HANDSHAKE_TIMEOUT`].
pub async fn handshake<S>(
    stream: S,
    role: Role,
    identity: &Identity,
    link_psk: &[u8; 32],
    listen_port: u16,
) -> Result<(Framed<S, LengthDelimitedCodec>, Secured), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framed = Framed::new(stream, frame_codec());
    let mut hs = match role {
        Role::Dialer => Handshake::initiator(identity, link_psk, listen_port)?,
        Role::Acceptor => Handshake::responder(identity, link_psk, listen_port)?,
    };
    let exchange = async {
        while !hs.is_finished() {
            if hs.is_my_turn() {
                let msg = hs.write()?;
                framed.send(Bytes::from(msg)).await?;
            } else {
                let frame = next_frame(&mut framed).await?;
                hs.read(&frame)?;
            }
        }
        let Finished {
            peer,
            peer_listen_port,
            handshake_hash,
            transport,
        } = hs.finish()?;
        let transport = Arc::new(transport);
        let mut sealer = Sealer::new(transport.clone());
        let mut opener = Opener::new(transport);
        match role {
            Role::Acceptor => {
                let confirm = sealer.seal_raw(&[])?;
                framed.send(confirm).await?;
            }
            Role::Dialer => {
                let frame = next_frame(&mut framed).await?;
                if !opener.open_raw(&frame).is_ok_and(|p| p.is_empty()) {
                    return Err(LinkError::Handshake(HandshakeError::WrongRoom(
                        "the peer did not confirm the link".into(),
                    )));
                }
            }
        }
        Ok::<_, LinkError>(Secured {
            peer,
            peer_listen_port,
            handshake_hash,
            sealer,
            opener,
        })
    };
    let secured = match tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange).await {
        Ok(result) => result?,
        Err(_) => return Err(LinkError::HandshakeTimeout(HANDSHAKE_TIMEOUT)),
    };
    Ok((framed, secured))
}

async fn next_frame<S>(
    framed: &mut Framed<S, LengthDelimitedCodec>,
) -> Result<bytes::BytesMut, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match framed.next().await {
        Some(Ok(frame)) => Ok(frame),
        Some(Err(e)) => Err(LinkError::from_frame_io(e)),
        None => Err(LinkError::HandshakeClosed),
    }
}

/// Encrypts outgoing `Wire` values of one link.
pub struct Sealer {
    transport: Arc<StatelessTransportState>,
    nonce: u64,
    buf: Vec<u8>,
}

impl Sealer {
    /// A sealer for the sending direction of `transport`, from nonce 0.
    /// [`handshake`] makes the link's sealer and opener and has already
    /// used nonce 0 of the acceptor's direction for the confirmation.
    pub fn new(transport: Arc<StatelessTransportState>) -> Sealer {
        Sealer {
            transport,
            nonce: 0,
            buf: vec![0; FRAME_CIPHERTEXT_MAX],
        }
    }

    /// One frame body carrying `wire`.
    pub fn seal(&mut self, wire: &Wire) -> Result<Bytes, LinkError> {
        let plain = codec::encode(wire)?;
        self.seal_raw(&plain)
    }

    /// Test hook: one frame body carrying any plaintext (for tests of what
    /// a node does with a well-encrypted frame that is not a `Wire`).
    #[doc(hidden)]
    pub fn seal_bytes(&mut self, plain: &[u8]) -> Result<Bytes, LinkError> {
        self.seal_raw(plain)
    }

    fn seal_raw(&mut self, plain: &[u8]) -> Result<Bytes, LinkError> {
        if plain.len() > FRAME_BYTES_MAX {
            return Err(LinkError::TooLarge(plain.len()));
        }
        let n = self
            .transport
            .write_message(self.nonce, plain, &mut self.buf)
            .map_err(|_| LinkError::TooLarge(plain.len()))?;
        self.nonce += 1;
        Ok(Bytes::copy_from_slice(&self.buf[..n]))
    }
}

/// Decrypts and decodes incoming frames of one link.
pub struct Opener {
    transport: Arc<StatelessTransportState>,
    nonce: u64,
    buf: Vec<u8>,
}

impl Opener {
    /// An opener for the receiving direction of `transport`, from nonce 0
    /// (see [`Sealer::new`] for the confirmation).
    pub fn new(transport: Arc<StatelessTransportState>) -> Opener {
        Opener {
            transport,
            nonce: 0,
            buf: vec![0; FRAME_CIPHERTEXT_MAX],
        }
    }

    /// The `Wire` value in one frame body.
    pub fn open(&mut self, frame: &[u8]) -> Result<Wire, LinkError> {
        let plain = self.open_raw(frame)?;
        Ok(codec::decode(plain)?)
    }

    fn open_raw(&mut self, frame: &[u8]) -> Result<&[u8], LinkError> {
        let n = self
            .transport
            .read_message(self.nonce, frame, &mut self.buf)
            .map_err(|_| LinkError::Decrypt)?;
        self.nonce += 1;
        Ok(&self.buf[..n])
    }
}

/// Maps a frame-level read error to a [`LinkError`].
pub fn frame_error(e: io::Error) -> LinkError {
    LinkError::from_frame_io(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::topology;
    use rand::SeedableRng;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ids() -> (Identity, Identity) {
        let mut rng = crate::proto::EngineRng::seed_from_u64(11);
        (
            Identity::generate_with(&mut rng),
            Identity::generate_with(&mut rng),
        )
    }

    #[tokio::test]
    async fn a_handshake_over_a_byte_pipe_yields_a_link_that_carries_wire_values() {
        let (alice, bob) = ids();
        let (x, y) = tokio::io::duplex(1 << 16);
        let (a, b) = tokio::join!(
            handshake(x, Role::Dialer, &alice, &[3; 32], 7000),
            handshake(y, Role::Acceptor, &bob, &[3; 32], 7001)
        );
        let (mut fa, mut da) = a.expect("dialer finishes");
        let (mut fb, mut db) = b.expect("acceptor finishes");
        assert_eq!(da.peer, bob.node_id());
        assert_eq!(db.peer, alice.node_id());
        assert_eq!(db.peer_listen_port, 7000);
        assert_eq!(da.handshake_hash, db.handshake_hash);
        for n in 0..3u16 {
            let wire = Wire::Topology(topology::Message::Degree(n));
            fa.send(da.sealer.seal(&wire).expect("seals"))
                .await
                .expect("sends");
            let frame = fb.next().await.expect("a frame").expect("reads");
            assert_eq!(db.opener.open(&frame).expect("opens"), wire);
            fb.send(db.sealer.seal(&wire).expect("seals"))
                .await
                .expect("sends");
            let frame = fa.next().await.expect("a frame").expect("reads");
            assert_eq!(da.opener.open(&frame).expect("opens"), wire);
        }
    }

    #[tokio::test]
    async fn an_oversized_frame_header_is_refused_before_its_body_arrives() {
        let (mut x, y) = tokio::io::duplex(1 << 16);
        let mut framed = Framed::new(y, frame_codec());
        // Announce 65,535 bytes and send none of them.
        x.write_all(&[0xff, 0xff]).await.expect("writes");
        let err = framed.next().await.expect("an item").expect_err("refused");
        assert!(frame_error(err).is_protocol_violation());
    }

    #[tokio::test]
    async fn a_frame_cut_short_by_the_end_of_the_stream_is_a_bad_frame() {
        let (mut x, y) = tokio::io::duplex(1 << 16);
        let mut framed = Framed::new(y, frame_codec());
        x.write_all(&[0x00, 0x10, 1, 2, 3]).await.expect("writes");
        drop(x);
        let err = framed.next().await.expect("an item").expect_err("refused");
        assert!(frame_error(err).is_protocol_violation(), "truncated");
    }

    #[tokio::test]
    async fn a_replayed_or_garbage_frame_does_not_open() {
        let (alice, bob) = ids();
        let (x, y) = tokio::io::duplex(1 << 16);
        let (a, b) = tokio::join!(
            handshake(x, Role::Dialer, &alice, &[3; 32], 0),
            handshake(y, Role::Acceptor, &bob, &[3; 32], 0)
        );
        let (_, mut da) = a.expect("dialer finishes");
        let (_, mut db) = b.expect("acceptor finishes");
        let frame = da
            .sealer
            .seal(&Wire::Topology(topology::Message::Degree(1)))
            .expect("seals");
        db.opener.open(&frame).expect("first copy opens");
        assert!(matches!(db.opener.open(&frame), Err(LinkError::Decrypt)));
        assert!(matches!(
            db.opener.open(&[0u8; 40]),
            Err(LinkError::Decrypt)
        ));
    }

    #[tokio::test]
    async fn a_dialler_of_another_room_never_counts_the_link_up() {
        let (alice, bob) = ids();
        let (x, y) = tokio::io::duplex(1 << 16);
        let (a, b) = tokio::join!(
            handshake(x, Role::Dialer, &alice, &[1; 32], 0),
            handshake(y, Role::Acceptor, &bob, &[2; 32], 0)
        );
        assert!(
            matches!(a, Err(LinkError::HandshakeClosed)),
            "the dialler gets no message 2, only the close"
        );
        assert!(
            matches!(b, Err(LinkError::Handshake(HandshakeError::WrongRoom(_)))),
            "the acceptor refuses message 1"
        );
    }

    #[tokio::test]
    async fn an_acceptor_writes_nothing_to_another_rooms_dialler_and_closes() {
        let (alice, bob) = ids();
        let (x, y) = tokio::io::duplex(1 << 16);
        let mut dialler = Framed::new(x, frame_codec());
        let mut other_room = Handshake::initiator(&alice, &[1; 32], 0).expect("builds");
        let m1 = other_room.write().expect("writes");
        dialler.send(Bytes::from(m1)).await.expect("sends");
        let accepted = handshake(y, Role::Acceptor, &bob, &[2; 32], 0).await;
        assert!(
            matches!(
                accepted,
                Err(LinkError::Handshake(HandshakeError::WrongRoom(_)))
            ),
            "refused"
        );
        // `handshake` dropped its end of the pipe with the error: closed.
        let mut received = Vec::new();
        dialler
            .get_mut()
            .read_to_end(&mut received)
            .await
            .expect("reads to the close");
        assert_eq!(received, Vec::<u8>::new(), "not a byte was written");
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_the_handshake() {
        tokio::time::pause();
        let (alice, _) = ids();
        let (_x, y) = tokio::io::duplex(1 << 16);
        let result = handshake(y, Role::Acceptor, &alice, &[3; 32], 0).await;
        assert!(
            matches!(result, Err(LinkError::HandshakeTimeout(_))),
            "the handshake must time out"
        );
    }
}
