//! The one public error type, with a variant family per layer.

use std::net::SocketAddr;

use crate::codec::WireError;
use crate::config::{ConfigError, NickError};
use crate::crypto::dm::DmError;
use crate::crypto::identity::IdentityError;
use crate::crypto::room::RoomError;
use crate::store::StorageError;

/// What went wrong in a [`crate::Node`] call. Each variant says what
/// happened to state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work (the error names the field); nothing
    /// was started.
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
        /// The address asked for.
        addr: SocketAddr,
        /// Why the bind failed (`AddrInUse`: another process has the port).
        source: std::io::Error,
    },
    /// The discovery port could not be opened; nothing was started.
    #[error(
        "cannot open the discovery port {port}: {source} (pick another --discovery-port, or turn discovery off)"
    )]
    Discovery {
        /// The UDP port asked for.
        port: u16,
        /// Why it could not be opened.
        source: std::io::Error,
    },
    /// A task of the start (loading the key file, opening the store) on
    /// tokio's blocking pool panicked or was cancelled before it finished;
    /// nothing was started. What it did to its file, each of those says
    /// ([`IdentityError`], [`StorageError`]).
    #[error("{task}: {source}")]
    Task {
        /// What the task was doing: `loading the key file`, `opening the
        /// store`.
        task: &'static str,
        /// Its panic or cancellation.
        source: tokio::task::JoinError,
    },
    /// The node has shut down (or is shutting down); the call did nothing.
    #[error("the node has stopped")]
    Stopped,
    /// The request was refused by a rule (an applet's, or a size limit);
    /// nothing was sent or changed. The text says which rule. (For now a
    /// store failure met by [`crate::Node::publish`] or
    /// [`crate::Node::snapshot`] also comes here, worded as its
    /// [`StorageError`], because the op-log actor reports it as text; that
    /// error's variant says what happened to what is stored.)
    #[error("{0}")]
    Rejected(String),
    /// The node keeps no store (it has no data directory: memory only), so
    /// there is no snapshot to write; nothing was written.
    #[error("this node keeps no store (memory only)")]
    NoStore,
    /// The nickname is refused; the published nick did not change.
    #[error(transparent)]
    Nick(#[from] NickError),
    /// A direct message addressed to this node itself; nothing was sent.
    #[error("cannot send a direct message to oneself")]
    ToSelf,
    /// [`crate::Node::query`] named no registered applet of that name and
    /// type; nothing was read.
    #[error("no applet {name} of that type")]
    NoApplet {
        /// The name asked for.
        name: String,
    },
    /// A message could not be encoded (it is over the size limit); nothing
    /// was sent.
    #[error(transparent)]
    Encode(#[from] WireError),
    /// A direct message could not be sealed; nothing was sent.
    #[error(transparent)]
    Direct(#[from] DmError),
    /// The room's op-log database failed; each variant says what happened
    /// to what is stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
