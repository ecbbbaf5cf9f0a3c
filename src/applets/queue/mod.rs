//! Queues: a person creates a queue and owns it, people join it (a label,
//! a party size, a note), leave it, and the owner serves the person at the
//! head. Everyone sees the positions; the node tells the person at the
//! head "you're next" (a [`HEAD_NOTICE`] from [`Applet::notices`], raised
//! each time that person comes to the head).
//!
//! # Kinds
//!
//! | kind | body | what it does |
//! |---|---|---|
//! | [`KIND_CREATE`] = 1 | [`CreateQueue`] `{ queue, title }` | creates queue `queue`, owned by the author |
//! | [`KIND_JOIN`] = 2 | [`JoinQueue`] `{ queue, label, party, note }` | the author takes a place at the back |
//! | [`KIND_LEAVE`] = 3 | [`LeaveQueue`] `{ queue }` | the author gives up its place |
//! | [`KIND_NEXT`] = 4 | [`ServeNext`] `{ queue }` | the head of the queue is served |
//!
//! Bodies are encoded with [`codec::encode_value`]; build them with
//! [`QueueOp::body`]. An unknown kind or a body that does not decode (or
//! does not re-encode to the same bytes) is refused.
//!
//! # Rules, in the order they are checked
//!
//! Create ([`CreateQueue`]):
//! 1. `queue` is a name ([`ids::check_name`]).
//! 2. No queue of that name exists: the first create in fold order keeps
//!    the name (and its author owns the queue); a later one is refused.
//! 3. `title`, if given: not blank, at most [`TITLE_CHARS_MAX`]
//!    characters.
//!
//! Join ([`JoinQueue`]):
//! 1. `queue` is a name and the queue exists.
//! 2. `label`: not blank, at most [`LABEL_CHARS_MAX`] characters.
//! 3. `party`: [`PARTY_MIN`] to [`PARTY_MAX`].
//! 4. `note`, if given: not blank, at most [`NOTE_CHARS_MAX`] characters.
//! 5. The author is not waiting in this queue already (one place per node
//!    per queue). A node that was served, or left, may join again: a new
//!    place at the back. The owner may join its own queue.
//!
//! Leave ([`LeaveQueue`]):
//! 1. `queue` is a name and the queue exists.
//! 2. The author is waiting in it. Its place is gone; everyone behind it
//!    moves up one.
//!
//! Next ([`ServeNext`]):
//! 1. `queue` is a name and the queue exists.
//! 2. The author may serve the queue: today only its owner.
//!    **Kiosks:** once the roster's kiosk designation is enforced, a kiosk
//!    will be allowed too; that is one more condition in `may_serve`
//!    (which then needs the roster's kiosks as the fold knows them).
//! 3. Someone is waiting. The head of the queue becomes served: it leaves
//!    the waiting line and is kept in [`Queue::served`] with the serving
//!    node and op, so clients can show "now serving".
//!
//! Positions are 1-based and contiguous, in join order (fold order):
//! [`Queues::position`], [`Queues::places`].
//!
//! # Conflicts
//!
//! Everything is decided by fold order: two `next` ops written without
//! hearing each other serve the first and the second person; a `leave`
//! that sorts after the `next` that served its author is refused (the
//! author is no longer waiting); a `join` that sorts before the queue's
//! create is refused. Served entries are kept for as long as the queue
//! (they grow with the ops, like chat lines).
//!
//! # Commands (the line client)
//!
//! ```text
//! /queue create ID [title=..]
//! /queue join ID label=.. [party=N] [note=..]
//! /queue leave ID
//! /queue next ID
//! /queue list ID
//! ```
//!
//! [`parse`] turns the text after `/queue` into a [`Command`];
//! [`Command::op`] gives the op to write.
//!
//! # Layout
//!
//! This file is the fold: pure, no IO, no clock, no randomness. Beside
//! it, [`line`](mod@line) runs the commands on a node for the line client,
//! and `sim.rs` plans this applet's ops in the simulator; the applet's
//! entry in [`crate::applets::BUILTIN`] names both.

pub mod line;
pub(crate) mod sim;

use serde::{Deserialize, Serialize};

use super::{args, ids};
use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};
use crate::proto::oplog::notice::Notice;

/// The applet's name in ops.
pub const NAME: &str = "queue";
/// Longest queue title, in characters.
pub const TITLE_CHARS_MAX: usize = 200;
/// Longest label (who is waiting, as shown to everyone), in characters.
pub const LABEL_CHARS_MAX: usize = 64;
/// Longest note, in characters.
pub const NOTE_CHARS_MAX: usize = 200;
/// Smallest party.
pub const PARTY_MIN: u32 = 1;
/// Largest party.
pub const PARTY_MAX: u32 = 50;

/// Body of [`KIND_CREATE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateQueue {
    /// The queue's id, a name ([`ids::check_name`]).
    pub queue: String,
    /// What it is for, if given: at most [`TITLE_CHARS_MAX`] characters.
    pub title: Option<String>,
}

/// Body of [`KIND_JOIN`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinQueue {
    /// The queue.
    pub queue: String,
    /// Who is waiting, as shown to everyone: at most [`LABEL_CHARS_MAX`]
    /// characters.
    pub label: String,
    /// How many people: [`PARTY_MIN`] to [`PARTY_MAX`].
    pub party: u32,
    /// A word for the owner, if given: at most [`NOTE_CHARS_MAX`]
    /// characters.
    pub note: Option<String>,
}

/// Body of [`KIND_LEAVE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveQueue {
    /// The queue.
    pub queue: String,
}

/// Body of [`KIND_NEXT`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeNext {
    /// The queue.
    pub queue: String,
}

crate::applet_ops! {
    /// An op of this applet, typed: [`QueueOp::body`] encodes it,
    /// [`QueueOp::decode`] reads it back.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum QueueOp for NAME {
        /// Creates a queue; the body is a [`CreateQueue`].
        KIND_CREATE = 1 => Create(CreateQueue),
        /// Joins a queue; the body is a [`JoinQueue`].
        KIND_JOIN = 2 => Join(JoinQueue),
        /// Leaves a queue; the body is a [`LeaveQueue`].
        KIND_LEAVE = 3 => Leave(LeaveQueue),
        /// Serves the head of a queue; the body is a [`ServeNext`].
        KIND_NEXT = 4 => Next(ServeNext),
    }
}

/// A place in a queue (waiting, or once served).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The node that joined.
    pub node: NodeId,
    /// Its label.
    pub label: String,
    /// Its party's size.
    pub party: u32,
    /// Its note, if any.
    pub note: Option<String>,
    /// The join op.
    pub joined: OpId,
    /// The joiner's wall clock when joining (for display only).
    pub joined_wall_ms: u64,
}

/// A served place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// The place that was served.
    pub entry: Entry,
    /// Who served it (the owner; later also a kiosk).
    pub by: NodeId,
    /// The `next` op.
    pub op: OpId,
    /// The server's wall clock when serving (for display only).
    pub wall_ms: u64,
}

/// A queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Its id.
    pub id: String,
    /// Its title, if any.
    pub title: Option<String>,
    /// Who created it: who serves it.
    pub owner: NodeId,
    /// The create op.
    pub created: OpId,
    /// The owner's wall clock when creating it (for display only).
    pub created_wall_ms: u64,
    /// Who is waiting, in join (fold) order: the first is the head.
    pub waiting: Vec<Entry>,
    /// Who was served, in the order they were.
    pub served: Vec<Served>,
}

impl Queue {
    /// The place of `node` (1 = the head), if it is waiting.
    pub fn position(&self, node: &NodeId) -> Option<usize> {
        self.waiting
            .iter()
            .position(|e| e.node == *node)
            .map(|i| i + 1)
    }

    /// Every waiting place, numbered from 1.
    pub fn places(&self) -> Vec<Place> {
        self.waiting
            .iter()
            .enumerate()
            .map(|(i, e)| Place {
                position: i + 1,
                entry: e.clone(),
            })
            .collect()
    }

    /// Who was served last ("now serving").
    pub fn now_serving(&self) -> Option<&Served> {
        self.served.last()
    }
}

/// A waiting place with its position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// 1 = the head.
    pub position: usize,
    /// Who waits there.
    pub entry: Entry,
}

/// The queueing applet: every queue, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Queues {
    queues: Vec<Queue>,
}

impl Queues {
    /// Every queue, by id.
    pub fn queues(&self) -> &[Queue] {
        &self.queues
    }

    /// The queue `id`.
    pub fn queue(&self, id: &str) -> Option<&Queue> {
        self.index(id).ok().map(|i| &self.queues[i])
    }

    /// The person at the head of queue `id` (the one to tell "you're
    /// next").
    pub fn head(&self, queue: &str) -> Option<&Entry> {
        self.queue(queue).and_then(|q| q.waiting.first())
    }

    /// The place of `node` in queue `id` (1 = the head), if it waits there.
    pub fn position(&self, queue: &str, node: &NodeId) -> Option<usize> {
        self.queue(queue).and_then(|q| q.position(node))
    }

    /// The waiting places of queue `id`, numbered from 1.
    pub fn places(&self, queue: &str) -> Option<Vec<Place>> {
        self.queue(queue).map(Queue::places)
    }

    fn index(&self, id: &str) -> Result<usize, usize> {
        self.queues.binary_search_by(|q| q.id.as_str().cmp(id))
    }

    fn existing(&self, id: &str) -> Result<&Queue, String> {
        ids::check_name(id)?;
        self.queue(id).ok_or_else(|| format!("no queue {id}"))
    }

    /// The rules: what `op` would change, or why it is refused. Shared by
    /// [`Applet::check`] and [`Applet::apply`].
    fn validate(&self, op: &AppliedOp<'_>) -> Result<Change, String> {
        match QueueOp::decode(op.kind, op.body)? {
            QueueOp::Create(c) => {
                ids::check_name(&c.queue)?;
                if self.queue(&c.queue).is_some() {
                    return Err(format!("queue {} already exists", c.queue));
                }
                if let Some(title) = &c.title {
                    check_text("a queue title", title, TITLE_CHARS_MAX)?;
                }
                Ok(Change::Create(Queue {
                    id: c.queue,
                    title: c.title,
                    owner: op.author,
                    created: op.id,
                    created_wall_ms: op.wall_ms,
                    waiting: Vec::new(),
                    served: Vec::new(),
                }))
            }
            QueueOp::Join(j) => {
                let queue = self.existing(&j.queue)?;
                check_text("a label", &j.label, LABEL_CHARS_MAX)?;
                check_party(j.party)?;
                if let Some(note) = &j.note {
                    check_text("a note", note, NOTE_CHARS_MAX)?;
                }
                if let Some(at) = queue.position(&op.author) {
                    return Err(format!(
                        "you are already waiting in queue {} (place {at})",
                        j.queue
                    ));
                }
                Ok(Change::Join(
                    j.queue,
                    Entry {
                        node: op.author,
                        label: j.label,
                        party: j.party,
                        note: j.note,
                        joined: op.id,
                        joined_wall_ms: op.wall_ms,
                    },
                ))
            }
            QueueOp::Leave(l) => {
                let queue = self.existing(&l.queue)?;
                match queue.position(&op.author) {
                    Some(at) => Ok(Change::Leave(l.queue, at - 1)),
                    None => Err(format!("you are not waiting in queue {}", l.queue)),
                }
            }
            QueueOp::Next(n) => {
                let queue = self.existing(&n.queue)?;
                if !may_serve(queue, &op.author) {
                    return Err(format!("only the owner of queue {} can serve it", n.queue));
                }
                if queue.waiting.is_empty() {
                    return Err(format!("queue {} is empty", n.queue));
                }
                Ok(Change::Next(n.queue, op.author, op.id, op.wall_ms))
            }
        }
    }

    fn commit(&mut self, change: Change) {
        match change {
            Change::Create(queue) => {
                if let Err(i) = self.index(&queue.id) {
                    self.queues.insert(i, queue);
                }
            }
            Change::Join(id, entry) => {
                if let Ok(i) = self.index(&id) {
                    self.queues[i].waiting.push(entry);
                }
            }
            Change::Leave(id, at) => {
                if let Ok(i) = self.index(&id) {
                    self.queues[i].waiting.remove(at);
                }
            }
            Change::Next(id, by, op, wall_ms) => {
                if let Ok(i) = self.index(&id) {
                    let queue = &mut self.queues[i];
                    if !queue.waiting.is_empty() {
                        let entry = queue.waiting.remove(0);
                        queue.served.push(Served {
                            entry,
                            by,
                            op,
                            wall_ms,
                        });
                    }
                }
            }
        }
    }
}

/// May `node` serve `queue`? The owner may. When the roster's kiosk
/// designation is enforced, "or a kiosk" is added here.
fn may_serve(queue: &Queue, node: &NodeId) -> bool {
    queue.owner == *node
}

/// What a valid op changes (validated, not yet applied).
enum Change {
    Create(Queue),
    Join(String, Entry),
    /// The queue and the index of the place that goes.
    Leave(String, usize),
    /// The queue, who serves, the op and its wall time.
    Next(String, NodeId, OpId, u64),
}

impl Applet for Queues {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        self.validate(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        let change = self.validate(op)?;
        self.commit(change);
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(&self.queues).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.queues = super::chat::decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.queues.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    /// A [`HEAD_NOTICE`] for every queue whose head is `me`.
    fn notices(&self, me: &NodeId) -> Vec<Notice> {
        self.queues
            .iter()
            .filter(|q| q.waiting.first().is_some_and(|e| e.node == *me))
            .map(|q| head_notice(&q.id))
            .collect()
    }
}

/// The notice's name when this node comes to the head of a queue (the
/// line client's `queue_head` event, with the field `queue`).
pub const HEAD_NOTICE: &str = "queue_head";

/// "You're next in queue `queue`": raised each time this node comes to
/// the head of it.
pub fn head_notice(queue: &str) -> Notice {
    Notice::new(
        HEAD_NOTICE,
        vec![("queue", queue.to_string())],
        format!("you're next in queue {queue}"),
    )
    .with_badge(format!("YOU'RE NEXT in {queue}"))
}

/// Required text: not blank, at most `max` characters.
fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{what} cannot be empty"));
    }
    if text.chars().count() > max {
        return Err(format!("{what} has at most {max} characters"));
    }
    Ok(())
}

fn check_party(party: u32) -> Result<(), String> {
    if !(PARTY_MIN..=PARTY_MAX).contains(&party) {
        return Err(format!(
            "a party is {PARTY_MIN} to {PARTY_MAX} people, not {party}"
        ));
    }
    Ok(())
}

/// A `/queue` request of the line client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `/queue create ID [title=..]`
    Create {
        /// The queue's id.
        queue: String,
        /// Its title, if given.
        title: Option<String>,
    },
    /// `/queue join ID label=.. [party=N] [note=..]`
    Join {
        /// The queue.
        queue: String,
        /// Who is waiting, as shown to everyone.
        label: String,
        /// How many people ([`PARTY_MIN`] when not given).
        party: u32,
        /// A word for the owner, if given.
        note: Option<String>,
    },
    /// `/queue leave ID`
    Leave {
        /// The queue.
        queue: String,
    },
    /// `/queue next ID`
    Next {
        /// The queue.
        queue: String,
    },
    /// `/queue list ID`
    List {
        /// The queue.
        queue: String,
    },
}

impl Command {
    /// The op a request writes; `None` for the query (`list`).
    pub fn op(&self) -> Option<QueueOp> {
        match self {
            Command::Create { queue, title } => Some(QueueOp::Create(CreateQueue {
                queue: queue.clone(),
                title: title.clone(),
            })),
            Command::Join {
                queue,
                label,
                party,
                note,
            } => Some(QueueOp::Join(JoinQueue {
                queue: queue.clone(),
                label: label.clone(),
                party: *party,
                note: note.clone(),
            })),
            Command::Leave { queue } => Some(QueueOp::Leave(LeaveQueue {
                queue: queue.clone(),
            })),
            Command::Next { queue } => Some(QueueOp::Next(ServeNext {
                queue: queue.clone(),
            })),
            Command::List { .. } => None,
        }
    }
}

/// How to write `/queue`.
pub const USAGE: &str = "usage: /queue create ID [title=..] | /queue join ID label=.. [party=N] [note=..] | /queue leave ID | /queue next ID | /queue list ID";

/// Parses the text after `/queue`.
pub fn parse(input: &str) -> Result<Command, String> {
    let (word, rest) = split_word(input);
    match word {
        "create" => {
            let (queue, rest) = first_id(rest, "usage: /queue create ID [title=..]")?;
            let a = args::parse(rest, &["title"])?;
            if !a.text.is_empty() {
                return Err(format!("unexpected {:?} (use title=..)", a.text));
            }
            let title = a.get("title").filter(|t| !t.is_empty()).map(str::to_string);
            if let Some(t) = &title {
                check_text("a queue title", t, TITLE_CHARS_MAX)?;
            }
            Ok(Command::Create { queue, title })
        }
        "join" => {
            let (queue, rest) =
                first_id(rest, "usage: /queue join ID label=.. [party=N] [note=..]")?;
            let a = args::parse(rest, &["label", "party", "note"])?;
            if !a.text.is_empty() {
                return Err(format!(
                    "unexpected {:?} (use label=.. party=N note=..)",
                    a.text
                ));
            }
            let label = a.require("label")?.to_string();
            check_text("a label", &label, LABEL_CHARS_MAX)?;
            let party = match a.get("party") {
                None => PARTY_MIN,
                Some(p) => p.parse().map_err(|_| {
                    format!("party={p}: a party is a number from {PARTY_MIN} to {PARTY_MAX}")
                })?,
            };
            check_party(party)?;
            let note = a.get("note").filter(|n| !n.is_empty()).map(str::to_string);
            if let Some(n) = &note {
                check_text("a note", n, NOTE_CHARS_MAX)?;
            }
            Ok(Command::Join {
                queue,
                label,
                party,
                note,
            })
        }
        "leave" => only_id(rest, "usage: /queue leave ID").map(|queue| Command::Leave { queue }),
        "next" => only_id(rest, "usage: /queue next ID").map(|queue| Command::Next { queue }),
        "list" => only_id(rest, "usage: /queue list ID").map(|queue| Command::List { queue }),
        _ => Err(USAGE.into()),
    }
}

/// The first word of `s` and the trimmed rest.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim()),
        None => (s, ""),
    }
}

/// The id that starts `rest`, checked, and what follows it.
fn first_id<'a>(rest: &'a str, usage: &str) -> Result<(String, &'a str), String> {
    let (id, more) = split_word(rest);
    if id.is_empty() || id.contains('=') {
        return Err(usage.into());
    }
    ids::check_name(id)?;
    Ok((id.to_string(), more))
}

/// Exactly one id in `rest`.
fn only_id(rest: &str, usage: &str) -> Result<String, String> {
    let (id, more) = first_id(rest, usage)?;
    if !more.is_empty() {
        return Err(usage.into());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::applets::testkit::{Room, assert_order_independent, state};
    use crate::proto::EngineRng;
    use crate::proto::oplog::op::SignedOp;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Queues::default())]
    }

    fn node(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    fn create(queue: &str) -> QueueOp {
        QueueOp::Create(CreateQueue {
            queue: queue.into(),
            title: None,
        })
    }

    fn join(queue: &str, label: &str) -> QueueOp {
        QueueOp::Join(JoinQueue {
            queue: queue.into(),
            label: label.into(),
            party: 1,
            note: None,
        })
    }

    fn leave(queue: &str) -> QueueOp {
        QueueOp::Leave(LeaveQueue {
            queue: queue.into(),
        })
    }

    fn next(queue: &str) -> QueueOp {
        QueueOp::Next(ServeNext {
            queue: queue.into(),
        })
    }

    /// Applies a raw kind and body by `author` at `wall_ms`, asserting that
    /// `check` agrees with `apply` and that a refusal changes nothing.
    fn run_raw(
        q: &mut Queues,
        author: u8,
        wall_ms: u64,
        kind: u16,
        body: &[u8],
    ) -> Result<(), String> {
        let mut id = [author; 32];
        id[..8].copy_from_slice(&wall_ms.to_le_bytes());
        let op = AppliedOp {
            id: OpId(id),
            author: node(author),
            seq: 1,
            lamport: 1,
            wall_ms,
            kind,
            body,
            root: None,
        };
        let before = q.save();
        let checked = q.check(&op);
        assert_eq!(q.save(), before, "check changes nothing");
        let applied = q.apply(&op);
        assert_eq!(checked, applied, "check and apply agree");
        if applied.is_err() {
            assert_eq!(q.save(), before, "a refused op changes nothing");
        }
        applied
    }

    fn run(q: &mut Queues, author: u8, wall_ms: u64, op: QueueOp) -> Result<(), String> {
        let (kind, body) = op.body();
        run_raw(q, author, wall_ms, kind, &body)
    }

    /// The waiting nodes of `queue`, head first.
    fn line(q: &Queues, queue: &str) -> Vec<NodeId> {
        q.queue(queue)
            .expect("the queue exists")
            .waiting
            .iter()
            .map(|e| e.node)
            .collect()
    }

    #[test]
    fn people_join_at_the_back_and_the_owner_serves_the_head() {
        let mut q = Queues::default();
        run(
            &mut q,
            1,
            10,
            QueueOp::Create(CreateQueue {
                queue: "help".into(),
                title: Some("Help desk".into()),
            }),
        )
        .expect("created");
        run(
            &mut q,
            2,
            11,
            QueueOp::Join(JoinQueue {
                queue: "help".into(),
                label: "Ana".into(),
                party: 3,
                note: Some("wheelchair".into()),
            }),
        )
        .expect("joined");
        run(&mut q, 3, 12, join("help", "Bo")).expect("joined");
        run(&mut q, 4, 13, join("help", "Cy")).expect("joined");
        assert_eq!(q.position("help", &node(2)), Some(1));
        assert_eq!(q.position("help", &node(4)), Some(3));
        assert_eq!(q.position("help", &node(1)), None);
        assert_eq!(q.position("nope", &node(2)), None);
        let head = q.head("help").expect("someone waits");
        assert_eq!(
            (
                head.node,
                head.label.as_str(),
                head.party,
                head.note.as_deref()
            ),
            (node(2), "Ana", 3, Some("wheelchair"))
        );
        run(&mut q, 1, 14, next("help")).expect("served");
        assert_eq!(line(&q, "help"), vec![node(3), node(4)]);
        assert_eq!(q.position("help", &node(4)), Some(2));
        let queue = q.queue("help").expect("exists");
        assert_eq!(queue.owner, node(1));
        assert_eq!(queue.title.as_deref(), Some("Help desk"));
        let serving = queue.now_serving().expect("someone was served");
        assert_eq!(
            (serving.entry.node, serving.by, serving.wall_ms),
            (node(2), node(1), 14)
        );
        let places = q.places("help").expect("exists");
        assert_eq!(
            places
                .iter()
                .map(|p| (p.position, p.entry.label.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "Bo"), (2, "Cy")]
        );
    }

    #[test]
    fn leaving_moves_everyone_behind_up_and_a_served_node_may_join_again() {
        let mut q = Queues::default();
        run(&mut q, 1, 10, create("help")).expect("created");
        for n in 2..=4 {
            run(&mut q, n, 10 + u64::from(n), join("help", "x")).expect("joined");
        }
        run(&mut q, 3, 20, leave("help")).expect("left");
        assert_eq!(line(&q, "help"), vec![node(2), node(4)]);
        assert_eq!(
            run(&mut q, 3, 21, leave("help")),
            Err("you are not waiting in queue help".into())
        );
        run(&mut q, 3, 22, join("help", "back")).expect("a new place at the back");
        run(&mut q, 1, 23, next("help")).expect("served");
        run(&mut q, 2, 24, join("help", "again")).expect("served, so may join again");
        assert_eq!(line(&q, "help"), vec![node(4), node(3), node(2)]);
        // The owner may wait in its own queue.
        run(&mut q, 1, 25, join("help", "owner")).expect("joined");
        assert_eq!(q.position("help", &node(1)), Some(4));
    }

    #[test]
    fn bad_creates_are_refused_with_their_reason() {
        let mut q = Queues::default();
        let titled = |t: &str| {
            QueueOp::Create(CreateQueue {
                queue: "help".into(),
                title: Some(t.into()),
            })
        };
        assert!(
            run(&mut q, 1, 10, create("Help"))
                .expect_err("bad id")
                .contains("lower-case")
        );
        assert_eq!(
            run(&mut q, 1, 10, titled(" ")),
            Err("a queue title cannot be empty".into())
        );
        assert_eq!(
            run(&mut q, 1, 10, titled(&"t".repeat(TITLE_CHARS_MAX + 1))),
            Err("a queue title has at most 200 characters".into())
        );
        assert!(q.queues().is_empty());
        run(&mut q, 1, 10, titled(&"t".repeat(TITLE_CHARS_MAX))).expect("200 characters");
        assert_eq!(
            run(&mut q, 2, 11, create("help")),
            Err("queue help already exists".into())
        );
        assert_eq!(q.queue("help").expect("exists").owner, node(1));
    }

    #[test]
    fn bad_joins_are_refused_with_their_reason() {
        let mut q = Queues::default();
        let j = |label: &str, party: u32, note: Option<&str>| {
            QueueOp::Join(JoinQueue {
                queue: "help".into(),
                label: label.into(),
                party,
                note: note.map(str::to_string),
            })
        };
        assert_eq!(
            run(&mut q, 2, 10, j("a", 1, None)),
            Err("no queue help".into())
        );
        run(&mut q, 1, 10, create("help")).expect("created");
        let long_label = "l".repeat(LABEL_CHARS_MAX + 1);
        let long_note = "n".repeat(NOTE_CHARS_MAX + 1);
        let cases = [
            (j("", 1, None), "a label cannot be empty"),
            (j("  ", 1, None), "a label cannot be empty"),
            (j(&long_label, 1, None), "a label has at most 64 characters"),
            (j("a", 0, None), "a party is 1 to 50 people, not 0"),
            (j("a", 51, None), "a party is 1 to 50 people, not 51"),
            (j("a", 1, Some(" ")), "a note cannot be empty"),
            (
                j("a", 1, Some(&long_note)),
                "a note has at most 200 characters",
            ),
        ];
        for (op, reason) in cases {
            assert_eq!(run(&mut q, 2, 11, op.clone()), Err(reason.into()), "{op:?}");
        }
        let max_label = "l".repeat(LABEL_CHARS_MAX);
        let max_note = "n".repeat(NOTE_CHARS_MAX);
        run(&mut q, 2, 12, j(&max_label, 50, Some(&max_note))).expect("the limits are allowed");
        assert_eq!(
            run(&mut q, 2, 13, j("a", 1, None)),
            Err("you are already waiting in queue help (place 1)".into())
        );
        assert_eq!(line(&q, "help"), vec![node(2)]);
    }

    #[test]
    fn only_the_owner_serves_and_not_an_empty_queue() {
        let mut q = Queues::default();
        assert_eq!(
            run(&mut q, 1, 10, next("help")),
            Err("no queue help".into())
        );
        assert_eq!(
            run(&mut q, 1, 10, leave("help")),
            Err("no queue help".into())
        );
        run(&mut q, 1, 10, create("help")).expect("created");
        assert_eq!(
            run(&mut q, 1, 11, next("help")),
            Err("queue help is empty".into())
        );
        run(&mut q, 2, 12, join("help", "a")).expect("joined");
        assert_eq!(
            run(&mut q, 2, 13, next("help")),
            Err("only the owner of queue help can serve it".into())
        );
        assert_eq!(
            run(&mut q, 3, 13, next("help")),
            Err("only the owner of queue help can serve it".into())
        );
        run(&mut q, 1, 14, next("help")).expect("served");
        assert_eq!(
            run(&mut q, 1, 15, next("help")),
            Err("queue help is empty".into())
        );
        assert_eq!(q.queue("help").expect("exists").served.len(), 1);
        assert!(q.head("help").is_none());
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_refused() {
        let mut q = Queues::default();
        assert_eq!(
            run_raw(&mut q, 1, 10, 7, b""),
            Err("queue has no kind 7".into())
        );
        let err = run_raw(&mut q, 1, 10, KIND_JOIN, b"junk").expect_err("undecodable");
        assert!(err.starts_with("queue join body:"), "{err}");
        let (kind, mut body) = create("help").body();
        body.push(0);
        assert!(run_raw(&mut q, 1, 10, kind, &body).is_err());
        assert!(q.queues().is_empty());
    }

    #[test]
    fn the_head_of_each_queue_is_told_it_is_next() {
        let mut q = Queues::default();
        run(&mut q, 1, 10, create("help")).expect("created");
        run(&mut q, 1, 11, create("food")).expect("created");
        assert_eq!(q.notices(&node(2)), vec![]);
        run(&mut q, 2, 12, join("help", "a")).expect("joined");
        run(&mut q, 3, 13, join("help", "b")).expect("joined");
        run(&mut q, 3, 14, join("food", "b")).expect("joined");
        assert_eq!(q.notices(&node(2)), vec![head_notice("help")]);
        assert_eq!(q.notices(&node(3)), vec![head_notice("food")]);
        run(&mut q, 1, 15, next("help")).expect("served");
        assert_eq!(q.notices(&node(2)), vec![], "served: no longer waiting");
        assert_eq!(
            q.notices(&node(3)),
            vec![head_notice("food"), head_notice("help")]
        );
        let notice = head_notice("help");
        assert_eq!(notice.name, "queue_head");
        assert_eq!(notice.about, vec![("queue", "help".to_string())]);
        assert_eq!(notice.text, "you're next in queue help");
        assert_eq!(notice.badge.as_deref(), Some("YOU'RE NEXT in help"));
    }

    #[test]
    fn saved_state_loads_back() {
        let mut q = Queues::default();
        run(&mut q, 1, 10, create("help")).expect("created");
        run(&mut q, 2, 11, join("help", "a")).expect("joined");
        run(&mut q, 3, 12, join("help", "b")).expect("joined");
        run(&mut q, 1, 13, next("help")).expect("served");
        let mut r = Queues::default();
        r.load(&q.save()).expect("loads");
        assert_eq!(r, q);
        assert!(r.load(b"junk").is_err());
        r.reset();
        assert_eq!(r, Queues::default());
    }

    fn write(room: &mut Room, who: usize, op: &QueueOp) -> Result<SignedOp, String> {
        let (kind, body) = op.body();
        room.write(who, NAME, kind, &body)
    }

    fn write_unheard(room: &mut Room, who: usize, op: &QueueOp) -> Result<SignedOp, String> {
        let (kind, body) = op.body();
        room.write_unheard(who, NAME, kind, &body)
    }

    fn fold_key(op: &SignedOp) -> (u64, NodeId, u64) {
        (op.op.lamport, op.op.author, op.op.seq)
    }

    #[test]
    fn a_refused_command_is_never_written() {
        let mut room = Room::new(2, 1, make);
        write(&mut room, 0, &create("help")).expect("created");
        let err = write(&mut room, 0, &next("help")).expect_err("refused by check");
        assert_eq!(err, "queue help is empty");
        write(&mut room, 1, &join("help", "a")).expect("joined");
        let err = write(&mut room, 1, &join("help", "a")).expect_err("refused by check");
        assert!(err.contains("already waiting"), "{err}");
        assert_eq!(room.ops.len(), 2);
    }

    #[test]
    fn concurrent_joins_take_places_in_fold_order() {
        let mut room = Room::new(4, 5, make);
        write(&mut room, 0, &create("help")).expect("created");
        // Everyone hears the create (a refused command still hears first),
        // then joins without hearing the others: all three concurrent.
        for who in 1..4 {
            write(&mut room, who, &next("help")).expect_err("not the owner");
        }
        let mut joins: Vec<SignedOp> = (1..4)
            .map(|who| write_unheard(&mut room, who, &join("help", "x")).expect("joined"))
            .collect();
        assert!(joins.iter().all(|op| op.op.lamport == 2));
        joins.sort_by_key(fold_key);
        let e = assert_order_independent(make, &room.ops, 5, 10);
        let queues = state::<Queues>(&e, NAME);
        assert_eq!(
            line(queues, "help"),
            joins.iter().map(|op| op.op.author).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_leave_concurrent_with_the_serving_of_its_author_is_decided_by_fold_order() {
        let mut room = Room::new(3, 6, make);
        write(&mut room, 0, &create("help")).expect("created");
        write(&mut room, 1, &join("help", "first")).expect("joined");
        write(&mut room, 2, &join("help", "second")).expect("joined");
        // Both have heard everything; neither hears the other.
        write(&mut room, 0, &create("other")).expect("created");
        let leaving = write(&mut room, 1, &leave("help")).expect("left");
        let serving = write_unheard(&mut room, 0, &next("help")).expect("served");
        let e = assert_order_independent(make, &room.ops, 6, 10);
        let queue = state::<Queues>(&e, NAME).queue("help").expect("exists");
        let served: Vec<NodeId> = queue.served.iter().map(|s| s.entry.node).collect();
        if fold_key(&leaving) < fold_key(&serving) {
            // The first left, so the second was served.
            assert_eq!(served, vec![room.id(2)]);
            assert!(queue.waiting.is_empty());
        } else {
            // The first was served, so its leave is refused.
            assert_eq!(served, vec![room.id(1)]);
            assert_eq!(line(state::<Queues>(&e, NAME), "help"), vec![room.id(2)]);
        }
    }

    #[test]
    fn concurrent_creates_of_one_name_keep_the_first_in_fold_order() {
        let mut room = Room::new(2, 4, make);
        let a = write_unheard(&mut room, 0, &create("help")).expect("written");
        let b = write_unheard(&mut room, 1, &create("help")).expect("written");
        let e = assert_order_independent(make, &room.ops, 4, 10);
        let queue = state::<Queues>(&e, NAME).queue("help").expect("exists");
        let first = if fold_key(&a) < fold_key(&b) { a } else { b };
        assert_eq!(queue.owner, first.op.author);
        assert_eq!(queue.created, first.clone().verify().expect("valid").id());
    }

    /// The rules again, written plainly, over ops sorted by fold key:
    /// each queue's owner, waiting nodes and served nodes.
    fn model(
        written: &[(SignedOp, QueueOp)],
    ) -> BTreeMap<String, (NodeId, Vec<NodeId>, Vec<NodeId>)> {
        let mut sorted: Vec<&(SignedOp, QueueOp)> = written.iter().collect();
        sorted.sort_by_key(|(s, _)| fold_key(s));
        let mut queues: BTreeMap<String, (NodeId, Vec<NodeId>, Vec<NodeId>)> = BTreeMap::new();
        for (s, op) in sorted {
            let author = s.op.author;
            match op {
                QueueOp::Create(c) => {
                    queues
                        .entry(c.queue.clone())
                        .or_insert((author, Vec::new(), Vec::new()));
                }
                QueueOp::Join(j) => {
                    if let Some((_, waiting, _)) = queues.get_mut(&j.queue)
                        && !waiting.contains(&author)
                    {
                        waiting.push(author);
                    }
                }
                QueueOp::Leave(l) => {
                    if let Some((_, waiting, _)) = queues.get_mut(&l.queue) {
                        waiting.retain(|n| *n != author);
                    }
                }
                QueueOp::Next(n) => {
                    if let Some((owner, waiting, served)) = queues.get_mut(&n.queue)
                        && *owner == author
                        && !waiting.is_empty()
                    {
                        served.push(waiting.remove(0));
                    }
                }
            }
        }
        queues
    }

    #[test]
    fn random_rooms_fold_alike_in_any_order_with_contiguous_positions() {
        const QUEUES: [&str; 2] = ["help", "food"];
        let (mut waiting, mut served, mut refused_in_fold) = (0, 0, 0);
        for seed in 0..20 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let mut room = Room::new(5, seed, make);
            let mut written: Vec<(SignedOp, QueueOp)> = Vec::new();
            for step in 0..80 {
                let who = rng.random_range(0..5usize);
                let queue = QUEUES[rng.random_range(0..QUEUES.len())];
                let op = match rng.random_range(0..20) {
                    0 | 1 => create(queue),
                    2..=9 => QueueOp::Join(JoinQueue {
                        queue: queue.into(),
                        label: format!("person {who} at {step}"),
                        party: rng.random_range(1..=4),
                        note: rng.random_bool(0.3).then(|| "by the door".to_string()),
                    }),
                    10..=13 => leave(queue),
                    _ => next(queue),
                };
                let (kind, body) = op.body();
                let result = if rng.random_bool(0.4) {
                    room.write_unheard(who, NAME, kind, &body)
                } else {
                    room.write(who, NAME, kind, &body)
                };
                if let Ok(signed) = result {
                    written.push((signed, op));
                }
            }
            let e = assert_order_independent(make, &room.ops, seed, 4);
            let queues = state::<Queues>(&e, NAME);
            let expected = model(&written);
            assert_eq!(
                queues
                    .queues()
                    .iter()
                    .map(|q| q.id.clone())
                    .collect::<Vec<_>>(),
                expected.keys().cloned().collect::<Vec<_>>(),
                "seed {seed}"
            );
            for queue in queues.queues() {
                let (owner, line, done) = &expected[&queue.id];
                assert_eq!(queue.owner, *owner, "seed {seed}");
                let places = queue.places();
                // Positions are 1..=n, one per waiting node.
                assert_eq!(
                    places.iter().map(|p| p.position).collect::<Vec<_>>(),
                    (1..=queue.waiting.len()).collect::<Vec<_>>(),
                    "seed {seed}"
                );
                let nodes: Vec<NodeId> = places.iter().map(|p| p.entry.node).collect();
                assert_eq!(
                    nodes.iter().collect::<BTreeSet<_>>().len(),
                    nodes.len(),
                    "seed {seed}: one place per node"
                );
                for p in &places {
                    assert_eq!(
                        queue.position(&p.entry.node),
                        Some(p.position),
                        "seed {seed}"
                    );
                }
                assert_eq!(
                    queues.head(&queue.id).map(|e| e.node),
                    nodes.first().copied(),
                    "seed {seed}"
                );
                assert!(
                    queue.served.iter().all(|s| s.by == queue.owner),
                    "seed {seed}"
                );
                assert_eq!(&nodes, line, "seed {seed} queue {}", queue.id);
                let served_nodes: Vec<NodeId> = queue.served.iter().map(|s| s.entry.node).collect();
                assert_eq!(&served_nodes, done, "seed {seed} queue {}", queue.id);
                waiting += nodes.len();
                served += served_nodes.len();
            }
            refused_in_fold += e.folder().stats().refused;
        }
        // The scenarios reach every case.
        assert!(waiting > 20, "{waiting} waiting");
        assert!(served > 20, "{served} served");
        assert!(refused_in_fold > 5, "{refused_in_fold} refused in the fold");
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse("create help title=Help desk, hall B"),
            Ok(Command::Create {
                queue: "help".into(),
                title: Some("Help desk, hall B".into())
            })
        );
        assert_eq!(
            parse("create help"),
            Ok(Command::Create {
                queue: "help".into(),
                title: None
            })
        );
        assert_eq!(
            parse("join help label=Ana M party=3 note=needs a ramp"),
            Ok(Command::Join {
                queue: "help".into(),
                label: "Ana M".into(),
                party: 3,
                note: Some("needs a ramp".into())
            })
        );
        assert_eq!(
            parse(r#" join  help  label="Bo" "#),
            Ok(Command::Join {
                queue: "help".into(),
                label: "Bo".into(),
                party: 1,
                note: None
            })
        );
        assert_eq!(
            parse("leave help"),
            Ok(Command::Leave {
                queue: "help".into()
            })
        );
        assert_eq!(
            parse("next help"),
            Ok(Command::Next {
                queue: "help".into()
            })
        );
        assert_eq!(
            parse("list help"),
            Ok(Command::List {
                queue: "help".into()
            })
        );
    }

    #[test]
    fn bad_commands_give_reasons() {
        let cases = [
            ("", "usage: /queue create"),
            ("serve help", "usage: /queue create"),
            ("create", "usage: /queue create ID"),
            ("create title=x", "usage: /queue create ID"),
            ("create Help", "lower-case"),
            ("create help desk", "unexpected \"desk\""),
            ("create help title=\" \"", "a queue title cannot be empty"),
            ("join help", "missing label="),
            ("join help party=2", "missing label="),
            ("join help label=a party=0", "1 to 50 people, not 0"),
            ("join help label=a party=51", "1 to 50 people, not 51"),
            ("join help label=a party=two", "a party is a number"),
            ("join help Ana", "unexpected \"Ana\""),
            ("join label=a", "usage: /queue join ID"),
            ("leave", "usage: /queue leave ID"),
            ("leave help now", "usage: /queue leave ID"),
            ("next", "usage: /queue next ID"),
            ("list", "usage: /queue list ID"),
            ("list Help", "lower-case"),
        ];
        for (input, reason) in cases {
            let err = parse(input).expect_err(input);
            assert!(err.contains(reason), "{input:?}: {err}");
        }
    }

    #[test]
    fn commands_become_ops() {
        assert_eq!(
            parse("create help").expect("parses").op(),
            Some(create("help"))
        );
        assert_eq!(
            parse("join help label=a").expect("parses").op(),
            Some(join("help", "a"))
        );
        assert_eq!(
            parse("leave help").expect("parses").op(),
            Some(leave("help"))
        );
        assert_eq!(parse("next help").expect("parses").op(), Some(next("help")));
        assert_eq!(parse("list help").expect("parses").op(), None);
        let op = join("help", "a");
        let (kind, body) = op.body();
        assert_eq!(QueueOp::decode(kind, &body), Ok(op));
    }
}
