//! The durable op-log over real loopback sockets, in one process: ops
//! reach every node, a node that was away catches up, a restarted node has
//! what it published, and SIGKILL right after `publish` returned loses
//! nothing (a child process is killed, 20 times).

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use flashmesh::applets::queue;
use flashmesh::event::StateMark;
use flashmesh::proto::oplog::fold::{Applet, AppliedOp};
use flashmesh::{Config, Event, IdentitySource, Node, Room, RoomCode};
use futures_util::StreamExt;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
const CODE: &str = "oplog-test-room-cedar-pylon-harbor-5120";

fn room() -> Room {
    static ROOM: OnceLock<Room> = OnceLock::new();
    ROOM.get_or_init(|| Room::derive(RoomCode::parse(CODE).expect("a code")).expect("derives"))
        .clone()
}

fn config() -> Config {
    let mut cfg = Config::new(room());
    cfg.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    cfg.discovery = None;
    cfg
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        tokio::time::sleep(POLL).await;
    }
}

async fn start(cfg: Config) -> Node {
    Node::start(cfg).await.expect("the node starts")
}

async fn same_state(nodes: &[&Node], ops: u64) -> bool {
    let mut first = None;
    for n in nodes {
        let s = n.log_state().await.expect("running");
        if s.ops != ops {
            return false;
        }
        match first {
            None => first = Some(s.state_hash),
            Some(h) if h != s.state_hash => return false,
            Some(_) => {}
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_from_every_node_reach_every_node_and_the_states_agree() {
    let a = start(config()).await;
    let mut nodes = vec![a.clone()];
    for _ in 0..4 {
        let mut cfg = config();
        cfg.seeds = vec![a.local_addr().to_string()];
        nodes.push(start(cfg).await);
    }
    for (i, n) in nodes.iter().enumerate() {
        for k in 0..10 {
            n.chat(&format!("line {k} from node {i}"))
                .await
                .expect("published");
        }
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for("every node holds all 50 ops with one state hash", || {
        same_state(&refs, 50)
    })
    .await;
    // The history stream: every chat op, in fold order, read in pages.
    let history: Vec<_> = nodes[3].history(Some("chat")).collect().await;
    assert_eq!(history.len(), 50);
    let keys: Vec<_> = history
        .iter()
        .map(|o| (o.lamport, o.author, o.seq))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "fold order");
    assert!(
        nodes[3]
            .history(Some("dm"))
            .collect::<Vec<_>>()
            .await
            .is_empty()
    );
    let tail = nodes[3]
        .history_tail(Some("chat"), 10)
        .await
        .expect("running");
    assert_eq!(tail[..], history[40..]);
    // Convergence is visible in membership: every node sees every other
    // node's published mark equal to its own state.
    let mine = StateMark::of(&a.log_state().await.expect("running").state_hash, 50);
    wait_for("every node sees every other's state mark agree", || async {
        for n in &nodes {
            let members = n.members().await.expect("running");
            if members.len() != nodes.len() - 1
                || members.iter().any(|m| m.state.as_ref() != Some(&mine))
            {
                return false;
            }
        }
        true
    })
    .await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_away_while_a_thousand_ops_were_made_catches_up_on_return() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let a = start(config()).await;
    let mut ccfg = config();
    ccfg.identity = IdentitySource::KeyFile(dir.path().join("c.key"));
    ccfg.data_dir = Some(dir.path().join("rooms"));
    ccfg.seeds = vec![a.local_addr().to_string()];
    let c = start(ccfg.clone()).await;
    a.chat("before c leaves").await.expect("published");
    let pair = [&a, &c];
    wait_for("c has the first op", || same_state(&pair, 1)).await;
    let c_store = ccfg.data_dir.clone().expect("a data dir").join(format!(
        "{}-{}",
        c.room_tag(),
        c.id().fmt_short()
    ));
    c.shutdown().await;
    for k in 0..1000 {
        a.chat(&format!("while c is away: {k}"))
            .await
            .expect("published");
    }
    // It kept its op. Read from its store directly: a restart, even without
    // a seed, dials a from its address book and starts catching up at once,
    // so a count there would race the catch-up.
    let store = flashmesh::store::Store::open(&c_store).expect("c's store opens");
    assert_eq!(store.op_count().expect("counts"), 1, "kept its op");
    store.close().expect("closes");
    let c = start(ccfg).await;
    let pair = [&a, &c];
    wait_for("c caught up on 1000 ops", || same_state(&pair, 1001)).await;
    // Read back through the history stream (several pages), in one order.
    let texts: Vec<String> = c
        .history(Some("chat"))
        .map(|o| String::from_utf8(o.body.expect("opens")).expect("text"))
        .collect()
        .await;
    assert_eq!(texts.len(), 1001);
    assert_eq!(texts[0], "before c leaves");
    assert_eq!(texts[1000], "while c is away: 999");
    a.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_has_what_it_published_and_what_it_received() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let a = start(config()).await;
    let mut bcfg = config();
    bcfg.identity = IdentitySource::KeyFile(dir.path().join("b.key"));
    bcfg.data_dir = Some(dir.path().join("rooms"));
    bcfg.seeds = vec![a.local_addr().to_string()];
    let b = start(bcfg.clone()).await;
    for k in 0..5 {
        b.chat(&format!("b says {k}")).await.expect("published");
        a.chat(&format!("a says {k}")).await.expect("published");
    }
    let pair = [&a, &b];
    wait_for("both hold 10 ops", || same_state(&pair, 10)).await;
    let before = b.log_state().await.expect("running");
    b.shutdown().await;
    a.shutdown().await;
    // Alone this time: everything comes from its own store.
    bcfg.seeds.clear();
    let b = start(bcfg).await;
    let after = b.log_state().await.expect("running");
    assert!(after.durable);
    assert_eq!(after.ops, 10);
    assert_eq!(after.state_hash, before.state_hash);
    b.shutdown().await;
}

/// A `flashmesh` process with a JSON line interface.
struct Proc {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Proc {
    fn start(key: &Path) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flashmesh"))
            .args([
                "run",
                "--room",
                CODE,
                "--port",
                "0",
                "--no-discovery",
                "--json",
            ])
            .arg("--key-file")
            .arg(key)
            // Its own settings: nothing of the machine's is read or written.
            .env("XDG_CONFIG_HOME", key.with_extension("config"))
            .env("XDG_DATA_HOME", key.with_extension("data"))
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns flashmesh");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("writes");
        stdin.flush().expect("flushes");
    }

    /// The next line whose "event" is `event`.
    fn expect(&mut self, event: &str) -> serde_json::Value {
        let until = std::time::Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {event} event in time"));
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if v["event"] == event {
                return v;
            }
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

#[test]
fn sigkill_right_after_publish_returned_loses_nothing_in_20_kills() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let key = dir.path().join("node.key");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..20 {
        let mut p = Proc::start(&key);
        p.expect("ready");
        // Everything acknowledged before the earlier kills is there.
        p.send(r#"{"cmd":"state"}"#);
        let state = p.expect("state");
        assert_eq!(state["ops"], acknowledged.len() as u64, "round {round}");
        // With --json every line is a JSON command.
        p.send(&format!(r#"{{"cmd":"chat","text":"round {round}"}}"#));
        let sent = p.expect("sent");
        acknowledged.push(sent["id"].as_str().expect("an id").to_string());
        p.kill();
    }
    let mut p = Proc::start(&key);
    p.expect("ready");
    p.send(r#"{"cmd":"history","n":100}"#);
    let history = p.expect("history");
    let ids: Vec<&str> = history["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        acknowledged.iter().map(String::as_str).collect::<Vec<_>>()
    );
    p.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_a_snapshot_replays_only_the_tail() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut cfg = config();
    cfg.identity = IdentitySource::KeyFile(dir.path().join("n.key"));
    cfg.data_dir = Some(dir.path().join("rooms"));
    let n = start(cfg.clone()).await;
    for k in 0..300 {
        n.chat(&format!("before the snapshot: {k}"))
            .await
            .expect("published");
    }
    assert_eq!(n.snapshot().await.expect("snapshot"), 300);
    for k in 0..7 {
        n.chat(&format!("after the snapshot: {k}"))
            .await
            .expect("published");
    }
    let before = n.log_state().await.expect("running");
    n.shutdown().await;
    let n = start(cfg).await;
    let after = n.log_state().await.expect("running");
    assert_eq!(after.ops, 307);
    assert_eq!(after.snapshot_ops, Some(300));
    assert_eq!(after.replayed_at_start, 7, "only the tail is replayed");
    assert_eq!(after.state_hash, before.state_hash);
    n.shutdown().await;
}

/// A library user's applet: a shared counter (kind 1, body: one byte, the
/// amount; 0 is refused).
#[derive(Default)]
struct Counter {
    total: u64,
    adds: u64,
}

impl Applet for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        self.check(op)?;
        self.total += u64::from(op.body[0]);
        self.adds += 1;
        Ok(())
    }
    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        match (op.kind, op.body) {
            (1, [n]) if *n > 0 => Ok(()),
            (1, _) => Err("an add is one byte, 1 to 255".into()),
            (k, _) => Err(format!("no kind {k}")),
        }
    }
    fn save(&self) -> Vec<u8> {
        [self.total.to_le_bytes(), self.adds.to_le_bytes()].concat()
    }
    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        let (t, a) = state.split_at_checked(8).ok_or("short state")?;
        self.total = u64::from_le_bytes(t.try_into().map_err(|_| "bad state")?);
        self.adds = u64::from_le_bytes(a.try_into().map_err(|_| "bad state")?);
        Ok(())
    }
    fn reset(&mut self) {
        *self = Counter::default();
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_users_applet_is_checked_folded_and_queried_and_a_node_without_it_keeps_its_ops()
{
    // a and c know the counter; b does not.
    let a = start(config().with_applet::<Counter>()).await;
    let mut cfg = config();
    cfg.seeds = vec![a.local_addr().to_string()];
    let b = start(cfg).await;
    let mut cfg = config().with_applet::<Counter>();
    cfg.seeds = vec![b.local_addr().to_string()];
    let c = start(cfg).await;
    for n in [3u8, 4, 5] {
        a.publish("counter", 1, vec![n]).await.expect("published");
    }
    let refused = a.publish("counter", 1, vec![0]).await;
    assert!(
        matches!(&refused, Err(flashmesh::Error::Rejected(r)) if r.contains("one byte")),
        "the applet's rules are asked before publishing: {refused:?}"
    );
    wait_for("every node holds the three ops", || async {
        for n in [&a, &b, &c] {
            if n.log_state().await.expect("running").ops != 3 {
                return false;
            }
        }
        true
    })
    .await;
    for n in [&a, &c] {
        let (total, adds) = n
            .query("counter", |s: &Counter| (s.total, s.adds))
            .await
            .expect("registered");
        assert_eq!((total, adds), (12, 3));
    }
    assert!(
        b.query("counter", |s: &Counter| s.total).await.is_err(),
        "b has no counter applet"
    );
    assert_eq!(
        a.log_state().await.expect("running").state_hash,
        c.log_state().await.expect("running").state_hash
    );
    // Two applets of one name are a configuration error.
    let clash = Node::start(config().with_applet::<Counter>().with_applet::<Counter>()).await;
    assert!(
        matches!(&clash, Err(e) if e.to_string().contains("\"counter\" is taken")),
        "{:?}",
        clash.err()
    );
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

/// The queue's notices reaching `events` so far, added to `count`.
fn count_queue_heads(events: &mut tokio::sync::broadcast::Receiver<Event>, count: &mut usize) {
    while let Ok(event) = events.try_recv() {
        if let Event::Notice { applet, notice } = event
            && applet == queue::NAME
        {
            assert_eq!(notice, queue::head_notice("help"));
            *count += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_of_a_queue_is_told_once_each_time_it_comes_to_the_head() {
    let a = start(config()).await;
    let mut cfg = config();
    cfg.seeds = vec![a.local_addr().to_string()];
    let b = start(cfg).await;
    let (mut a_events, mut b_events) = (a.subscribe(), b.subscribe());
    let holds = |n: u64| {
        let (a, b) = (a.clone(), b.clone());
        move || {
            let (a, b) = (a.clone(), b.clone());
            async move {
                a.log_state().await.expect("running").ops == n
                    && b.log_state().await.expect("running").ops == n
            }
        }
    };
    a.act(&queue::QueueOp::Create(queue::CreateQueue {
        queue: "help".into(),
        title: None,
    }))
    .await
    .expect("created");
    wait_for("both hold the create", holds(1)).await;
    let join = queue::QueueOp::Join(queue::JoinQueue {
        queue: "help".into(),
        label: "bob".into(),
        party: 1,
        note: None,
    });
    b.act(&join).await.expect("joined");
    // b is told at once: its own op is folded before `act` returns.
    let (mut a_heads, mut b_heads) = (0, 0);
    count_queue_heads(&mut b_events, &mut b_heads);
    assert_eq!(b_heads, 1, "b is at the head");
    wait_for("both hold the join", holds(2)).await;
    a.act(&queue::QueueOp::Next(queue::ServeNext {
        queue: "help".into(),
    }))
    .await
    .expect("served");
    wait_for("both hold the next", holds(3)).await;
    b.act(&join).await.expect("joined again");
    wait_for("both hold the second join", holds(4)).await;
    count_queue_heads(&mut b_events, &mut b_heads);
    count_queue_heads(&mut a_events, &mut a_heads);
    assert_eq!(
        b_heads, 2,
        "told again after being served and joining again"
    );
    assert_eq!(a_heads, 0, "a never waited");
    for n in [a, b] {
        n.shutdown().await;
    }
}

/// Two nodes that have not heard each other create the same queue; once a
/// third node links them, the create that sorts second has no effect on
/// every node, and its author (only it) is told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_is_told_when_its_op_has_no_effect() {
    let a = start(config()).await;
    let b = start(config()).await;
    let (mut a_events, mut b_events) = (a.subscribe(), b.subscribe());
    let create = queue::QueueOp::Create(queue::CreateQueue {
        queue: "help".into(),
        title: None,
    });
    let a_op = a.act(&create).await.expect("a creates, as far as it knows");
    let b_op = b.act(&create).await.expect("b creates, as far as it knows");
    let mut cfg = config();
    cfg.seeds = vec![a.local_addr().to_string(), b.local_addr().to_string()];
    let c = start(cfg).await;
    wait_for("all three hold both creates and agree", || {
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        async move { same_state(&[&a, &b, &c], 2).await }
    })
    .await;
    // Both ops have lamport 1: the lower node id sorts first and wins.
    let (winner_events, loser_events, loser_op) = if a.id() < b.id() {
        (&mut a_events, &mut b_events, b_op)
    } else {
        (&mut b_events, &mut a_events, a_op)
    };
    let told = |events: &mut tokio::sync::broadcast::Receiver<Event>| {
        let mut found = Vec::new();
        while let Ok(ev) = events.try_recv() {
            if let Event::OpNoEffect { id, applet, reason } = ev {
                found.push((id, applet, reason));
            }
        }
        found
    };
    let mut lost = Vec::new();
    wait_for("the loser is told", || {
        lost.extend(told(loser_events));
        let done = !lost.is_empty();
        async move { done }
    })
    .await;
    assert_eq!(lost.len(), 1, "told once: {lost:?}");
    assert_eq!((lost[0].0, lost[0].1.as_str()), (loser_op, queue::NAME));
    assert!(
        lost[0].2.contains("help"),
        "the reason names the queue: {}",
        lost[0].2
    );
    assert!(
        told(winner_events).is_empty(),
        "the winner's op took effect"
    );
    for n in [a, b, c] {
        n.shutdown().await;
    }
}
