//! The line client's applet commands: the machinery every applet's
//! commands run through.
//!
//! Each built-in applet's commands are one [`Commands`] value (its words,
//! help lines, parser, runner and op describer), in the applet's own
//! `line.rs` (`src/applets/<name>/line.rs`, e.g.
//! [`crate::applets::vote::line`]) and named by its entry in
//! [`crate::applets::BUILTIN`]; [`parse`], [`run`], [`help`], [`describe`]
//! and [`op_context`] dispatch through that table and know no applet.
//!
//! Each applet parses its own arguments (a pure function in its fold's
//! module); its `line.rs` resolves a parsed command against the applet's
//! state (short ids to op ids, nicks and id prefixes to node ids),
//! publishes it with [`Node::act`] (which checks the applet's rules first,
//! so a command that breaks one prints the reason and writes nothing), or
//! answers it from the state with [`Node::query`]. Every answer is one
//! JSON event (`--json`) or a few human lines; the helpers they share
//! ([`Names`], [`Shown`], the `done` event, UTC and duration text) are
//! here.
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

use crate::applets::{self, vote};
use crate::id::{NodeId, OpId};
use crate::node::Node;

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
    pub(crate) fn take<C: Any + Clone>(&self) -> Result<C, String> {
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
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The `done` event: applet `applet` wrote op `id` (`short`: the short id
/// of an item without a name).
pub(crate) fn done(
    applet: &str,
    action: &str,
    id: OpId,
    short: Option<String>,
    human: String,
) -> Shown {
    Shown {
        json: json!({"event": "done", "applet": applet, "action": action, "id": id.to_string(), "short": short}),
        human,
    }
}

/// A node's error, as a command's answer.
pub(crate) fn err(e: crate::Error) -> String {
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
/// fn `$run` with it (`runner!(run_vote, vote::Command)` in an applet's
/// `line.rs`).
macro_rules! runner {
    ($run:ident, $command:ty) => {{
        fn run<'a>(
            node: &'a $crate::node::Node,
            cmd: $crate::cli::applets::AppletCommand,
            names: &'a $crate::cli::applets::Names<'a>,
        ) -> ::futures_util::future::BoxFuture<'a, Result<$crate::cli::applets::Shown, String>>
        {
            Box::pin(async move { $run(node, cmd.take::<$command>()?, names).await })
        }
        run
    }};
}
pub(crate) use runner;

/// Unix milliseconds as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc_text(ms: u64) -> String {
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
pub(crate) fn duration_text(ms: u64) -> String {
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

/// How an incoming op reads (see [`describe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// The op's action word (`post`, `close`, ..).
    pub action: &'static str,
    /// A short summary, for the human line and the `summary` field.
    pub summary: String,
    /// More fields for the `op` JSON event: `result` for a poll's close
    /// (see [`crate::applets::vote::line`]); empty for the others.
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
pub(crate) fn described(action: &'static str, summary: String) -> Option<Described> {
    Some(Described {
        action,
        summary,
        fields: serde_json::Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applets::queue::line::QueueCommand;
    use crate::applets::roster::line::RosterCommand;
    use crate::applets::{announce, lostfound, queue, request, roster};

    /// The command value `parse` made, as a `C`.
    fn parsed<C: Any + Clone>(word: &str, args: &str) -> Option<C> {
        parse(word, args)?.ok()?.get::<C>().cloned()
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
            words(&request::line::COMMANDS),
            request::COMMANDS
                .iter()
                .map(|(w, _)| *w)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            words(&roster::line::COMMANDS),
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
    fn every_applet_command_is_in_the_help() {
        let help = help();
        for (_, commands) in all() {
            for word in commands.words {
                assert!(commands.help.contains(&format!("/{word}")), "{word}");
                assert!(help.contains(&format!("/{word}")), "{word}");
            }
        }
        assert!(help.starts_with("/announce [#topic] TEXT"));
        assert!(help.ends_with("show the root, organisers, members, revocations and kiosks"));
        assert_eq!(help.lines().count(), 28, "one line per command");
    }
}
