//! Announcements: posts to a topic that everyone in the room sees, pinned
//! by their authors so they stay on top.
//!
//! # Ops
//!
//! Kinds (bodies encoded with [`codec::encode_value`]; build them with
//! [`AnnounceOp::body`]):
//!
//! * [`KIND_POST`]: a [`Post`] `{ topic, text }`. The announcement's id is
//!   the op's id.
//! * [`KIND_PIN`], [`KIND_UNPIN`], [`KIND_RETRACT`]: the [`OpId`] of the
//!   announcement.
//!
//! # Rules, in the order they are checked
//!
//! Every op: its kind is one of the above and its body decodes (canonically);
//! otherwise it is refused with the reason.
//!
//! * **Post**: the topic is a name ([`ids::check_name`]: 1 to 32 of `a-z`,
//!   `0-9`, `-`, `_`); the text is not blank, has at most
//!   [`TEXT_CHARS_MAX`] characters and no control characters other than
//!   newline and tab. Anyone may post; topics need not exist beforehand.
//! * **Pin**: the announcement exists; the op's author is its author; it
//!   is not retracted; it is not pinned.
//! * **Unpin**: the announcement exists; the op's author is its author; it
//!   is not retracted; it is pinned.
//! * **Retract**: the announcement exists; the op's author is its author;
//!   it is not already retracted. A retracted announcement leaves every
//!   listing and is no longer pinned; it stays in the state (marked
//!   retracted) so its id still resolves and a later pin or retract gets a
//!   clear reason. Retracting hides; it does not erase: the text stays in
//!   the author's signed log, as everything in an append-only log does.
//!
//! Only an announcement's author acts on it, and one author's ops are
//! chained in their own log, so two authors' ops never conflict. An op
//! that names an announcement its author had not heard of (or a forged id)
//! is refused alike on every node.
//!
//! # Order
//!
//! [`Announce::announcements`] lists pinned announcements first, then the
//! others; within each group the newest in fold order `(lamport, author,
//! seq)` comes first (wall clocks are shown, never used to order). Each
//! entry carries its short id: the shortest prefix of its op id, at least
//! [`ids::SHORT_HEX_MIN`] hex digits, unique among all announcements
//! (retracted ones included, so that every shown id resolves with
//! [`Announce::find`]).
//!
//! # Commands
//!
//! [`parse`] reads the line client's commands ([`COMMANDS`]):
//!
//! * `/announce [#topic] TEXT`: post (topic [`DEFAULT_TOPIC`] when the first
//!   word does not start with `#`; to post text that starts with `#`, name
//!   the topic first: `/announce #general #1 rule: ..`);
//! * `/pin ID`, `/unpin ID`, `/retract ID`: an id prefix;
//! * `/announcements [#topic]`: the listing, of one topic or all.
//!
//! # Layout
//!
//! This file is the fold: pure, no IO, no clock, no randomness. Beside
//! it, [`line`](mod@line) runs the commands on a node for the line client,
//! and `sim.rs` plans this applet's ops in the simulator; the applet's
//! entry in [`crate::applets::BUILTIN`] names both.

pub mod line;
pub(crate) mod sim;

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::ids;
use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};

/// The applet's name in ops.
pub const NAME: &str = "announce";
/// Longest announcement text, in characters (Unicode scalar values).
pub const TEXT_CHARS_MAX: usize = 1000;
/// The topic of an announcement posted without one.
pub const DEFAULT_TOPIC: &str = "general";
/// The line client's slash-words this applet reads (see [`parse`]).
pub const COMMANDS: &[&str] = &["announce", "pin", "unpin", "retract", "announcements"];

/// The body of a [`KIND_POST`] op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// A name ([`ids::check_name`]), written `#topic` in commands.
    pub topic: String,
    /// The announcement: 1 to [`TEXT_CHARS_MAX`] characters.
    pub text: String,
}

crate::applet_ops! {
    /// An announcement op, typed: [`AnnounceOp::body`] encodes it,
    /// [`AnnounceOp::decode`] reads it back.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum AnnounceOp for NAME {
        /// A new announcement; the body is a [`Post`].
        KIND_POST = 1 => Post(Post),
        /// Pin an announcement; the body is its [`OpId`].
        KIND_PIN = 2 => Pin(OpId),
        /// Unpin an announcement; the body is its [`OpId`].
        KIND_UNPIN = 3 => Unpin(OpId),
        /// Retract an announcement; the body is its [`OpId`].
        KIND_RETRACT = 4 => Retract(OpId),
    }
}

/// One announcement, as folded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The id of the op that posted it.
    pub id: OpId,
    /// Who posted it (the only one who may pin, unpin or retract it).
    pub author: NodeId,
    /// The posting op's place in the fold order `(lamport, author, seq)`.
    pub lamport: u64,
    /// The posting op's seq (see `lamport`).
    pub seq: u64,
    /// The author's wall clock when posting (for display only).
    pub wall_ms: u64,
    /// Its topic.
    pub topic: String,
    /// Its text.
    pub text: String,
    /// Whether its author pinned it (pinned ones list first).
    pub pinned: bool,
    /// Whether its author took it back (it no longer lists).
    pub retracted: bool,
}

impl Announcement {
    fn fold_key(&self) -> (u64, NodeId, u64) {
        (self.lamport, self.author, self.seq)
    }
}

/// An announcement in a listing, with the short id people type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The shortest unique prefix of its id, as people type it.
    pub short: String,
    /// The announcement.
    pub announcement: Announcement,
}

/// A topic and how many (not retracted) announcements it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Topic {
    /// The topic.
    pub name: String,
    /// Its announcements, retracted ones left out.
    pub count: usize,
}

/// The announcement applet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announce {
    items: BTreeMap<OpId, Announcement>,
}

/// What an op that passed the rules changes.
enum Change {
    Post(Announcement),
    SetPinned(OpId, bool),
    Retract(OpId),
}

impl Announce {
    /// The announcement posted by op `id`, retracted or not.
    pub fn announcement(&self, id: &OpId) -> Option<&Announcement> {
        self.items.get(id)
    }

    /// The announcements of `topic` (or of every topic), retracted ones
    /// left out: pinned first, then newest first in fold order.
    pub fn announcements(&self, topic: Option<&str>) -> Vec<Entry> {
        let mut shown: Vec<&Announcement> = self
            .items
            .values()
            .filter(|a| !a.retracted && topic.is_none_or(|t| a.topic == t))
            .collect();
        shown.sort_by(|a, b| {
            b.pinned
                .cmp(&a.pinned)
                .then_with(|| b.fold_key().cmp(&a.fold_key()))
        });
        shown
            .into_iter()
            .map(|a| Entry {
                short: self.short(&a.id),
                announcement: a.clone(),
            })
            .collect()
    }

    /// Every topic with announcements (not retracted), by name.
    pub fn topics(&self) -> Vec<Topic> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for a in self.items.values().filter(|a| !a.retracted) {
            *counts.entry(a.topic.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(name, count)| Topic {
                name: name.to_string(),
                count,
            })
            .collect()
    }

    /// The one announcement (retracted ones included) whose id starts with
    /// `prefix`, or why there is none.
    pub fn find(&self, prefix: &str) -> Result<OpId, String> {
        ids::resolve(prefix, self.items.keys()).map_err(|e| e.replace("no item", "no announcement"))
    }

    /// The short id of `id` among all announcements: the same as
    /// [`ids::short`] over all of them, computed from its two neighbours
    /// in id order (the ids sharing the longest prefix with it).
    pub fn short(&self, id: &OpId) -> String {
        let before = self.items.range(..*id).next_back().map(|(k, _)| k);
        let after = self
            .items
            .range((Bound::Excluded(*id), Bound::Unbounded))
            .next()
            .map(|(k, _)| k);
        ids::short(id, before.into_iter().chain(after))
    }

    /// The op a command asks for, with its id prefix resolved; `None` for
    /// a listing (it writes nothing). The op is not checked against the
    /// rules yet: the node asks [`Applet::check`] before publishing.
    pub fn op_for(&self, command: &Command) -> Result<Option<AnnounceOp>, String> {
        Ok(Some(match command {
            Command::Announce { topic, text } => AnnounceOp::Post(Post {
                topic: topic.clone(),
                text: text.clone(),
            }),
            Command::Pin { id } => AnnounceOp::Pin(self.find(id)?),
            Command::Unpin { id } => AnnounceOp::Unpin(self.find(id)?),
            Command::Retract { id } => AnnounceOp::Retract(self.find(id)?),
            Command::List { .. } => return Ok(None),
        }))
    }

    /// The rules: what `op` would change, or why it is refused. Shared by
    /// [`Applet::check`] and [`Applet::apply`].
    fn validate(&self, op: &AppliedOp<'_>) -> Result<Change, String> {
        match AnnounceOp::decode(op.kind, op.body)? {
            AnnounceOp::Post(post) => {
                ids::check_name(&post.topic).map_err(|e| format!("topic: {e}"))?;
                check_text("announcement", &post.text, TEXT_CHARS_MAX, true)?;
                Ok(Change::Post(Announcement {
                    id: op.id,
                    author: op.author,
                    lamport: op.lamport,
                    seq: op.seq,
                    wall_ms: op.wall_ms,
                    topic: post.topic,
                    text: post.text,
                    pinned: false,
                    retracted: false,
                }))
            }
            AnnounceOp::Pin(id) => {
                let a = self.own(op, &id, "pin")?;
                if a.pinned {
                    return Err(format!(
                        "announcement {} is already pinned",
                        self.short(&id)
                    ));
                }
                Ok(Change::SetPinned(id, true))
            }
            AnnounceOp::Unpin(id) => {
                let a = self.own(op, &id, "unpin")?;
                if !a.pinned {
                    return Err(format!("announcement {} is not pinned", self.short(&id)));
                }
                Ok(Change::SetPinned(id, false))
            }
            AnnounceOp::Retract(id) => {
                self.own(op, &id, "retract")?;
                Ok(Change::Retract(id))
            }
        }
    }

    /// The announcement `id`, if it exists, is `op`'s author's and is not
    /// retracted.
    fn own(&self, op: &AppliedOp<'_>, id: &OpId, verb: &str) -> Result<&Announcement, String> {
        let a = self
            .items
            .get(id)
            .ok_or_else(|| format!("no announcement {}", id.fmt_short()))?;
        let short = self.short(id);
        if a.author != op.author {
            return Err(format!(
                "only the author of announcement {short} can {verb} it"
            ));
        }
        if a.retracted {
            return Err(format!("announcement {short} is retracted"));
        }
        Ok(a)
    }
}

impl Applet for Announce {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        self.validate(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        match self.validate(op)? {
            Change::Post(a) => {
                self.items.insert(a.id, a);
            }
            Change::SetPinned(id, pinned) => {
                if let Some(a) = self.items.get_mut(&id) {
                    a.pinned = pinned;
                }
            }
            Change::Retract(id) => {
                if let Some(a) = self.items.get_mut(&id) {
                    a.retracted = true;
                    a.pinned = false;
                }
            }
        }
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(&self.items).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.items = super::chat::decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.items.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Checks a text field: not blank, at most `chars_max` characters, no
/// control characters (newline and tab allowed when `multiline`), so that
/// no text can move a terminal's cursor or fake a line of its own.
pub(crate) fn check_text(
    what: &str,
    text: &str,
    chars_max: usize,
    multiline: bool,
) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("empty {what}"));
    }
    if text.chars().count() > chars_max {
        return Err(format!("{what} has more than {chars_max} characters"));
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(if multiline {
            format!("{what} has a control character (only newline and tab are allowed)")
        } else {
            format!("{what} has a control character (it is one line)")
        });
    }
    Ok(())
}

/// A command of the line client, parsed (ids are prefixes, resolved later
/// with [`Announce::find`] or [`Announce::op_for`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Command {
    /// `/announce [#topic] TEXT`
    Announce {
        /// The topic ([`DEFAULT_TOPIC`] when none is given).
        topic: String,
        /// The announcement.
        text: String,
    },
    /// `/pin ID`
    Pin {
        /// The announcement's id or id prefix.
        id: String,
    },
    /// `/unpin ID`
    Unpin {
        /// The announcement's id or id prefix.
        id: String,
    },
    /// `/retract ID`
    Retract {
        /// The announcement's id or id prefix.
        id: String,
    },
    /// `/announcements [#topic]`
    List {
        /// Only this topic's, if given.
        topic: Option<String>,
    },
}

/// Parses the arguments `args` of the slash-word `word` (one of
/// [`COMMANDS`], without the slash). Needs no state.
pub fn parse(word: &str, args: &str) -> Result<Command, String> {
    let args = args.trim();
    match word {
        "announce" => {
            let (topic, text) = match args.strip_prefix('#') {
                Some(rest) => {
                    let (topic, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    ids::check_name(topic).map_err(|e| format!("topic: {e}"))?;
                    (topic.to_string(), text.trim())
                }
                None => (DEFAULT_TOPIC.to_string(), args),
            };
            if text.is_empty() {
                return Err("usage: /announce [#topic] TEXT".into());
            }
            check_text("announcement", text, TEXT_CHARS_MAX, true)?;
            Ok(Command::Announce {
                topic,
                text: text.to_string(),
            })
        }
        "pin" => one_id("pin", args).map(|id| Command::Pin { id }),
        "unpin" => one_id("unpin", args).map(|id| Command::Unpin { id }),
        "retract" => one_id("retract", args).map(|id| Command::Retract { id }),
        "announcements" => {
            if args.is_empty() {
                return Ok(Command::List { topic: None });
            }
            let topic = args
                .strip_prefix('#')
                .filter(|t| !t.contains(char::is_whitespace))
                .ok_or("usage: /announcements [#topic]")?;
            ids::check_name(topic).map_err(|e| format!("topic: {e}"))?;
            Ok(Command::List {
                topic: Some(topic.to_string()),
            })
        }
        _ => Err(format!("announce has no command /{word}")),
    }
}

/// The one id prefix (hex) that `/word ID` takes.
fn one_id(word: &str, args: &str) -> Result<String, String> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next()) {
        (Some(id), None) if id.chars().all(|c| c.is_ascii_hexdigit()) => Ok(id.to_string()),
        (Some(id), None) => Err(format!("{id:?} is not an item id (hex digits)")),
        _ => Err(format!("usage: /{word} ID")),
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::applets::testkit::{Room, assert_order_independent, state};
    use crate::proto::EngineRng;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Announce::default())]
    }

    fn post(topic: &str, text: &str) -> AnnounceOp {
        AnnounceOp::Post(Post {
            topic: topic.into(),
            text: text.into(),
        })
    }

    /// `who` writes `op` after hearing everything; its id.
    fn write(room: &mut Room, who: usize, op: &AnnounceOp) -> Result<OpId, String> {
        let (kind, body) = op.body();
        room.write(who, NAME, kind, &body).map(|s| s.op.id())
    }

    fn folded(room: &Room) -> Announce {
        state::<Announce>(&room.fold(), NAME).clone()
    }

    /// A hand-made op (no log), for rules that need no signatures.
    fn applied(id: u8, author: u8, lamport: u64, kind: u16, body: &[u8]) -> AppliedOp<'_> {
        AppliedOp {
            id: OpId([id; 32]),
            author: NodeId([author; 32]),
            seq: lamport,
            lamport,
            wall_ms: 1000 + lamport,
            kind,
            body,
            root: None,
        }
    }

    /// Asserts `check` and `apply` refuse `op` with the same reason
    /// containing `want`, and that the saved state did not change.
    fn refused(a: &mut Announce, op: &AppliedOp<'_>, want: &str) {
        let before = a.save();
        let checked = a.check(op).expect_err("check refuses");
        let applied = a.apply(op).expect_err("apply refuses");
        assert_eq!(checked, applied);
        assert!(applied.contains(want), "{applied:?} lacks {want:?}");
        assert_eq!(a.save(), before, "a refused op changed the state");
    }

    #[test]
    fn posts_are_listed_newest_first_with_their_topics() {
        let mut room = Room::new(2, 1, make);
        let first = write(&mut room, 0, &post("general", "doors open at 9")).expect("posted");
        let second = write(&mut room, 1, &post("food", "lunch at noon")).expect("posted");
        let third = write(&mut room, 0, &post("general", "wifi: flash")).expect("posted");
        let a = folded(&room);
        let ids: Vec<OpId> = a
            .announcements(None)
            .iter()
            .map(|e| e.announcement.id)
            .collect();
        assert_eq!(ids, vec![third, second, first]);
        let general: Vec<OpId> = a
            .announcements(Some("general"))
            .iter()
            .map(|e| e.announcement.id)
            .collect();
        assert_eq!(general, vec![third, first]);
        assert!(a.announcements(Some("nothing")).is_empty());
        let e = &a.announcements(Some("food"))[0];
        assert_eq!(e.announcement.author, room.id(1));
        assert_eq!(e.announcement.text, "lunch at noon");
        assert_eq!(e.short, ids::short(&second, [first, second, third].iter()));
        assert_eq!(
            a.topics(),
            vec![
                Topic {
                    name: "food".into(),
                    count: 1
                },
                Topic {
                    name: "general".into(),
                    count: 2
                }
            ]
        );
    }

    #[test]
    fn pinned_announcements_come_first_until_unpinned() {
        let mut room = Room::new(2, 2, make);
        let old = write(&mut room, 0, &post("general", "old")).expect("posted");
        let new = write(&mut room, 1, &post("general", "new")).expect("posted");
        write(&mut room, 0, &AnnounceOp::Pin(old)).expect("pinned");
        let order = |a: &Announce| -> Vec<OpId> {
            a.announcements(None)
                .iter()
                .map(|e| e.announcement.id)
                .collect()
        };
        let a = folded(&room);
        assert_eq!(order(&a), vec![old, new]);
        assert!(a.announcement(&old).expect("exists").pinned);
        write(&mut room, 0, &AnnounceOp::Unpin(old)).expect("unpinned");
        assert_eq!(order(&folded(&room)), vec![new, old]);
    }

    #[test]
    fn only_the_author_pins_unpins_or_retracts() {
        let mut room = Room::new(2, 3, make);
        let id = write(&mut room, 0, &post("general", "mine")).expect("posted");
        for (op, verb) in [
            (AnnounceOp::Pin(id), "pin"),
            (AnnounceOp::Retract(id), "retract"),
        ] {
            let err = write(&mut room, 1, &op).expect_err("not the author");
            assert!(
                err.contains("only the author of announcement") && err.contains(verb),
                "{err}"
            );
        }
        write(&mut room, 0, &AnnounceOp::Pin(id)).expect("the author pins");
        let err = write(&mut room, 1, &AnnounceOp::Unpin(id)).expect_err("not the author");
        assert!(err.contains("only the author"), "{err}");
        assert_eq!(room.ops.len(), 2);
    }

    #[test]
    fn pinning_twice_and_unpinning_an_unpinned_one_are_refused() {
        let mut a = Announce::default();
        let body = post("general", "hello").body().1;
        a.apply(&applied(1, 9, 1, KIND_POST, &body))
            .expect("posted");
        let target = codec::encode_value(&OpId([1; 32])).expect("encodes");
        refused(
            &mut a,
            &applied(2, 9, 2, KIND_UNPIN, &target),
            "is not pinned",
        );
        a.apply(&applied(3, 9, 3, KIND_PIN, &target))
            .expect("pinned");
        refused(
            &mut a,
            &applied(4, 9, 4, KIND_PIN, &target),
            "is already pinned",
        );
        refused(
            &mut a,
            &applied(5, 8, 5, KIND_UNPIN, &target),
            "only the author of announcement 0101 can unpin it",
        );
    }

    #[test]
    fn retracted_announcements_leave_listings_and_refuse_everything_after() {
        let mut room = Room::new(1, 4, make);
        let id = write(&mut room, 0, &post("general", "oops")).expect("posted");
        let keep = write(&mut room, 0, &post("general", "right")).expect("posted");
        write(&mut room, 0, &AnnounceOp::Pin(id)).expect("pinned");
        write(&mut room, 0, &AnnounceOp::Retract(id)).expect("retracted");
        for op in [
            AnnounceOp::Pin(id),
            AnnounceOp::Unpin(id),
            AnnounceOp::Retract(id),
        ] {
            let err = write(&mut room, 0, &op).expect_err("retracted");
            assert!(err.contains("is retracted"), "{err}");
        }
        let a = folded(&room);
        let shown: Vec<OpId> = a
            .announcements(None)
            .iter()
            .map(|e| e.announcement.id)
            .collect();
        assert_eq!(shown, vec![keep]);
        let gone = a.announcement(&id).expect("kept in the state");
        assert!(gone.retracted && !gone.pinned);
        assert_eq!(a.find(&a.short(&id)), Ok(id), "its id still resolves");
        assert_eq!(a.topics()[0].count, 1);
    }

    #[test]
    fn posts_need_a_topic_name_and_a_text_within_limits() {
        let mut a = Announce::default();
        let cases = [
            (post("General", "x"), "topic: id \"General\""),
            (post("", "x"), "topic: an id cannot be empty"),
            (post("general", "  \n "), "empty announcement"),
            (
                post("general", &"x".repeat(TEXT_CHARS_MAX + 1)),
                "more than 1000 characters",
            ),
            (post("general", "red \u{1b}[31m"), "control character"),
        ];
        for (i, (op, want)) in cases.iter().enumerate() {
            let body = op.body().1;
            refused(&mut a, &applied(i as u8, 1, 1, KIND_POST, &body), want);
        }
        let longest = post("general", &"é".repeat(TEXT_CHARS_MAX)).body().1;
        a.apply(&applied(50, 1, 1, KIND_POST, &longest))
            .expect("1000 characters are allowed");
        let lines = post("general", "line one\n\tline two").body().1;
        a.apply(&applied(51, 1, 2, KIND_POST, &lines))
            .expect("newlines and tabs are allowed");
    }

    #[test]
    fn unknown_kinds_bad_bodies_and_unknown_ids_are_refused() {
        let mut a = Announce::default();
        refused(&mut a, &applied(1, 1, 1, 9, b""), "announce has no kind 9");
        refused(
            &mut a,
            &applied(1, 1, 1, KIND_POST, b"junk"),
            "announce post body",
        );
        let mut trailing = post("general", "x").body().1;
        trailing.push(0);
        refused(&mut a, &applied(1, 1, 1, KIND_POST, &trailing), "post body");
        refused(
            &mut a,
            &applied(1, 1, 1, KIND_PIN, &[1; 31]),
            "announce pin body",
        );
        let ghost = codec::encode_value(&OpId([7; 32])).expect("encodes");
        for kind in [KIND_PIN, KIND_UNPIN, KIND_RETRACT] {
            refused(
                &mut a,
                &applied(1, 1, 1, kind, &ghost),
                "no announcement 07070707",
            );
        }
    }

    #[test]
    fn ops_round_trip_through_their_bodies() {
        for op in [
            post("food", "soup"),
            AnnounceOp::Pin(OpId([1; 32])),
            AnnounceOp::Unpin(OpId([2; 32])),
            AnnounceOp::Retract(OpId([3; 32])),
        ] {
            let (kind, body) = op.body();
            assert_eq!(AnnounceOp::decode(kind, &body), Ok(op));
        }
    }

    #[test]
    fn short_ids_match_ids_short_over_all_and_find_resolves_them() {
        let mut a = Announce::default();
        let body = post("general", "x").body().1;
        let mut all = Vec::new();
        for (i, (b0, b1)) in [(0x12, 0x34), (0x12, 0x35), (0x12, 0x36), (0xab, 0)]
            .into_iter()
            .enumerate()
        {
            let mut id = [0u8; 32];
            id[0] = b0;
            id[1] = b1;
            let op = AppliedOp {
                id: OpId(id),
                ..applied(0, 1, i as u64 + 1, KIND_POST, &body)
            };
            a.apply(&op).expect("posted");
            all.push(OpId(id));
        }
        for id in &all {
            let short = a.short(id);
            assert_eq!(short, ids::short(id, &all));
            assert_eq!(a.find(&short), Ok(*id));
        }
        assert_eq!(a.short(&all[3]), "ab00");
        assert!(a.find("123").unwrap_err().contains("more than one"));
        assert_eq!(a.find("ff"), Err("no announcement ff".into()));
    }

    #[test]
    fn commands_become_ops_with_their_ids_resolved() {
        let mut a = Announce::default();
        let body = post("general", "x").body().1;
        a.apply(&applied(0x42, 1, 1, KIND_POST, &body))
            .expect("posted");
        let id = OpId([0x42; 32]);
        let cmd = parse("announce", "#food soup").expect("parses");
        assert_eq!(a.op_for(&cmd), Ok(Some(post("food", "soup"))));
        let pin = parse("pin", "4242").expect("parses");
        assert_eq!(a.op_for(&pin), Ok(Some(AnnounceOp::Pin(id))));
        let unpin = parse("unpin", "42").expect("parses");
        assert_eq!(a.op_for(&unpin), Ok(Some(AnnounceOp::Unpin(id))));
        let retract = parse("retract", "4242").expect("parses");
        assert_eq!(a.op_for(&retract), Ok(Some(AnnounceOp::Retract(id))));
        assert_eq!(
            a.op_for(&parse("pin", "99").expect("parses")),
            Err("no announcement 99".into())
        );
        assert_eq!(a.op_for(&Command::List { topic: None }), Ok(None));
    }

    #[test]
    fn announce_commands_parse() {
        assert_eq!(
            parse("announce", "  doors open at 9 "),
            Ok(Command::Announce {
                topic: "general".into(),
                text: "doors open at 9".into()
            })
        );
        assert_eq!(
            parse("announce", "#food  lunch at #noon"),
            Ok(Command::Announce {
                topic: "food".into(),
                text: "lunch at #noon".into()
            })
        );
        assert_eq!(
            parse("announce", "#general #1 rule"),
            Ok(Command::Announce {
                topic: "general".into(),
                text: "#1 rule".into()
            })
        );
        for (args, want) in [
            ("", "usage: /announce"),
            ("   ", "usage: /announce"),
            ("#food", "usage: /announce"),
            ("#food   ", "usage: /announce"),
            ("# text", "topic: an id cannot be empty"),
            ("#Food text", "topic: id \"Food\""),
        ] {
            let err = parse("announce", args).expect_err(args);
            assert!(err.contains(want), "{args:?}: {err}");
        }
        let long = "x".repeat(TEXT_CHARS_MAX + 1);
        assert!(
            parse("announce", &long)
                .unwrap_err()
                .contains("more than 1000")
        );
    }

    #[test]
    fn id_and_listing_commands_parse() {
        assert_eq!(
            parse("pin", " 7f3A "),
            Ok(Command::Pin { id: "7f3A".into() })
        );
        assert_eq!(
            parse("unpin", "7f3a"),
            Ok(Command::Unpin { id: "7f3a".into() })
        );
        assert_eq!(
            parse("retract", "7f3a"),
            Ok(Command::Retract { id: "7f3a".into() })
        );
        for word in ["pin", "unpin", "retract"] {
            assert_eq!(parse(word, ""), Err(format!("usage: /{word} ID")));
            assert_eq!(parse(word, "7f3a 12"), Err(format!("usage: /{word} ID")));
            assert_eq!(
                parse(word, "lunch"),
                Err("\"lunch\" is not an item id (hex digits)".into())
            );
        }
        assert_eq!(
            parse("announcements", ""),
            Ok(Command::List { topic: None })
        );
        assert_eq!(
            parse("announcements", " #food "),
            Ok(Command::List {
                topic: Some("food".into())
            })
        );
        for bad in ["food", "#food #x", "#food x"] {
            assert_eq!(
                parse("announcements", bad),
                Err("usage: /announcements [#topic]".into()),
                "{bad}"
            );
        }
        assert!(
            parse("announcements", "#Food")
                .unwrap_err()
                .contains("topic")
        );
        assert_eq!(
            parse("vote", "x"),
            Err("announce has no command /vote".into())
        );
        for word in COMMANDS {
            assert!(!parse(word, "").is_err_and(|e| e.contains("no command")));
        }
    }

    /// Random scenarios: several people post, pin, unpin and retract
    /// (some without hearing the others); every fold order gives one
    /// state, and the state keeps its invariants.
    #[test]
    fn random_scenarios_fold_alike_in_any_order_and_keep_invariants() {
        for seed in 0..20 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let people = 4;
            let mut room = Room::new(people, seed, make);
            // (author, id) of every post written.
            let mut posts: Vec<(usize, OpId)> = Vec::new();
            // What the test saw pinned (authors always hear their own ops).
            let mut pinned = std::collections::BTreeSet::new();
            let mut written = [0usize; 4];
            for step in 0..80 {
                let who = rng.random_range(0..people);
                let topic = ["general", "food", "stage"][rng.random_range(0..3usize)];
                // Mostly the author's own posts (others' are refused).
                let own: Vec<OpId> = posts
                    .iter()
                    .filter(|(by, _)| *by == who || rng.random_bool(0.2))
                    .map(|(_, id)| *id)
                    .collect();
                let op = if own.is_empty() || rng.random_bool(0.3) {
                    post(topic, &format!("news {step}"))
                } else {
                    let target = own[rng.random_range(0..own.len())];
                    match rng.random_range(0..10u8) {
                        0..5 => AnnounceOp::Pin(target),
                        // Mostly one its author pinned.
                        5..8 => AnnounceOp::Unpin(
                            own.iter()
                                .find(|id| pinned.contains(*id) && rng.random_bool(0.8))
                                .copied()
                                .unwrap_or(target),
                        ),
                        _ => AnnounceOp::Retract(target),
                    }
                };
                let (kind, body) = op.body();
                let result = if rng.random_bool(0.3) {
                    room.write_unheard(who, NAME, kind, &body)
                } else {
                    room.write(who, NAME, kind, &body)
                };
                if let Ok(signed) = result {
                    written[kind as usize - 1] += 1;
                    match &op {
                        AnnounceOp::Pin(id) => {
                            pinned.insert(*id);
                        }
                        AnnounceOp::Unpin(id) | AnnounceOp::Retract(id) => {
                            pinned.remove(id);
                        }
                        AnnounceOp::Post(_) => {}
                    }
                    if kind == KIND_POST {
                        posts.push((who, signed.op.id()));
                    }
                }
            }
            assert!(
                written.iter().all(|n| *n > 0),
                "seed {seed}: every kind is written ({written:?})"
            );
            let e = assert_order_independent(make, &room.ops, seed, 8);
            let a = state::<Announce>(&e, NAME);
            // Every post is taken (posts have no conflicts).
            assert_eq!(a.items.len(), posts.len(), "seed {seed}");
            for item in a.items.values() {
                assert!(!(item.pinned && item.retracted), "seed {seed}");
            }
            let listed = a.announcements(None);
            let live = a.items.values().filter(|i| !i.retracted).count();
            assert_eq!(listed.len(), live, "seed {seed}");
            for pair in listed.windows(2) {
                let (x, y) = (&pair[0].announcement, &pair[1].announcement);
                assert!(
                    (x.pinned, x.fold_key()) > (y.pinned, y.fold_key()),
                    "seed {seed}: pinned first, then newest first"
                );
            }
            for e in &listed {
                assert_eq!(a.find(&e.short), Ok(e.announcement.id), "seed {seed}");
            }
            let mut copy = Announce::default();
            copy.load(&a.save()).expect("a saved state loads");
            assert_eq!(&copy, a, "seed {seed}");
        }
    }
}
