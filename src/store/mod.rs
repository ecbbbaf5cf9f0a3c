//! The embedded database of one room: its op-log, the authors' heads,
//! equivocation proofs, snapshots and the address book, in one redb file,
//! `<dir>/oplog.redb` (the caller gives one directory per room).
//!
//! Why redb: pure Rust (no C toolchain, no FFI), one file, ACID transactions
//! whose commits are fsync'd before they return, copy-on-write B-trees with
//! checksums, and maintained. Its file format is stable within a major
//! version but has changed twice (2.0, 3.0, each with a migration path);
//! redb refuses a format it does not read rather than misreading it. Every
//! table, key and value is listed in `docs/protocol.md` (Storage).
//!
//! The address book (`addrs`) is written by the node's address-book writer
//! ([`crate::actors::addr_book`]): a peer's addresses when a link to it
//! comes up (encoded by [`crate::actors::addr_book::encode_addrs`]), and read
//! back newest first ([`Store::newest_addrs`]) when the node restarts, to
//! dial the peers it saw before.
//!
//! Contract:
//!
//! * The store keeps bytes the caller encoded; it never decodes or verifies
//!   an op (only verified ops reach it). It refuses two things only: an entry
//!   over its limit ([`StorageError::TooLarge`]) and an op that would replace
//!   a different op at the same `(author, seq)` ([`StorageError::Conflict`]):
//!   stored ops are never overwritten.
//! * [`Store::append`] is one durable transaction: when it returns `Ok`, the
//!   whole batch is on disk (redb `Durability::Immediate`, two-phase commit);
//!   when it returns `Err`, none of it is. Only then may an op be
//!   acknowledged to its author. Group ops into batches: each commit costs
//!   two fsyncs. Snapshots are committed the same way; address-book updates
//!   are not synced on their own (see [`Store::put_addrs`]).
//! * A file that is not an op-log, is corrupt, has another format version or
//!   is open elsewhere is refused with an error naming it, and left as it is:
//!   it is never reset or re-created. Opening checks the integrity of the
//!   whole file (redb `set_check_integrity_on_open`): a corrupt file is an
//!   error, never a panic; it costs one read of the file per open.
//! * After an I/O failure (a full disk, say) redb refuses every call until
//!   the file is reopened; the store does that itself on its next call.
//! * A store that has held ops is never taken for a new room. Before the
//!   first commit that stores an op (and at an open that finds ops but no
//!   marker, for files older than the marker), the store writes a marker
//!   file beside the database, `<dir>/oplog.held` ([`HELD_MARKER_FILE_NAME`]),
//!   synced with its directory. It survives a truncation of the database
//!   file: an open that finds `oplog.redb` 0 bytes long *and* the marker
//!   refuses with [`StorageError::Lost`] instead of starting an empty room.
//!   A 0-byte file without the marker (a creation interrupted before its
//!   first commit) still becomes a new store. To start a room afresh on
//!   purpose, remove both files (or the directory).
//!
//! All methods take `&self`; a `Store` can be shared between threads (redb
//! runs one write transaction at a time and reads beside it).

mod error;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use redb::{
    Builder, Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableHandle, WriteTransaction,
};

use error::Fail;
pub use error::StorageError;

use crate::id::{NodeId, OpId};
use crate::proto::oplog::op::OP_BYTES_MAX;

/// The database file's name inside the room's directory.
pub const DB_FILE_NAME: &str = "oplog.redb";
/// The marker file written beside the database before it first stores an
/// op: a 0-byte database beside it is a lost log, not a new room.
pub const HELD_MARKER_FILE_NAME: &str = "oplog.held";
/// What the marker file says (people may find it; the store only checks
/// that it exists).
const HELD_MARKER_TEXT: &str = "flashmesh: oplog.redb in this directory has held this room's ops; \
if it is empty, the log was lost (restore a backup, or remove both files to start afresh)\n";
/// The layout of the tables below, written at creation and checked at every
/// open. The `meta` table itself never changes shape.
pub const FORMAT_VERSION: u64 = 1;
/// Largest stored op (or equivocation proof): the largest op that verifies.
pub const OP_STORED_BYTES_MAX: usize = OP_BYTES_MAX;
/// Largest batch given to one [`Store::append`], counting
/// [`BATCH_ENTRY_OVERHEAD_BYTES`] per entry on top of the ops' bytes. Bounds
/// the memory and the time one commit holds the writer; anti-entropy batches
/// are far smaller.
pub const BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;
/// What one batch entry (op, head or proof) is counted for on top of its
/// encoded op: its keys and index entry.
pub const BATCH_ENTRY_OVERHEAD_BYTES: usize = 128;
/// Equivocation proofs kept per author; later ones are ignored (one proof
/// is enough to flag an author, and an equivocating author must not be able
/// to fill the disk with them).
pub const EQUIVOCATIONS_PER_AUTHOR_MAX: usize = 4;
/// Snapshots kept: the newest, and the one before in case the newest is
/// found unusable.
pub const SNAPSHOTS_KEPT: usize = 2;
/// Largest snapshot (applet state and frontier, encoded by the caller).
pub const SNAPSHOT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Most nodes in the address book; past it, the entry updated longest ago
/// is dropped.
pub const ADDR_BOOK_MAX: usize = 1024;
/// Largest encoded address list of one node.
pub const ADDRS_BYTES_MAX: usize = 1024;
/// redb's page cache for one room's file (redb's default is 1 GiB, too much
/// for a node holding several rooms).
pub const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The key of the format version in `meta`.
const FORMAT_VERSION_KEY: &str = "format_version";

/// How ids (node ids, op ids) are kept in keys and values.
type Id = &'static [u8; 32];

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// (author, seq) → encoded `SignedOp`.
const OPS: TableDefinition<(Id, u64), &[u8]> = TableDefinition::new("ops");
/// op id → (author, seq).
const OP_INDEX: TableDefinition<Id, (Id, u64)> = TableDefinition::new("op_index");
/// author → (seq, op id) of the end of the author's contiguous prefix.
const HEADS: TableDefinition<Id, (u64, Id)> = TableDefinition::new("heads");
/// (author, seq, op id) → encoded `SignedOp` of a second op for a taken slot.
const EQUIVOCATIONS: TableDefinition<(Id, u64, Id), &[u8]> = TableDefinition::new("equivocations");
/// snapshot number → caller's bytes.
const SNAPSHOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshots");
/// node → (updated at, ms since the Unix epoch; encoded addresses).
const ADDRS: TableDefinition<Id, (u64, &[u8])> = TableDefinition::new("addrs");

/// An op as the store is given it and gives it back:
/// `(author, seq, op id, encoded SignedOp)`.
pub type StoredOp = (NodeId, u64, OpId, Vec<u8>);

/// What one [`Store::append`] commits, all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The ops. One already stored under the same id is skipped.
    pub ops: Vec<StoredOp>,
    /// The authors' new contiguous heads: `(author, seq, op id)`, replacing
    /// what was stored.
    pub heads: Vec<(NodeId, u64, OpId)>,
    /// Second ops for an `(author, seq)` already taken (proofs).
    pub equivocations: Vec<StoredOp>,
}

impl Batch {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.heads.is_empty() && self.equivocations.is_empty()
    }

    /// The size the batch is counted for against [`BATCH_BYTES_MAX`].
    pub fn counted_bytes(&self) -> usize {
        let entries = self.ops.len() + self.heads.len() + self.equivocations.len();
        let ops: usize = self.ops.iter().map(|(.., b)| b.len()).sum();
        let proofs: usize = self.equivocations.iter().map(|(.., b)| b.len()).sum();
        ops.saturating_add(proofs)
            .saturating_add(entries.saturating_mul(BATCH_ENTRY_OVERHEAD_BYTES))
    }
}

/// One room's op-log database. See the module docs for the contract.
pub struct Store {
    path: PathBuf,
    /// `<dir>/oplog.held`.
    marker: PathBuf,
    /// Whether the marker is known to be on disk.
    marked: std::sync::atomic::AtomicBool,
    /// `None` after redb latched an I/O failure, until the next call opens
    /// the file again.
    db: RwLock<Option<Database>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens `<dir>/oplog.redb`, creating the directory and the file if
    /// they do not exist (an empty file, or a redb database without tables,
    /// is made a new store: that is what an interrupted creation leaves). A
    /// file that is not an op-log database, is corrupt, has another format
    /// version, or is open in another process (or another `Store`) is an
    /// error naming it, and what it holds is left as it is. A file that is
    /// not a redb database is not written at all; in one that is, redb's
    /// integrity check may have rewritten its own commit header. A 0-byte
    /// file beside the held marker (see the module docs) is
    /// [`StorageError::Lost`], and left as it is.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        let path = dir.join(DB_FILE_NAME);
        let marker = dir.join(HELD_MARKER_FILE_NAME);
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let marked = marker.exists();
        if marked && std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(StorageError::Lost { path, marker });
        }
        let db = open_database(&path)?;
        let store = Store {
            path,
            marker,
            marked: std::sync::atomic::AtomicBool::new(marked),
            db: RwLock::new(Some(db)),
        };
        if !marked && store.op_count()? > 0 {
            // A store from before the marker: mark it now.
            store.mark_held()?;
        }
        Ok(store)
    }

    /// Writes the held marker (once): the file, synced, and its directory
    /// entry, synced, so that it is on disk before the commit it precedes.
    fn mark_held(&self) -> Result<(), StorageError> {
        use std::sync::atomic::Ordering;
        if self.marked.load(Ordering::Acquire) {
            return Ok(());
        }
        let io = |source| StorageError::Io {
            path: self.marker.clone(),
            source,
        };
        let mut file = std::fs::File::create(&self.marker).map_err(io)?;
        io::Write::write_all(&mut file, HELD_MARKER_TEXT.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        #[cfg(unix)]
        if let Some(dir) = self.marker.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        self.marked.store(true, Ordering::Release);
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the file, reporting what dropping the store would ignore.
    pub fn close(self) -> Result<(), StorageError> {
        let db = self.db.into_inner().unwrap_or_else(PoisonError::into_inner);
        match db {
            Some(db) => db.close().map_err(|e| Fail::from(e).at(self.path)),
            None => Ok(()),
        }
    }

    /// Commits `batch` in one durable transaction and returns once it is on
    /// disk. Ops already stored under the same id are skipped (so appending a
    /// batch twice changes nothing); an op for an `(author, seq)` held by a
    /// different op fails the whole batch with [`StorageError::Conflict`].
    /// Past [`EQUIVOCATIONS_PER_AUTHOR_MAX`] proofs for an author, further
    /// ones are ignored.
    pub fn append(&self, batch: &Batch) -> Result<(), StorageError> {
        self.check_batch(batch)?;
        if batch.is_empty() {
            return Ok(());
        }
        if !batch.ops.is_empty() {
            // Before the commit: an error here has written nothing.
            self.mark_held()?;
        }
        self.run(|db| {
            let txn = begin_durable(db)?;
            {
                let mut ops = txn.open_table(OPS)?;
                let mut index = txn.open_table(OP_INDEX)?;
                for (author, seq, id, bytes) in &batch.ops {
                    let slot = (author.as_bytes(), *seq);
                    if let Some(at) = index.get(id.as_bytes())? {
                        let (a, s) = at.value();
                        if (a, s) == slot {
                            continue;
                        }
                        return Err(self.conflict(author, *seq));
                    }
                    if ops.get(slot)?.is_some() {
                        return Err(self.conflict(author, *seq));
                    }
                    ops.insert(slot, bytes.as_slice())?;
                    index.insert(id.as_bytes(), slot)?;
                }
                let mut heads = txn.open_table(HEADS)?;
                for (author, seq, id) in &batch.heads {
                    heads.insert(author.as_bytes(), (*seq, id.as_bytes()))?;
                }
                let mut proofs = txn.open_table(EQUIVOCATIONS)?;
                for (author, seq, id, bytes) in &batch.equivocations {
                    let key = (author.as_bytes(), *seq, id.as_bytes());
                    if proofs.get(key)?.is_some() {
                        continue;
                    }
                    let from = (author.as_bytes(), 0, &[0u8; 32]);
                    let to = (author.as_bytes(), u64::MAX, &[0xffu8; 32]);
                    if proofs.range(from..=to)?.count() >= EQUIVOCATIONS_PER_AUTHOR_MAX {
                        continue;
                    }
                    proofs.insert(key, bytes.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// The encoded op with this id, if stored (equivocation proofs are not
    /// found here: see [`Store::equivocations`]).
    pub fn op(&self, id: &OpId) -> Result<Option<Vec<u8>>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let index = txn.open_table(OP_INDEX)?;
            let Some(at) = index.get(id.as_bytes())? else {
                return Ok(None);
            };
            let slot = at.value();
            let ops = txn.open_table(OPS)?;
            match ops.get(slot)? {
                Some(bytes) => Ok(Some(bytes.value().to_vec())),
                None => Err(Fail::Store(StorageError::Corrupt {
                    path: self.path.clone(),
                    reason: format!(
                        "the index names op {id} at ({}, seq {}), which is missing",
                        NodeId(*slot.0).fmt_short(),
                        slot.1
                    ),
                })),
            }
        })
    }

    /// Up to `limit` of `author`'s ops from `from_seq` on, as
    /// `(seq, encoded op)` in ascending `seq` (gaps are skipped).
    pub fn ops_of(
        &self,
        author: &NodeId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let ops = txn.open_table(OPS)?;
            let a = author.as_bytes();
            let mut out = Vec::new();
            for entry in ops.range((a, from_seq)..=(a, u64::MAX))?.take(limit) {
                let (key, bytes) = entry?;
                out.push((key.value().1, bytes.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Calls `f` with every stored op, in `(author, seq)` order, inside one
    /// read transaction (a consistent view), until it returns `Break`. `f`
    /// must not call this store (it runs under the store's lock).
    pub fn for_each_op(
        &self,
        mut f: impl FnMut(NodeId, u64, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let ops = txn.open_table(OPS)?;
            for entry in ops.iter()? {
                let (key, bytes) = entry?;
                let (author, seq) = key.value();
                if f(NodeId(*author), seq, bytes.value()).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Every author's stored head: `author → (seq, op id)`.
    pub fn heads(&self) -> Result<BTreeMap<NodeId, (u64, OpId)>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let heads = txn.open_table(HEADS)?;
            let mut out = BTreeMap::new();
            for entry in heads.iter()? {
                let (author, head) = entry?;
                let (seq, id) = head.value();
                out.insert(NodeId(*author.value()), (seq, OpId(*id)));
            }
            Ok(out)
        })
    }

    /// How many ops are stored (equivocation proofs not counted).
    pub fn op_count(&self) -> Result<u64, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            Ok(txn.open_table(OPS)?.len()?)
        })
    }

    /// Every equivocation proof, `(author, seq, op id, encoded op)`, in that
    /// order.
    pub fn equivocations(&self) -> Result<Vec<StoredOp>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let proofs = txn.open_table(EQUIVOCATIONS)?;
            let mut out = Vec::new();
            for entry in proofs.iter()? {
                let (key, bytes) = entry?;
                let (author, seq, id) = key.value();
                out.push((NodeId(*author), seq, OpId(*id), bytes.value().to_vec()));
            }
            Ok(out)
        })
    }

    /// Stores a snapshot under `number` (the caller's op count when it was
    /// taken; the same number replaces) and, in the same durable
    /// transaction, drops all but the [`SNAPSHOTS_KEPT`] highest numbers (so
    /// a snapshot older than those kept is not kept).
    pub fn put_snapshot(&self, number: u64, bytes: &[u8]) -> Result<(), StorageError> {
        if bytes.len() > SNAPSHOT_BYTES_MAX {
            return Err(self.too_large("a snapshot", bytes.len(), SNAPSHOT_BYTES_MAX));
        }
        self.run(|db| {
            let txn = begin_durable(db)?;
            {
                let mut snapshots = txn.open_table(SNAPSHOTS)?;
                snapshots.insert(number, bytes)?;
                while snapshots.len()? > SNAPSHOTS_KEPT as u64 {
                    snapshots.pop_first()?;
                }
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// The snapshot with the highest number, if any.
    pub fn latest_snapshot(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let snapshots = txn.open_table(SNAPSHOTS)?;
            Ok(snapshots
                .last()?
                .map(|(number, bytes)| (number.value(), bytes.value().to_vec())))
        })
    }

    /// Replaces `node`'s addresses (encoded by the caller), noting `now_ms`
    /// as when. Past [`ADDR_BOOK_MAX`] nodes, the one updated longest ago
    /// (never `node` itself; ties go to the lowest node id) is dropped in the
    /// same transaction. The address book is a hint, so this commit is not
    /// synced on its own (no fsync): it becomes durable with the next
    /// [`Store::append`] or [`Store::put_snapshot`], or when the store is
    /// closed or dropped; a crash (or an I/O failure) before then loses
    /// these latest address updates, and nothing else.
    pub fn put_addrs(&self, node: &NodeId, addrs: &[u8], now_ms: u64) -> Result<(), StorageError> {
        if addrs.len() > ADDRS_BYTES_MAX {
            return Err(self.too_large("an address list", addrs.len(), ADDRS_BYTES_MAX));
        }
        self.run(|db| {
            let txn = begin_lazy(db)?;
            {
                let mut book = txn.open_table(ADDRS)?;
                book.insert(node.as_bytes(), (now_ms, addrs))?;
                while book.len()? > ADDR_BOOK_MAX as u64 {
                    let mut oldest: Option<(u64, [u8; 32])> = None;
                    for entry in book.iter()? {
                        let (key, value) = entry?;
                        let (key, (updated, _)) = (*key.value(), value.value());
                        if key != node.0 && oldest.is_none_or(|(t, _)| updated < t) {
                            oldest = Some((updated, key));
                        }
                    }
                    let Some((_, key)) = oldest else { break };
                    book.remove(&key)?;
                }
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// The whole address book, `(node, encoded addresses)` in node order.
    pub fn addr_book(&self) -> Result<Vec<(NodeId, Vec<u8>)>, StorageError> {
        Ok(self
            .addr_entries()?
            .into_iter()
            .map(|(node, _, addrs)| (node, addrs))
            .collect())
    }

    /// Every address-book entry, `(node, updated_ms, encoded addresses)`,
    /// in node order.
    fn addr_entries(&self) -> Result<Vec<(NodeId, u64, Vec<u8>)>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let book = txn.open_table(ADDRS)?;
            let mut out = Vec::new();
            for entry in book.iter()? {
                let (node, value) = entry?;
                let (updated, bytes) = value.value();
                out.push((NodeId(*node.value()), updated, bytes.to_vec()));
            }
            Ok(out)
        })
    }

    /// Up to `limit` address-book entries, `(node, updated_ms, encoded
    /// addresses)`, most recently updated first (ties: lowest node id
    /// first). What a restarting node dials.
    pub fn newest_addrs(&self, limit: usize) -> Result<Vec<(NodeId, u64, Vec<u8>)>, StorageError> {
        let mut out = self.addr_entries()?;
        // The entries are in node order and the sort is stable.
        out.sort_by_key(|(_, updated, _)| std::cmp::Reverse(*updated));
        out.truncate(limit);
        Ok(out)
    }

    /// `node`'s address-book entry, `(updated_ms, encoded addresses)`, if
    /// it has one.
    pub fn addrs_of(&self, node: &NodeId) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.run(|db| {
            let txn = db.begin_read()?;
            let book = txn.open_table(ADDRS)?;
            Ok(book.get(node.as_bytes())?.map(|v| {
                let (updated, bytes) = v.value();
                (updated, bytes.to_vec())
            }))
        })
    }

    /// Drops `node`'s address-book entry, if any; committed like
    /// [`Store::put_addrs`] (not synced on its own).
    pub fn remove_addrs(&self, node: &NodeId) -> Result<(), StorageError> {
        self.run(|db| {
            let txn = begin_lazy(db)?;
            txn.open_table(ADDRS)?.remove(node.as_bytes())?;
            txn.commit()?;
            Ok(())
        })
    }

    fn check_batch(&self, batch: &Batch) -> Result<(), StorageError> {
        let entries = batch.ops.iter().chain(&batch.equivocations);
        if let Some(len) = entries
            .map(|(.., b)| b.len())
            .find(|&len| len > OP_STORED_BYTES_MAX)
        {
            return Err(self.too_large("an op", len, OP_STORED_BYTES_MAX));
        }
        let len = batch.counted_bytes();
        if len > BATCH_BYTES_MAX {
            return Err(self.too_large("a batch", len, BATCH_BYTES_MAX));
        }
        Ok(())
    }

    fn too_large(&self, what: &'static str, len: usize, max: usize) -> StorageError {
        StorageError::TooLarge {
            path: self.path.clone(),
            what,
            len,
            max,
        }
    }

    fn conflict(&self, author: &NodeId, seq: u64) -> Fail {
        Fail::Store(StorageError::Conflict {
            path: self.path.clone(),
            author: *author,
            seq,
        })
    }

    /// Runs `f` on the open database, reopening the file first if an earlier
    /// I/O failure closed it, and closing it if `f` meets one.
    fn run<T>(&self, f: impl FnOnce(&Database) -> Result<T, Fail>) -> Result<T, StorageError> {
        self.reopen_if_closed()?;
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = guard.as_ref() else {
            // A concurrent call met an I/O failure between the reopen and
            // here; the next call reopens.
            return Err(StorageError::Io {
                path: self.path.clone(),
                source: io::Error::other("closed after an I/O failure; retry"),
            });
        };
        let result = f(db).map_err(|e| e.at(self.path.clone()));
        drop(guard);
        if let Err(e) = &result
            && e.latches()
        {
            // redb now refuses every call until the file is reopened.
            *self.db.write().unwrap_or_else(PoisonError::into_inner) = None;
        }
        result
    }

    fn reopen_if_closed(&self) -> Result<(), StorageError> {
        if self
            .db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return Ok(());
        }
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if db.is_none() {
            *db = Some(open_database(&self.path)?);
        }
        Ok(())
    }
}

/// A write transaction that commits durably, in two phases: redb's
/// checksums (XXH3, not cryptographic) then never decide which commit is
/// current after a crash, and the stored bytes come from peers.
fn begin_durable(db: &Database) -> Result<WriteTransaction, Fail> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.set_two_phase_commit(true);
    Ok(txn)
}

/// A write transaction whose commit is not synced: it becomes durable with
/// the next durable commit or when the file is closed, and a crash before
/// then rolls it back (and nothing else).
fn begin_lazy(db: &Database) -> Result<WriteTransaction, Fail> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::None)?;
    Ok(txn)
}

/// Opens or creates the file and checks (or writes) its format version.
fn open_database(path: &Path) -> Result<Database, StorageError> {
    let mut builder = Builder::new();
    builder
        .set_cache_size(CACHE_BYTES)
        .set_check_integrity_on_open(true);
    // With the integrity check, redb reports a corrupt file as an error; the
    // guard is for any check it does not cover, so that a bad file is an
    // error here rather than a crash of the node.
    let opened = panic::catch_unwind(AssertUnwindSafe(|| builder.create(path)));
    let db = match opened {
        Ok(result) => result.map_err(|e| Fail::from(e).at(path.to_path_buf()))?,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("redb failed reading it: {what}"),
            });
        }
    };
    prepare(&db, path).map_err(|e| e.at(path.to_path_buf()))?;
    Ok(db)
}

/// Writes the tables and format version into a database with no tables yet
/// (just created, or created by an open that was interrupted), or checks
/// them in one that has some.
fn prepare(db: &Database, path: &Path) -> Result<(), Fail> {
    let corrupt = |reason: String| {
        Fail::Store(StorageError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })
    };
    let txn = db.begin_read()?;
    let names: Vec<String> = txn.list_tables()?.map(|t| t.name().to_string()).collect();
    let multimaps = txn.list_multimap_tables()?.count();
    if names.is_empty() && multimaps == 0 {
        drop(txn);
        return initialize(db);
    }
    if !names.iter().any(|n| n == META.name()) {
        return Err(corrupt(
            "a redb database, but not a flashmesh op-log: it has no meta table".into(),
        ));
    }
    let found = txn
        .open_table(META)?
        .get(FORMAT_VERSION_KEY)?
        .map(|v| v.value())
        .ok_or_else(|| corrupt("its meta table has no format version".into()))?;
    if found != FORMAT_VERSION {
        return Err(Fail::Store(StorageError::Version {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        }));
    }
    let tables = [
        OPS.name(),
        OP_INDEX.name(),
        HEADS.name(),
        EQUIVOCATIONS.name(),
        SNAPSHOTS.name(),
        ADDRS.name(),
    ];
    if let Some(missing) = tables.iter().find(|t| !names.iter().any(|n| n == *t)) {
        return Err(corrupt(format!("its table {missing} is missing")));
    }
    // Opening each table checks its key and value types.
    txn.open_table(OPS)?;
    txn.open_table(OP_INDEX)?;
    txn.open_table(HEADS)?;
    txn.open_table(EQUIVOCATIONS)?;
    txn.open_table(SNAPSHOTS)?;
    txn.open_table(ADDRS)?;
    Ok(())
}

fn initialize(db: &Database) -> Result<(), Fail> {
    let txn = begin_durable(db)?;
    txn.open_table(OPS)?;
    txn.open_table(OP_INDEX)?;
    txn.open_table(HEADS)?;
    txn.open_table(EQUIVOCATIONS)?;
    txn.open_table(SNAPSHOTS)?;
    txn.open_table(ADDRS)?;
    txn.open_table(META)?
        .insert(FORMAT_VERSION_KEY, FORMAT_VERSION)?;
    txn.commit()?;
    Ok(())
}
