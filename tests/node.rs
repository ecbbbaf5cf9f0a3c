//! Real nodes over real loopback sockets, in one process.
//!
//! Every node listens on port 0; discovery tests use a free UDP port of
//! their own, so the tests run in parallel. Conditions are polled with a
//! deadline; nothing sleeps in place of a condition.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::Duration;

use flashmesh::actors::beacon::DiscoveryConfig;
use flashmesh::net::handshake::Handshake;
use flashmesh::{Config, Delivery, Event, IdentitySource, Node, NodeId, Room, RoomCode, Status};
use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Generous: cross-task round trips on a loaded 2-core VM have long tails.
const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

fn room(code: &str) -> Room {
    static ROOMS: OnceLock<std::sync::Mutex<HashMap<String, Room>>> = OnceLock::new();
    let rooms = ROOMS.get_or_init(Default::default);
    let mut rooms = rooms.lock().expect("room cache lock");
    rooms
        .entry(code.to_string())
        .or_insert_with(|| {
            Room::derive(RoomCode::parse(code).expect("a valid room code")).expect("derives")
        })
        .clone()
}

fn main_room() -> Room {
    room("test-room-quartz-harbor-lantern-9043")
}

/// A node on 127.0.0.1:0 with discovery off.
fn config(room: Room) -> Config {
    let mut cfg = Config::new(room);
    cfg.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    cfg.discovery = None;
    cfg
}

/// Discovery on a free UDP port, broadcasting on loopback only.
fn discovery_on(port: u16) -> DiscoveryConfig {
    DiscoveryConfig {
        port,
        broadcast_addrs: vec![SocketAddr::from(([127, 255, 255, 255], port))],
        ..DiscoveryConfig::default()
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// Polls `check` until it returns true or [`DEADLINE`] passes.
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

/// Members of `node` with `status`.
async fn with_status(node: &Node, status: Status) -> BTreeSet<NodeId> {
    node.members()
        .await
        .expect("running")
        .into_iter()
        .filter(|m| m.status == status)
        .map(|m| m.node)
        .collect()
}

async fn all_see_each_other_alive(nodes: &[Node]) -> bool {
    for n in nodes {
        let alive = with_status(n, Status::Alive).await;
        let want: BTreeSet<NodeId> = nodes
            .iter()
            .map(Node::id)
            .filter(|id| *id != n.id())
            .collect();
        if alive != want {
            return false;
        }
    }
    true
}

/// A node on loopback whose only way in is a seed: `a`.
fn seeded_to(a: &Node) -> Config {
    let mut cfg = config(main_room());
    cfg.seeds = vec![a.local_addr().to_string()];
    cfg
}

/// Polls `rx` until a room message with `payload` arrives; it must come
/// from `sender` (the node that signed it).
async fn wait_for_message(
    rx: &mut broadcast::Receiver<Event>,
    sender: NodeId,
    payload: &[u8],
    what: &str,
) {
    let mut got = false;
    wait_for(what, || {
        while let Ok(ev) = rx.try_recv() {
            if let Event::Message {
                from, payload: p, ..
            } = ev
                && p == payload
            {
                assert_eq!(from, sender, "{what}: the origin is its signer");
                got = true;
            }
        }
        std::future::ready(got)
    })
    .await;
}

async fn start(cfg: Config) -> Node {
    // Logs, when RUST_LOG asks for them.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    Node::start(cfg).await.expect("the node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_find_each_other_by_a_seed_alone() {
    let a = start(config(main_room())).await;
    let mut nodes = vec![a.clone()];
    for _ in 0..2 {
        let mut cfg = config(main_room());
        cfg.seeds = vec![a.local_addr().to_string()];
        nodes.push(start(cfg).await);
    }
    wait_for("every node sees the two others alive", || {
        all_see_each_other_alive(&nodes)
    })
    .await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_find_each_other_by_beacons_alone() {
    let port = free_udp_port();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let mut cfg = config(main_room());
        cfg.discovery = Some(discovery_on(port));
        nodes.push(start(cfg).await);
    }
    wait_for("every node sees the two others alive", || {
        all_see_each_other_alive(&nodes)
    })
    .await;
    for n in &nodes {
        assert!(n.stats().beacons_received > 0, "found by beacons");
        assert!(!n.peers().await.expect("running").is_empty());
    }
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_room_code_is_told_of_beacons_it_cannot_open() {
    let port = free_udp_port();
    let fast = DiscoveryConfig {
        interval: Duration::from_millis(200),
        ..discovery_on(port)
    };
    let mut cfg = config(main_room());
    cfg.discovery = Some(fast.clone());
    let a = start(cfg).await;
    let mut cfg = config(room("test-room-wrong-typed-code-1234"));
    cfg.discovery = Some(fast);
    let b = start(cfg).await;
    let mut events = b.subscribe();
    let mut heard = None;
    wait_for("b reports beacons it cannot open", || {
        while let Ok(ev) = events.try_recv() {
            if let Event::OtherRoomBeacons { from, count } = ev {
                heard.get_or_insert((from, count));
            }
        }
        std::future::ready(heard.is_some())
    })
    .await;
    let (from, count) = heard.expect("polled until reported");
    assert!(count >= 1, "{count}");
    assert!(from.ip().is_loopback(), "{from}");
    // The rate limit: no second report within 30 s, however many beacons
    // arrive (a beacon every 200 ms here).
    let unopened = b.stats().beacons_other_room;
    assert!(unopened >= count, "{unopened} < {count}");
    wait_for("b hears three more of a's beacons", || {
        std::future::ready(b.stats().beacons_other_room >= unopened + 3)
    })
    .await;
    while let Ok(ev) = events.try_recv() {
        assert!(
            !matches!(ev, Event::OtherRoomBeacons { .. }),
            "a second report within 30 s: {ev:?}"
        );
    }
    assert!(a.peers().await.expect("running").is_empty());
    a.shutdown().await;
    b.shutdown().await;
}

/// Drains `rx` into `seen` (origins and payloads of room messages).
fn collect_messages(rx: &mut broadcast::Receiver<Event>, seen: &mut BTreeSet<(NodeId, Vec<u8>)>) {
    while let Ok(ev) = rx.try_recv() {
        if let Event::Message { from, payload, .. } = ev {
            seen.insert((from, payload));
        }
    }
}

/// Whether the link graph is connected.
async fn mesh_is_connected(nodes: &[Node]) -> bool {
    let mut adj: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    for n in nodes {
        let peers = n.peers().await.expect("running");
        adj.insert(n.id(), peers.into_iter().map(|p| p.peer).collect());
    }
    let mut seen = BTreeSet::from([nodes[0].id()]);
    let mut queue = VecDeque::from([nodes[0].id()]);
    while let Some(n) = queue.pop_front() {
        for p in adj.get(&n).into_iter().flatten() {
            if seen.insert(*p) {
                queue.push_back(*p);
            }
        }
    }
    seen.len() == nodes.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nodes_form_a_connected_mesh_within_the_degree_bounds_and_all_get_every_broadcast() {
    const NODES: usize = 30;
    let port = free_udp_port();
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let mut cfg = config(main_room());
        cfg.discovery = Some(discovery_on(port));
        nodes.push(start(cfg).await);
    }
    let bounds = {
        let t = config(main_room()).topology;
        t.degree_min..=t.degree_max
    };
    wait_for("all members alive everywhere", || {
        all_see_each_other_alive(&nodes)
    })
    .await;
    wait_for(
        "a connected mesh with every degree within bounds",
        || async {
            for n in &nodes {
                let degree = n.peers().await.expect("running").len();
                if !bounds.contains(&degree) {
                    return false;
                }
            }
            mesh_is_connected(&nodes).await
        },
    )
    .await;

    let mut receivers: Vec<_> = nodes.iter().map(Node::subscribe).collect();
    let mut sent = BTreeSet::new();
    for (i, n) in nodes.iter().enumerate().take(5) {
        let payload = format!("broadcast {i}").into_bytes();
        n.broadcast(payload.clone()).await.expect("accepted");
        sent.insert((n.id(), payload));
    }
    // Each arrives from the node that signed it.
    let mut seen: Vec<BTreeSet<(NodeId, Vec<u8>)>> = vec![BTreeSet::new(); NODES];
    wait_for(
        "every node received every broadcast but its own, from its sender",
        || {
            let mut done = true;
            for (i, rx) in receivers.iter_mut().enumerate() {
                collect_messages(rx, &mut seen[i]);
                let want: BTreeSet<(NodeId, Vec<u8>)> = sent
                    .iter()
                    .filter(|(from, _)| *from != nodes[i].id())
                    .cloned()
                    .collect();
                assert!(seen[i].is_subset(&want), "node {i}: {:?}", seen[i]);
                done &= seen[i] == want;
            }
            std::future::ready(done)
        },
    )
    .await;
    for n in &nodes {
        assert_eq!(n.stats().bad_signatures, 0, "every signature verified");
    }

    // A direct message to a node with no link to the sender goes through
    // the mesh, and only the recipient reads it.
    let sender = &nodes[0];
    let linked: BTreeSet<NodeId> = sender
        .peers()
        .await
        .expect("running")
        .into_iter()
        .map(|p| p.peer)
        .collect();
    let target = nodes
        .iter()
        .position(|n| n.id() != sender.id() && !linked.contains(&n.id()))
        .expect("with 30 nodes and at most 8 links, some node is not linked");
    let mut target_rx = nodes[target].subscribe();
    let how = sender
        .send(nodes[target].id(), b"psst".to_vec())
        .await
        .expect("sent");
    assert_eq!(how, Delivery::Mesh);
    let neighbour = *linked.iter().next().expect("linked to someone");
    let n_idx = nodes
        .iter()
        .position(|n| n.id() == neighbour)
        .expect("a node");
    let mut neighbour_rx = nodes[n_idx].subscribe();
    let how = sender
        .send(neighbour, b"over the link".to_vec())
        .await
        .expect("sent");
    assert_eq!(how, Delivery::Link);
    let mut got_mesh = false;
    let mut got_link = false;
    wait_for("both direct messages arrive", || {
        while let Ok(ev) = target_rx.try_recv() {
            if let Event::Direct {
                from,
                payload,
                via_link,
            } = ev
            {
                got_mesh |= from == sender.id() && payload == b"psst" && !via_link;
            }
        }
        while let Ok(ev) = neighbour_rx.try_recv() {
            if let Event::Direct {
                from,
                payload,
                via_link,
            } = ev
            {
                got_link |= from == sender.id() && payload == b"over the link" && via_link;
            }
        }
        std::future::ready(got_mesh && got_link)
    })
    .await;
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_node_is_marked_dead_and_a_graceful_one_left() {
    let a = start(config(main_room())).await;
    let mut nodes = vec![a.clone()];
    for _ in 0..4 {
        let mut cfg = config(main_room());
        cfg.seeds = vec![a.local_addr().to_string()];
        nodes.push(start(cfg).await);
    }
    wait_for("all alive", || all_see_each_other_alive(&nodes)).await;

    // Graceful: the others hear the leave itself, not a failure verdict
    // (the first verdict other than alive is `Left`).
    let leaver = nodes.pop().expect("a node");
    let mut watchers: Vec<_> = nodes.iter().map(Node::subscribe).collect();
    leaver.shutdown().await;
    let mut verdicts: Vec<Option<Status>> = vec![None; nodes.len()];
    wait_for("every other node marks the leaver left", || {
        for (i, rx) in watchers.iter_mut().enumerate() {
            while let Ok(ev) = rx.try_recv() {
                if let Event::Member { node, status, .. } = ev
                    && node == leaver.id()
                    && status != Status::Alive
                    && verdicts[i].is_none()
                {
                    verdicts[i] = Some(status);
                }
            }
        }
        std::future::ready(verdicts.iter().all(Option::is_some))
    })
    .await;
    assert!(
        verdicts.iter().all(|v| *v == Some(Status::Left)),
        "first verdicts: {verdicts:?}"
    );

    // Aborted: dropped without a shutdown, so nothing is said.
    let crashed = nodes.pop().expect("a node");
    let crashed_id = crashed.id();
    drop(crashed);
    wait_for("every other node marks the aborted node dead", || async {
        for n in &nodes {
            if !with_status(n, Status::Dead).await.contains(&crashed_id) {
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
async fn a_node_of_another_room_gets_no_link_and_no_plaintext() {
    let secret_nick = "nick-only-the-room-knows";
    let secret_text = b"text only the room may read".to_vec();
    let mut cfg = config(main_room());
    cfg.nick = Some(secret_nick.into());
    let a = start(cfg).await;
    let b = start(seeded_to(&a)).await;
    wait_for("a and b linked", || async {
        !a.peers().await.expect("running").is_empty()
    })
    .await;

    let mut ocfg = config(room("another-room-velvet-comet-6620"));
    ocfg.seeds = vec![a.local_addr().to_string()];
    let other = start(ocfg).await;
    let mut other_rx = other.subscribe();
    wait_for("a refused the other room's handshake", || {
        std::future::ready(a.stats().transport.handshakes_failed > 0)
    })
    .await;
    let mut b_rx = b.subscribe();
    a.broadcast(secret_text.clone()).await.expect("accepted");
    wait_for_message(
        &mut b_rx,
        a.id(),
        &secret_text,
        "b, in the room, got the broadcast",
    )
    .await;

    // A raw client of another room sees only handshake bytes.
    let mut raw = TcpStream::connect(a.local_addr()).await.expect("connects");
    let wrong = flashmesh::crypto::identity::Identity::generate();
    let hs = flashmesh::net::link::handshake(
        &mut raw,
        flashmesh::net::link::Role::Dialer,
        &wrong,
        &[0x55; 32],
        0,
    )
    .await;
    assert!(hs.is_err(), "the handshake must fail across rooms");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut rest)).await;
    for needle in [secret_nick.as_bytes(), &secret_text[..]] {
        assert!(!rest.windows(needle.len()).any(|w| w == needle));
    }

    assert!(other.peers().await.expect("running").is_empty(), "no link");
    assert!(
        other.members().await.expect("running").is_empty(),
        "learnt nothing"
    );
    while let Ok(ev) = other_rx.try_recv() {
        assert!(
            !matches!(ev, Event::Message { .. } | Event::LinkUp { .. }),
            "the other room's node saw {ev:?}"
        );
    }
    for n in [a, b, other] {
        n.shutdown().await;
    }
}

/// One frame: u16 big-endian length, then `body`.
fn frame(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("a handshake message fits a frame");
    let mut f = len.to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// Reads `s` until the node closes it (end of stream, or a reset), within
/// [`DEADLINE`]; returns every byte received.
async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + DEADLINE;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => panic!("the node must close the connection within {DEADLINE:?}"),
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whoever connects and sends a message 1 without the room code
/// (another room's, or garbage) gets no message 2: not the node's id, not
/// its static key, not a single byte. With the room code, the same opening
/// does get message 2, and it names the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_without_the_room_code_learns_no_node_id() {
    let a = start(config(main_room())).await;
    let stranger = flashmesh::crypto::identity::Identity::generate();
    let wrong_psk = room("another-room-velvet-comet-6620").keys().link_psk;
    let another_rooms = Handshake::initiator(&stranger, &wrong_psk, 0)
        .and_then(|mut hs| hs.write())
        .expect("writes message 1");
    let garbage: Vec<u8> = (0..another_rooms.len())
        .map(|i| u8::try_from(i % 251).expect("below 251").wrapping_mul(151))
        .collect();
    for (what, m1) in [
        ("another room's message 1", another_rooms),
        ("garbage", garbage),
    ] {
        let mut s = TcpStream::connect(a.local_addr()).await.expect("connects");
        s.write_all(&frame(&m1)).await.expect("writes");
        let received = read_until_closed(&mut s).await;
        assert!(
            !received.windows(32).any(|w| w == a.id().as_bytes()),
            "{what}: the node's id came back"
        );
        assert_eq!(received, Vec::<u8>::new(), "{what}: the node wrote bytes");
    }
    wait_for("both refusals counted", || {
        std::future::ready(a.stats().transport.handshakes_failed >= 2)
    })
    .await;

    // The control: the right room code gets message 2, naming the node.
    let mut s = TcpStream::connect(a.local_addr()).await.expect("connects");
    let mut member =
        Handshake::initiator(&stranger, &main_room().keys().link_psk, 0).expect("builds");
    let m1 = member.write().expect("writes message 1");
    s.write_all(&frame(&m1)).await.expect("writes");
    let mut header = [0u8; 2];
    tokio::time::timeout(DEADLINE, s.read_exact(&mut header))
        .await
        .expect("message 2 within the deadline")
        .expect("reads its header");
    let mut m2 = vec![0u8; usize::from(u16::from_be_bytes(header))];
    tokio::time::timeout(DEADLINE, s.read_exact(&mut m2))
        .await
        .expect("message 2 within the deadline")
        .expect("reads its body");
    member.read(&m2).expect("message 2 authenticates");
    member.write().expect("writes message 3");
    let done = member.finish().expect("finished on the dialler's side");
    assert_eq!(
        done.peer,
        a.id(),
        "message 2 carries the node's verified id"
    );
    drop(s);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_its_id_and_is_alive_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let key = dir.path().join("node.key");
    let a = start(config(main_room())).await;
    let mut cfg = config(main_room());
    cfg.identity = IdentitySource::KeyFile(key.clone());
    cfg.seeds = vec![a.local_addr().to_string()];
    let b = start(cfg.clone()).await;
    let id = b.id();
    wait_for("a sees b", || async {
        with_status(&a, Status::Alive).await.contains(&id)
    })
    .await;
    b.shutdown().await;
    wait_for("a marks b left", || async {
        with_status(&a, Status::Left).await.contains(&id)
    })
    .await;
    let b2 = start(cfg).await;
    assert_eq!(b2.id(), id, "same key file, same id");
    wait_for("a sees b alive again", || async {
        with_status(&a, Status::Alive).await.contains(&id)
    })
    .await;
    b2.shutdown().await;
    a.shutdown().await;
}

/// Connects to `addr`, writes `bytes` (then half-closes when `eof`), and
/// waits until the node closes the connection.
async fn send_raw_and_expect_close(addr: SocketAddr, bytes: &[u8], eof: bool) {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(bytes).await.expect("writes");
    if eof {
        s.shutdown().await.expect("half-closes");
    }
    let mut sink = Vec::new();
    let read = tokio::time::timeout(DEADLINE, s.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the node must close the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_and_truncated_frames_close_that_link_only() {
    let a = start(config(main_room())).await;
    let b = start(seeded_to(&a)).await;
    wait_for("a and b linked", || async {
        a.peers().await.expect("running").len() == 1
    })
    .await;

    // Before any handshake: garbage, an oversized header, a truncated frame.
    send_raw_and_expect_close(a.local_addr(), &[0x00, 0x05, 1, 2, 3, 4, 5], false).await;
    send_raw_and_expect_close(a.local_addr(), &[0xff, 0xff, 0, 0, 0], false).await;
    send_raw_and_expect_close(a.local_addr(), &[0x00, 0x40, 1, 2, 3], true).await;
    wait_for("three failed handshakes counted", || {
        std::future::ready(a.stats().transport.handshakes_failed >= 3)
    })
    .await;

    // After a proper handshake (same room): an undecryptable frame and an
    // oversized header each close the link and count as bad frames.
    for bad in [
        &[
            0x00u8, 0x20, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
            9, 9, 9, 9, 9, 9, 9, 9,
        ][..],
        &[0xff, 0xff, 1][..],
    ] {
        let mut s = TcpStream::connect(a.local_addr()).await.expect("connects");
        let me = flashmesh::crypto::identity::Identity::generate();
        let (framed, _) = flashmesh::net::link::handshake(
            &mut s,
            flashmesh::net::link::Role::Dialer,
            &me,
            &main_room().keys().link_psk,
            0,
        )
        .await
        .expect("same room: the handshake completes");
        drop(framed);
        s.write_all(bad).await.expect("writes");
        let mut sink = Vec::new();
        let read = tokio::time::timeout(DEADLINE, s.read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "the node must close the link");
    }
    wait_for("two bad frames counted", || {
        std::future::ready(a.stats().transport.bad_frames >= 2)
    })
    .await;

    // After a proper handshake: a frame cut short by the end of the
    // stream, and well-encrypted frames whose plaintext is not one
    // canonical `Wire` (garbage; a valid value with a trailing byte).
    let mut valid_plus_one = flashmesh::codec::encode(&flashmesh::proto::wire::Wire::Plumtree(
        flashmesh::proto::plumtree::Message::Prune,
    ))
    .expect("encodes");
    valid_plus_one.push(0);
    let before = a.stats().transport.bad_frames;
    for case in 0..3 {
        let mut s = TcpStream::connect(a.local_addr()).await.expect("connects");
        let me = flashmesh::crypto::identity::Identity::generate();
        let (mut framed, mut secured) = flashmesh::net::link::handshake(
            &mut s,
            flashmesh::net::link::Role::Dialer,
            &me,
            &main_room().keys().link_psk,
            0,
        )
        .await
        .expect("same room: the handshake completes");
        match case {
            0 => {
                let frame = framed.get_mut();
                frame
                    .write_all(&[0x00, 0x20, 1, 2, 3, 4, 5])
                    .await
                    .expect("writes");
                frame.shutdown().await.expect("half-closes");
            }
            1 => {
                let body = secured.sealer.seal_bytes(&[0xee; 40]).expect("seals");
                framed.send(body).await.expect("sends");
            }
            _ => {
                let body = secured.sealer.seal_bytes(&valid_plus_one).expect("seals");
                framed.send(body).await.expect("sends");
            }
        }
        let mut sink = Vec::new();
        let read = tokio::time::timeout(DEADLINE, framed.get_mut().read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "case {case}: the node must close the link");
    }
    wait_for("three more bad frames counted", || {
        std::future::ready(a.stats().transport.bad_frames >= before + 3)
    })
    .await;

    // The node goes on serving: b is still linked and hears a broadcast.
    let mut rx = b.subscribe();
    a.broadcast(b"still here".to_vec()).await.expect("accepted");
    wait_for_message(&mut rx, a.id(), b"still here", "b receives a's broadcast").await;
    assert!(
        b.peers()
            .await
            .expect("running")
            .iter()
            .any(|p| p.peer == a.id())
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicked_actor_is_restarted_reported_and_the_node_keeps_working() {
    let a = start(config(main_room())).await;
    let b = start(seeded_to(&a)).await;
    wait_for("linked", || async {
        with_status(&a, Status::Alive).await.contains(&b.id())
    })
    .await;
    // A memory-only op-log (no data_dir) keeps its ops over a restart.
    a.chat("before the restart").await.expect("published");
    let mut b_events = b.subscribe();
    wait_for("b holds a's op", || async {
        b.log_state().await.expect("running").ops == 1
    })
    .await;
    let mut events = a.subscribe();
    for actor in ["membership", "topology", "broadcast", "oplog"] {
        a.inject_panic(actor).expect("running");
    }
    let mut restarted = BTreeSet::new();
    wait_for("four restarts reported", || {
        while let Ok(ev) = events.try_recv() {
            if let Event::ActorRestarted { actor, .. } = ev {
                restarted.insert(actor);
            }
        }
        std::future::ready(restarted.len() == 4)
    })
    .await;
    assert_eq!(
        a.log_state().await.expect("running").ops,
        1,
        "the op-log restarted with the op it held"
    );
    a.chat("after the restart").await.expect("published");
    wait_for("both hold both ops with one state", || async {
        let (sa, sb) = (
            a.log_state().await.expect("running"),
            b.log_state().await.expect("running"),
        );
        sa.ops == 2 && sb.ops == 2 && sa.state_hash == sb.state_hash
    })
    .await;
    while let Ok(ev) = b_events.try_recv() {
        assert!(
            !matches!(ev, Event::Equivocation { .. }),
            "a's next op after the restart continues its chain"
        );
    }
    let mut rx = b.subscribe();
    a.broadcast(b"after the restart".to_vec())
        .await
        .expect("accepted");
    wait_for_message(
        &mut rx,
        a.id(),
        b"after the restart",
        "b receives a broadcast sent after the restarts",
    )
    .await;
    a.shutdown().await;
    b.shutdown().await;
}

async fn has_link(node: &Node, peer: NodeId) -> bool {
    node.peers()
        .await
        .expect("running")
        .iter()
        .any(|p| p.peer == peer)
}

/// Waits for `ActorRestarted` of `actor` on `events`, collecting the
/// link-down reasons seen on the way into `down`.
async fn wait_for_restart(
    events: &mut broadcast::Receiver<Event>,
    actor: &str,
    down: &mut Vec<(NodeId, String)>,
) {
    let mut restarted = false;
    wait_for(&format!("{actor} restart reported"), || {
        while let Ok(ev) = events.try_recv() {
            match ev {
                Event::ActorRestarted { actor: a, .. } if a == actor => restarted = true,
                Event::LinkDown { peer, reason } => down.push((peer, reason)),
                Event::ActorFailed { actor: a, reason } => {
                    panic!("{a} failed instead of restarting: {reason}")
                }
                _ => {}
            }
        }
        std::future::ready(restarted)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicked_transport_or_discovery_is_restarted_and_the_mesh_reforms() {
    let port = free_udp_port();
    let mut cfg = config(main_room());
    cfg.discovery = Some(discovery_on(port));
    let a = start(cfg.clone()).await;
    let b = start(cfg.clone()).await;
    let pair = [a.clone(), b.clone()];
    wait_for("a and b linked by beacons", || {
        all_see_each_other_alive(&pair)
    })
    .await;
    wait_for("a has a link to b", || has_link(&a, b.id())).await;

    // The transport: every link is closed, then the mesh re-forms.
    let mut events = a.subscribe();
    a.inject_panic("transport").expect("running");
    let mut down = Vec::new();
    wait_for_restart(&mut events, "transport", &mut down).await;
    wait_for("a reports its link to b closed by the restart", || {
        while let Ok(ev) = events.try_recv() {
            if let Event::LinkDown { peer, reason } = ev {
                down.push((peer, reason));
            }
        }
        std::future::ready(
            down.iter()
                .any(|(p, r)| *p == b.id() && r.contains("restarted after a panic")),
        )
    })
    .await;
    wait_for("a links to b again", || has_link(&a, b.id())).await;
    let mut b_rx = b.subscribe();
    a.broadcast(b"after the transport restart".to_vec())
        .await
        .expect("accepted");
    wait_for_message(
        &mut b_rx,
        a.id(),
        b"after the transport restart",
        "b receives a's broadcast over the new link",
    )
    .await;

    // Discovery: it beacons again at once and still hears newcomers.
    let before = a.stats();
    a.inject_panic("discovery").expect("discovery is on");
    wait_for_restart(&mut events, "discovery", &mut down).await;
    wait_for("a sends beacons after the restart", || {
        std::future::ready(a.stats().beacons_sent > before.beacons_sent)
    })
    .await;
    let c = start(cfg).await;
    let all = [a.clone(), b.clone(), c.clone()];
    wait_for("a, b and c see each other alive", || {
        all_see_each_other_alive(&all)
    })
    .await;
    assert!(
        a.stats().beacons_received > before.beacons_received,
        "a's restarted discovery hears beacons"
    );
    for n in all {
        n.shutdown().await;
    }
    drop(pair);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_dropped_and_the_node_goes_on() {
    let a = start(config(main_room())).await;
    let b = start(seeded_to(&a)).await;
    wait_for("a and b linked", || async {
        a.peers().await.expect("running").len() == 1
    })
    .await;
    // A room member that completes the handshake, then never reads.
    let mut stalled = TcpStream::connect(a.local_addr()).await.expect("connects");
    let me = flashmesh::crypto::identity::Identity::generate();
    let (framed, _) = flashmesh::net::link::handshake(
        &mut stalled,
        flashmesh::net::link::Role::Dialer,
        &me,
        &main_room().keys().link_psk,
        0,
    )
    .await
    .expect("same room: the handshake completes");
    drop(framed);
    wait_for("a linked to the stalled peer", || async {
        a.peers()
            .await
            .expect("running")
            .iter()
            .any(|p| p.peer == me.node_id())
    })
    .await;
    // Direct messages fill only the stalled peer's queue: a room-wide
    // flood would also fill b's, and on a loaded machine drop b as well.
    let payload = vec![7u8; 16 * 1024];
    let until = Instant::now() + DEADLINE;
    while a.stats().transport.slow_peer_drops == 0 {
        assert!(Instant::now() < until, "the stalled peer was never dropped");
        a.send(me.node_id(), payload.clone())
            .await
            .expect("accepted");
        tokio::task::yield_now().await;
    }
    assert_eq!(
        a.stats().transport.slow_peer_drops,
        1,
        "only the stalled peer was dropped"
    );
    assert!(
        !a.peers()
            .await
            .expect("running")
            .iter()
            .any(|p| p.peer == me.node_id()),
        "the slow peer's link is gone"
    );
    let mut rx = b.subscribe();
    a.broadcast(b"after the drop".to_vec())
        .await
        .expect("accepted");
    wait_for_message(
        &mut rx,
        a.id(),
        b"after the drop",
        "b still receives a's broadcasts",
    )
    .await;
    drop(stalled);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_subscriber_sees_the_events_from_the_start() {
    let a = start(config(main_room())).await;
    let b = start(seeded_to(&a)).await;
    wait_for("b linked to a", || async {
        b.peers().await.expect("running").len() == 1
    })
    .await;
    // Subscribed only now, after the link came up.
    let mut rx = b.subscribe();
    let mut linked = false;
    while let Ok(ev) = rx.try_recv() {
        linked |= matches!(ev, Event::LinkUp { peer, outbound: true, .. } if peer == a.id());
    }
    assert!(
        linked,
        "the link-up from before the first subscribe is kept"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connections_to_one_peer_settle_on_one_link_that_stays_up() {
    let a = start(config(main_room())).await;
    let port = a.local_addr().port();
    let mut bcfg = config(main_room());
    // Two addresses of the same node: both seeds link, concurrently.
    bcfg.seeds = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    let b = start(bcfg).await;
    let mut b_events = b.subscribe();
    wait_for("both ends saw the second connection", || {
        std::future::ready(
            a.stats().transport.duplicate_links >= 1 && b.stats().transport.duplicate_links >= 1,
        )
    })
    .await;
    wait_for("one link, at both ends", || async {
        a.peers().await.expect("running").len() == 1 && b.peers().await.expect("running").len() == 1
    })
    .await;
    while let Ok(ev) = b_events.try_recv() {
        assert!(
            !matches!(ev, Event::LinkDown { .. }),
            "the kept link must not drop: {ev:?}"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_with_no_seed_and_no_discovery_links_to_a_peer_it_saw_before() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut acfg = config(main_room());
    acfg.identity = IdentitySource::KeyFile(dir.path().join("a.key"));
    acfg.data_dir = Some(dir.path().join("a-rooms"));
    let a = start(acfg).await;
    let mut bcfg = config(main_room());
    bcfg.identity = IdentitySource::KeyFile(dir.path().join("b.key"));
    bcfg.data_dir = Some(dir.path().join("b-rooms"));
    bcfg.seeds = vec![a.local_addr().to_string()];
    let b = start(bcfg.clone()).await;
    let b_id = b.id();
    wait_for("b links to a", || has_link(&b, a.id())).await;
    b.shutdown().await;

    // The link-up was written to b's address book: a, at the address b
    // dialled, and never b itself.
    let b_store_dir =
        dir.path()
            .join("b-rooms")
            .join(format!("{}-{}", a.room_tag(), b_id.fmt_short()));
    let store = flashmesh::store::Store::open(&b_store_dir).expect("b's store opens");
    let book = store.newest_addrs(16).expect("reads");
    store.close().expect("closes");
    assert_eq!(book.len(), 1, "only a: {book:?}");
    assert_eq!(book[0].0, a.id());
    assert_eq!(
        flashmesh::actors::addr_book::decode_addrs(&book[0].2).first(),
        Some(&a.local_addr())
    );

    // Back with no seed and no discovery: the address book is its way in.
    bcfg.seeds.clear();
    let b = start(bcfg).await;
    assert_eq!(b.id(), b_id, "same key file, same id");
    wait_for("b links to a again", || has_link(&b, a.id())).await;
    b.shutdown().await;
    a.shutdown().await;
}
