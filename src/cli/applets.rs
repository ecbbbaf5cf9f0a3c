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
//! Each applet's commands are one [`Commands`] value (its words, help
//! lines, parser, runner and op describer), named by its entry in
//! [`crate::applets::BUILTIN`]; [`parse`], [`run`], [`help`], [`describe`]
//! and [`op_context`] dispatch through that table and know no applet.
//!
//! JSON events: `done` (an op was written: `applet`, `action`, `id`, and
//! `short` for an item without a name), `announcements`, `polls`, `poll`,
//! `queue`, `queues`, `lostfound`, `requests`, `roster`; incoming applet
//! ops print as `op` (`applet`, `action`, `author`, `id`, `summary`, and
//! for a poll's close its `result`: see [`describe`]). An applet's notices
//! (the queue's `queue_head`: this node is next in a queue) are printed by
//! the run loop ([`super::run`]). Poll listings carry each poll's close
//! time (`closes_at`, UTC, and `closes_in_ms` from now).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::applets::{self, announce, lostfound, queue, request, roster, vote};
use crate::event::Member;
use crate::id::{NodeId, OpId};
use crate::node::{Node, unix_micros};

/// An applet's line-client commands: what its entry in
/// [`crate::applets::BUILTIN`] names.
#[derive(Clone, Copy)]
pub struct Commands {
    /// The slash-words it reads, without the slash (no two applets share
    /// one).
    pub words: &'static [&'static str],
    /// Its lines of `/help`, one per command (or pair of commands).
    pub help: &'static str,
    /// Parses `/word args` for one of its `words` (pure).
    pub parse: fn(word: &str, args: &str) -> Result<AppletCommand, String>,
    /// Runs a command its `parse` made.
    pub run: RunFn,
    /// How an incoming op of the applet reads (pure; see [`describe`]).
    pub describe: fn(kind: u16, body: &[u8], context: &OpContext) -> Option<Described>,
    /// Reads what `describe` needs beyond the op's body from the node
    /// (see [`op_context`]); `None`: nothing.
    pub context: Option<ContextFn>,
}

/// Runs an applet command on a node: [`Commands::run`].
pub type RunFn =
    for<'a> fn(&'a Node, AppletCommand, &'a Names<'a>) -> BoxFuture<'a, Result<Shown, String>>;

/// Reads an op's [`OpContext`] from a node: [`Commands::context`].
pub type ContextFn = for<'a> fn(&'a Node, u16, &'a [u8]) -> BoxFuture<'a, OpContext>;

/// A parsed applet command: whose it is, and the applet's own command
/// value (of a type only the applet's [`Commands`] knows; read it back
/// with [`AppletCommand::get`]).
#[derive(Clone)]
pub struct AppletCommand {
    applet: &'static str,
    command: Arc<dyn CommandValue>,
}

/// What an applet's command value can do behind [`AppletCommand`].
trait CommandValue: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn CommandValue) -> bool;
}

impl<C: Any + fmt::Debug + PartialEq + Send + Sync> CommandValue for C {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn CommandValue) -> bool {
        other.as_any().downcast_ref::<C>() == Some(self)
    }
}

impl AppletCommand {
    /// Applet `applet`'s command `command`.
    pub fn new<C: Any + fmt::Debug + PartialEq + Send + Sync>(
        applet: &'static str,
        command: C,
    ) -> AppletCommand {
        AppletCommand {
            applet,
            command: Arc::new(command),
        }
    }

    /// The applet whose command this is.
    pub fn applet(&self) -> &'static str {
        self.applet
    }

    /// The command value, if it is a `C`.
    pub fn get<C: Any>(&self) -> Option<&C> {
        (*self.command).as_any().downcast_ref::<C>()
    }

    /// The command value as a `C`, or why not (a registration whose
    /// parser and runner disagree).
    fn take<C: Any + Clone>(&self) -> Result<C, String> {
        self.get::<C>().cloned().ok_or_else(|| {
            format!(
                "internal: {} cannot run the command {:?}",
                self.applet, self.command
            )
        })
    }
}

impl PartialEq for AppletCommand {
    fn eq(&self, other: &AppletCommand) -> bool {
        self.applet == other.applet && (*self.command).same(&*other.command)
    }
}

impl Eq for AppletCommand {}

impl fmt::Debug for AppletCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AppletCommand")
            .field(&self.applet)
            .field(&self.command)
            .finish()
    }
}

/// Every built-in applet's commands, with its name, in the order of
/// [`crate::applets::BUILTIN`].
pub fn all() -> impl Iterator<Item = (&'static str, &'static Commands)> {
    applets::BUILTIN
        .iter()
        .filter_map(|b| b.commands.map(|c| (b.name, c)))
}

/// The commands of applet `name`, if it has any.
pub fn of_applet(name: &str) -> Option<&'static Commands> {
    all().find(|(n, _)| *n == name).map(|(_, c)| c)
}

/// One line per command, for `/help`: every applet's lines, in the order
/// of [`crate::applets::BUILTIN`].
pub fn help() -> String {
    all().map(|(_, c)| c.help).collect::<Vec<_>>().join("\n")
}

/// Parses `/word args` if `word` is an applet command; `None` if it is not
/// one.
pub fn parse(word: &str, args: &str) -> Option<Result<AppletCommand, String>> {
    let (_, commands) = all().find(|(_, c)| c.words.contains(&word))?;
    Some((commands.parse)(word, args))
}

/// What a command printed: one JSON event and its human form.
pub struct Shown {
    /// The `--json` event.
    pub json: Value,
    /// The lines for people.
    pub human: String,
}

/// Nicks for display.
pub struct Names<'a>(pub &'a HashMap<NodeId, String>);

impl Names<'_> {
    /// `nick (short id)`, or the short id of a node without a nick.
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

/// Runs one applet command on `node`, with the runner of the applet that
/// parsed it.
pub async fn run(node: &Node, cmd: AppletCommand, names: &Names<'_>) -> Result<Shown, String> {
    let commands = of_applet(cmd.applet())
        .ok_or_else(|| format!("the line client has no commands of {}", cmd.applet()))?;
    (commands.run)(node, cmd, names).await
}

/// A [`RunFn`] that takes the command as a `$command` and runs the async
/// fn `$run` with it.
macro_rules! runner {
    ($run:ident, $command:ty) => {{
        fn run<'a>(
            node: &'a Node,
            cmd: AppletCommand,
            names: &'a Names<'a>,
        ) -> BoxFuture<'a, Result<Shown, String>> {
            Box::pin(async move { $run(node, cmd.take::<$command>()?, names).await })
        }
        run
    }};
}

/// `/announce`, `/pin`, `/unpin`, `/retract`, `/announcements`.
pub static ANNOUNCE: Commands = Commands {
    words: announce::COMMANDS,
    help: "\
/announce [#topic] TEXT      post an announcement (topic general by default)
/pin ID, /unpin ID           pin or unpin your announcement (pinned ones list first)
/retract ID                  take back your announcement
/announcements [#topic]      list announcements, pinned first, newest first",
    parse: |word, args| announce::parse(word, args).map(|c| AppletCommand::new(announce::NAME, c)),
    run: runner!(run_announce, announce::Command),
    describe: describe_announce,
    context: None,
};

/// `/vote`.
pub static VOTE: Commands = Commands {
    words: &["vote"],
    help: "\
/vote meta ID title=.. options=a,b[,..] [closes=10m]   create a poll
/vote ID OPTION              vote (again to change your vote, until the poll closes)
/vote close ID               close your poll
/vote list, /vote show ID    list polls, show one poll's tally",
    parse: |_, args| vote::parse(args).map(|c| AppletCommand::new(vote::NAME, c)),
    run: runner!(run_vote, vote::Command),
    describe: describe_vote,
    context: Some(vote_context),
};

/// `/queue`.
pub static QUEUE: Commands = Commands {
    words: &["queue"],
    help: "\
/queue create ID [title=..]  create a queue (you serve it)
/queue join ID label=.. [party=N] [note=..]   take a place in a queue
/queue leave ID              give up your place
/queue next ID               serve the next person (the queue's owner)
/queue list [ID]             show a queue's places (all queues without ID)",
    parse: |_, args| {
        let command = if args.trim() == "list" {
            QueueCommand::All
        } else {
            QueueCommand::One(queue::parse(args)?)
        };
        Ok(AppletCommand::new(queue::NAME, command))
    },
    run: runner!(run_queue, QueueCommand),
    describe: describe_queue,
    context: None,
};

/// `/lost`, `/found`, `/claim`, `/resolve`, `/lostfound`.
pub static LOSTFOUND: Commands = Commands {
    words: lostfound::COMMANDS,
    help: "\
/lost TEXT [where=..] [contact=..]    report a lost item
/found TEXT [where=..] [contact=..]   report a found item
/claim ID [note]             claim a found item (or say you found a lost one)
/resolve ID                  mark your item as back with its owner
/lostfound [all]             list open items, newest first",
    parse: |word, args| {
        lostfound::parse(word, args).map(|c| AppletCommand::new(lostfound::NAME, c))
    },
    run: runner!(run_lostfound, lostfound::Command),
    describe: describe_lostfound,
    context: None,
};

/// `/request`, `/claim-request`, `/unclaim`, `/fulfil`, `/cancel`,
/// `/requests` (the words of [`request::COMMANDS`]).
pub static REQUEST: Commands = Commands {
    words: &[
        "request",
        "claim-request",
        "unclaim",
        "fulfil",
        "cancel",
        "requests",
    ],
    help: "\
/request what=.. [where=..] [urgency=low|normal|urgent]   ask for something
/claim-request ID            take a request on; /unclaim ID gives it back
/fulfil ID, /cancel ID       mark a request done, or cancel your own
/requests [all]              list open requests, most urgent first",
    parse: |word, args| {
        let parse =
            request::parser(word).ok_or_else(|| format!("/{word} is not a request command"))?;
        parse(args).map(|c| AppletCommand::new(request::NAME, c))
    },
    run: runner!(run_request, request::Command),
    describe: describe_request,
    context: None,
};

/// `/invite`, `/revoke`, `/kiosk`, `/roster` (the words of
/// [`roster::COMMANDS`]); a member may be named by nick.
pub static ROSTER: Commands = Commands {
    words: &["invite", "revoke", "kiosk", "roster"],
    help: "\
/invite ID, /revoke ID       invite or revoke a node (short id of a member, or full id)
/kiosk add|remove ID         designate a kiosk node
/roster                      show members, revocations and kiosks",
    parse: parse_roster,
    run: runner!(run_roster_named, RosterCommand),
    describe: describe_roster,
    context: None,
};

/// A `/queue` command: one queue's, or `/queue list` without an id.
#[derive(Debug, Clone, PartialEq, Eq)]
enum QueueCommand {
    One(queue::Command),
    /// `/queue list` without an id: every queue.
    All,
}

/// A roster command, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RosterCommand {
    /// Naming its node by id (or id prefix).
    Parsed(roster::Command),
    /// Naming a member by nick (`/invite bob`, `/kiosk add bob`): resolved
    /// against the members when run, then parsed again with the id.
    Named {
        word: String,
        /// The arguments before the name (`add` of `/kiosk add bob`).
        before: String,
        name: String,
    },
}

fn parse_roster(word: &str, args: &str) -> Result<AppletCommand, String> {
    let parse = roster::parser(word).ok_or_else(|| format!("/{word} is not a roster command"))?;
    let command = match parse(args) {
        Ok(c) => RosterCommand::Parsed(c),
        Err(e) => {
            // Not an id: perhaps a member's nick (or nick#hex).
            let (before, name) = args.trim().rsplit_once(' ').unwrap_or(("", args.trim()));
            let hex = name.bytes().all(|b| b.is_ascii_hexdigit());
            if name.is_empty() || hex {
                return Err(e);
            }
            RosterCommand::Named {
                word: word.to_string(),
                before: before.trim().to_string(),
                name: name.to_string(),
            }
        }
    };
    Ok(AppletCommand::new(roster::NAME, command))
}

async fn run_roster_named(
    node: &Node,
    c: RosterCommand,
    names: &Names<'_>,
) -> Result<Shown, String> {
    match c {
        RosterCommand::Parsed(c) => run_roster(node, c, names).await,
        RosterCommand::Named { word, before, name } => {
            let members = node.members().await.map_err(err)?;
            let mut known = crate::present::Names::default();
            known.learn(&members);
            for (id, nick) in names.0 {
                known.set(*id, nick);
            }
            let ids: Vec<NodeId> = members.iter().map(|m| m.node).collect();
            let node_id = known.resolve(&name, &ids)?;
            let parse =
                roster::parser(&word).ok_or_else(|| format!("/{word} is not a roster command"))?;
            let c = parse(&format!("{before} {node_id}"))?;
            run_roster(node, c, names).await
        }
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
    let mut s = format!(
        "poll {} \"{}\": {} voter(s), {}",
        t.poll,
        one_line(&t.title),
        t.voters,
        close_text(t, now_ms)
    );
    for c in &t.counts {
        s.push_str(&format!("\n  {:>3}  {}", c.votes, c.option));
    }
    s
}

/// When a poll closes, as of `now_ms`: "closes in 12m (2025-06-01 14:05
/// UTC)", "closed (2025-06-01 13:50 UTC)" (by its close op or its close
/// time), "open, no close time".
fn close_text(t: &vote::Tally, now_ms: u64) -> String {
    // The close op's time when it has one; else the time given at creation.
    let at = t.closed_wall_ms.or(t.closes_at_ms);
    match (t.is_closed_at(now_ms), at) {
        (true, Some(at)) => format!("closed ({})", utc_text(at)),
        (true, None) => "closed".to_string(),
        (false, Some(at)) => format!(
            "closes in {} ({})",
            duration_text(at.saturating_sub(now_ms)),
            utc_text(at)
        ),
        (false, None) => "open, no close time".to_string(),
    }
}

/// A poll's close time in its JSON: `closes_at` (UTC text of the close
/// op's time, else the close time given; null without either) and
/// `closes_in_ms` (null once closed or without a close time).
fn close_json(t: &vote::Tally, now_ms: u64) -> Value {
    let at = t.closed_wall_ms.or(t.closes_at_ms);
    let closes_in_ms = match t.closes_at_ms {
        Some(at) if !t.is_closed_at(now_ms) => Some(at - now_ms),
        _ => None,
    };
    json!({
        "closed_now": t.is_closed_at(now_ms),
        "closes_at": at.map(utc_text),
        "closes_in_ms": closes_in_ms,
    })
}

/// A poll's result from its tally: the winner, or the tied options.
fn result_text(t: &vote::Tally) -> String {
    let leaders = t.leaders();
    match leaders.as_slice() {
        [] => "no votes".to_string(),
        [one] => format!(
            "{} wins with {} of {} vote(s)",
            one_line(&one.option),
            one.votes,
            t.voters
        ),
        tied => format!(
            "tie between {} with {} vote(s) each",
            tied.iter()
                .map(|c| one_line(&c.option))
                .collect::<Vec<_>>()
                .join(", "),
            tied[0].votes
        ),
    }
}

/// A poll's result in JSON: `winner` (null on a tie or without votes),
/// `tied` (the options sharing the most votes, when more than one),
/// `voters` and `counts` (per option, in the poll's order).
fn result_json(t: &vote::Tally) -> Value {
    let leaders = t.leaders();
    let winner = match leaders.as_slice() {
        [one] => Some(one.option.clone()),
        _ => None,
    };
    let tied: Vec<&str> = if leaders.len() > 1 {
        leaders.iter().map(|c| c.option.as_str()).collect()
    } else {
        Vec::new()
    };
    json!({"winner": winner, "tied": tied, "voters": t.voters, "counts": t.counts})
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM UTC`.
fn utc_text(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's
    // days_from_civil, inverted), for the proleptic Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// A duration in the largest two units: "45s", "12m", "1h05m", "2d03h".
/// Rounded up to the next whole unit shown, so "closes in 1m" is never
/// already closed.
fn duration_text(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    if secs < 60 {
        return format!("{secs}s");
    }
    let mins = secs.div_ceil(60);
    if mins < 60 {
        return format!("{mins}m");
    }
    if mins < 24 * 60 {
        return format!("{}h{:02}m", mins / 60, mins % 60);
    }
    let hours = mins.div_ceil(60);
    format!("{}d{:02}h", hours / 24, hours % 24)
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
                .map(|t| {
                    let mut entry = close_json(t, now_ms);
                    entry["tally"] = json!(t);
                    entry
                })
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
            let mut json = close_json(&tally, now_ms);
            json["event"] = json!("poll");
            json["tally"] = json!(tally);
            json["my_vote"] = json!(my_vote);
            return Ok(Shown { json, human });
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
    if let vote::Command::Close { poll } = &c {
        // The result as this node has it now that its close is folded.
        let id_ = poll.clone();
        let tally = node
            .query(name, move |v: &vote::Votes| v.tally(&id_))
            .await
            .map_err(err)?;
        if let Some(t) = tally {
            let mut shown = done(
                name,
                action,
                id,
                None,
                format!("{human}: {}", result_text(&t)),
            );
            shown.json["result"] = result_json(&t);
            return Ok(shown);
        }
    }
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

async fn run_queue(node: &Node, c: QueueCommand, names: &Names<'_>) -> Result<Shown, String> {
    match c {
        QueueCommand::One(c) => run_one_queue(node, c, names).await,
        QueueCommand::All => list_queues(node).await,
    }
}

async fn run_one_queue(node: &Node, c: queue::Command, names: &Names<'_>) -> Result<Shown, String> {
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
            .map(|(short, r)| request_line(short, r, names))
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

/// One request in `/requests`: who asked, and who holds, fulfilled or
/// cancelled it (the op's author, from `closed_by`; a claimer who did not
/// fulfil it is named apart).
fn request_line(short: &str, r: &request::Request, names: &Names<'_>) -> String {
    let by = |node: &Option<NodeId>| {
        node.as_ref()
            .map(|n| format!(" by {}", names.name(n)))
            .unwrap_or_default()
    };
    let status = match r.status {
        request::Status::Open => "open".to_string(),
        request::Status::Claimed => format!("claimed{}", by(&r.claimer)),
        request::Status::Fulfilled | request::Status::Cancelled => {
            let mut s = format!("{}{}", r.status.as_str(), by(&r.closed_by));
            if r.claimer.is_some() && r.claimer != r.closed_by {
                s.push_str(&format!(" (claimed{})", by(&r.claimer)));
            }
            s
        }
    };
    format!(
        "{short} [{}] {}{}  by {}  {status}",
        r.urgency.as_str(),
        one_line(&r.what),
        r.place
            .as_ref()
            .map(|p| format!(" @ {}", one_line(p)))
            .unwrap_or_default(),
        names.name(&r.requester),
    )
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

/// How an incoming op reads (see [`describe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// The op's action word (`post`, `close`, ..).
    pub action: &'static str,
    /// A short summary, for the human line and the `summary` field.
    pub summary: String,
    /// More fields for the `op` JSON event: `result` for a poll's close
    /// (see `result_json`); empty for the others.
    pub fields: serde_json::Map<String, Value>,
}

/// What [`describe`] needs beyond the op's body, read from the applets'
/// state after the op was folded (see [`describe_op`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpContext {
    /// For a poll's close: the poll's tally with the close folded.
    pub closed_poll: Option<vote::Tally>,
}

/// Reads what [`describe`] needs for this op from `node`'s applet state,
/// then describes it. Call it when the op's [`crate::Event::Op`] arrives:
/// the op is folded by then, so a close finds its poll's tally at the
/// close, as this node has it (a later vote is refused by the closed poll;
/// only an earlier vote still to arrive can change it).
pub async fn describe_op(node: &Node, applet: &str, kind: u16, body: &[u8]) -> Option<Described> {
    describe(
        applet,
        kind,
        body,
        &op_context(node, applet, kind, body).await,
    )
}

/// What [`describe`] needs for this op, read from `node`'s applet state
/// by the applet's [`Commands::context`] (see [`describe_op`]).
pub async fn op_context(node: &Node, applet: &str, kind: u16, body: &[u8]) -> OpContext {
    match of_applet(applet).and_then(|c| c.context) {
        Some(read) => read(node, kind, body).await,
        None => OpContext::default(),
    }
}

/// How an incoming op of an applet with line-client commands reads: the
/// action, a short summary and any more JSON fields, from the applet's
/// [`Commands::describe`]; `None` for ops of other applets (or bodies that
/// do not decode, which the fold refuses anyway). Pure: what the body does
/// not say comes in `context` (a poll close's result).
pub fn describe(applet: &str, kind: u16, body: &[u8], context: &OpContext) -> Option<Described> {
    (of_applet(applet)?.describe)(kind, body, context)
}

/// A [`Described`] without more fields.
fn described(action: &'static str, summary: String) -> Option<Described> {
    Some(Described {
        action,
        summary,
        fields: serde_json::Map::new(),
    })
}

fn describe_announce(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match announce::AnnounceOp::decode(kind, body).ok()? {
        announce::AnnounceOp::Post(p) => described(
            "post",
            format!("announced in #{}: {}", p.topic, one_line(&p.text)),
        ),
        announce::AnnounceOp::Pin(_) => described("pin", "pinned an announcement".into()),
        announce::AnnounceOp::Unpin(_) => described("unpin", "unpinned an announcement".into()),
        announce::AnnounceOp::Retract(_) => {
            described("retract", "retracted an announcement".into())
        }
    }
}

fn describe_vote(kind: u16, body: &[u8], context: &OpContext) -> Option<Described> {
    match vote::VoteOp::decode(kind, body).ok()? {
        vote::VoteOp::Create(p) => described(
            "create",
            format!(
                "opened poll {} \"{}\": {}",
                p.poll,
                one_line(&p.title),
                p.options.join(", ")
            ),
        ),
        vote::VoteOp::Vote(v) => described("vote", format!("voted in poll {}", v.poll)),
        vote::VoteOp::Close(c) => match context.closed_poll.as_ref().filter(|t| t.poll == c.poll) {
            Some(t) => {
                let mut fields = serde_json::Map::new();
                fields.insert("result".into(), result_json(t));
                Some(Described {
                    action: "close",
                    summary: format!("closed poll {}: {}", c.poll, result_text(t)),
                    fields,
                })
            }
            None => described("close", format!("closed poll {}", c.poll)),
        },
    }
}

/// A poll close's context: the poll's tally with the close folded.
fn vote_context<'a>(node: &'a Node, kind: u16, body: &'a [u8]) -> BoxFuture<'a, OpContext> {
    Box::pin(async move {
        let mut context = OpContext::default();
        if let Ok(vote::VoteOp::Close(c)) = vote::VoteOp::decode(kind, body) {
            let poll = c.poll.clone();
            context.closed_poll = node
                .query(vote::NAME, move |v: &vote::Votes| v.tally(&poll))
                .await
                .ok()
                .flatten();
        }
        context
    })
}

fn describe_queue(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match queue::QueueOp::decode(kind, body).ok()? {
        queue::QueueOp::Create(q) => described("create", format!("opened queue {}", q.queue)),
        queue::QueueOp::Join(j) => described(
            "join",
            format!("joined queue {} as {}", j.queue, one_line(&j.label)),
        ),
        queue::QueueOp::Leave(l) => described("leave", format!("left queue {}", l.queue)),
        queue::QueueOp::Next(n) => {
            described("next", format!("served the next in queue {}", n.queue))
        }
    }
}

fn describe_lostfound(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match lostfound::LostFoundOp::decode(kind, body).ok()? {
        lostfound::LostFoundOp::Lost(item) => {
            described("lost", format!("lost {}", one_line(&item.description)))
        }
        lostfound::LostFoundOp::Found(item) => {
            described("found", format!("found {}", one_line(&item.description)))
        }
        lostfound::LostFoundOp::Claim(_) => described("claim", "claimed an item".into()),
        lostfound::LostFoundOp::Resolve(_) => described("resolve", "resolved an item".into()),
    }
}

fn describe_request(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match request::RequestOp::decode(kind, body).ok()? {
        request::RequestOp::Request(r) => described(
            "request",
            format!("requests ({}) {}", r.urgency.as_str(), one_line(&r.what)),
        ),
        request::RequestOp::Claim(_) => described("claim", "took a request on".into()),
        request::RequestOp::Unclaim(_) => described("unclaim", "gave a request back".into()),
        request::RequestOp::Fulfil(_) => described("fulfil", "fulfilled a request".into()),
        request::RequestOp::Cancel(_) => described("cancel", "cancelled a request".into()),
    }
}

fn describe_roster(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match roster::RosterOp::decode(kind, body).ok()? {
        roster::RosterOp::Invite(n) => described("invite", format!("invited {}", n.fmt_short())),
        roster::RosterOp::Revoke(n) => described("revoke", format!("revoked {}", n.fmt_short())),
        roster::RosterOp::KioskAdd(n) => {
            described("kiosk_add", format!("made {} a kiosk", n.fmt_short()))
        }
        roster::RosterOp::KioskRemove(n) => {
            described("kiosk_remove", format!("removed kiosk {}", n.fmt_short()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command value `parse` made, as a `C`.
    fn parsed<C: Any + Clone>(word: &str, args: &str) -> Option<C> {
        parse(word, args)?.ok()?.get::<C>().cloned()
    }

    #[test]
    fn roster_commands_take_a_nick_as_well_as_an_id() {
        assert_eq!(
            parsed("invite", "bob"),
            Some(RosterCommand::Named {
                word: "invite".into(),
                before: String::new(),
                name: "bob".into()
            })
        );
        assert_eq!(
            parsed("kiosk", "add dan#4444"),
            Some(RosterCommand::Named {
                word: "kiosk".into(),
                before: "add".into(),
                name: "dan#4444".into()
            })
        );
        assert!(matches!(
            parsed("invite", "abcd"),
            Some(RosterCommand::Parsed(_))
        ));
        assert!(
            matches!(parse("invite", "abc"), Some(Err(_))),
            "a short hex prefix"
        );
    }

    #[test]
    fn applet_words_parse_and_others_are_left_alone() {
        assert!(parsed::<announce::Command>("announce", "#food lunch is served").is_some());
        assert_eq!(parsed("vote", "list"), Some(vote::Command::List));
        assert_eq!(parsed("queue", "list"), Some(QueueCommand::All));
        assert!(matches!(
            parsed("queue", "list help"),
            Some(QueueCommand::One(_))
        ));
        assert!(parsed::<lostfound::Command>("lost", "blue umbrella").is_some());
        assert!(parsed::<request::Command>("requests", "").is_some());
        assert!(matches!(
            parsed("roster", ""),
            Some(RosterCommand::Parsed(_))
        ));
        assert!(matches!(parse("vote", "meta"), Some(Err(_))));
        assert!(parse("peers", "").is_none());
        let cmd = parse("vote", "list").expect("a vote word").expect("parses");
        assert_eq!(cmd.applet(), vote::NAME);
        assert_eq!(cmd, parse("vote", "list").expect("again").expect("parses"));
        assert_ne!(
            cmd,
            parse("vote", "show lunch").expect("again").expect("parses")
        );
        assert!(
            cmd.get::<queue::Command>().is_none(),
            "another applet's type"
        );
    }

    #[test]
    fn every_registered_word_belongs_to_one_applet_and_parses_there() {
        let mut seen = std::collections::BTreeMap::new();
        for (applet, commands) in all() {
            for word in commands.words {
                assert_eq!(seen.insert(*word, applet), None, "/{word} is taken twice");
                // Whatever the arguments, the word is the applet's.
                if let Some(Ok(cmd)) = parse(word, "") {
                    assert_eq!(cmd.applet(), applet, "/{word}");
                }
            }
        }
        let words = |commands: &Commands| commands.words.to_vec();
        assert_eq!(
            words(&REQUEST),
            request::COMMANDS
                .iter()
                .map(|(w, _)| *w)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            words(&ROSTER),
            roster::COMMANDS.iter().map(|(w, _)| *w).collect::<Vec<_>>()
        );
        assert!(all().all(|(applet, _)| applets::registration(applet).is_some()));
    }

    #[test]
    fn ops_are_described_by_their_applets_registration() {
        let (kind, body) = queue::QueueOp::Create(queue::CreateQueue {
            queue: "help".into(),
            title: None,
        })
        .body();
        let d = describe(queue::NAME, kind, &body, &OpContext::default()).expect("a queue op");
        assert_eq!(
            (d.action, d.summary.as_str()),
            ("create", "opened queue help")
        );
        assert_eq!(describe("chat", 1, b"hi", &OpContext::default()), None);
        assert_eq!(
            describe(queue::NAME, 99, &body, &OpContext::default()),
            None
        );
    }

    fn tally(
        counts: &[(&str, usize)],
        closed_wall_ms: Option<u64>,
        closes_at_ms: Option<u64>,
    ) -> vote::Tally {
        vote::Tally {
            poll: "lunch".into(),
            title: "Lunch?".into(),
            counts: counts
                .iter()
                .map(|(option, votes)| vote::OptionCount {
                    option: option.to_string(),
                    votes: *votes,
                })
                .collect(),
            voters: counts.iter().map(|(_, v)| v).sum(),
            closed: closed_wall_ms.is_some(),
            closed_wall_ms,
            closes_at_ms,
        }
    }

    fn request_by(
        requester: u8,
        status: request::Status,
        claimer: Option<u8>,
        closed_by: Option<u8>,
    ) -> request::Request {
        request::Request {
            id: OpId([9; 32]),
            requester: NodeId([requester; 32]),
            what: "extension cord".into(),
            place: None,
            urgency: request::Urgency::Urgent,
            lamport: 1,
            seq: 1,
            wall_ms: 0,
            status,
            claimer: claimer.map(|n| NodeId([n; 32])),
            closed_by: closed_by.map(|n| NodeId([n; 32])),
            changed_ms: 0,
        }
    }

    #[test]
    fn a_request_list_names_who_fulfilled_it_not_only_who_claimed_it() {
        let nicks: HashMap<NodeId, String> = [
            (NodeId([1; 32]), "ada".to_string()),
            (NodeId([2; 32]), "bob".to_string()),
        ]
        .into_iter()
        .collect();
        let names = Names(&nicks);
        use request::Status::*;
        // Claimed by bob, then fulfilled by ada, the requester.
        let line = request_line("7f3a", &request_by(1, Fulfilled, Some(2), Some(1)), &names);
        assert_eq!(
            line,
            "7f3a [urgent] extension cord  by ada (01010101)  fulfilled by ada (01010101) (claimed by bob (02020202))"
        );
        // Fulfilled by its claimer.
        let line = request_line("7f3a", &request_by(1, Fulfilled, Some(2), Some(2)), &names);
        assert!(line.ends_with("  fulfilled by bob (02020202)"), "{line}");
        // Fulfilled by the requester without a claim.
        let line = request_line("7f3a", &request_by(1, Fulfilled, None, Some(1)), &names);
        assert!(line.ends_with("  fulfilled by ada (01010101)"), "{line}");
        let line = request_line("7f3a", &request_by(1, Cancelled, Some(2), Some(1)), &names);
        assert!(
            line.ends_with("  cancelled by ada (01010101) (claimed by bob (02020202))"),
            "{line}"
        );
        let line = request_line("7f3a", &request_by(1, Claimed, Some(2), None), &names);
        assert!(line.ends_with("  claimed by bob (02020202)"), "{line}");
        let line = request_line("7f3a", &request_by(1, Open, None, None), &names);
        assert!(line.ends_with("  open"), "{line}");
    }

    #[test]
    fn utc_text_and_duration_text_read_as_people_write_them() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 13:45:59 UTC (a leap day).
        assert_eq!(utc_text(1_709_214_359_000), "2024-02-29 13:45 UTC");
        assert_eq!(utc_text(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(45_000), "45s");
        assert_eq!(duration_text(60_000), "1m");
        assert_eq!(duration_text(11 * 60_000 + 1), "12m");
        assert_eq!(duration_text(65 * 60_000), "1h05m");
        assert_eq!(duration_text(51 * 3_600_000), "2d03h");
    }

    #[test]
    fn the_poll_list_shows_when_each_poll_closes() {
        let now = 1_709_214_000_000; // 2024-02-29 13:40 UTC
        let open = tally(&[("pizza", 1)], None, Some(now + 12 * 60_000));
        let text = tally_text(&open, now);
        assert!(
            text.starts_with(
                "poll lunch \"Lunch?\": 1 voter(s), closes in 12m (2024-02-29 13:52 UTC)"
            ),
            "{text}"
        );
        let json = close_json(&open, now);
        assert_eq!(json["closes_at"], "2024-02-29 13:52 UTC");
        assert_eq!(json["closes_in_ms"], 12 * 60_000);
        assert_eq!(json["closed_now"], false);
        // Past its close time.
        let text = tally_text(&open, now + 13 * 60_000);
        assert!(text.contains(", closed (2024-02-29 13:52 UTC)"), "{text}");
        assert_eq!(
            close_json(&open, now + 13 * 60_000)["closes_in_ms"],
            Value::Null
        );
        // Closed by its creator: the close op's time.
        let closed = tally(&[("pizza", 1)], Some(now - 60_000), Some(now + 60_000));
        assert!(tally_text(&closed, now).contains(", closed (2024-02-29 13:39 UTC)"));
        // No close time.
        let endless = tally(&[], None, None);
        assert!(tally_text(&endless, now).contains(", open, no close time"));
        assert_eq!(close_json(&endless, now)["closes_at"], Value::Null);
    }

    #[test]
    fn a_poll_close_reads_with_its_result() {
        let (kind, body) = vote::VoteOp::Close(vote::ClosePoll {
            poll: "lunch".into(),
        })
        .body();
        let described = |t: Option<vote::Tally>| {
            describe(vote::NAME, kind, &body, &OpContext { closed_poll: t }).expect("a vote op")
        };
        let won = described(Some(tally(&[("pizza", 3), ("salad", 2)], Some(5), None)));
        assert_eq!(won.action, "close");
        assert_eq!(
            won.summary,
            "closed poll lunch: pizza wins with 3 of 5 vote(s)"
        );
        assert_eq!(won.fields["result"]["winner"], "pizza");
        assert_eq!(won.fields["result"]["voters"], 5);
        assert_eq!(won.fields["result"]["counts"][1]["votes"], 2);
        let tie = described(Some(tally(
            &[("pizza", 2), ("salad", 2), ("soup", 1)],
            Some(5),
            None,
        )));
        assert_eq!(
            tie.summary,
            "closed poll lunch: tie between pizza, salad with 2 vote(s) each"
        );
        assert_eq!(tie.fields["result"]["winner"], Value::Null);
        assert_eq!(tie.fields["result"]["tied"], json!(["pizza", "salad"]));
        let none = described(Some(tally(&[("pizza", 0)], Some(5), None)));
        assert_eq!(none.summary, "closed poll lunch: no votes");
        // Another poll's tally is not this close's result.
        let mut other = tally(&[("pizza", 1)], Some(5), None);
        other.poll = "dinner".into();
        let plain = described(Some(other));
        assert_eq!(plain.summary, "closed poll lunch");
        assert!(plain.fields.is_empty());
    }

    #[test]
    fn every_applet_command_is_in_the_help() {
        let help = help();
        for (_, commands) in all() {
            for word in commands.words {
                assert!(commands.help.contains(&format!("/{word}")), "{word}");
                assert!(help.contains(&format!("/{word}")), "{word}");
            }
        }
        assert!(help.starts_with("/announce [#topic] TEXT"));
        assert!(help.ends_with("show members, revocations and kiosks"));
        assert_eq!(help.lines().count(), 25, "one line per command");
    }
}
