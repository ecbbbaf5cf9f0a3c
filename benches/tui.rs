//! What the full-screen client costs: the time to draw one frame of a
//! busy room (10,000 messages, 200 members, 120×40), and the CPU a running
//! TUI uses while nothing happens (30 s, measured from /proc; needs tmux).
//!
//! `cargo bench --bench tui` prints both. The goals: under 5 ms a frame,
//! and an idle TUI near 0% CPU (it redraws on input, node events and one
//! tick a second, never in a busy loop).

use std::time::{Duration, Instant};

use flashmesh::event::{Event, Member, StateMark, Status};
use flashmesh::id::{NodeId, OpId};
use flashmesh::tui::app::{Action, App};
use flashmesh::tui::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const MESSAGES: u64 = 10_000;
const MEMBERS: u32 = 200;
const FRAMES: usize = 300;

fn node(i: u32) -> NodeId {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&i.to_be_bytes());
    b[4] = 0x5a;
    NodeId(b)
}

fn busy_app() -> App {
    let me = node(0);
    let mut app = App::new(
        me,
        "amber-otter-lamp-mesa-quilt-river-4821".into(),
        "3f2a9c0d11e4b5a6".into(),
        "flashmesh://join?room=amber-otter-lamp-mesa-quilt-river-4821".into(),
    );
    let members: Vec<Member> = (0..MEMBERS)
        .map(|i| Member {
            node: node(i),
            status: if i % 17 == 0 {
                Status::Suspect
            } else {
                Status::Alive
            },
            nick: Some(format!("person{i}")),
            addrs: Vec::new(),
            generation: 1,
            heartbeat: 1,
            state: Some(StateMark {
                hash: "0123456789abcdef".into(),
                ops: MESSAGES,
            }),
        })
        .collect();
    app.update(Action::Room {
        members,
        links: 5,
        mark: Some(StateMark {
            hash: "0123456789abcdef".into(),
            ops: MESSAGES,
        }),
    });
    for i in 0..MESSAGES {
        let author = node((i % MEMBERS as u64) as u32);
        let text = format!(
            "message {i}: the queue at the help desk is {} people long and the coffee in hall B is fresh",
            i % 13
        );
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&i.to_be_bytes());
        app.update(Action::Node(Event::Op {
            id: OpId(id),
            author,
            seq: i,
            lamport: i,
            wall_ms: 1_780_000_000_000 + i * 1000,
            applet: "chat".into(),
            kind: 1,
            body: Some(text.into_bytes()),
        }));
    }
    app
}

fn frame_time() {
    let app = busy_app();
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("a test terminal");
    for _ in 0..20 {
        term.draw(|f| draw::draw(&app, f)).expect("draws");
    }
    let mut times: Vec<Duration> = (0..FRAMES)
        .map(|_| {
            let t = Instant::now();
            term.draw(|f| draw::draw(&app, f)).expect("draws");
            t.elapsed()
        })
        .collect();
    times.sort();
    let mean = times.iter().sum::<Duration>() / FRAMES as u32;
    let p99 = times[FRAMES * 99 / 100];
    println!(
        "frame, {MESSAGES} messages and {MEMBERS} members at 120x40: mean {:.3} ms, p99 {:.3} ms, max {:.3} ms ({FRAMES} frames)",
        mean.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times[FRAMES - 1].as_secs_f64() * 1e3
    );
}

/// CPU ticks (user + system) of a process, from /proc.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn idle_cpu() {
    let tmux = |args: &[&str]| std::process::Command::new("tmux").args(args).output();
    if tmux(&["-V"]).is_err() {
        println!("idle CPU: skipped (tmux is not installed)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flashmesh-bench-tui-{}", std::process::id()));
    let sock = dir.join("tmux.sock");
    let _ = std::fs::create_dir_all(&dir);
    let sock = sock.to_string_lossy().to_string();
    let cmd = format!(
        "env XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data {bin} tui --room bench-room-amber-otter-lamp-4821 --nick bench --no-discovery --port 0",
        d = dir.display(),
        bin = env!("CARGO_BIN_EXE_flashmesh")
    );
    let started = tmux(&[
        "-S",
        &sock,
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        &cmd,
    ]);
    if started.is_err() {
        println!("idle CPU: skipped (tmux did not start)");
        return;
    }
    let pid = (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let out = tmux(&["-S", &sock, "list-panes", "-F", "#{pane_pid}"]).ok()?;
        let shell: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        // The pane runs `env`, which execs flashmesh: same pid.
        let exe = std::fs::read_link(format!("/proc/{shell}/exe")).ok()?;
        exe.to_string_lossy().contains("flashmesh").then_some(shell)
    });
    let Some(pid) = pid else {
        println!("idle CPU: skipped (the TUI did not start)");
        let _ = tmux(&["-S", &sock, "kill-server"]);
        return;
    };
    // Let it settle (key derivation, first frames), then measure.
    std::thread::sleep(Duration::from_secs(3));
    let hz = 100.0; // USER_HZ on Linux
    let (t0, c0) = (Instant::now(), cpu_ticks(pid).unwrap_or(0));
    std::thread::sleep(Duration::from_secs(30));
    let (t1, c1) = (Instant::now(), cpu_ticks(pid).unwrap_or(0));
    let secs = (t1 - t0).as_secs_f64();
    println!(
        "idle CPU of a running TUI over {secs:.0} s: {:.2}% of one core ({} ticks)",
        (c1 - c0) as f64 / hz / secs * 100.0,
        c1 - c0
    );
    let _ = tmux(&["-S", &sock, "kill-server"]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    frame_time();
    idle_cpu();
}
