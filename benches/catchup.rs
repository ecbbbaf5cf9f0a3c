//! A newcomer's catch-up time, printed (not asserted): node A holds N ops
//! (written by itself), node B starts with a seed to A over loopback and
//! syncs the whole history by anti-entropy. Times to link and to hold
//! every op with A's state hash.
//!
//! Run: `cargo bench --bench catchup` (default sizes 10,000 and 100,000;
//! pass sizes as arguments to choose others).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use flashmesh::{Config, Node, Room, RoomCode};

fn config(room: &Room) -> Config {
    let mut cfg = Config::new(room.clone());
    cfg.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    cfg.discovery = None;
    cfg
}

async fn run(room: &Room, n: usize) {
    let a = Node::start(config(room)).await.expect("starts");
    let t = Instant::now();
    for k in 0..n {
        a.chat(&format!("op {k}: the coffee queue is by the east door"))
            .await
            .expect("published");
    }
    let write_s = t.elapsed().as_secs_f64();
    let want = a.log_state().await.expect("running");

    let mut cfg = config(room);
    cfg.seeds = vec![a.local_addr().to_string()];
    let t = Instant::now();
    let b = Node::start(cfg).await.expect("starts");
    let mut linked = None;
    loop {
        if linked.is_none() && !b.peers().await.expect("running").is_empty() {
            linked = Some(t.elapsed());
        }
        let s = b.log_state().await.expect("running");
        if s.ops == want.ops && s.state_hash == want.state_hash {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "no catch-up in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = t.elapsed();
    let linked = linked.unwrap_or(total);
    println!(
        "catch-up of {n} ops from one peer over loopback: {:.2} s ({:.2} s to link, {:.2} s to sync; {:.0} ops/s); writing them took {write_s:.2} s",
        total.as_secs_f64(),
        linked.as_secs_f64(),
        (total - linked).as_secs_f64(),
        n as f64 / (total - linked).as_secs_f64().max(1e-9),
    );
    a.shutdown().await;
    b.shutdown().await;
}

fn main() {
    let sizes: Vec<usize> = {
        let given: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if given.is_empty() {
            vec![10_000, 100_000]
        } else {
            given
        }
    };
    let room = Room::derive(RoomCode::parse("bench-room-quiet-harbor-lantern-2201").expect("code"))
        .expect("derives");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for n in sizes {
        rt.block_on(run(&room, n));
    }
}
