//! One presentation layer: what the node says, as a person reads it. The
//! line client and the TUI both call it, so a member's name, a liveness
//! word, a time and what an applet op did read the same in both.
//!
//! * **Liveness** has one vocabulary everywhere (README, `/members`, event
//!   lines, JSON, the TUI): `here`, `suspect` (no recent heartbeat),
//!   `unreachable` (presumed gone), `left` (said goodbye).
//! * **Names**: a member's nick when no other member uses it, `ada#7f3a`
//!   (nick and the first four hex digits of the id) while two or more do,
//!   and the short id (`7f3a91bc`) before a nick is known. A member named
//!   in a command may be given by nick, `nick#hex`, a hex prefix of its id
//!   (4 digits or more) or the full id — members who left included.
//! * **Times** are `HH:MM` in the local time zone, from the op's wall time.
//! * **Ops** become one [`OpText`]: who, when, and a sentence.

use std::collections::{BTreeSet, HashMap};

use crate::event::{Member, Status};
use crate::id::NodeId;

/// Hex digits of the id after a clashing nick (`ada#7f3a`).
pub const CLASH_HEX: usize = 4;

/// The word for a liveness status.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Alive => "here",
        Status::Suspect => "suspect",
        Status::Dead => "unreachable",
        Status::Left => "left",
    }
}

/// The phrase for a liveness change ("ada is here").
pub fn status_phrase(s: Status) -> &'static str {
    match s {
        Status::Alive => "is here",
        Status::Suspect => "is suspect (no recent heartbeat)",
        Status::Dead => "is unreachable (presumed gone)",
        Status::Left => "has left",
    }
}

/// Whether a member counts as present (here or suspect).
pub fn is_live(s: Status) -> bool {
    matches!(s, Status::Alive | Status::Suspect)
}

/// Text a peer sent, made safe for a terminal: control characters
/// (terminal escapes) removed, newlines and tabs kept.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Text for one terminal line: control characters (newlines included)
/// become spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `HH:MM` of a wall time (ms since the Unix epoch) in the local time zone
/// (UTC when the zone cannot be read).
pub fn clock(wall_ms: u64) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(wall_ms.min(i64::MAX as u64) as i64) else {
        return "--:--".to_string();
    };
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    format!("{:02}:{:02}", zoned.hour(), zoned.minute())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A duration in words: `45s`, `12m`, `3h 05m`.
pub fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The nicks this client knows, and how to show and find members by them.
#[derive(Clone, Debug, Default)]
pub struct Names {
    nicks: HashMap<NodeId, String>,
    holders: HashMap<String, BTreeSet<NodeId>>,
}

impl Names {
    /// Records `node`'s nick (replacing an earlier one).
    pub fn set(&mut self, node: NodeId, nick: &str) {
        let nick = one_line(nick);
        if let Some(old) = self.nicks.insert(node, nick.clone())
            && let Some(set) = self.holders.get_mut(&old)
        {
            set.remove(&node);
            if set.is_empty() {
                self.holders.remove(&old);
            }
        }
        self.holders.entry(nick).or_default().insert(node);
    }

    /// Records the nicks of a member list.
    pub fn learn(&mut self, members: &[Member]) {
        for m in members {
            if let Some(n) = &m.nick {
                self.set(m.node, n);
            }
        }
    }

    /// Every nick known.
    pub fn nicks(&self) -> &HashMap<NodeId, String> {
        &self.nicks
    }

    /// `node`'s nick, if known.
    pub fn nick(&self, node: &NodeId) -> Option<&str> {
        self.nicks.get(node).map(String::as_str)
    }

    /// Whether another node than `node` uses `nick`.
    pub fn is_taken(&self, nick: &str, node: &NodeId) -> bool {
        self.holders
            .get(nick)
            .is_some_and(|set| set.iter().any(|n| n != node))
    }

    /// How to show `node`: `ada`, `ada#7f3a` while the nick clashes, or
    /// the short id.
    pub fn show(&self, node: &NodeId) -> String {
        match self.nicks.get(node) {
            Some(nick) if self.holders.get(nick).is_some_and(|s| s.len() > 1) => {
                format!("{nick}#{}", &node.fmt_short()[..CLASH_HEX])
            }
            Some(nick) => nick.clone(),
            None => node.fmt_short(),
        }
    }

    /// Finds the one member `query` names: a full id, `nick#hex`, a nick,
    /// or a hex prefix of an id (4 digits or more). `known` are the members
    /// to search (any liveness: people who left can be named).
    pub fn resolve(&self, query: &str, known: &[NodeId]) -> Result<NodeId, String> {
        let query = query.trim();
        if let Ok(id) = NodeId::from_hex(query) {
            return Ok(id);
        }
        let mut ids: BTreeSet<NodeId> = known.iter().copied().collect();
        ids.extend(self.nicks.keys().copied());
        let hex_prefix = |p: &str| {
            let p = p.to_ascii_lowercase();
            move |id: &&NodeId| id.to_string().starts_with(&p)
        };
        let found: Vec<NodeId> = if let Some((nick, hex)) = query.rsplit_once('#') {
            ids.iter()
                .filter(|id| self.nick(id) == Some(nick))
                .filter(hex_prefix(hex))
                .copied()
                .collect()
        } else {
            let by_nick: Vec<NodeId> = ids
                .iter()
                .filter(|id| self.nick(id) == Some(query))
                .copied()
                .collect();
            if !by_nick.is_empty() {
                by_nick
            } else if query.len() >= CLASH_HEX && query.bytes().all(|b| b.is_ascii_hexdigit()) {
                ids.iter().filter(hex_prefix(query)).copied().collect()
            } else {
                Vec::new()
            }
        };
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("no member called {query}; /members lists them")),
            many => Err(format!(
                "{query} names {} members: {}; say which",
                many.len(),
                many.iter()
                    .map(|id| match self.nick(id) {
                        Some(n) => format!("{n}#{}", &id.fmt_short()[..CLASH_HEX]),
                        None => id.fmt_short(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// What kind of line an op makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// A chat line: `text` is what was said.
    Chat,
    /// A direct message between `from` (the author) and `to`; `text` is
    /// its words when this node could open it.
    Dm {
        /// The recipient.
        to: NodeId,
        /// Whether `text` is the message's words; `false` when this node
        /// wrote it and cannot open it any more (its sender cannot), and
        /// `text` says it is sealed.
        opened: bool,
    },
    /// An applet op: `text` says what it did ("announced in #food: ...");
    /// `fields` are more JSON fields (a closed poll's `result`).
    Action {
        /// The applet's name (`vote`, `queue`, ...).
        applet: String,
        /// The op's action word (`post`, `close`, ...).
        action: &'static str,
        /// More fields for the line client's JSON `op` event (`result`
        /// for a poll's close; empty for the others).
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

/// One op as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpText {
    /// Who wrote the op.
    pub author: NodeId,
    /// The author's wall clock when it wrote the op, in ms since the Unix
    /// epoch.
    pub wall_ms: u64,
    /// What kind of line it makes.
    pub kind: OpKind,
    /// The sentence, safe for a terminal (see [`OpKind`] for what it holds).
    pub text: String,
}

/// An op as the presentation layer needs it.
pub struct OpView<'a> {
    /// Who wrote the op.
    pub author: NodeId,
    /// The author's wall clock when it wrote the op, in ms since the Unix
    /// epoch.
    pub wall_ms: u64,
    /// The applet the op belongs to (its `NAME`).
    pub applet: &'a str,
    /// The op's kind within its applet (the applet's `KIND_*` numbers).
    pub kind: u16,
    /// The body opened with the room key.
    pub body: Option<&'a [u8]>,
    /// A direct message's recipient, and its text when it opened.
    pub dm_to: Option<NodeId>,
    /// A direct message's words, when this node could open it (only its
    /// recipient can).
    pub dm_text: Option<&'a [u8]>,
    /// What describing an applet op needs beyond its body (a closed
    /// poll's tally), when the caller read it.
    pub context: Option<&'a crate::cli::applets::OpContext>,
}

impl<'a> OpView<'a> {
    /// An op as [`crate::Event::Op`] announces it (a direct message's
    /// recipient and text are not in the event).
    pub fn of_event(
        author: NodeId,
        wall_ms: u64,
        applet: &'a str,
        kind: u16,
        body: Option<&'a [u8]>,
    ) -> OpView<'a> {
        OpView {
            author,
            wall_ms,
            applet,
            kind,
            body,
            dm_to: None,
            dm_text: None,
            context: None,
        }
    }

    /// A history entry as the presentation layer reads it.
    pub fn of_history(o: &'a crate::actors::oplog::HistoryOp) -> OpView<'a> {
        OpView {
            author: o.author,
            wall_ms: o.wall_ms,
            applet: &o.applet,
            kind: o.kind,
            body: o.body.as_deref(),
            dm_to: o.dm_to,
            dm_text: o.dm_text.as_deref(),
            context: None,
        }
    }
}

/// What the node says when it hears beacons of another room while alone.
pub fn other_room_text(from: std::net::SocketAddr, count: u64) -> String {
    format!(
        "heard {count} beacon(s) from {from} that this room code cannot open: is the room code right?"
    )
}

/// What an op says; `None` for ops with nothing to show a person (an
/// applet this build does not know, a body that does not open).
pub fn op_text(op: &OpView<'_>, me: &NodeId, names: &Names) -> Option<OpText> {
    let (kind, text) = match op.applet {
        crate::applets::chat::NAME => (
            OpKind::Chat,
            clean(&String::from_utf8_lossy(op.body?))
                .trim_end()
                .to_string(),
        ),
        crate::applets::dm::NAME => {
            let to = op.dm_to?;
            match op.dm_text {
                Some(t) => (
                    OpKind::Dm { to, opened: true },
                    clean(&String::from_utf8_lossy(t)),
                ),
                None if op.author == *me => (
                    OpKind::Dm { to, opened: false },
                    format!("(sealed: only {} can read it)", names.show(&to)),
                ),
                None => return None,
            }
        }
        applet => {
            let none = crate::cli::applets::OpContext::default();
            let d = crate::cli::applets::describe(
                applet,
                op.kind,
                op.body?,
                op.context.unwrap_or(&none),
            )?;
            (
                OpKind::Action {
                    applet: applet.to_string(),
                    action: d.action,
                    fields: d.fields,
                },
                d.summary,
            )
        }
    };
    Some(OpText {
        author: op.author,
        wall_ms: op.wall_ms,
        kind,
        text,
    })
}

impl OpText {
    /// The line client's line: `HH:MM <ada> hi`, `HH:MM * ada voted ...`,
    /// `HH:MM [dm ada -> you] psst`.
    pub fn line(&self, me: &NodeId, names: &Names) -> String {
        let when = clock(self.wall_ms);
        let who = names.show(&self.author);
        match &self.kind {
            OpKind::Chat => format!("{when} <{who}> {}", self.text),
            OpKind::Dm { to, .. } => {
                let (from, to) = if self.author == *me {
                    ("you".to_string(), names.show(to))
                } else if to == me {
                    (who, "you".to_string())
                } else {
                    (who, names.show(to))
                };
                format!("{when} [dm {from} -> {to}] {}", self.text)
            }
            OpKind::Action { .. } => format!("{when} * {who} {}", self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> NodeId {
        NodeId([byte; 32])
    }

    #[test]
    fn one_vocabulary_for_liveness() {
        let words: Vec<&str> = [Status::Alive, Status::Suspect, Status::Dead, Status::Left]
            .into_iter()
            .map(status_word)
            .collect();
        assert_eq!(words, ["here", "suspect", "unreachable", "left"]);
        for s in [Status::Alive, Status::Suspect, Status::Dead, Status::Left] {
            assert!(status_phrase(s).contains(status_word(s)), "{s:?}");
        }
    }

    #[test]
    fn clashing_nicks_show_with_their_id_and_unique_ones_without() {
        let mut names = Names::default();
        names.set(id(0x7f), "ada");
        assert_eq!(names.show(&id(0x7f)), "ada");
        names.set(id(0x91), "ada");
        assert_eq!(names.show(&id(0x7f)), "ada#7f7f");
        assert_eq!(names.show(&id(0x91)), "ada#9191");
        names.set(id(0x91), "bob");
        assert_eq!(names.show(&id(0x7f)), "ada");
        assert_eq!(names.show(&id(0x22)), id(0x22).fmt_short());
    }

    #[test]
    fn members_are_found_by_nick_prefix_or_clash_form_and_ambiguity_is_named() {
        let mut names = Names::default();
        names.set(id(0x7f), "ada");
        names.set(id(0x91), "ada");
        names.set(id(0x22), "bob");
        let known = [id(0x7f), id(0x91), id(0x22), id(0x33)];
        assert_eq!(names.resolve("bob", &known), Ok(id(0x22)));
        assert_eq!(names.resolve("ada#9191", &known), Ok(id(0x91)));
        assert_eq!(names.resolve("3333", &known), Ok(id(0x33)));
        assert_eq!(names.resolve(&id(0x44).to_string(), &known), Ok(id(0x44)));
        let err = names.resolve("ada", &known).expect_err("ambiguous");
        assert!(
            err.contains("ada#7f7f") && err.contains("ada#9191"),
            "{err}"
        );
        assert!(names.resolve("carol", &known).is_err());
        assert!(names.resolve("33", &known).is_err(), "too short a prefix");
    }

    #[test]
    fn a_dm_reads_with_its_text_for_the_recipient_and_sealed_for_its_sender() {
        let mut names = Names::default();
        names.set(id(1), "ada");
        names.set(id(2), "bob");
        let to_me = OpView {
            author: id(1),
            wall_ms: 0,
            applet: crate::applets::dm::NAME,
            kind: crate::applets::dm::KIND_MESSAGE,
            body: Some(b"sealed"),
            dm_to: Some(id(2)),
            dm_text: Some(b"psst"),
            context: None,
        };
        let t = op_text(&to_me, &id(2), &names).expect("shown");
        assert!(t.line(&id(2), &names).ends_with("[dm ada -> you] psst"));
        let mine = OpView {
            dm_text: None,
            ..to_me
        };
        let t = op_text(&mine, &id(1), &names).expect("shown");
        assert!(
            t.line(&id(1), &names)
                .ends_with("[dm you -> bob] (sealed: only bob can read it)")
        );
        assert_eq!(op_text(&mine, &id(3), &names), None, "a stranger's DM");
    }

    #[test]
    fn spans_read_in_the_largest_unit() {
        assert_eq!(span(45_000), "45s");
        assert_eq!(span(12 * 60_000 + 5), "12m");
        assert_eq!(span(3 * 3_600_000 + 5 * 60_000), "3h 05m");
    }
}
