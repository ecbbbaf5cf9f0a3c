//! [`StorageError`], and how every redb error maps onto it.

use std::io;
use std::path::PathBuf;

use crate::id::NodeId;

/// Why a [`super::Store`] call failed. Every variant names the database
/// file and says what happened to what is stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The file is not a flashmesh op-log, or its contents fail redb's
    /// checks. No store was opened on it, and what it holds was not changed
    /// (it is never reset or re-created; a file that is not a redb database
    /// is not written at all).
    #[error(
        "{path} is not a usable op-log database ({reason}); it was left as it is: \
         move it aside to start this room's log afresh, or restore a backup"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it, as redb or the format check found it.
        reason: String,
    },
    /// The file was written in another op-log format version. No store was
    /// opened, and what the file holds was not changed.
    #[error(
        "{path} holds op-log format version {found}, this build reads version {supported}; \
         it was left as it is (use a flashmesh that reads version {found})"
    )]
    Version {
        /// The database file.
        path: PathBuf,
        /// The version the file holds.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// The file is 0 bytes long, but the marker beside it says this store
    /// held ops: the log was lost (truncated), not a new room. No store was
    /// opened; the file and the marker were left as they are.
    #[error(
        "{path} is empty, but this node stored the room's ops in it before ({marker} says so): \
         the log was lost; restore a backup, or remove both files to start this room's log afresh"
    )]
    Lost {
        /// The database file.
        path: PathBuf,
        /// The marker file beside it that says it held ops.
        marker: PathBuf,
    },
    /// Another process (or another `Store` in this one) has the file open.
    /// Nothing was changed and no store was opened.
    #[error(
        "{path} is in use by another flashmesh process (one node per room directory); \
         stop it or use another data directory"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The disk (or the user's quota) is full. The failed call committed
    /// nothing; everything committed before is intact. The store reopens the
    /// file on its next call, which works once space is freed.
    #[error("the disk holding {path} is full; nothing was written (free some space and retry)")]
    Full {
        /// The database file.
        path: PathBuf,
    },
    /// Any other I/O failure. The failed call committed nothing that will be
    /// read back (a commit whose final sync failed may or may not be on
    /// disk; whatever is, is whole). The store reopens the file on its next
    /// call.
    #[error("cannot read or write {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// An entry, or a whole batch, is over its limit. Nothing was written.
    #[error("{what} is {len} bytes, at most {max} can be stored in {path}; nothing was written")]
    TooLarge {
        /// The database file.
        path: PathBuf,
        /// What is too large: `an op`, `a batch`, `a snapshot`, `an address list`.
        what: &'static str,
        /// Its size in bytes.
        len: usize,
        /// The most that can be stored, in bytes.
        max: usize,
    },
    /// The batch holds an op for an `(author, seq)` already taken by a
    /// different op (a second op for a taken slot belongs in
    /// `Batch::equivocations`). Nothing was written.
    #[error(
        "{path}: the batch would replace the op stored at ({author}, seq {seq}) \
         with a different one; nothing was written"
    )]
    Conflict {
        /// The database file.
        path: PathBuf,
        /// The author of the stored op.
        author: NodeId,
        /// Its sequence number.
        seq: u64,
    },
    /// redb refused the call for a reason none of the above covers (a bug in
    /// flashmesh or redb). Nothing was written.
    #[error("the database {path} refused the operation: {reason}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// redb's words.
        reason: String,
    },
}

impl StorageError {
    /// The file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            StorageError::Corrupt { path, .. }
            | StorageError::Version { path, .. }
            | StorageError::Lost { path, .. }
            | StorageError::Locked { path }
            | StorageError::Full { path }
            | StorageError::Io { path, .. }
            | StorageError::TooLarge { path, .. }
            | StorageError::Conflict { path, .. }
            | StorageError::Database { path, .. } => path,
        }
    }

    /// Whether redb latched an I/O failure, after which its handle refuses
    /// every call until the file is closed and opened again.
    pub(super) fn latches(&self) -> bool {
        matches!(self, StorageError::Full { .. } | StorageError::Io { .. })
    }
}

/// A failure inside a store call, before it is given the file's path.
#[derive(Debug)]
pub(super) enum Fail {
    Redb(redb::Error),
    Store(StorageError),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Fail {
            fn from(e: $t) -> Fail {
                Fail::Redb(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Fail {
        Fail::Store(e)
    }
}

impl Fail {
    pub(super) fn at(self, path: PathBuf) -> StorageError {
        match self {
            Fail::Store(e) => e,
            Fail::Redb(e) => from_redb(e, path),
        }
    }
}

/// Maps one redb error. The file-level errors are the ones that matter to
/// people (in use, corrupt, full); anything else is reported as redb worded it.
fn from_redb(e: redb::Error, path: PathBuf) -> StorageError {
    use redb::Error as E;
    match e {
        E::DatabaseAlreadyOpen | E::LockProtocolMismatch => StorageError::Locked { path },
        E::Io(source) => from_io(source, path),
        E::PreviousIo => StorageError::Io {
            path,
            source: io::Error::other("an earlier I/O error left the file to be reopened"),
        },
        E::Corrupted(reason) => StorageError::Corrupt { path, reason },
        E::UpgradeRequired(v) => StorageError::Corrupt {
            path,
            reason: format!("written by an old redb, file format {v}"),
        },
        e @ (E::RepairAborted
        | E::TableTypeMismatch { .. }
        | E::TypeDefinitionChanged { .. }
        | E::TableIsMultimap(_)
        | E::TableIsNotMultimap(_)
        | E::TableDoesNotExist(_)) => StorageError::Corrupt {
            path,
            reason: e.to_string(),
        },
        e => StorageError::Database {
            path,
            reason: e.to_string(),
        },
    }
}

fn from_io(source: io::Error, path: PathBuf) -> StorageError {
    match source.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StorageError::Full { path },
        // redb's "not a redb database: magic number mismatch", and a file
        // shorter than its own header says.
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => StorageError::Corrupt {
            path,
            reason: source.to_string(),
        },
        _ => StorageError::Io { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_is_full_and_bad_magic_is_corrupt() {
        let path = PathBuf::from("/x/oplog.redb");
        let full = from_io(io::Error::from_raw_os_error(28), path.clone());
        assert!(matches!(full, StorageError::Full { .. }), "{full:?}");
        let magic = from_redb(
            redb::Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "Not a redb database: magic number mismatch",
            )),
            path.clone(),
        );
        assert!(matches!(magic, StorageError::Corrupt { .. }), "{magic:?}");
        assert!(magic.to_string().contains("/x/oplog.redb"));
        let locked = from_redb(redb::Error::DatabaseAlreadyOpen, path);
        assert!(matches!(locked, StorageError::Locked { .. }));
    }
}
