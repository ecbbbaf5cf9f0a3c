//! The one public error type, with a variant family per layer.

use std::net::SocketAddr;

use crate::config::ConfigError;
use crate::crypto::dm::DmError;
use crate::crypto::identity::IdentityError;
use crate::crypto::room::RoomError;
use crate::store::StorageError;

/// What went wrong in a [`crate::Node`] call. Each variant says what
/// happened to state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work; nothing was started.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The key file could not be loaded or created; nothing was started and
    /// no existing file was changed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The room code is unusable; nothing was started.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The TCP port could not be bound; nothing was started.
    #[error("cannot accept links on {addr}: {source} (pick another --port, or 0 for any free one)")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The discovery port could not be opened; nothing was started.
    #[error(
        "cannot open the discovery port {port}: {source} (pick another --discovery-port, or turn discovery off)"
    )]
    Discovery { port: u16, source: std::io::Error },
    /// The node has shut down (or is shutting down); the call did nothing.
    #[error("the node has stopped")]
    Stopped,
    /// The request was refused (too large, invalid); nothing was sent or
    /// changed.
    #[error("{0}")]
    Rejected(String),
    /// A direct message could not be sealed; nothing was sent.
    #[error(transparent)]
    Direct(#[from] DmError),
    /// The room's op-log database failed; each variant says what happened
    /// to what is stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
