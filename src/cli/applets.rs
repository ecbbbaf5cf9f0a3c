//! The line client's applet commands: announcements, polls, queues,
//! lost+found, resource requests and the roster.
//!
//! Each applet parses its own arguments (a pure function in its module);
//! here a parsed command is resolved against the applet's state (short ids
//! to op ids, nicks and id prefixes to node ids), published with
//! [`Node::act`] (which checks the applet's rules first, so a command that
//! breaks one prints the reason and writes nothing), or answered from the
//! state with [`Node::query`]. Every answer is one JSON event (`--json`)
//! or a few human lines.
//!
//! JSON events: `done` (an op was written: `applet`, `action`, `id`, and
//! `short` for an item without a name), `announcements`, `polls`, `poll`,
//! `queue`, `queues`, `lostfound`, `requests`, `roster`; incoming applet
//! ops print as `op` (`applet`, `action`, `author`, `id`, `summary`), and
//! `queue_head` tells this node it is next in a queue.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::applets::{announce, lostfound, queue, request, roster, vote};
use crate::event::Member;
use crate::id::{NodeId, OpId};
use crate::node::{Node, unix_micros};

/// One line per command, for `/help`.
pub const HELP: &str = "\
/announce [#topic] TEXT      post an announcement (topic general by default)
/pin ID, /unpin ID           pin or unpin your announcement (pinned ones list first)
/retract ID                  take back your announcement
/announcements [#topic]      list announcements, pinned first, newest first
/vote meta ID title=.. options=a,b[,..] [closes=10m]   create a poll
/vote ID OPTION              vote (again to change your vote, until the poll closes)
/vote close ID               close your poll
/vote list, /vote show ID    list polls, show one poll's tally
/queue create ID [title=..]  create a queue (you serve it)
/queue join ID label=.. [party=N] [note=..]   take a place in a queue
/queue leave ID              give up your place
/queue next ID               serve the next person (the queue's owner)
/queue list [ID]             show a queue's places (all queues without ID)
/lost TEXT [where=..] [contact=..]    report a lost item
/found TEXT [where=..] [contact=..]   report a found item
/claim ID [note]             claim a found item (or say you found a lost one)
/resolve ID                  mark your item as back with its owner
/lostfound [all]             list open items, newest first
/request what=.. [where=..] [urgency=low|normal|urgent]   ask for something
/claim-request ID            take a request on; /unclaim ID gives it back
/fulfil ID, /cancel ID       mark a request done, or cancel your own
/requests [all]              list open requests, most urgent first
/invite ID, /revoke ID       invite or revoke a node (short id of a member, or full id)
/kiosk add|remove ID         designate a kiosk node
/roster                      show members, revocations and kiosks";

/// A parsed applet command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppletCommand {
    Announce(announce::Command),
    Vote(vote::Command),
    Queue(queue::Command),
    /// `/queue list` without an id: every queue.
    Queues,
    LostFound(lostfound::Command),
    Request(request::Command),
    Roster(roster::Command),
}

/// Parses `/word args` if `word` is an applet command; `None` if it is not
/// one.
pub fn parse(word: &str, args: &str) -> Option<Result<AppletCommand, String>> {
    if announce::COMMANDS.contains(&word) {
        return Some(announce::parse(word, args).map(AppletCommand::Announce));
    }
    if lostfound::COMMANDS.contains(&word) {
        return Some(lostfound::parse(word, args).map(AppletCommand::LostFound));
    }
    if word == "vote" {
        return Some(vote::parse(args).map(AppletCommand::Vote));
    }
    if word == "queue" {
        if args.trim() == "list" {
            return Some(Ok(AppletCommand::Queues));
        }
        return Some(queue::parse(args).map(AppletCommand::Queue));
    }
    if let Some(parse) = request::parser(word) {
        return Some(parse(args).map(AppletCommand::Request));
    }
    if let Some(parse) = roster::parser(word) {
        return Some(parse(args).map(AppletCommand::Roster));
    }
    None
}

/// What a command printed: one JSON event and its human form.
pub struct Shown {
    pub json: Value,
    pub human: String,
}

/// Nicks for display.
pub struct Names<'a>(pub &'a HashMap<NodeId, String>);

impl Names<'_> {
    pub fn name(&self, node: &NodeId) -> String {
        match self.0.get(node) {
            Some(n) => format!("{} ({})", one_line(n), node.fmt_short()),
            None => node.fmt_short(),
        }
    }
}

/// Text for one terminal line: control characters become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn done(applet: &str, action: &str, id: OpId, short: Option<String>, human: String) -> Shown {
    Shown {
        json: json!({"event": "done", "applet": applet, "action": action, "id": id.to_string(), "short": short}),
        human,
    }
}

fn err(e: crate::Error) -> String {
    e.to_string()
}

/// Runs one applet command on `node`.
pub async fn run(node: &Node, cmd: AppletCommand, names: &Names<'_>) -> Result<Shown, String> {
    match cmd {
        AppletCommand::Announce(c) => run_announce(node, c, names).await,
        AppletCommand::Vote(c) => run_vote(node, c, names).await,
        AppletCommand::Queue(c) => run_queue(node, c, names).await,
        AppletCommand::Queues => list_queues(node).await,
        AppletCommand::LostFound(c) => run_lostfound(node, c, names).await,
        AppletCommand::Request(c) => run_request(node, c, names).await,
        AppletCommand::Roster(c) => run_roster(node, c, names).await,
    }
}

async fn run_announce(
    node: &Node,
    c: announce::Command,
    names: &Names<'_>,
) -> Result<Shown, String> {
    let name = announce::NAME;
    if let announce::Command::List { topic } = &c {
        let topic = topic.clone();
        let entries = node
            .query(name, move |a: &announce::Announce| {
                a.announcements(topic.as_deref())
            })
            .await
            .map_err(err)?;
        let mut human = if entries.is_empty() {
            "no announcements".to_string()
        } else {
            String::new()
        };
        for e in &entries {
            let a = &e.announcement;
            if !human.is_empty() {
                human.push('\n');
            }
            human.push_str(&format!(
                "{}{} #{} {}: {}",
                if a.pinned { "📌 " } else { "" },
                e.short,
                a.topic,
                names.name(&a.author),
                one_line(&a.text)
            ));
        }
        return Ok(Shown {
            json: json!({"event": "announcements", "announcements": entries}),
            human,
        });
    }
    let c2 = c.clone();
    let op = node
        .query(name, move |a: &announce::Announce| a.op_for(&c2))
        .await
        .map_err(err)??
        .ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        announce::Command::Announce { topic, .. } => ("post", format!("announced in #{topic}")),
        announce::Command::Pin { id } => ("pin", format!("pinned {id}")),
        announce::Command::Unpin { id } => ("unpin", format!("unpinned {id}")),
        announce::Command::Retract { id } => ("retract", format!("retracted {id}")),
        announce::Command::List { .. } => unreachable!("answered above"),
    };
    let short = if action == "post" {
        let s = node
            .query(name, move |a: &announce::Announce| a.short(&id))
            .await
            .map_err(err)?;
        Some(s)
    } else {
        None
    };
    let human = match &short {
        Some(s) => format!("* {human} as {s}"),
        None => format!("* {human}"),
    };
    Ok(done(name, action, id, short, human))
}

fn tally_text(t: &vote::Tally, now_ms: u64) -> String {
    let closed = t.is_closed_at(now_ms);
    let mut s = format!(
        "poll {} \"{}\": {} voter(s){}",
        t.poll,
        one_line(&t.title),
        t.voters,
        if closed { ", closed" } else { "" }
    );
    for c in &t.counts {
        s.push_str(&format!("\n  {:>3}  {}", c.votes, c.option));
    }
    s
}

async fn run_vote(node: &Node, c: vote::Command, _names: &Names<'_>) -> Result<Shown, String> {
    let name = vote::NAME;
    let now_ms = unix_micros() / 1000;
    match &c {
        vote::Command::List => {
            let tallies = node
                .query(name, |v: &vote::Votes| {
                    v.polls().iter().map(|p| p.tally()).collect::<Vec<_>>()
                })
                .await
                .map_err(err)?;
            let list: Vec<Value> = tallies
                .iter()
                .map(|t| json!({"tally": t, "closed_now": t.is_closed_at(now_ms)}))
                .collect();
            let human = if tallies.is_empty() {
                "no polls".to_string()
            } else {
                tallies
                    .iter()
                    .map(|t| tally_text(t, now_ms))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            return Ok(Shown {
                json: json!({"event": "polls", "polls": list}),
                human,
            });
        }
        vote::Command::Show { poll } => {
            let id = poll.clone();
            let tally = node
                .query(name, move |v: &vote::Votes| v.tally(&id))
                .await
                .map_err(err)?
                .ok_or_else(|| format!("no poll {poll}"))?;
            let my_vote = {
                let (id, me) = (poll.clone(), node.id());
                node.query(name, move |v: &vote::Votes| {
                    v.poll(&id).and_then(|p| p.vote_of(&me).map(str::to_string))
                })
                .await
                .map_err(err)?
            };
            let mut human = tally_text(&tally, now_ms);
            if let Some(v) = &my_vote {
                human.push_str(&format!("\n  (your vote: {v})"));
            }
            return Ok(Shown {
                json: json!({"event": "poll", "tally": tally, "closed_now": tally.is_closed_at(now_ms), "my_vote": my_vote}),
                human,
            });
        }
        _ => {}
    }
    let op = c.op(now_ms).ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        vote::Command::Create { poll, .. } => ("create", format!("* poll {poll} created")),
        vote::Command::Vote { poll, option } => {
            ("vote", format!("* voted {option} in poll {poll}"))
        }
        vote::Command::Close { poll } => ("close", format!("* poll {poll} closed")),
        _ => unreachable!("answered above"),
    };
    Ok(done(name, action, id, None, human))
}

fn queue_text(q: &queue::Queue, names: &Names<'_>) -> String {
    let mut s = format!(
        "queue {}{} (owner {}): {} waiting",
        q.id,
        q.title
            .as_ref()
            .map(|t| format!(" \"{}\"", one_line(t)))
            .unwrap_or_default(),
        names.name(&q.owner),
        q.waiting.len()
    );
    if let Some(served) = q.now_serving() {
        s.push_str(&format!(", now serving {}", one_line(&served.entry.label)));
    }
    for p in q.places() {
        s.push_str(&format!(
            "\n  {:>3}. {} (party of {}){}  [{}]",
            p.position,
            one_line(&p.entry.label),
            p.entry.party,
            p.entry
                .note
                .as_ref()
                .map(|n| format!(" - {}", one_line(n)))
                .unwrap_or_default(),
            names.name(&p.entry.node)
        ));
    }
    s
}

async fn list_queues(node: &Node) -> Result<Shown, String> {
    let queues = node
        .query(queue::NAME, |q: &queue::Queues| q.queues().to_vec())
        .await
        .map_err(err)?;
    let human = if queues.is_empty() {
        "no queues".to_string()
    } else {
        queues
            .iter()
            .map(|q| format!("{}: {} waiting", q.id, q.waiting.len()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Shown {
        json: json!({"event": "queues", "queues": queues}),
        human,
    })
}

async fn run_queue(node: &Node, c: queue::Command, names: &Names<'_>) -> Result<Shown, String> {
    let name = queue::NAME;
    if let queue::Command::List { queue: id } = &c {
        let (qid, me) = (id.clone(), node.id());
        let (q, mine) = node
            .query(name, move |q: &queue::Queues| {
                (q.queue(&qid).cloned(), q.position(&qid, &me))
            })
            .await
            .map_err(err)?;
        let q = q.ok_or_else(|| format!("no queue {id}"))?;
        let mut human = queue_text(&q, names);
        if let Some(p) = mine {
            human.push_str(&format!("\n  (you are number {p})"));
        }
        return Ok(Shown {
            json: json!({"event": "queue", "queue": q, "places": q.places(), "my_position": mine}),
            human,
        });
    }
    let op = c.op().ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        queue::Command::Create { queue, .. } => ("create", format!("* queue {queue} created")),
        queue::Command::Join { queue, .. } => {
            let (qid, me) = (queue.clone(), node.id());
            let pos = node
                .query(name, move |q: &queue::Queues| q.position(&qid, &me))
                .await
                .map_err(err)?;
            (
                "join",
                match pos {
                    Some(p) => format!("* joined queue {queue}: you are number {p}"),
                    None => format!("* joined queue {queue}"),
                },
            )
        }
        queue::Command::Leave { queue } => ("leave", format!("* left queue {queue}")),
        queue::Command::Next { queue } => {
            let qid = queue.clone();
            let served = node
                .query(name, move |q: &queue::Queues| {
                    q.queue(&qid)
                        .and_then(|q| q.now_serving().map(|s| s.entry.clone()))
                })
                .await
                .map_err(err)?;
            (
                "next",
                match served {
                    Some(e) => format!(
                        "* queue {queue}: now serving {} (party of {}) [{}]",
                        one_line(&e.label),
                        e.party,
                        names.name(&e.node)
                    ),
                    None => format!("* queue {queue}: served the next"),
                },
            )
        }
        queue::Command::List { .. } => unreachable!("answered above"),
    };
    Ok(done(name, action, id, None, human))
}

async fn run_lostfound(
    node: &Node,
    c: lostfound::Command,
    names: &Names<'_>,
) -> Result<Shown, String> {
    let name = lostfound::NAME;
    if let lostfound::Command::List { all } = c {
        let entries = node
            .query(name, move |l: &lostfound::LostFound| l.items(all))
            .await
            .map_err(err)?;
        let mut lines = Vec::new();
        for e in &entries {
            let i = &e.item;
            let mut s = format!(
                "{} {} {}{}{}  [{}]",
                e.short,
                match i.kind {
                    lostfound::ItemKind::Lost => "LOST ",
                    lostfound::ItemKind::Found => "FOUND",
                },
                one_line(&i.description),
                i.place
                    .as_ref()
                    .map(|p| format!(" @ {}", one_line(p)))
                    .unwrap_or_default(),
                i.contact
                    .as_ref()
                    .map(|c| format!(" (contact: {})", one_line(c)))
                    .unwrap_or_default(),
                names.name(&i.poster)
            );
            if !i.is_open() {
                s.push_str("  resolved");
            }
            for claim in &i.claims {
                s.push_str(&format!(
                    "\n      claimed by {}{}",
                    names.name(&claim.by),
                    claim
                        .note
                        .as_ref()
                        .map(|n| format!(": {}", one_line(n)))
                        .unwrap_or_default()
                ));
            }
            lines.push(s);
        }
        return Ok(Shown {
            json: json!({"event": "lostfound", "items": entries}),
            human: if lines.is_empty() {
                "no open items".to_string()
            } else {
                lines.join("\n")
            },
        });
    }
    let c2 = c.clone();
    let op = node
        .query(name, move |l: &lostfound::LostFound| l.op_for(&c2))
        .await
        .map_err(err)??
        .ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        lostfound::Command::Post { kind, .. } => match kind {
            lostfound::ItemKind::Lost => ("lost", "reported lost".to_string()),
            lostfound::ItemKind::Found => ("found", "reported found".to_string()),
        },
        lostfound::Command::Claim { id, .. } => ("claim", format!("claimed {id}")),
        lostfound::Command::Resolve { id } => ("resolve", format!("resolved {id}")),
        lostfound::Command::List { .. } => unreachable!("answered above"),
    };
    let short = if matches!(c, lostfound::Command::Post { .. }) {
        Some(
            node.query(name, move |l: &lostfound::LostFound| l.short(&id))
                .await
                .map_err(err)?,
        )
    } else {
        None
    };
    let human = match &short {
        Some(s) => format!("* {human} as {s}"),
        None => format!("* {human}"),
    };
    Ok(done(name, action, id, short, human))
}

async fn run_request(node: &Node, c: request::Command, names: &Names<'_>) -> Result<Shown, String> {
    let name = request::NAME;
    if let request::Command::List { all } = c {
        let list = node
            .query(name, move |r: &request::Requests| {
                r.list(all)
                    .into_iter()
                    .map(|req| (r.short(&req.id), req.clone()))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(err)?;
        let lines: Vec<String> = list
            .iter()
            .map(|(short, r)| {
                format!(
                    "{short} [{}] {}{}  by {}  {}{}",
                    r.urgency.as_str(),
                    one_line(&r.what),
                    r.place
                        .as_ref()
                        .map(|p| format!(" @ {}", one_line(p)))
                        .unwrap_or_default(),
                    names.name(&r.requester),
                    r.status.as_str(),
                    r.claimer
                        .as_ref()
                        .map(|c| format!(" by {}", names.name(c)))
                        .unwrap_or_default()
                )
            })
            .collect();
        let json_list: Vec<Value> = list
            .iter()
            .map(|(short, r)| json!({"short": short, "request": r}))
            .collect();
        return Ok(Shown {
            json: json!({"event": "requests", "requests": json_list}),
            human: if lines.is_empty() {
                "no open requests".to_string()
            } else {
                lines.join("\n")
            },
        });
    }
    let find = |prefix: String| async move {
        node.query(name, move |r: &request::Requests| r.find(&prefix))
            .await
            .map_err(err)?
    };
    let (op, action) = match &c {
        request::Command::Request(new) => (request::RequestOp::Request(new.clone()), "request"),
        request::Command::Claim(p) => (request::RequestOp::Claim(find(p.clone()).await?), "claim"),
        request::Command::Unclaim(p) => (
            request::RequestOp::Unclaim(find(p.clone()).await?),
            "unclaim",
        ),
        request::Command::Fulfil(p) => {
            (request::RequestOp::Fulfil(find(p.clone()).await?), "fulfil")
        }
        request::Command::Cancel(p) => {
            (request::RequestOp::Cancel(find(p.clone()).await?), "cancel")
        }
        request::Command::List { .. } => unreachable!("answered above"),
    };
    let id = node.act(&op).await.map_err(err)?;
    let target = match op {
        request::RequestOp::Request(_) => id,
        request::RequestOp::Claim(t)
        | request::RequestOp::Unclaim(t)
        | request::RequestOp::Fulfil(t)
        | request::RequestOp::Cancel(t) => t,
    };
    let short = node
        .query(name, move |r: &request::Requests| r.short(&target))
        .await
        .map_err(err)?;
    let human = match action {
        "request" => format!("* requested as {short}"),
        "claim" => format!("* you took request {short} on"),
        "unclaim" => format!("* you gave request {short} back"),
        "fulfil" => format!("* request {short} fulfilled"),
        _ => format!("* request {short} cancelled"),
    };
    Ok(done(name, action, id, Some(short), human))
}

/// A node named by full id or id prefix (among members and the nodes the
/// roster names).
fn resolve_node(
    target: &roster::Target,
    members: &[Member],
    known: &[NodeId],
) -> Result<NodeId, String> {
    let mut all: Vec<NodeId> = members.iter().map(|m| m.node).collect();
    all.extend_from_slice(known);
    target.resolve(&all)
}

async fn run_roster(node: &Node, c: roster::Command, names: &Names<'_>) -> Result<Shown, String> {
    let name = roster::NAME;
    if let roster::Command::Show = c {
        let view = node
            .query(name, |r: &roster::Roster| r.view())
            .await
            .map_err(err)?;
        let mut human = if view.open {
            "roster: open (no invitations yet: anyone with the room code is in)".to_string()
        } else {
            "roster: invite-only".to_string()
        };
        if let Some(f) = &view.founder {
            human.push_str(&format!("\n  founder {}", names.name(f)));
        }
        for e in &view.members {
            human.push_str(&format!(
                "\n  member  {}  (invited by {})",
                names.name(&e.node),
                names.name(&e.by)
            ));
        }
        for e in &view.revoked {
            human.push_str(&format!(
                "\n  revoked {}  (by {})",
                names.name(&e.node),
                names.name(&e.by)
            ));
        }
        for e in &view.kiosks {
            human.push_str(&format!("\n  kiosk   {}", names.name(&e.node)));
        }
        return Ok(Shown {
            json: json!({"event": "roster", "roster": view}),
            human,
        });
    }
    let members = node.members().await.map_err(err)?;
    let known = node
        .query(name, |r: &roster::Roster| r.nodes())
        .await
        .map_err(err)?;
    let (target, action) = match &c {
        roster::Command::Invite(t) => (t, "invite"),
        roster::Command::Revoke(t) => (t, "revoke"),
        roster::Command::KioskAdd(t) => (t, "kiosk_add"),
        roster::Command::KioskRemove(t) => (t, "kiosk_remove"),
        roster::Command::Show => unreachable!("answered above"),
    };
    let mut known = known;
    known.push(node.id());
    let who = resolve_node(target, &members, &known)?;
    let op = match &c {
        roster::Command::Invite(_) => roster::RosterOp::Invite(who),
        roster::Command::Revoke(_) => roster::RosterOp::Revoke(who),
        roster::Command::KioskAdd(_) => roster::RosterOp::KioskAdd(who),
        roster::Command::KioskRemove(_) => roster::RosterOp::KioskRemove(who),
        roster::Command::Show => unreachable!("answered above"),
    };
    let id = node.act(&op).await.map_err(err)?;
    let human = match action {
        "invite" => format!("* invited {}", names.name(&who)),
        "revoke" => format!("* revoked {}", names.name(&who)),
        "kiosk_add" => format!("* {} is a kiosk", names.name(&who)),
        _ => format!("* {} is no longer a kiosk", names.name(&who)),
    };
    let mut shown = done(name, action, id, None, human);
    shown.json["node"] = json!(who.to_string());
    Ok(shown)
}

/// How an incoming op of an event applet reads: the action and a short
/// summary; `None` for ops of other applets (or bodies that do not
/// decode, which the fold refuses anyway).
pub fn describe(applet: &str, kind: u16, body: &[u8]) -> Option<(&'static str, String)> {
    Some(match applet {
        announce::NAME => match announce::AnnounceOp::decode(kind, body).ok()? {
            announce::AnnounceOp::Post(p) => (
                "post",
                format!("announced in #{}: {}", p.topic, one_line(&p.text)),
            ),
            announce::AnnounceOp::Pin(_) => ("pin", "pinned an announcement".into()),
            announce::AnnounceOp::Unpin(_) => ("unpin", "unpinned an announcement".into()),
            announce::AnnounceOp::Retract(_) => ("retract", "retracted an announcement".into()),
        },
        vote::NAME => match vote::VoteOp::decode(kind, body).ok()? {
            vote::VoteOp::Create(p) => (
                "create",
                format!(
                    "opened poll {} \"{}\": {}",
                    p.poll,
                    one_line(&p.title),
                    p.options.join(", ")
                ),
            ),
            vote::VoteOp::Vote(v) => ("vote", format!("voted in poll {}", v.poll)),
            vote::VoteOp::Close(c) => ("close", format!("closed poll {}", c.poll)),
        },
        queue::NAME => match queue::QueueOp::decode(kind, body).ok()? {
            queue::QueueOp::Create(q) => ("create", format!("opened queue {}", q.queue)),
            queue::QueueOp::Join(j) => (
                "join",
                format!("joined queue {} as {}", j.queue, one_line(&j.label)),
            ),
            queue::QueueOp::Leave(l) => ("leave", format!("left queue {}", l.queue)),
            queue::QueueOp::Next(n) => ("next", format!("served the next in queue {}", n.queue)),
        },
        lostfound::NAME => match lostfound::LostFoundOp::decode(kind, body).ok()? {
            lostfound::LostFoundOp::Post(k, item) => (
                match k {
                    lostfound::ItemKind::Lost => "lost",
                    lostfound::ItemKind::Found => "found",
                },
                format!(
                    "{} {}",
                    match k {
                        lostfound::ItemKind::Lost => "lost",
                        lostfound::ItemKind::Found => "found",
                    },
                    one_line(&item.description)
                ),
            ),
            lostfound::LostFoundOp::Claim(_) => ("claim", "claimed an item".into()),
            lostfound::LostFoundOp::Resolve(_) => ("resolve", "resolved an item".into()),
        },
        request::NAME => match request::RequestOp::decode(kind, body).ok()? {
            request::RequestOp::Request(r) => (
                "request",
                format!("requests ({}) {}", r.urgency.as_str(), one_line(&r.what)),
            ),
            request::RequestOp::Claim(_) => ("claim", "took a request on".into()),
            request::RequestOp::Unclaim(_) => ("unclaim", "gave a request back".into()),
            request::RequestOp::Fulfil(_) => ("fulfil", "fulfilled a request".into()),
            request::RequestOp::Cancel(_) => ("cancel", "cancelled a request".into()),
        },
        roster::NAME => match roster::RosterOp::decode(kind, body).ok()? {
            roster::RosterOp::Invite(n) => ("invite", format!("invited {}", n.fmt_short())),
            roster::RosterOp::Revoke(n) => ("revoke", format!("revoked {}", n.fmt_short())),
            roster::RosterOp::KioskAdd(n) => {
                ("kiosk_add", format!("made {} a kiosk", n.fmt_short()))
            }
            roster::RosterOp::KioskRemove(n) => {
                ("kiosk_remove", format!("removed kiosk {}", n.fmt_short()))
            }
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applet_words_parse_and_others_are_left_alone() {
        assert!(matches!(
            parse("announce", "#food lunch is served"),
            Some(Ok(AppletCommand::Announce(_)))
        ));
        assert!(matches!(
            parse("vote", "list"),
            Some(Ok(AppletCommand::Vote(vote::Command::List)))
        ));
        assert!(matches!(
            parse("queue", "list"),
            Some(Ok(AppletCommand::Queues))
        ));
        assert!(matches!(
            parse("queue", "list help"),
            Some(Ok(AppletCommand::Queue(_)))
        ));
        assert!(matches!(
            parse("lost", "blue umbrella"),
            Some(Ok(AppletCommand::LostFound(_)))
        ));
        assert!(matches!(
            parse("requests", ""),
            Some(Ok(AppletCommand::Request(_)))
        ));
        assert!(matches!(
            parse("roster", ""),
            Some(Ok(AppletCommand::Roster(_)))
        ));
        assert!(matches!(parse("vote", "meta"), Some(Err(_))));
        assert!(parse("peers", "").is_none());
    }

    #[test]
    fn every_applet_command_is_in_the_help() {
        for word in announce::COMMANDS.iter().chain(lostfound::COMMANDS) {
            assert!(HELP.contains(&format!("/{word}")), "{word}");
        }
        let words = request::COMMANDS
            .iter()
            .map(|(w, _)| *w)
            .chain(roster::COMMANDS.iter().map(|(w, _)| *w));
        for word in words {
            assert!(HELP.contains(&format!("/{word}")), "{word}");
        }
    }
}
