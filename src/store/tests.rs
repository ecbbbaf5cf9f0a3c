use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::crypto::identity::Identity;
use crate::proto::oplog::op::{Op, SignedOp};

fn node(n: u8) -> NodeId {
    NodeId([n; 32])
}

/// A stand-in op: the store keeps bytes and never decodes them.
fn op(author: u8, seq: u64, len: usize) -> (NodeId, u64, OpId, Vec<u8>) {
    let mut id = [0u8; 32];
    id[0] = author;
    id[1..9].copy_from_slice(&seq.to_be_bytes());
    let mut bytes = format!("op {author}/{seq} ").into_bytes();
    bytes.resize(len.max(bytes.len()), b'.');
    (node(author), seq, OpId(id), bytes)
}

fn head_of(o: &(NodeId, u64, OpId, Vec<u8>)) -> (NodeId, u64, OpId) {
    (o.0, o.1, o.2)
}

/// A batch of `author`'s ops `from..=to`, with the head at `to`.
fn run_of(author: u8, from: u64, to: u64, len: usize) -> Batch {
    let ops: Vec<_> = (from..=to).map(|s| op(author, s, len)).collect();
    let heads = ops.last().map(head_of).into_iter().collect();
    Batch {
        ops,
        heads,
        equivocations: vec![],
    }
}

fn all_ops(store: &Store) -> Vec<(NodeId, u64, Vec<u8>)> {
    let mut out = Vec::new();
    store
        .for_each_op(|a, s, b| {
            out.push((a, s, b.to_vec()));
            ControlFlow::Continue(())
        })
        .expect("reads");
    out
}

#[test]
fn a_batch_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    assert_eq!(store.path(), dir.path().join("oplog.redb"));
    let a1 = op(1, 1, 10);
    let a2 = op(1, 2, 10);
    let b1 = op(2, 1, 10);
    let mut twin = op(2, 1, 10);
    twin.2.0[31] = 0xee;
    twin.3 = b"the other op 2/1".to_vec();
    store
        .append(&Batch {
            ops: vec![b1.clone(), a2.clone(), a1.clone()],
            heads: vec![head_of(&a2), head_of(&b1)],
            equivocations: vec![twin.clone()],
        })
        .expect("appends");

    assert_eq!(store.op(&a2.2).expect("reads"), Some(a2.3.clone()));
    assert_eq!(store.op(&twin.2).expect("reads"), None);
    assert_eq!(store.op(&OpId([9; 32])).expect("reads"), None);
    assert_eq!(store.op_count().expect("counts"), 3);
    assert_eq!(
        store.heads().expect("reads"),
        BTreeMap::from([(node(1), (2, a2.2)), (node(2), (1, b1.2))])
    );
    assert_eq!(store.equivocations().expect("reads"), vec![twin]);
    assert_eq!(
        all_ops(&store),
        vec![
            (node(1), 1, a1.3.clone()),
            (node(1), 2, a2.3.clone()),
            (node(2), 1, b1.3.clone())
        ]
    );
}

#[test]
fn a_real_signed_op_comes_back_as_it_went_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    let id = Identity::generate();
    let signed = Op {
        author: id.node_id(),
        seq: 1,
        prev: None,
        lamport: 1,
        wall_ms: 1_800_000_000_000,
        applet: "chat".into(),
        kind: 1,
        body: b"sealed elsewhere".to_vec(),
        pow_nonce: 0,
    }
    .sign(&id);
    let op_id = signed.op.id();
    store
        .append(&Batch {
            ops: vec![(id.node_id(), 1, op_id, signed.encode())],
            heads: vec![(id.node_id(), 1, op_id)],
            equivocations: vec![],
        })
        .expect("appends");
    let bytes = store.op(&op_id).expect("reads").expect("stored");
    assert_eq!(SignedOp::decode(&bytes).expect("decodes"), signed);
}

#[test]
fn everything_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let twin = {
        let mut t = op(3, 1, 20);
        t.2.0[31] = 1;
        t
    };
    {
        let store = Store::open(dir.path()).expect("opens");
        store.append(&run_of(3, 1, 5, 100)).expect("appends");
        store.append(&run_of(4, 1, 2, 100)).expect("appends");
        store
            .append(&Batch {
                equivocations: vec![twin.clone()],
                ..Batch::default()
            })
            .expect("appends");
        store.put_snapshot(7, b"state at 7").expect("puts");
        store
            .put_addrs(&node(3), b"10.0.0.3:4000", 5)
            .expect("puts");
        store.close().expect("closes");
    }
    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(store.op_count().expect("counts"), 7);
    assert_eq!(store.ops_of(&node(3), 1, 100).expect("reads").len(), 5);
    assert_eq!(
        store.op(&op(4, 2, 0).2).expect("reads"),
        Some(op(4, 2, 100).3)
    );
    assert_eq!(
        store.heads().expect("reads"),
        BTreeMap::from([(node(3), (5, op(3, 5, 0).2)), (node(4), (2, op(4, 2, 0).2))])
    );
    assert_eq!(store.equivocations().expect("reads"), vec![twin]);
    assert_eq!(
        store.latest_snapshot().expect("reads"),
        Some((7, b"state at 7".to_vec()))
    );
    assert_eq!(
        store.addr_book().expect("reads"),
        vec![(node(3), b"10.0.0.3:4000".to_vec())]
    );
    // Dropped without close: still all there.
    drop(store);
    assert_eq!(
        Store::open(dir.path())
            .expect("reopens")
            .op_count()
            .expect("counts"),
        7
    );
}

#[test]
fn appending_a_batch_twice_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    let batch = run_of(1, 1, 4, 50);
    store.append(&batch).expect("appends");
    let before = all_ops(&store);
    store.append(&batch).expect("appends again");
    // Overlapping: two old, two new.
    store.append(&run_of(1, 3, 6, 50)).expect("appends");
    assert_eq!(store.op_count().expect("counts"), 6);
    assert_eq!(all_ops(&store)[..4], before[..]);
    assert_eq!(store.heads().expect("reads")[&node(1)].0, 6);
}

#[test]
fn a_different_op_for_a_taken_slot_fails_the_whole_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    store.append(&run_of(1, 1, 2, 50)).expect("appends");
    let mut other = op(1, 2, 50);
    other.2.0[31] = 7;
    other.3 = b"another op at 1/2".to_vec();
    let batch = Batch {
        ops: vec![op(1, 3, 50), other],
        heads: vec![head_of(&op(1, 3, 50))],
        equivocations: vec![],
    };
    let err = store.append(&batch).expect_err("refused");
    assert!(
        matches!(err, StorageError::Conflict { author, seq: 2, .. } if author == node(1)),
        "{err:?}"
    );
    assert!(err.to_string().contains("oplog.redb"), "{err}");
    // Nothing of the batch: not op 3, not the head.
    assert_eq!(store.op_count().expect("counts"), 2);
    assert_eq!(store.heads().expect("reads")[&node(1)].0, 2);
    assert_eq!(
        store.op(&op(1, 2, 0).2).expect("reads"),
        Some(op(1, 2, 50).3)
    );
}

#[test]
fn ops_of_gives_ascending_seqs_from_the_start_up_to_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    store.append(&run_of(1, 1, 10, 8)).expect("appends");
    store.append(&run_of(2, 1, 3, 8)).expect("appends");
    // A gap: 12 and 14 without 11 or 13.
    store
        .append(&Batch {
            ops: vec![op(1, 14, 8), op(1, 12, 8)],
            ..Batch::default()
        })
        .expect("appends");
    let seqs = |from, limit| -> Vec<u64> {
        store
            .ops_of(&node(1), from, limit)
            .expect("reads")
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    };
    assert_eq!(seqs(1, 3), vec![1, 2, 3]);
    assert_eq!(seqs(9, 100), vec![9, 10, 12, 14]);
    assert_eq!(seqs(13, 100), vec![14]);
    assert_eq!(seqs(15, 100), Vec::<u64>::new());
    assert_eq!(seqs(1, 0), Vec::<u64>::new());
    assert_eq!(
        store.ops_of(&node(2), 2, 10).expect("reads"),
        vec![(2, op(2, 2, 8).3), (3, op(2, 3, 8).3)]
    );
    assert!(store.ops_of(&node(5), 0, 10).expect("reads").is_empty());
}

#[test]
fn for_each_op_goes_in_author_then_seq_order_and_stops_on_break() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    store.append(&run_of(9, 1, 3, 8)).expect("appends");
    store.append(&run_of(2, 1, 300, 8)).expect("appends");
    let seen: Vec<(u8, u64)> = all_ops(&store)
        .iter()
        .map(|(a, s, _)| (a.0[0], *s))
        .collect();
    let mut want: Vec<(u8, u64)> = (1..=300).map(|s| (2, s)).collect();
    want.extend((1..=3).map(|s| (9, s)));
    assert_eq!(seen, want);

    let mut visited = 0;
    store
        .for_each_op(|_, _, _| {
            visited += 1;
            if visited == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("reads");
    assert_eq!(visited, 5);
}

#[test]
fn equivocation_proofs_are_kept_up_to_the_bound_per_author() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    store.append(&run_of(1, 1, 1, 8)).expect("appends");
    let proof = |author: u8, k: u8| {
        let mut p = op(author, 1, 8);
        p.2.0[31] = k;
        p.3 = vec![k; 20];
        p
    };
    let proofs: Vec<_> = (1..=EQUIVOCATIONS_PER_AUTHOR_MAX as u8 + 3)
        .map(|k| proof(1, k))
        .collect();
    store
        .append(&Batch {
            equivocations: proofs.clone(),
            ..Batch::default()
        })
        .expect("appends");
    // Again, and one from another author.
    store
        .append(&Batch {
            equivocations: vec![proofs[0].clone(), proof(2, 1)],
            ..Batch::default()
        })
        .expect("appends");
    let mut want = proofs[..EQUIVOCATIONS_PER_AUTHOR_MAX].to_vec();
    want.push(proof(2, 1));
    assert_eq!(store.equivocations().expect("reads"), want);
    // Proofs are not ops.
    assert_eq!(store.op_count().expect("counts"), 1);
    assert_eq!(store.op(&proofs[0].2).expect("reads"), None);
}

#[test]
fn snapshots_keep_the_newest_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    assert_eq!(store.latest_snapshot().expect("reads"), None);
    for n in [10u64, 20, 30] {
        store
            .put_snapshot(n, format!("state {n}").as_bytes())
            .expect("puts");
    }
    assert_eq!(
        store.latest_snapshot().expect("reads"),
        Some((30, b"state 30".to_vec()))
    );
    // An older one than both kept is dropped at once.
    store.put_snapshot(5, b"state 5").expect("puts");
    let kept = |store: &Store| -> Vec<u64> {
        let db = store.db.read().expect("lock");
        let txn = db.as_ref().expect("open").begin_read().expect("reads");
        let table = txn.open_table(SNAPSHOTS).expect("table");
        table
            .iter()
            .expect("iterates")
            .map(|e| e.expect("entry").0.value())
            .collect()
    };
    assert_eq!(kept(&store), vec![20, 30]);
    drop(store);
    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(kept(&store), vec![20, 30]);
    assert_eq!(
        store.latest_snapshot().expect("reads"),
        Some((30, b"state 30".to_vec()))
    );
}

#[test]
fn the_address_book_replaces_and_drops_the_entry_updated_longest_ago() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    let id = |i: usize| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&(i as u64).to_be_bytes());
        NodeId(b)
    };
    // Node i updated at time 1000 + i, except node 7, updated first.
    store.put_addrs(&id(7), b"old", 1).expect("puts");
    for i in 0..ADDR_BOOK_MAX {
        if i != 7 {
            store
                .put_addrs(&id(i), format!("addr {i}").as_bytes(), 1000 + i as u64)
                .expect("puts");
        }
    }
    // Replace semantics.
    store.put_addrs(&id(7), b"new", 1).expect("puts");
    let book = store.addr_book().expect("reads");
    assert_eq!(book.len(), ADDR_BOOK_MAX);
    assert_eq!(book[7], (id(7), b"new".to_vec()));
    // One more: node 7 (updated at 1) goes.
    store
        .put_addrs(&id(ADDR_BOOK_MAX), b"newest", 5000)
        .expect("puts");
    let book = store.addr_book().expect("reads");
    assert_eq!(book.len(), ADDR_BOOK_MAX);
    assert!(book.iter().all(|(n, _)| *n != id(7)));
    assert_eq!(book.last(), Some(&(id(ADDR_BOOK_MAX), b"newest".to_vec())));
    // The entry just written is never the one dropped, even if older.
    store.put_addrs(&id(7), b"back", 0).expect("puts");
    let book = store.addr_book().expect("reads");
    assert_eq!(book.len(), ADDR_BOOK_MAX);
    assert!(book.iter().any(|(n, _)| *n == id(7)));
    assert!(book.iter().all(|(n, _)| *n != id(0)), "node 0 was oldest");
}

#[test]
fn the_newest_address_book_entries_come_first_and_one_can_be_read_or_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    store.put_addrs(&node(1), b"one", 10).expect("puts");
    store.put_addrs(&node(2), b"two", 30).expect("puts");
    store.put_addrs(&node(3), b"three", 20).expect("puts");
    store.put_addrs(&node(4), b"four", 30).expect("puts");
    assert_eq!(
        store.newest_addrs(3).expect("reads"),
        vec![
            (node(2), 30, b"two".to_vec()),
            (node(4), 30, b"four".to_vec()),
            (node(3), 20, b"three".to_vec()),
        ]
    );
    assert_eq!(
        store.addrs_of(&node(3)).expect("reads"),
        Some((20, b"three".to_vec()))
    );
    store.remove_addrs(&node(3)).expect("removes");
    store
        .remove_addrs(&node(9))
        .expect("removing nothing is fine");
    assert_eq!(store.addrs_of(&node(3)).expect("reads"), None);
    assert_eq!(store.newest_addrs(10).expect("reads").len(), 3);
}

#[test]
fn entries_over_their_limits_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("opens");
    let too_large = |r: Result<(), StorageError>, what: &str| match r {
        Err(StorageError::TooLarge { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected TooLarge for {what}, got {other:?}"),
    };
    let mut batch = run_of(1, 1, 2, 10);
    batch.ops[1].3 = vec![0; OP_STORED_BYTES_MAX + 1];
    too_large(store.append(&batch), "an op");
    let per_op = OP_STORED_BYTES_MAX - BATCH_ENTRY_OVERHEAD_BYTES;
    let many = BATCH_BYTES_MAX / OP_STORED_BYTES_MAX + 1;
    too_large(store.append(&run_of(1, 1, many as u64, per_op)), "a batch");
    too_large(
        store.put_snapshot(1, &vec![0; SNAPSHOT_BYTES_MAX + 1]),
        "a snapshot",
    );
    too_large(
        store.put_addrs(&node(1), &[0; ADDRS_BYTES_MAX + 1], 1),
        "an address list",
    );
    assert_eq!(store.op_count().expect("counts"), 0);
    assert_eq!(store.latest_snapshot().expect("reads"), None);
    assert!(store.addr_book().expect("reads").is_empty());
    // At the limits, it is stored.
    let mut batch = run_of(1, 1, 1, 10);
    batch.ops[0].3 = vec![1; OP_STORED_BYTES_MAX];
    store.append(&batch).expect("appends");
}

#[test]
fn a_garbage_file_is_corrupt_named_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    for garbage in [
        b"not a database, just some text someone left here\n".repeat(200),
        b"abc".to_vec(),
    ] {
        std::fs::write(&path, &garbage).expect("writes");
        let err = Store::open(dir.path()).expect_err("refused");
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err:?}");
        assert_eq!(err.path(), path);
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).expect("reads"), garbage);
    }
}

#[test]
fn a_damaged_database_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    {
        let store = Store::open(dir.path()).expect("opens");
        for author in 1..=4 {
            store.append(&run_of(author, 1, 200, 300)).expect("appends");
        }
    }
    // Everything after redb's header (its first page) overwritten.
    let mut bytes = std::fs::read(&path).expect("reads");
    for b in &mut bytes[4096..] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).expect("writes");
    match Store::open(dir.path()) {
        Err(StorageError::Corrupt { path: p, .. }) => assert_eq!(p, path),
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("a damaged file opened"),
    }
}

#[test]
fn a_redb_file_of_something_else_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    {
        let db = Database::create(&path).expect("creates");
        let txn = db.begin_write().expect("begins");
        txn.open_table(TableDefinition::<u64, u64>::new("other"))
            .expect("table")
            .insert(1, 2)
            .expect("inserts");
        txn.commit().expect("commits");
    }
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(
        matches!(&err, StorageError::Corrupt { reason, .. } if reason.contains("no meta table")),
        "{err:?}"
    );
    // Its data is still there.
    let db = Database::open(&path).expect("opens");
    let txn = db.begin_read().expect("reads");
    let table = txn
        .open_table(TableDefinition::<u64, u64>::new("other"))
        .expect("table");
    assert_eq!(table.get(1).expect("gets").map(|v| v.value()), Some(2));
}

#[test]
fn an_empty_file_or_empty_database_becomes_a_store() {
    // What a create interrupted before its first commit leaves.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    std::fs::write(&path, b"").expect("writes");
    Store::open(dir.path())
        .expect("opens")
        .append(&run_of(1, 1, 1, 8))
        .expect("appends");
    std::fs::remove_file(&path).expect("removes");
    drop(Database::create(&path).expect("creates"));
    let store = Store::open(dir.path()).expect("opens");
    assert_eq!(store.op_count().expect("counts"), 0);
}

#[test]
fn a_store_truncated_to_zero_bytes_after_holding_ops_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    let store = Store::open(dir.path()).expect("opens");
    store.append(&run_of(1, 1, 3, 8)).expect("appends");
    store.close().expect("closes");
    std::fs::File::create(&path).expect("truncates"); // 0 bytes now
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(matches!(err, StorageError::Lost { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("is empty") && text.contains("was lost"),
        "{text}"
    );
    assert_eq!(err.path(), path);
    // Left as it is: still empty, the marker still there, refused again.
    assert_eq!(std::fs::metadata(&path).expect("exists").len(), 0);
    assert!(dir.path().join(HELD_MARKER_FILE_NAME).exists());
    assert!(matches!(
        Store::open(dir.path()),
        Err(StorageError::Lost { .. })
    ));
}

#[test]
fn a_zero_byte_store_of_a_fresh_room_starts_empty_and_is_marked_at_its_first_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(DB_FILE_NAME), b"").expect("writes");
    let store = Store::open(dir.path()).expect("a fresh room opens");
    assert_eq!(store.op_count().expect("counts"), 0);
    let marker = dir.path().join(HELD_MARKER_FILE_NAME);
    assert!(!marker.exists(), "no op yet: nothing to remember");
    store.append(&Batch::default()).expect("appends nothing");
    assert!(!marker.exists());
    store.append(&run_of(1, 1, 1, 8)).expect("appends");
    assert!(marker.exists(), "the first op leaves the marker");
}

#[test]
fn a_store_with_ops_from_before_the_marker_is_marked_when_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join(HELD_MARKER_FILE_NAME);
    let store = Store::open(dir.path()).expect("opens");
    store.append(&run_of(1, 1, 2, 8)).expect("appends");
    store.close().expect("closes");
    std::fs::remove_file(&marker).expect("removes the marker");
    drop(Store::open(dir.path()).expect("opens"));
    assert!(marker.exists(), "marked at the open");
}

#[test]
fn another_format_version_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    Store::open(dir.path()).expect("opens");
    {
        let db = Database::open(&path).expect("opens");
        let txn = db.begin_write().expect("begins");
        txn.open_table(META)
            .expect("table")
            .insert(FORMAT_VERSION_KEY, 2)
            .expect("inserts");
        txn.commit().expect("commits");
    }
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(
        matches!(
            err,
            StorageError::Version {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains("version 2") && text.contains("version 1"),
        "{text}"
    );
}

#[test]
fn a_second_open_of_the_same_room_is_refused_as_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Store::open(dir.path()).expect("opens");
    first.append(&run_of(1, 1, 3, 8)).expect("appends");
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("oplog.redb"), "{err}");
    // The first is unaffected, and once it is gone the file opens.
    assert_eq!(first.op_count().expect("counts"), 3);
    drop(first);
    assert_eq!(
        Store::open(dir.path())
            .expect("opens")
            .op_count()
            .expect("counts"),
        3
    );
}

/// Unmounts a tmpfs when dropped (declare it before anything open on it).
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_reported_and_loses_nothing_appended_before() {
    let root = tempfile::tempdir().expect("tempdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(root.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!("skipped: needs root for a small tmpfs");
        return;
    }
    let _tmpfs = Tmpfs(root.path().to_path_buf());
    let dir = root.path().join("room");
    let store = Store::open(&dir).expect("opens");
    for i in 0..4 {
        store
            .append(&run_of(1, i * 4 + 1, i * 4 + 4, 4096))
            .expect("appends");
    }
    let before = all_ops(&store);
    assert_eq!(before.len(), 16);

    // 1 MiB of ops on a 512 KiB disk.
    let err = store
        .append(&run_of(2, 1, 64, 16 * 1024))
        .expect_err("the disk is full");
    assert!(matches!(err, StorageError::Full { .. }), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");

    // The same store reopens the file by itself...
    assert_eq!(all_ops(&store), before);
    assert!(store.ops_of(&node(2), 1, 10).expect("reads").is_empty());
    drop(store);
    // ...and so does a new one (the disk is still full).
    let store = Store::open(&dir).expect("reopens");
    assert_eq!(all_ops(&store), before);
    assert_eq!(store.heads().expect("reads")[&node(1)].0, 16);
    assert!(!store.heads().expect("reads").contains_key(&node(2)));
}

/// Set in the child process of the crash test: the directory to write to.
const CRASH_CHILD_DIR: &str = "FLASHMESH_STORE_CRASH_CHILD_DIR";
/// Ops per batch in the crash test.
const CRASH_BATCH_OPS: u64 = 3;

#[test]
fn a_killed_writer_loses_no_batch_it_reported_durable() {
    if let Some(dir) = std::env::var_os(CRASH_CHILD_DIR) {
        crash_child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reported = 0u64;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "store::tests::a_killed_writer_loses_no_batch_it_reported_durable",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut this_round = 0;
        let mut killed = false;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("durable ") {
                reported = reported.max(n.parse().expect("a batch number"));
                this_round += 1;
                if this_round == 1 {
                    // The child holds the file: another process is refused.
                    let err = Store::open(dir.path()).expect_err("locked by the child");
                    assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
                }
                // Kill after a different number of batches each round.
                if this_round == 10 + round * 7 {
                    child.kill().expect("kills"); // SIGKILL
                    killed = true;
                    break;
                }
            }
        }
        // Lines written before the kill are still in the pipe.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("durable ") {
                reported = reported.max(n.parse().expect("a batch number"));
            }
        }
        child.wait().expect("waits");
        assert!(killed, "the child stopped by itself in round {round}");

        let store = Store::open(dir.path()).expect("reopens after the kill");
        let count = store.op_count().expect("counts");
        assert!(
            count >= reported * CRASH_BATCH_OPS,
            "round {round}: {count} ops stored, {reported} batches reported durable"
        );
        assert_eq!(count % CRASH_BATCH_OPS, 0, "a batch was half written");
        let seqs: Vec<u64> = store
            .ops_of(&node(1), 1, usize::MAX)
            .expect("reads")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, (1..=count).collect::<Vec<_>>());
        assert_eq!(store.heads().expect("reads")[&node(1)].0, count);
    }
}

/// Appends batches until killed (or a minute passes), printing each one's
/// number once `append` has returned.
fn crash_child(dir: &Path) {
    let store = Store::open(dir).expect("child opens");
    let mut next = store
        .heads()
        .expect("reads")
        .get(&node(1))
        .map_or(0, |h| h.0)
        + 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = std::io::stdout();
    while Instant::now() < deadline {
        let last = next + CRASH_BATCH_OPS - 1;
        store.append(&run_of(1, next, last, 2000)).expect("appends");
        writeln!(out, "durable {}", last / CRASH_BATCH_OPS).expect("prints");
        out.flush().expect("flushes");
        next = last + 1;
    }
}

#[test]
fn damage_to_any_one_page_is_caught_or_harmless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    let want = {
        let store = Store::open(dir.path()).expect("opens");
        for author in 1..=3 {
            store.append(&run_of(author, 1, 100, 300)).expect("appends");
        }
        store.put_snapshot(1, b"snapshot").expect("puts");
        all_ops(&store)
    };
    let pristine = std::fs::read(&path).expect("reads");
    let (mut caught, mut harmless) = (0, 0);
    for page in 0..pristine.len() / 4096 {
        let mut bytes = pristine.clone();
        for b in &mut bytes[page * 4096 + 100..page * 4096 + 164] {
            *b ^= 0xa5;
        }
        std::fs::write(&path, &bytes).expect("writes");
        match Store::open(dir.path()) {
            Ok(store) => {
                assert_eq!(all_ops(&store), want, "page {page}");
                harmless += 1;
            }
            Err(StorageError::Corrupt { .. }) => caught += 1,
            Err(other) => panic!("page {page}: {other:?}"),
        }
    }
    println!("{caught} damaged pages caught, {harmless} unused");
    assert!(caught > 0);
}
