//! `flashmesh run`: the line client, the scripting interface. A node
//! driven by lines on stdin, printing what happens on stdout. (A person at
//! a terminal gets the full-screen client, [`crate::tui`], from plain
//! `flashmesh`; this one runs whenever stdin is not a terminal, with
//! `--json`, or as `flashmesh run`.)
//!
//! Plain lines are room chat (a signed op in the log, so it survives
//! restarts and reaches people who join later), `/commands` are listed in
//! [`super::command::HELP`]. With `--json`, every event is one JSON object
//! per line on stdout (an `"event"` field names it) and every input line is
//! a JSON command; without it, output is for people, through the one
//! presentation layer ([`crate::present`]): `HH:MM <nick> text`. Logs go to
//! stderr (`RUST_LOG` sets the level; `warn` by default).
//!
//! Bad input costs that line only: a bad command, a line over
//! [`LINE_BYTES_MAX`] bytes or a line that is not UTF-8 prints a one-line
//! reason and the next line is read. End of input, `/quit`, Ctrl-C or
//! SIGTERM leave the room gracefully and exit at once (stdin is read on
//! its own thread, [`super::stdin`], so a pending read never holds the
//! process).
//!
//! Ops that arrive while catching up (written before this client started,
//! or more than [`CATCH_UP_AGE_MS`] ago) are gathered and printed in the
//! room's order once [`CATCH_UP_QUIET_MS`] pass without another, and once
//! their authors' nicks are known (waiting at most
//! [`CATCH_UP_NICK_WAIT_MS`] for them): a late joiner reads the room's
//! past in time order with names, not grouped by author and by raw id as
//! anti-entropy streams it. (JSON events are never held.)

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::command::{self, Command, HELP, LINE_BYTES_MAX};
pub use super::launch::RunArgs;
use super::launch::{Plan, history_place, plan, start, terminate_signal};
use super::stdin::{self, Input};
use crate::crypto::room::RoomCode;
use crate::event::{Event, Member, PeerInfo};
use crate::id::NodeId;
use crate::join::{JoinUri, qr_text};
use crate::node::Node;
use crate::present::{self, Names, OpView, clean, status_phrase, status_word};

/// An op written longer ago than this (by its wall time) when it arrives
/// is the room's past, caught up: held and printed in order.
pub const CATCH_UP_AGE_MS: u64 = 10_000;
/// Held past ops are printed once this long passes without another.
pub const CATCH_UP_QUIET_MS: u64 = 500;
/// Longest a batch of past ops waits for its authors' nicks.
pub const CATCH_UP_NICK_WAIT_MS: u64 = 2_000;
/// Most past ops held before they are printed anyway.
pub const CATCH_UP_HELD_MAX: usize = 2_000;

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
        if line.is_empty() {
            return;
        }
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

/// An applet's notice as a JSON event: named by the notice (`queue_head`),
/// with `applet`, `text` and the notice's `about` pairs as fields
/// (`"queue": "help"`); pairs named `event`, `applet` or `text` are left
/// out.
fn notice_json(applet: &str, notice: &crate::event::Notice) -> Value {
    let mut event = serde_json::Map::new();
    for (key, value) in &notice.about {
        event.insert((*key).to_string(), json!(value));
    }
    event.insert("event".into(), json!(notice.name));
    event.insert("applet".into(), json!(applet));
    event.insert("text".into(), json!(notice.text));
    Value::Object(event)
}

/// Runs the line client until /quit, EOF, Ctrl-C or SIGTERM. The error is
/// the one-line reason the node could not start.
pub async fn run(args: RunArgs) -> Result<(), String> {
    let out = Out { json: args.json };
    let resolved = args.resolve()?;
    let plan = tokio::task::spawn_blocking(move || plan(&resolved))
        .await
        .map_err(|e| e.to_string())??;
    for note in &plan.notes {
        eprintln!("{note}");
    }
    let node = start(&plan, args.port.is_some()).await?;
    if let Err(e) = plan.save_remembered() {
        eprintln!("note: {e}");
    }
    let mut events = node.subscribe();
    let mut client = Client {
        node: node.clone(),
        out,
        names: Names::default(),
        hide_room: plan.hide_room,
        held: BTreeMap::new(),
        held_since: None,
        started_ms: present::now_ms(),
        plan,
    };
    if let Some(nick) = &client.plan.config.nick {
        client.names.set(node.id(), nick);
    }
    client.ready();

    let mut lines = stdin::spawn(LINE_BYTES_MAX);
    let mut terminate = terminate_signal();
    let quiet = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            _ = &mut terminate => break,
            _ = &mut quiet, if !client.held.is_empty() => {
                if !client.print_held_when_named().await {
                    quiet.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(CATCH_UP_QUIET_MS / 2));
                }
            }
            ev = events.recv() => match ev {
                Ok(ev) => {
                    let held = client.held.len();
                    client.on_event(ev).await;
                    if client.held.len() >= CATCH_UP_HELD_MAX {
                        client.print_held().await;
                    } else if client.held.len() > held {
                        quiet.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(CATCH_UP_QUIET_MS));
                    }
                }
                Err(RecvError::Lagged(n)) => client.out.error(&format!("missed {n} events (output too slow); /history shows the room's log")),
                Err(RecvError::Closed) => break,
            },
            input = lines.recv() => match input {
                None => break, // EOF: leave gracefully
                Some(Input::TooLong { len }) => {
                    client.out.error(&format!("line too long ({len} bytes; at most {LINE_BYTES_MAX}); ignored"));
                }
                Some(Input::NotUtf8) => client.out.error("the line is not UTF-8 text; ignored"),
                Some(Input::Failed(e)) => {
                    client.out.error(&format!("reading stdin: {e}"));
                    break;
                }
                Some(Input::Line(line)) => match command::parse_line(&line, client.out.json) {
                    Ok(None) => {}
                    Ok(Some(Command::Quit)) => break,
                    Ok(Some(cmd)) => client.on_command(cmd).await,
                    Err(e) => client.out.error(&e.to_string()),
                },
            },
        }
    }
    client.print_held().await;
    node.shutdown().await;
    client.out.emit(json!({"event": "shutdown"}), || {
        "* left the room".to_string()
    });
    Ok(())
}

/// A held op: its place in the room's order, and the op.
type HeldKey = (u64, NodeId, u64);

struct Client {
    node: Node,
    out: Out,
    /// Nicks heard so far (this node's included), for display.
    names: Names,
    hide_room: bool,
    /// Past ops caught up, waiting to be printed in the room's order.
    held: BTreeMap<HeldKey, present::OpText>,
    /// When the oldest held op was held.
    held_since: Option<std::time::Instant>,
    /// When this client started (ms since the epoch): ops written before
    /// are the room's past.
    started_ms: u64,
    plan: Plan,
}

impl Client {
    fn name(&self, node: &NodeId) -> String {
        self.names.show(node)
    }

    fn nick_json(&self, node: &NodeId) -> Value {
        self.names
            .nick(node)
            .map_or(Value::Null, |n| Value::String(n.to_string()))
    }

    fn join_uri(&self) -> JoinUri {
        self.node.join_uri(!self.hide_room)
    }

    fn ready(&self) {
        let node = &self.node;
        let room: &RoomCode = self.plan.config.room.code();
        let generated = self.plan.generated_room;
        let uri = self.join_uri().to_uri();
        let history = history_place(node, &self.plan);
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
                "history": history,
            }),
            || {
                let mut s = format!(
                    "flashmesh node {} listening on {}\nroom code: {}{}\njoin link: {}\n\
                     history kept in: {history}\ntype to chat, /help for commands",
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

    /// Notes a nick, and says so when it now clashes with another member's.
    fn learn_nick(&mut self, node: NodeId, nick: &str) {
        let clash_before = self.names.is_taken(nick, &node);
        self.names.set(node, nick);
        if !clash_before && self.names.is_taken(nick, &node) && !self.out.json {
            let holders: Vec<String> = self
                .names
                .nicks()
                .iter()
                .filter(|(_, n)| n.as_str() == present::one_line(nick))
                .map(|(id, _)| self.names.show(id))
                .collect();
            self.out.emit(Value::Null, || {
                format!(
                    "* note: {} members are called {}: {} (name them so)",
                    holders.len(),
                    present::one_line(nick),
                    holders.join(", ")
                )
            });
        }
    }

    /// Prints the held ops once every author's nick is known, or once
    /// they waited [`CATCH_UP_NICK_WAIT_MS`]; false when they wait on.
    async fn print_held_when_named(&mut self) -> bool {
        if let Ok(members) = self.node.members().await {
            self.names.learn(&members);
        }
        let unnamed = self
            .held
            .values()
            .any(|t| self.names.nick(&t.author).is_none());
        let waited = self
            .held_since
            .is_some_and(|t| t.elapsed() >= Duration::from_millis(CATCH_UP_NICK_WAIT_MS));
        if unnamed && !waited {
            return false;
        }
        self.print_held().await;
        true
    }

    /// Prints the held past ops in the room's order, with the nicks known
    /// now.
    async fn print_held(&mut self) {
        self.held_since = None;
        if self.held.is_empty() {
            return;
        }
        if let Ok(members) = self.node.members().await {
            self.names.learn(&members);
        }
        let held = std::mem::take(&mut self.held);
        let me = self.node.id();
        let mut text = format!("--- {} earlier message(s), in order ---", held.len());
        for shown in held.values() {
            text.push('\n');
            text.push_str(&shown.line(&me, &self.names));
        }
        self.out.emit(Value::Null, || text);
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
                    self.learn_nick(node, &n);
                }
                self.out.emit(
                    json!({"event": "member", "node": node.to_string(), "status": status_word(status), "nick": self.nick_json(&node)}),
                    || format!("* {} {}", self.name(&node), status_phrase(status)),
                );
            }
            Event::Nick { node, nick } => {
                if self.names.nick(&node) == Some(present::one_line(&nick).as_str())
                    && !self.out.json
                {
                    return; // already shown with the member's status
                }
                let before = self.name(&node);
                self.learn_nick(node, &nick);
                self.out.emit(
                    json!({"event": "nick", "node": node.to_string(), "nick": nick}),
                    || format!("* {before} is now known as {}", self.name(&node)),
                );
            }
            Event::Message { from, id, payload } => {
                // Ephemeral broadcasts (from library users).
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.out.emit(
                    json!({"event": "broadcast", "from": from.to_string(), "nick": self.nick_json(&from), "text": text, "id": id.to_string()}),
                    || format!("{} <{}> (ephemeral) {}", present::clock(present::now_ms()), self.name(&from), clean(&text)),
                );
            }
            Event::Op {
                id,
                author,
                seq,
                lamport,
                applet,
                kind,
                wall_ms,
                body,
            } => {
                if author != self.node.id()
                    && self.names.nick(&author).is_none()
                    && let Ok(Some(nick)) = self.node.nick_of(author).await
                {
                    // Membership may know the nick before its event is here.
                    self.learn_nick(author, &nick);
                }
                let context = match &body {
                    Some(b) if author != self.node.id() => {
                        crate::cli::applets::op_context(&self.node, &applet, kind, b).await
                    }
                    _ => Default::default(),
                };
                self.on_op(id, author, (seq, lamport), applet, kind, wall_ms, body, &context)
            }
            Event::Mail {
                id,
                from,
                payload,
                wall_ms,
                ..
            } => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.out.emit(
                    json!({"event": "dm", "from": from.to_string(), "nick": self.nick_json(&from), "text": text, "via": "log", "id": id.to_string(), "wall_ms": wall_ms}),
                    || format!("{} [dm {} -> you] {}", present::clock(wall_ms), self.name(&from), clean(&text)),
                );
            }
            Event::Notice { applet, notice } => {
                self.out
                    .emit(notice_json(applet, &notice), || format!("*** {} ***", clean(&notice.text)))
            }
            Event::ProofOfWork { bits, done, elapsed_ms } => self.out.emit(
                json!({"event": "proof_of_work", "bits": bits, "done": done, "elapsed_ms": elapsed_ms}),
                || if done {
                    format!("* proof of work made ({bits} bits, {:.1} s)", elapsed_ms as f64 / 1000.0)
                } else {
                    format!("* making the proof of work this room asks for ({bits} bits)...")
                },
            ),
            Event::OpNoEffect { id, applet, reason } => self.out.emit(
                json!({"event": "op_no_effect", "id": id.to_string(), "applet": applet, "reason": reason}),
                || format!("! your {applet} op {} has no effect: {}", id.fmt_short(), clean(&reason)),
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
                    || format!("{} [dm {} -> you] {}", present::clock(present::now_ms()), self.name(&from), clean(&text)),
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
                || format!("! {}", present::other_room_text(from, count)),
            ),
        }
    }

    /// An op joined the log: JSON events at once; for people, someone
    /// else's chat line or applet op, held first when it is the room's past.
    #[allow(clippy::too_many_arguments)]
    fn on_op(
        &mut self,
        id: crate::id::OpId,
        author: NodeId,
        (seq, lamport): (u64, u64),
        applet: String,
        kind: u16,
        wall_ms: u64,
        body: Option<Vec<u8>>,
        context: &crate::cli::applets::OpContext,
    ) {
        let me = self.node.id();
        if author == me {
            return; // this client printed what it did already
        }
        let view = OpView {
            context: Some(context),
            ..OpView::of_event(author, wall_ms, &applet, kind, body.as_deref())
        };
        let Some(shown) = present::op_text(&view, &me, &self.names) else {
            return;
        };
        if self.out.json {
            let value = match &shown.kind {
                present::OpKind::Chat => {
                    json!({"event": "chat", "from": author.to_string(), "nick": self.nick_json(&author), "text": shown.text, "id": id.to_string(), "wall_ms": wall_ms})
                }
                present::OpKind::Action {
                    applet,
                    action,
                    fields,
                } => {
                    let mut event = json!({"event": "op", "applet": applet, "action": action, "author": author.to_string(), "nick": self.nick_json(&author), "id": id.to_string(), "summary": shown.text, "wall_ms": wall_ms});
                    if let Some(all) = event.as_object_mut() {
                        all.extend(fields.clone());
                    }
                    event
                }
                present::OpKind::Dm { .. } => return, // a Mail event tells its recipient
            };
            self.out.emit(value, String::new);
            return;
        }
        if wall_ms < self.started_ms || present::now_ms().saturating_sub(wall_ms) > CATCH_UP_AGE_MS
        {
            // Named when printed: the nick may come later.
            self.held_since.get_or_insert_with(std::time::Instant::now);
            self.held.insert((lamport, author, seq), shown);
        } else {
            let line = shown.line(&me, &self.names);
            self.out.emit(Value::Null, || line);
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        if let Err(e) = self.command(cmd).await {
            self.out.error(&e);
        }
    }

    /// Every member this node knows (any liveness), nicks learnt.
    async fn known(&mut self) -> Result<Vec<NodeId>, String> {
        let members = self.node.members().await.map_err(|e| e.to_string())?;
        self.names.learn(&members);
        Ok(members.iter().map(|m| m.node).collect())
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
                self.names.learn(&members);
                self.print_members(&members);
            }
            Command::Me => {
                let uri = self.join_uri().to_uri();
                self.out.emit(
                    json!({"event": "me", "id": node.id().to_string(), "short": node.id().fmt_short(), "nick": self.nick_json(&node.id()), "port": node.local_addr().port(), "room_tag": node.room_tag(), "join_uri": uri, "history": history_place(&node, &self.plan)}),
                    || format!("you are {}\nid: {}\nlistening on {}\njoin link: {uri}\nhistory kept in: {}", self.name(&node.id()), node.id(), node.local_addr(), history_place(&node, &self.plan)),
                );
            }
            Command::Nick(name) => {
                let known = self.known().await?;
                node.set_nick(&name).await.map_err(|e| e.to_string())?;
                if let Err(e) = self.plan.remember_nick(&name) {
                    self.out.error(&e);
                }
                let clash: Vec<String> = known
                    .iter()
                    .filter(|id| **id != node.id() && self.names.nick(id) == Some(name.as_str()))
                    .map(|id| id.fmt_short())
                    .collect();
                self.learn_nick(node.id(), &name);
                self.out.emit(
                    json!({"event": "nick_set", "nick": name, "also_used_by": clash}),
                    || {
                        let mut s = format!("* you are now known as {name}");
                        if !clash.is_empty() {
                            s.push_str(&format!(
                                " (note: {} also use it; others see you as {})",
                                clash.join(", "),
                                self.name(&node.id())
                            ));
                        }
                        s
                    },
                );
            }
            Command::Dm { to, text } => {
                let known = self.known().await?;
                let target = self.names.resolve(&to, &known)?;
                let id = node
                    .mail(target, text.clone().into_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                self.out.emit(
                    json!({"event": "dm_sent", "to": target.to_string(), "via": "log", "id": id.to_string()}),
                    || format!("{} [dm you -> {}] {}   (sealed; delivered when they are online)", present::clock(present::now_ms()), self.name(&target), clean(&text)),
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
                    .filter(|m| present::is_live(m.status))
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
                self.known().await?;
                let me = node.id();
                // Every op in JSON (a script sees the whole log); what a
                // person can read of them in text.
                let shown: Vec<(&crate::actors::oplog::HistoryOp, Option<present::OpText>)> = ops
                    .iter()
                    .map(|o| {
                        (
                            o,
                            present::op_text(&OpView::of_history(o), &me, &self.names),
                        )
                    })
                    .collect();
                let list: Vec<Value> = shown
                    .iter()
                    .map(|(o, t)| {
                        let mut v = json!({"id": o.id.to_string(), "author": o.author.to_string(), "nick": self.nick_json(&o.author), "applet": o.applet, "kind": o.kind, "wall_ms": o.wall_ms, "text": Value::Null});
                        match t.as_ref().map(|t| (&t.kind, &t.text)) {
                            Some((present::OpKind::Chat, text)) => v["text"] = json!(text),
                            Some((present::OpKind::Dm { to, opened }, text)) => {
                                v["to"] = json!(to.to_string());
                                v["opened"] = json!(opened);
                                if *opened {
                                    v["text"] = json!(text);
                                }
                            }
                            Some((present::OpKind::Action { action, .. }, text)) => {
                                v["action"] = json!(action);
                                v["summary"] = json!(text);
                            }
                            None => {}
                        }
                        v
                    })
                    .collect();
                self.out.emit(json!({"event": "history", "ops": list}), || {
                    let lines: Vec<String> = shown
                        .iter()
                        .filter_map(|(_, t)| t.as_ref().map(|t| t.line(&me, &self.names)))
                        .collect();
                    if lines.is_empty() {
                        "no history yet".to_string()
                    } else {
                        lines.join("\n")
                    }
                });
            }
            Command::Help => {
                let text = format!("{HELP}\n{}", crate::cli::applets::help());
                self.out
                    .emit(json!({"event": "help", "text": text}), || text.clone())
            }
            Command::Applet(cmd) => {
                self.known().await?;
                let names = crate::cli::applets::Names(self.names.nicks());
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
                s.push_str(&format!(
                    "\n  {} ({})",
                    self.name(&p.peer),
                    p.peer.fmt_short()
                ));
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
                let mut s = format!(
                    "you: {} ({})",
                    self.name(&self.node.id()),
                    self.node.id().fmt_short()
                );
                for m in members {
                    s.push_str(&format!(
                        "\n  {} ({})  {}",
                        self.name(&m.node),
                        m.node.fmt_short(),
                        status_word(m.status)
                    ));
                    if let Some(mark) = &m.state {
                        s.push_str(&format!("  state {} ({} ops)", mark.hash, mark.ops));
                    }
                }
                s
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Notice;

    #[test]
    fn a_notice_prints_as_a_json_event_of_its_name_with_its_fields() {
        let head = crate::applets::queue::head_notice("help");
        assert_eq!(
            notice_json("queue", &head).to_string(),
            r#"{"applet":"queue","event":"queue_head","queue":"help","text":"you're next in queue help"}"#
        );
        // The event's own fields win over pairs of the same name.
        let odd = Notice::new(
            "kudos_received",
            vec![
                ("event", "chat".into()),
                ("text", "no".into()),
                ("count", "2".into()),
            ],
            "you have 2 kudos".into(),
        );
        assert_eq!(
            notice_json("kudos", &odd),
            json!({"event": "kudos_received", "applet": "kudos", "count": "2", "text": "you have 2 kudos"})
        );
    }
}
