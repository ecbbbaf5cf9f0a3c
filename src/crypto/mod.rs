//! Cryptography: room codes and the keys they derive ([`room`]), a
//! node's persisted identity ([`identity`]), sealed direct messages
//! ([`dm`]) and signed broadcasts ([`broadcast`]).
//!
//! Nothing here is hand-rolled: Argon2id (`argon2`), HKDF-SHA256 (`hkdf`,
//! `sha2`), Ed25519 (`ed25519-dalek`), X25519 (`x25519-dalek`). Key material is wiped on drop (`zeroize`) and never printed.

pub mod broadcast;
pub mod dm;
pub mod identity;
pub mod room;
mod words;

pub use identity::{Identity, IdentityError};

/// Test vectors' "randomness": an RNG that yields one byte over and over,
/// so an identity's Ed25519 seed (or an ephemeral key) is 32 copies of it
/// and anyone can rebuild the vector from the spec. Tests only: the
/// stream is fixed, not secret.
#[cfg(test)]
pub(crate) struct ConstRng(pub(crate) u8);

#[cfg(test)]
impl rand::TryRng for ConstRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::from_le_bytes([self.0; 4]))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from_le_bytes([self.0; 8]))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(self.0);
        Ok(())
    }
}

#[cfg(test)]
impl rand::TryCryptoRng for ConstRng {}
pub use room::{RoomCode, RoomError, RoomKeys};
