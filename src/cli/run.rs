//! `flashmesh run` (the default subcommand): a node driven by lines on
//! stdin, printing what happens on stdout.
//!
//! Plain lines are room chat (UTF-8 text broadcast to the room; ephemeral
//! until the op-log lands), `/commands` are listed in
//! [`super::command::HELP`]. With `--json`, every event is one JSON object
//! per line on stdout (an `"event"` field names it) and input lines may be
//! JSON commands; without it, output is for people. Logs go to stderr
//! (`RUST_LOG` sets the level; `warn` by default). A bad command prints a
//! one-line reason and the node keeps running; EOF on stdin, `/quit` or
//! Ctrl-C shut the node down gracefully.
//!
//! ## Identity
//!
//! The key file defaults to `$XDG_DATA_HOME/flashmesh/identity.key` (or
//! `~/.local/share/...`). A process holds a lock on `<key file>.lock` while
//! it runs: a second process started with the same default key file runs
//! with a fresh identity for that run (and says so) instead of
//! impersonating the first; with an explicit `--key-file` in use it stops
//! with an error.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::command::{self, Command, HELP, LINE_BYTES_MAX};
use crate::config::{Config, DEFAULT_DISCOVERY_PORT, DEFAULT_PORT, IdentitySource, Profile, Room};
use crate::crypto::room::RoomCode;
use crate::event::{Event, Member, PeerInfo, Status};
use crate::id::NodeId;
use crate::join::{JoinUri, qr_text};
use crate::node::Node;
use crate::transport::discovery::DiscoveryConfig;

/// Flags of `flashmesh run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The room code everyone at the event shares. Without it (and without
    /// --join), a strong code is generated and printed.
    #[arg(long, value_name = "CODE")]
    pub room: Option<String>,
    /// Join with an invitation link (flashmesh://join?...): its room code
    /// and peers. --room overrides the link's room.
    #[arg(long, value_name = "URI")]
    pub join: Option<String>,
    /// Your nickname in the room (1 to 32 characters).
    #[arg(long, value_name = "NAME")]
    pub nick: Option<String>,
    /// TCP port for links (0 = any free port). Default 9000, or any free
    /// port when 9000 is taken (a second node on the same machine).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Address to accept links on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED), value_name = "IP")]
    pub bind: IpAddr,
    /// UDP port for discovery beacons (shared by every node on a host).
    #[arg(long, default_value_t = DEFAULT_DISCOVERY_PORT, value_name = "N")]
    pub discovery_port: u16,
    /// Where to send beacons (repeatable), e.g. 127.255.255.255 or
    /// 192.168.1.255. Default: 255.255.255.255 and every interface's
    /// broadcast address.
    #[arg(long = "broadcast", value_name = "ADDR")]
    pub broadcasts: Vec<Ipv4Addr>,
    /// Do not send or listen for beacons (use seeds only).
    #[arg(long)]
    pub no_discovery: bool,
    /// A peer to dial, HOST:PORT (repeatable).
    #[arg(long = "seed", value_name = "HOST:PORT")]
    pub seeds: Vec<String>,
    /// Where this node's identity key lives (created if missing, mode 0600).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Where the room's history is stored. Default: `rooms/` beside the
    /// key file. A run with a throwaway identity keeps it in memory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Engine defaults for rooms of more than about 50 nodes.
    #[arg(long)]
    pub large_room: bool,
    /// One JSON object per line on stdout; JSON commands accepted on stdin.
    #[arg(long)]
    pub json: bool,
    /// Leave the room code out of /join links and QR codes (newcomers then
    /// need the code from you).
    #[arg(long)]
    pub hide_room: bool,
}

impl Default for RunArgs {
    /// The same defaults as the flags.
    fn default() -> RunArgs {
        RunArgs {
            room: None,
            join: None,
            nick: None,
            port: None,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            discovery_port: DEFAULT_DISCOVERY_PORT,
            broadcasts: Vec::new(),
            no_discovery: false,
            seeds: Vec::new(),
            key_file: None,
            data_dir: None,
            large_room: false,
            json: false,
            hide_room: false,
        }
    }
}

/// What `run` prints, to stdout, in the chosen format.
struct Out {
    json: bool,
}

impl Out {
    fn emit(&self, value: Value, human: impl FnOnce() -> String) {
        let line = if self.json {
            value.to_string()
        } else {
            human()
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    fn error(&self, message: &str) {
        self.emit(json!({"event": "error", "message": message}), || {
            format!("! {message}")
        });
    }
}

/// Removes control characters (terminal escapes) from text a peer sent,
/// keeping newlines and tabs.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Alive => "alive",
        Status::Suspect => "suspect",
        Status::Dead => "dead",
        Status::Left => "left",
    }
}

fn status_phrase(s: Status) -> &'static str {
    match s {
        Status::Alive => "is here",
        Status::Suspect => "may be gone (no recent heartbeat)",
        Status::Dead => "is unreachable (presumed gone)",
        Status::Left => "has left",
    }
}

/// The default key file: `$XDG_DATA_HOME/flashmesh/identity.key`, or
/// `$HOME/.local/share/flashmesh/identity.key`.
fn default_key_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("flashmesh").join("identity.key"))
}

/// Takes the lock beside a key file; `Ok(None)` when another process holds it.
fn lock_key_file(key: &Path) -> Result<Option<File>, String> {
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut lock_path = key.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", PathBuf::from(&lock_path).display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock the key file: {e}")),
    }
}

/// Everything `run` decided before starting the node.
struct Plan {
    config: Config,
    generated_room: bool,
    _key_lock: Option<File>,
    notes: Vec<String>,
}

fn plan(args: &RunArgs) -> Result<Plan, String> {
    let mut notes = Vec::new();
    let invite = match &args.join {
        Some(uri) => Some(JoinUri::parse(uri).map_err(|e| format!("--join: {e}"))?),
        None => None,
    };
    let (code, generated_room) = match (&args.room, invite.as_ref().and_then(|i| i.room.clone())) {
        (Some(typed), _) => (
            RoomCode::parse(typed).map_err(|e| format!("--room: {e}"))?,
            false,
        ),
        (None, Some(code)) => (code, false),
        (None, None) if invite.is_some() => {
            return Err("the join link has no room code: add --room CODE".into());
        }
        (None, None) => (RoomCode::generate(&mut rand::rng()), true),
    };
    if code.is_weak() {
        notes.push(format!(
            "warning: this room code is weak (about {:.0} bits): anyone who can reach a node \
             can guess it offline. Prefer a generated code (run without --room).",
            code.estimated_bits()
        ));
    }
    let room = Room::derive(code).map_err(|e| format!("room: {e}"))?;
    let profile = if args.large_room {
        Profile::LargeRoom
    } else {
        Profile::SmallRoom
    };
    let mut config = Config::new(room).with_profile(profile);
    config.nick = match &args.nick {
        Some(n) => Some(command::check_nick(n).map_err(|e| format!("--nick: {e}"))?),
        None => None,
    };
    config.listen = SocketAddr::new(args.bind, args.port.unwrap_or(DEFAULT_PORT));
    config.discovery = if args.no_discovery {
        None
    } else {
        Some(DiscoveryConfig {
            port: args.discovery_port,
            broadcast_addrs: args
                .broadcasts
                .iter()
                .map(|ip| SocketAddr::from((*ip, args.discovery_port)))
                .collect(),
            ..DiscoveryConfig::default()
        })
    };
    config.seeds = args.seeds.clone();
    if let Some(invite) = &invite {
        for peer in &invite.peers {
            if !config.seeds.contains(peer) {
                config.seeds.push(peer.clone());
            }
        }
    }
    let mut key_lock = None;
    config.identity = match (&args.key_file, default_key_file()) {
        (Some(path), _) => match lock_key_file(path)? {
            Some(lock) => {
                key_lock = Some(lock);
                IdentitySource::KeyFile(path.clone())
            }
            None => {
                return Err(format!(
                    "key file {} is in use by another flashmesh process",
                    path.display()
                ));
            }
        },
        (None, Some(path)) => match lock_key_file(&path) {
            Ok(Some(lock)) => {
                key_lock = Some(lock);
                IdentitySource::KeyFile(path)
            }
            Ok(None) => {
                notes.push(format!(
                    "note: {} is in use by another flashmesh process; this run uses a fresh \
                     identity (pass --key-file to keep one)",
                    path.display()
                ));
                IdentitySource::Ephemeral
            }
            Err(e) => {
                notes.push(format!("note: {e}; this run uses a fresh identity"));
                IdentitySource::Ephemeral
            }
        },
        (None, None) => IdentitySource::Ephemeral,
    };
    config.data_dir = match (&config.identity, &args.data_dir) {
        (IdentitySource::Ephemeral, _) => None,
        (_, Some(dir)) => Some(dir.clone()),
        (IdentitySource::KeyFile(key), None) => Some(
            key.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("rooms"), |d| d.join("rooms")),
        ),
        (IdentitySource::Given(_), None) => None,
    };
    config.validate().map_err(|e| e.to_string())?;
    Ok(Plan {
        config,
        generated_room,
        _key_lock: key_lock,
        notes,
    })
}

/// Runs the line client until /quit, EOF or Ctrl-C. The error is the
/// one-line reason the node could not start.
pub async fn run(args: RunArgs) -> Result<(), String> {
    let out = Out { json: args.json };
    let plan = tokio::task::spawn_blocking({
        let args = args.clone();
        move || plan(&args)
    })
    .await
    .map_err(|e| e.to_string())??;
    for note in &plan.notes {
        eprintln!("{note}");
    }
    let room_code = plan.config.room.code().clone();
    let node = match Node::start(plan.config.clone()).await {
        Err(crate::error::Error::Listen { source, .. })
            if args.port.is_none() && source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            eprintln!("note: port {DEFAULT_PORT} is taken; using any free port");
            let mut config = plan.config.clone();
            config.listen.set_port(0);
            Node::start(config).await
        }
        other => other,
    }
    .map_err(|e| e.to_string())?;
    let mut events = node.subscribe();
    let mut client = Client {
        node: node.clone(),
        out,
        nicks: HashMap::new(),
        hide_room: args.hide_room,
    };
    if let Some(nick) = &plan.config.nick {
        client.nicks.insert(node.id(), nick.clone());
    }
    client.ready(&room_code, plan.generated_room);

    let mut lines = FramedRead::new(
        tokio::io::stdin(),
        LinesCodec::new_with_max_length(LINE_BYTES_MAX),
    );
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            ev = events.recv() => match ev {
                Ok(ev) => client.on_event(ev).await,
                Err(RecvError::Lagged(n)) => client.out.error(&format!("missed {n} events (output too slow)")),
                Err(RecvError::Closed) => break,
            },
            line = lines.next() => match line {
                None => break, // EOF: leave gracefully
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    client.out.error(&format!("line too long (at most {LINE_BYTES_MAX} bytes); ignored"));
                }
                Some(Err(LinesCodecError::Io(e))) => {
                    client.out.error(&format!("reading stdin: {e}"));
                    break;
                }
                Some(Ok(line)) => match command::parse_line(&line, client.out.json) {
                    Ok(None) => {}
                    Ok(Some(Command::Quit)) => break,
                    Ok(Some(cmd)) => client.on_command(cmd).await,
                    Err(e) => client.out.error(&e.to_string()),
                },
            },
        }
    }
    node.shutdown().await;
    client.out.emit(json!({"event": "shutdown"}), || {
        "* left the room".to_string()
    });
    Ok(())
}

struct Client {
    node: Node,
    out: Out,
    /// Nicks heard so far (this node's included), for display.
    nicks: HashMap<NodeId, String>,
    hide_room: bool,
}

impl Client {
    fn name(&self, node: &NodeId) -> String {
        match self.nicks.get(node) {
            Some(n) => format!("{} ({})", clean(n), node.fmt_short()),
            None => node.fmt_short(),
        }
    }

    fn nick_json(&self, node: &NodeId) -> Value {
        self.nicks
            .get(node)
            .map_or(Value::Null, |n| Value::String(n.clone()))
    }

    fn join_uri(&self) -> JoinUri {
        self.node.join_uri(!self.hide_room)
    }

    fn ready(&self, room: &RoomCode, generated: bool) {
        let node = &self.node;
        let uri = self.join_uri().to_uri();
        self.out.emit(
            json!({
                "event": "ready",
                "id": node.id().to_string(),
                "short": node.id().fmt_short(),
                "nick": self.nick_json(&node.id()),
                "port": node.local_addr().port(),
                "addrs": node.published_addrs().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "room_tag": node.room_tag(),
                "join_uri": uri,
                "generated_room": generated,
            }),
            || {
                let mut s = format!(
                    "flashmesh node {} listening on {}\nroom code: {}{}\njoin link: {}\n\
                     type to chat, /help for commands",
                    self.name(&node.id()),
                    node.local_addr(),
                    room.as_str(),
                    if generated {
                        "   (generated: share it with the people who should join)"
                    } else {
                        ""
                    },
                    uri
                );
                if generated {
                    s.push_str("\nothers join with: flashmesh --room '");
                    s.push_str(room.as_str());
                    s.push('\'');
                }
                s
            },
        );
    }

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::LinkUp {
                peer,
                outbound,
                addr,
            } => self.out.emit(
                json!({"event": "link_up", "peer": peer.to_string(), "outbound": outbound, "addr": addr.to_string()}),
                || format!("* linked to {} at {addr}", self.name(&peer)),
            ),
            Event::LinkDown { peer, reason } => self.out.emit(
                json!({"event": "link_down", "peer": peer.to_string(), "reason": reason}),
                || format!("* link to {} closed: {reason}", self.name(&peer)),
            ),
            Event::LinkRefused { addr, reason } => self.out.emit(
                json!({"event": "link_refused", "addr": addr.to_string(), "reason": reason}),
                || format!("* refused a connection from {addr}: {reason}"),
            ),
            Event::Member { node, status, nick } => {
                if let Some(n) = nick {
                    self.nicks.insert(node, n);
                }
                self.out.emit(
                    json!({"event": "member", "node": node.to_string(), "status": status_word(status), "nick": self.nick_json(&node)}),
                    || format!("* {} {}", self.name(&node), status_phrase(status)),
                );
            }
            Event::Nick { node, nick } => {
                if self.nicks.get(&node) == Some(&nick) && !self.out.json {
                    return; // already shown with the member's status
                }
                let before = self.name(&node);
                self.nicks.insert(node, nick.clone());
                self.out.emit(
                    json!({"event": "nick", "node": node.to_string(), "nick": nick}),
                    || format!("* {before} is now known as {}", clean(&nick)),
                );
            }
            Event::Message { from, id, payload } => {
                // Ephemeral broadcasts (from library users).
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.out.emit(
                    json!({"event": "broadcast", "from": from.to_string(), "nick": self.nick_json(&from), "text": text, "id": id.to_string()}),
                    || format!("<{}> (ephemeral) {}", self.name(&from), clean(&text)),
                );
            }
            Event::Op {
                id,
                author,
                applet,
                kind,
                wall_ms,
                body,
                ..
            } => {
                if author != self.node.id()
                    && let Some(body) = &body
                    && let Some(d) =
                        crate::cli::applets::describe_op(&self.node, &applet, kind, body).await
                {
                    let summary = d.summary;
                    let mut event = json!({"event": "op", "applet": applet, "action": d.action, "author": author.to_string(), "nick": self.nick_json(&author), "id": id.to_string(), "summary": summary, "wall_ms": wall_ms});
                    if let Some(fields) = event.as_object_mut() {
                        fields.extend(d.fields);
                    }
                    self.out.emit(event, || format!("* {} {summary}", self.name(&author)));
                }
                if applet == crate::applets::chat::NAME && author != self.node.id() {
                    let text = body
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    self.out.emit(
                        json!({"event": "chat", "from": author.to_string(), "nick": self.nick_json(&author), "text": text, "id": id.to_string(), "wall_ms": wall_ms}),
                        || format!("<{}> {}", self.name(&author), clean(&text)),
                    );
                }
            }
            Event::Mail {
                id,
                from,
                payload,
                wall_ms,
            } => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.out.emit(
                    json!({"event": "dm", "from": from.to_string(), "nick": self.nick_json(&from), "text": text, "via": "log", "id": id.to_string(), "wall_ms": wall_ms}),
                    || format!("[dm from {}] {}", self.name(&from), clean(&text)),
                );
            }
            Event::QueueHead { queue } => self.out.emit(
                json!({"event": "queue_head", "queue": queue}),
                || format!("*** you're next in queue {queue} ***"),
            ),
            Event::Equivocation { author, seq } => self.out.emit(
                json!({"event": "equivocation", "author": author.to_string(), "seq": seq}),
                || format!("! {} forked its log at op {seq}: its ops from there no longer count", self.name(&author)),
            ),
            Event::Direct {
                from,
                payload,
                via_link,
            } => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.out.emit(
                    json!({"event": "dm", "from": from.to_string(), "nick": self.nick_json(&from), "text": text, "via": if via_link {"link"} else {"mesh"}}),
                    || format!("[dm from {}] {}", self.name(&from), clean(&text)),
                );
            }
            Event::ActorRestarted {
                actor,
                reason,
                restarts,
            } => self.out.emit(
                json!({"event": "actor_restarted", "actor": actor, "reason": reason, "restarts": restarts}),
                || format!("! internal: the {actor} actor crashed ({reason}) and was restarted"),
            ),
            Event::ActorFailed { actor, reason } => self.out.emit(
                json!({"event": "actor_failed", "actor": actor, "reason": reason}),
                || format!("! internal: the {actor} actor keeps crashing ({reason}); restart flashmesh"),
            ),
            Event::OtherRoomBeacons { from, count } => self.out.emit(
                json!({"event": "other_room", "from": from.to_string(), "count": count}),
                || format!("! heard {count} beacon(s) from {from} that this room code cannot open: is the room code right?"),
            ),
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        if let Err(e) = self.command(cmd).await {
            self.out.error(&e);
        }
    }

    async fn command(&mut self, cmd: Command) -> Result<(), String> {
        let node = self.node.clone();
        match cmd {
            Command::Chat(text) => {
                let id = node.chat(&text).await.map_err(|e| e.to_string())?;
                if self.out.json {
                    self.out
                        .emit(json!({"event": "sent", "id": id.to_string()}), String::new);
                }
            }
            Command::Peers { verbose } => {
                let peers = node.peers().await.map_err(|e| e.to_string())?;
                self.print_peers(&peers, verbose);
            }
            Command::Members => {
                let members = node.members().await.map_err(|e| e.to_string())?;
                for m in &members {
                    if let Some(n) = &m.nick {
                        self.nicks.insert(m.node, n.clone());
                    }
                }
                self.print_members(&members);
            }
            Command::Me => {
                let uri = self.join_uri().to_uri();
                self.out.emit(
                    json!({"event": "me", "id": node.id().to_string(), "short": node.id().fmt_short(), "nick": self.nick_json(&node.id()), "port": node.local_addr().port(), "room_tag": node.room_tag(), "join_uri": uri}),
                    || format!("you are {}\nid: {}\nlistening on {}\njoin link: {uri}", self.name(&node.id()), node.id(), node.local_addr()),
                );
            }
            Command::Nick(name) => {
                node.set_nick(&name).await.map_err(|e| e.to_string())?;
                self.nicks.insert(node.id(), name.clone());
                self.out
                    .emit(json!({"event": "nick_set", "nick": name}), || {
                        format!("* you are now known as {name}")
                    });
            }
            Command::Dm { to, text } => {
                let target = self.resolve(&to).await?;
                let id = node
                    .mail(target, text.into_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                self.out.emit(
                    json!({"event": "dm_sent", "to": target.to_string(), "via": "log", "id": id.to_string()}),
                    || format!("* sent to {} (sealed; delivered when they are online)", self.name(&target)),
                );
            }
            Command::Join => {
                let uri = self.join_uri();
                let text = uri.to_uri();
                let qr = qr_text(&text).map_err(|e| e.to_string())?;
                self.out.emit(
                    json!({"event": "join", "uri": text, "addrs": uri.peers, "room_included": uri.room.is_some()}),
                    || format!("{qr}\njoin link: {text}\naddresses: {}", uri.peers.join(", ")),
                );
            }
            Command::State => {
                let s = node.log_state().await.map_err(|e| e.to_string())?;
                let hash = crate::id::to_hex(&s.state_hash);
                // Who agrees, by the marks live members published.
                let members = node.members().await.map_err(|e| e.to_string())?;
                let live: Vec<&Member> = members
                    .iter()
                    .filter(|m| matches!(m.status, Status::Alive | Status::Suspect))
                    .collect();
                let agree = live
                    .iter()
                    .filter(|m| {
                        m.state
                            .as_ref()
                            .is_some_and(|st| hash.starts_with(&st.hash))
                    })
                    .count();
                self.out.emit(
                    json!({"event": "state", "state_hash": hash, "frontier_hash": crate::id::to_hex(&s.frontier_hash), "ops": s.ops, "authors": s.authors, "equivocators": s.equivocators, "durable": s.durable, "replayed_at_start": s.replayed_at_start, "snapshot_ops": s.snapshot_ops, "members_agreeing": agree, "members_live": live.len()}),
                    || format!("state {}  ops {}  authors {}  forked {}  agreeing {}/{} live members{}", &hash[..16], s.ops, s.authors, s.equivocators, agree, live.len(), if s.durable { "" } else { "  (memory only)" }),
                );
            }
            Command::Snapshot => {
                let ops = node.snapshot().await.map_err(|e| e.to_string())?;
                self.out.emit(json!({"event": "snapshot", "ops": ops}), || {
                    format!("* snapshot saved: {ops} ops")
                });
            }
            Command::History(n) => {
                let ops = node
                    .history_tail(None, n)
                    .await
                    .map_err(|e| e.to_string())?;
                let me = node.id();
                let list: Vec<Value> = ops
                    .iter()
                    .map(|o| {
                        let text = o.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
                        json!({"id": o.id.to_string(), "author": o.author.to_string(), "nick": self.nick_json(&o.author), "applet": o.applet, "kind": o.kind, "wall_ms": o.wall_ms, "text": if o.applet == crate::applets::chat::NAME { text.map_or(Value::Null, Value::String) } else { Value::Null }})
                    })
                    .collect();
                self.out.emit(json!({"event": "history", "ops": list}), || {
                    let mut s = String::new();
                    for o in &ops {
                        let who = self.name(&o.author);
                        let line = match o.applet.as_str() {
                            "chat" => format!(
                                "<{who}> {}",
                                clean(
                                    &o.body
                                        .as_ref()
                                        .map(|b| String::from_utf8_lossy(b).into_owned())
                                        .unwrap_or_default()
                                )
                            ),
                            "dm" if o.author == me => {
                                format!("* you sent a direct message ({})", o.id.fmt_short())
                            }
                            "dm" => format!("* {who} sent a direct message ({})", o.id.fmt_short()),
                            other => format!("* {who}: {other} op {}", o.id.fmt_short()),
                        };
                        if !s.is_empty() {
                            s.push('\n');
                        }
                        s.push_str(&line);
                    }
                    if s.is_empty() {
                        s.push_str("no history yet");
                    }
                    s
                });
            }
            Command::Help => {
                let text = format!("{HELP}\n{}", crate::cli::applets::HELP);
                self.out
                    .emit(json!({"event": "help", "text": text}), || text.clone())
            }
            Command::Applet(cmd) => {
                let names = crate::cli::applets::Names(&self.nicks);
                let shown = crate::cli::applets::run(&node, cmd, &names).await?;
                self.out.emit(shown.json, || shown.human);
            }
            Command::Quit => {}
        }
        Ok(())
    }

    fn print_peers(&self, peers: &[PeerInfo], verbose: bool) {
        let list: Vec<Value> = peers
            .iter()
            .map(|p| {
                json!({"peer": p.peer.to_string(), "nick": self.nick_json(&p.peer), "outbound": p.outbound, "addr": p.addr.to_string(), "up_ms": p.up_ms, "frames_in": p.frames_in, "frames_out": p.frames_out})
            })
            .collect();
        self.out.emit(json!({"event": "peers", "peers": list}), || {
            if peers.is_empty() {
                return "no links yet".to_string();
            }
            let mut s = format!("{} link(s):", peers.len());
            for p in peers {
                s.push_str(&format!("\n  {}", self.name(&p.peer)));
                if verbose {
                    s.push_str(&format!(
                        "  {} {}  up {}s  frames in/out {}/{}",
                        if p.outbound { "to" } else { "from" },
                        p.addr,
                        p.up_ms / 1000,
                        p.frames_in,
                        p.frames_out
                    ));
                }
            }
            s
        });
    }

    fn print_members(&self, members: &[Member]) {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({"node": m.node.to_string(), "nick": self.nick_json(&m.node), "status": status_word(m.status), "state": m.state})
            })
            .collect();
        self.out
            .emit(json!({"event": "members", "members": list}), || {
                let mut s = format!("you: {}", self.name(&self.node.id()));
                for m in members {
                    s.push_str(&format!(
                        "\n  {}  {}",
                        self.name(&m.node),
                        status_word(m.status)
                    ));
                    if let Some(mark) = &m.state {
                        s.push_str(&format!("  state {} ({} ops)", mark.hash, mark.ops));
                    }
                }
                s
            });
    }

    /// A member named by full id, short id (a unique hex prefix of at least
    /// 4 digits) or nick (unique among live members).
    async fn resolve(&mut self, to: &str) -> Result<NodeId, String> {
        if let Ok(id) = NodeId::from_hex(to) {
            return Ok(id);
        }
        let members = self.node.members().await.map_err(|e| e.to_string())?;
        let live = |m: &&Member| matches!(m.status, Status::Alive | Status::Suspect);
        let lower = to.to_ascii_lowercase();
        let by_prefix: Vec<&Member> =
            if lower.len() >= 4 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
                members
                    .iter()
                    .filter(|m| m.node.to_string().starts_with(&lower))
                    .collect()
            } else {
                Vec::new()
            };
        let by_nick: Vec<&Member> = members
            .iter()
            .filter(live)
            .filter(|m| m.nick.as_deref() == Some(to))
            .collect();
        let found: Vec<&Member> = if by_nick.is_empty() {
            by_prefix
        } else {
            by_nick
        };
        match found.as_slice() {
            [one] => Ok(one.node),
            [] => Err(format!("no member called {to}; /members lists them")),
            many => Err(format!(
                "{to} is ambiguous: {}; use the id",
                many.iter()
                    .map(|m| m.node.fmt_short())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_loses_terminal_escapes_but_keeps_lines() {
        assert_eq!(clean("hi\u{1b}[2J there\n\tok\u{7}"), "hi[2J there\n\tok");
    }

    #[test]
    fn a_missing_room_is_generated_and_strong() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let args = RunArgs {
            key_file: Some(dir.path().join("k")),
            ..RunArgs::default()
        };
        let plan = plan(&args).expect("plans");
        assert!(plan.generated_room);
        assert!(!plan.config.room.code().is_weak());
    }

    #[test]
    fn a_join_link_gives_the_room_and_the_seeds() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let uri = "flashmesh://join?room=amber-otter-lamp-mesa-quilt-river-4821&peer=10.0.0.7:9000";
        let args = RunArgs {
            join: Some(uri.into()),
            key_file: Some(dir.path().join("k")),
            ..RunArgs::default()
        };
        let plan = plan(&args).expect("plans");
        assert!(!plan.generated_room);
        assert_eq!(plan.config.seeds, vec!["10.0.0.7:9000".to_string()]);
        assert_eq!(
            plan.config.room.code().as_str(),
            "amber-otter-lamp-mesa-quilt-river-4821"
        );
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let base = RunArgs {
            key_file: Some(dir.path().join("k")),
            room: Some("amber-otter-lamp-mesa-quilt-river-4821".into()),
            ..RunArgs::default()
        };
        let bad_nick = RunArgs {
            nick: Some(" ".into()),
            ..base.clone()
        };
        assert!(plan(&bad_nick).err().is_some_and(|e| e.contains("--nick")));
        let bad_seed = RunArgs {
            seeds: vec!["nohost".into()],
            ..base.clone()
        };
        assert!(plan(&bad_seed).err().is_some_and(|e| e.contains("seed")));
        let bad_join = RunArgs {
            join: Some("http://example.org".into()),
            ..base
        };
        assert!(plan(&bad_join).err().is_some_and(|e| e.contains("--join")));
    }

    #[test]
    fn a_key_file_in_use_is_refused_when_named_explicitly() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let key = dir.path().join("k");
        let held = lock_key_file(&key).expect("locks").expect("free");
        let args = RunArgs {
            key_file: Some(key),
            room: Some("amber-otter-lamp-mesa-quilt-river-4821".into()),
            ..RunArgs::default()
        };
        assert!(plan(&args).err().is_some_and(|e| e.contains("in use")));
        drop(held);
    }
}
