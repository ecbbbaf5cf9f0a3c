//! The line client as a process: what a person or a script meets.
//!
//! Each test runs the real `flashmesh` binary with its own config and data
//! directories (so nothing of the machine's own settings is read or
//! written) and polls its output with a deadline.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flashmesh::{Config, IdentitySource, Node, Room, RoomCode};

const CODE: &str = "cli-test-room-amber-otter-lamp-7731";
/// Generous: cross-process round trips here have long tails.
const DEADLINE: Duration = Duration::from_secs(30);

/// A `flashmesh run` process and its stdout, line by line.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn start(dir: &Path, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flashmesh"))
            .arg("run")
            .args(args)
            .args(["--port", "0", "--no-discovery", "--key-file"])
            .arg(dir.join("identity.key"))
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns flashmesh");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(bytes).expect("writes");
        stdin.flush().expect("flushes");
    }

    /// The next line `want` accepts; panics with what was seen at the
    /// deadline.
    fn expect(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line with {what} in time; saw:\n{}", seen.join("\n")),
            }
        }
    }

    fn event(&mut self, event: &str) -> serde_json::Value {
        let tag = format!("\"event\":\"{event}\"");
        let line = self.expect(event, |l| l.contains(&tag));
        serde_json::from_str(&line).expect("JSON")
    }

    /// Waits for the process to exit; panics at the deadline.
    fn exits(&mut self) -> std::process::ExitStatus {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return status;
            }
            assert!(Instant::now() < until, "the process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctrl_c_leaves_the_room_and_exits_while_stdin_stays_open() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut p = Proc::start(dir.path(), &["--room", CODE, "--json"]);
    p.event("ready");
    // stdin stays open (a terminal nobody types in): before the fix, a
    // blocking read kept the process alive after "left the room".
    let status = Command::new("kill")
        .args(["-INT", &p.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    p.event("shutdown");
    assert!(p.exits().success());
}

#[test]
fn a_long_line_or_one_that_is_not_utf8_costs_only_that_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut p = Proc::start(dir.path(), &["--room", CODE, "--json"]);
    p.event("ready");
    let mut long = vec![b'x'; 30_000];
    long.push(b'\n');
    p.write(&long);
    let e = p.event("error");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("too long")),
        "{e}"
    );
    p.write(b"caf\xe9\n");
    let e = p.event("error");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("UTF-8")),
        "{e}"
    );
    // The session goes on.
    p.write(b"{\"cmd\":\"me\"}\n");
    p.event("me");
    p.write(b"{\"cmd\":\"quit\"}\n");
    p.event("shutdown");
    assert!(p.exits().success());
}

#[test]
fn the_same_command_comes_back_to_the_remembered_room_and_nick() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut p = Proc::start(dir.path(), &["--json", "--nick", "ada"]);
    let ready = p.event("ready");
    assert_eq!(ready["generated_room"], true);
    p.write(b"{\"cmd\":\"chat\",\"text\":\"kept for later\"}\n");
    p.event("sent");
    p.write(b"{\"cmd\":\"quit\"}\n");
    p.event("shutdown");
    p.exits();
    drop(p);

    let mut again = Proc::start(dir.path(), &["--json"]);
    let ready2 = again.event("ready");
    assert_eq!(ready2["generated_room"], false);
    assert_eq!(ready2["room_tag"], ready["room_tag"], "the same room");
    assert_eq!(ready2["nick"], "ada", "the same nick");
    assert_eq!(ready2["history"], ready["history"], "the same history");
    again.write(b"{\"cmd\":\"history\"}\n");
    let h = again.event("history");
    assert!(h.to_string().contains("kept for later"), "{h}");
}

/// A node in this process, linked to nothing yet.
async fn library_node(nick: &str, seeds: Vec<String>) -> Node {
    let room = Room::derive(RoomCode::parse(CODE).expect("a code")).expect("derives");
    let mut cfg = Config::new(room);
    cfg.identity = IdentitySource::Ephemeral;
    cfg.nick = Some(nick.into());
    cfg.listen = "127.0.0.1:0".parse().expect("an address");
    cfg.discovery = None;
    cfg.seeds = seeds;
    Node::start(cfg).await.expect("starts")
}

async fn holds(node: &Node, ops: u64) {
    let until = Instant::now() + DEADLINE;
    while node.log_state().await.expect("running").ops < ops {
        assert!(Instant::now() < until, "the op did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_joiner_reads_the_past_in_the_rooms_order_with_nicks() {
    let ann = library_node("ann", Vec::new()).await;
    let cat = library_node("cat", vec![ann.local_addr().to_string()]).await;
    // Interleaved authors: each line written after the other's arrived.
    let lines = [
        (&ann, "one"),
        (&cat, "two"),
        (&ann, "three"),
        (&cat, "four"),
    ];
    for (i, (node, text)) in lines.iter().enumerate() {
        node.chat(text).await.expect("writes");
        holds(&ann, i as u64 + 1).await;
        holds(&cat, i as u64 + 1).await;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let seed = ann.local_addr().to_string();
    let printed = tokio::task::spawn_blocking(move || {
        let mut p = Proc::start(dir.path(), &["--room", CODE, "--seed", &seed]);
        p.expect("the earlier messages", |l| {
            l.starts_with("--- 4 earlier message(s)")
        });
        (0..4)
            .map(|_| p.expect("a line", |_| true))
            .collect::<Vec<_>>()
    })
    .await
    .expect("the reader");
    let said: Vec<&str> = printed
        .iter()
        .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, rest)| rest))
        .collect();
    assert_eq!(
        said,
        ["<ann> one", "<cat> two", "<ann> three", "<cat> four"],
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .all(|l| l.as_bytes()[2] == b':'
                && l[..5].bytes().filter(u8::is_ascii_digit).count() == 4),
        "every line starts with its time: {printed:?}"
    );
    cat.shutdown().await;
    ann.shutdown().await;
}
