//! Lost and found: people post what they lost or found, others claim it,
//! and the poster resolves the item once it is back with its owner.
//!
//! # Ops
//!
//! Kinds (bodies encoded with [`codec::encode_value`]; build them with
//! [`LostFoundOp::body`]):
//!
//! * [`KIND_LOST`], [`KIND_FOUND`]: an [`ItemBody`] `{ description, place,
//!   contact }`. The item's id is the op's id; lost and found items share
//!   one id space.
//! * [`KIND_CLAIM`]: a [`ClaimBody`] `{ item, note }`. On a found item a
//!   claim says "that's mine"; on a lost item, "I found it".
//! * [`KIND_RESOLVE`]: the item's [`OpId`]: it is back with its owner.
//!
//! # Rules, in the order they are checked
//!
//! Every op: its kind is one of the above and its body decodes
//! (canonically); otherwise it is refused with the reason.
//!
//! * **Lost / found**: the description is not blank and has at most
//!   [`DESCRIPTION_CHARS_MAX`] characters; `place` and `contact` are
//!   absent or not blank, at most [`PLACE_CHARS_MAX`] and
//!   [`CONTACT_CHARS_MAX`] characters. No field holds a control character
//!   (each is one line). Anyone may post.
//! * **Claim**: the item exists; it is not resolved; the claimer is not its
//!   poster (a poster has nothing to claim on their own item); the claimer
//!   has not claimed it already; it has fewer than
//!   [`CLAIMS_PER_ITEM_MAX`] claims; the note, if any, is not blank, at
//!   most [`NOTE_CHARS_MAX`] characters, one line. Several people may claim
//!   one item: the claims are a list, in fold order, that the poster sees
//!   (and everyone else: the room is one space), and the poster decides.
//! * **Resolve**: the item exists; the op's author is its poster; it is
//!   not resolved already. An item may be resolved with or without claims.
//!
//! # Conflicts
//!
//! A claim and a resolve written concurrently are ordered by the fold
//! `(lamport, author, seq)` like everything else: a claim that sorts after
//! the resolve is refused on every node alike; one that sorts before it is
//! kept. An op naming an item that does not sort before it (a forged or
//! unheard id) is refused.
//!
//! # Listing
//!
//! [`LostFound::items`] lists open items (or, with `all`, resolved ones
//! too), newest first in fold order (wall clocks are shown, never used to
//! order), each with its short id: the shortest prefix of its op id, at
//! least [`ids::SHORT_HEX_MIN`] hex digits, unique among all items
//! (resolved ones included, so every shown id resolves with
//! [`LostFound::find`]).
//!
//! # Commands
//!
//! [`parse`] reads the line client's commands ([`COMMANDS`]):
//!
//! * `/lost DESCRIPTION [where=PLACE] [contact=HINT]` and
//!   `/found DESCRIPTION [where=PLACE] [contact=HINT]` (values run to the
//!   next key or may be quoted, see [`crate::applets::args`]);
//! * `/claim ID [note]`: an id prefix, then an optional free-text note;
//! * `/resolve ID`;
//! * `/lostfound [all]`.
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

use super::announce::check_text;
use super::{args, ids};
use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};

/// The applet's name in ops.
pub const NAME: &str = "lostfound";
/// Longest description, in characters (Unicode scalar values).
pub const DESCRIPTION_CHARS_MAX: usize = 200;
/// Longest place (`where=`), in characters.
pub const PLACE_CHARS_MAX: usize = 200;
/// Longest contact hint (`contact=`), in characters.
pub const CONTACT_CHARS_MAX: usize = 200;
/// Longest claim note, in characters.
pub const NOTE_CHARS_MAX: usize = 200;
/// Most claims one item takes (one per person).
pub const CLAIMS_PER_ITEM_MAX: usize = 64;
/// The line client's slash-words this applet reads (see [`parse`]).
pub const COMMANDS: &[&str] = &["lost", "found", "claim", "resolve", "lostfound"];

/// Whether an item was lost or found.
/// (`lost`/`found` in JSON; on the wire and in saved state, bincode's
/// variant index, which the name does not change.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Someone lost it (a claim says "I found it").
    Lost,
    /// Someone found it (a claim says "that's mine").
    Found,
}

/// The body of a [`KIND_LOST`] or [`KIND_FOUND`] op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemBody {
    /// What it is: 1 to [`DESCRIPTION_CHARS_MAX`] characters, one line.
    pub description: String,
    /// Where it was lost or found (`where=` in commands).
    pub place: Option<String>,
    /// How to reach the poster (`contact=`).
    pub contact: Option<String>,
}

/// The body of a [`KIND_CLAIM`] op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimBody {
    /// The item claimed.
    pub item: OpId,
    /// A word for the poster, if any (`/claim ID note`).
    pub note: Option<String>,
}

crate::applet_ops! {
    /// A lost-and-found op, typed: [`LostFoundOp::body`] encodes it,
    /// [`LostFoundOp::decode`] reads it back.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum LostFoundOp for NAME {
        /// Something lost; the body is an [`ItemBody`].
        KIND_LOST = 1 => Lost(ItemBody),
        /// Something found; the body is an [`ItemBody`].
        KIND_FOUND = 2 => Found(ItemBody),
        /// A claim on an item; the body is a [`ClaimBody`].
        KIND_CLAIM = 3 => Claim(ClaimBody),
        /// The item is back with its owner; the body is the item's [`OpId`].
        KIND_RESOLVE = 4 => Resolve(OpId),
    }
}

impl LostFoundOp {
    /// A lost or a found item, as `kind` says.
    pub fn post(kind: ItemKind, item: ItemBody) -> LostFoundOp {
        match kind {
            ItemKind::Lost => LostFoundOp::Lost(item),
            ItemKind::Found => LostFoundOp::Found(item),
        }
    }

    /// For a lost or a found item: which, and the item.
    pub fn item(&self) -> Option<(ItemKind, &ItemBody)> {
        match self {
            LostFoundOp::Lost(item) => Some((ItemKind::Lost, item)),
            LostFoundOp::Found(item) => Some((ItemKind::Found, item)),
            _ => None,
        }
    }
}

/// A claim on an item, as folded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The claiming op's id.
    pub id: OpId,
    /// The claimer.
    pub by: NodeId,
    /// The claimer's wall clock when claiming (for display only).
    pub wall_ms: u64,
    /// The claim's note, if any.
    pub note: Option<String>,
}

/// An item, as folded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The id of the op that posted it.
    pub id: OpId,
    /// Lost or found.
    pub kind: ItemKind,
    /// Who posted it (the only one who may resolve it).
    pub poster: NodeId,
    /// The posting op's place in the fold order `(lamport, poster, seq)`.
    pub lamport: u64,
    /// The posting op's seq (see `lamport`).
    pub seq: u64,
    /// The poster's wall clock when posting (for display only).
    pub wall_ms: u64,
    /// What it is.
    pub description: String,
    /// Where it was lost or found, if given.
    pub place: Option<String>,
    /// How to reach the poster, if given.
    pub contact: Option<String>,
    /// In fold order; at most one per person, never the poster.
    pub claims: Vec<Claim>,
    /// The wall time of the resolving op, once resolved.
    pub resolved_ms: Option<u64>,
}

impl Item {
    fn fold_key(&self) -> (u64, NodeId, u64) {
        (self.lamport, self.poster, self.seq)
    }

    /// Not resolved yet.
    pub fn is_open(&self) -> bool {
        self.resolved_ms.is_none()
    }
}

/// An item in a listing, with the short id people type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The shortest unique prefix of its id, as people type it.
    pub short: String,
    /// The item.
    pub item: Item,
}

/// The lost-and-found applet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LostFound {
    items: BTreeMap<OpId, Item>,
}

/// What an op that passed the rules changes.
enum Change {
    Post(Item),
    Claim(OpId, Claim),
    Resolve(OpId, u64),
}

impl LostFound {
    /// The item posted by op `id`.
    pub fn item(&self, id: &OpId) -> Option<&Item> {
        self.items.get(id)
    }

    /// Open items (resolved ones too with `all`), newest first in fold
    /// order.
    pub fn items(&self, all: bool) -> Vec<Entry> {
        let mut shown: Vec<&Item> = self.items.values().filter(|i| all || i.is_open()).collect();
        shown.sort_by_key(|i| std::cmp::Reverse(i.fold_key()));
        shown
            .into_iter()
            .map(|i| Entry {
                short: self.short(&i.id),
                item: i.clone(),
            })
            .collect()
    }

    /// The one item (resolved ones included) whose id starts with
    /// `prefix`, or why there is none.
    pub fn find(&self, prefix: &str) -> Result<OpId, String> {
        ids::resolve(prefix, self.items.keys())
    }

    /// The short id of `id` among all items: the same as [`ids::short`]
    /// over all of them, computed from its two neighbours in id order.
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
    pub fn op_for(&self, command: &Command) -> Result<Option<LostFoundOp>, String> {
        Ok(Some(match command {
            Command::Post { kind, item } => LostFoundOp::post(*kind, item.clone()),
            Command::Claim { id, note } => LostFoundOp::Claim(ClaimBody {
                item: self.find(id)?,
                note: note.clone(),
            }),
            Command::Resolve { id } => LostFoundOp::Resolve(self.find(id)?),
            Command::List { .. } => return Ok(None),
        }))
    }

    /// The rules: what `op` would change, or why it is refused. Shared by
    /// [`Applet::check`] and [`Applet::apply`].
    fn validate(&self, op: &AppliedOp<'_>) -> Result<Change, String> {
        match LostFoundOp::decode(op.kind, op.body)? {
            LostFoundOp::Lost(body) | LostFoundOp::Found(body) => {
                // Decoded by its kind: KIND_LOST or KIND_FOUND.
                let kind = if op.kind == KIND_LOST {
                    ItemKind::Lost
                } else {
                    ItemKind::Found
                };
                check_item(&body)?;
                Ok(Change::Post(Item {
                    id: op.id,
                    kind,
                    poster: op.author,
                    lamport: op.lamport,
                    seq: op.seq,
                    wall_ms: op.wall_ms,
                    description: body.description,
                    place: body.place,
                    contact: body.contact,
                    claims: Vec::new(),
                    resolved_ms: None,
                }))
            }
            LostFoundOp::Claim(claim) => {
                let item = self.existing(&claim.item)?;
                let short = self.short(&claim.item);
                if !item.is_open() {
                    return Err(format!("item {short} is resolved"));
                }
                if item.poster == op.author {
                    return Err(format!("you posted item {short}: you cannot claim it"));
                }
                if item.claims.iter().any(|c| c.by == op.author) {
                    return Err(format!("you have already claimed item {short}"));
                }
                if item.claims.len() >= CLAIMS_PER_ITEM_MAX {
                    return Err(format!(
                        "item {short} has {CLAIMS_PER_ITEM_MAX} claims, the most it takes"
                    ));
                }
                check_optional("note", claim.note.as_deref(), NOTE_CHARS_MAX)?;
                Ok(Change::Claim(
                    claim.item,
                    Claim {
                        id: op.id,
                        by: op.author,
                        wall_ms: op.wall_ms,
                        note: claim.note,
                    },
                ))
            }
            LostFoundOp::Resolve(id) => {
                let item = self.existing(&id)?;
                let short = self.short(&id);
                if item.poster != op.author {
                    return Err(format!("only the poster of item {short} can resolve it"));
                }
                if !item.is_open() {
                    return Err(format!("item {short} is already resolved"));
                }
                Ok(Change::Resolve(id, op.wall_ms))
            }
        }
    }

    fn existing(&self, id: &OpId) -> Result<&Item, String> {
        self.items
            .get(id)
            .ok_or_else(|| format!("no item {}", id.fmt_short()))
    }
}

/// The limits of a posted item's fields.
fn check_item(body: &ItemBody) -> Result<(), String> {
    check_text(
        "description",
        &body.description,
        DESCRIPTION_CHARS_MAX,
        false,
    )?;
    check_optional("where", body.place.as_deref(), PLACE_CHARS_MAX)?;
    check_optional("contact", body.contact.as_deref(), CONTACT_CHARS_MAX)
}

/// An optional one-line field: absent, or within its limits.
fn check_optional(what: &str, text: Option<&str>, chars_max: usize) -> Result<(), String> {
    text.map_or(Ok(()), |t| check_text(what, t, chars_max, false))
}

impl Applet for LostFound {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        self.validate(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        match self.validate(op)? {
            Change::Post(item) => {
                self.items.insert(item.id, item);
            }
            Change::Claim(id, claim) => {
                if let Some(item) = self.items.get_mut(&id) {
                    item.claims.push(claim);
                }
            }
            Change::Resolve(id, wall_ms) => {
                if let Some(item) = self.items.get_mut(&id) {
                    item.resolved_ms = Some(wall_ms);
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

/// A command of the line client, parsed (ids are prefixes, resolved later
/// with [`LostFound::find`] or [`LostFound::op_for`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Command {
    /// `/lost DESCRIPTION [where=PLACE] [contact=HINT]` or `/found ..`
    Post {
        /// Lost or found (the slash-word).
        kind: ItemKind,
        /// The item's description, place and contact.
        item: ItemBody,
    },
    /// `/claim ID [note]`
    Claim {
        /// The item's id or id prefix.
        id: String,
        /// The note, if any.
        note: Option<String>,
    },
    /// `/resolve ID`
    Resolve {
        /// The item's id or id prefix.
        id: String,
    },
    /// `/lostfound [all]`
    List {
        /// Resolved items too.
        all: bool,
    },
}

/// Parses the arguments `args` of the slash-word `word` (one of
/// [`COMMANDS`], without the slash). Needs no state.
pub fn parse(word: &str, args: &str) -> Result<Command, String> {
    let args = args.trim();
    match word {
        "lost" => post(ItemKind::Lost, word, args),
        "found" => post(ItemKind::Found, word, args),
        "claim" => {
            let (id, note) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let id = hex_id(id, "usage: /claim ID [note]")?;
            let note = Some(note.trim())
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            check_optional("note", note.as_deref(), NOTE_CHARS_MAX)?;
            Ok(Command::Claim { id, note })
        }
        "resolve" => {
            let id = Some(args)
                .filter(|a| !a.contains(char::is_whitespace))
                .ok_or("usage: /resolve ID")?;
            hex_id(id, "usage: /resolve ID").map(|id| Command::Resolve { id })
        }
        "lostfound" => match args {
            "" => Ok(Command::List { all: false }),
            "all" => Ok(Command::List { all: true }),
            _ => Err("usage: /lostfound [all]".into()),
        },
        _ => Err(format!("lostfound has no command /{word}")),
    }
}

/// `/lost` or `/found`: free text and `where=`, `contact=`.
fn post(kind: ItemKind, word: &str, input: &str) -> Result<Command, String> {
    let parsed = args::parse(input, &["where", "contact"])?;
    if parsed.text.is_empty() {
        return Err(format!(
            "usage: /{word} DESCRIPTION [where=PLACE] [contact=HINT]"
        ));
    }
    let item = ItemBody {
        description: parsed.text.clone(),
        place: parsed.get("where").map(str::to_string),
        contact: parsed.get("contact").map(str::to_string),
    };
    check_item(&item)?;
    Ok(Command::Post { kind, item })
}

/// An id prefix as typed: hex digits (resolved later).
fn hex_id(id: &str, usage: &str) -> Result<String, String> {
    if id.is_empty() {
        return Err(usage.to_string());
    }
    if !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{id:?} is not an item id (hex digits)"));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::applets::testkit::{Room, SEAL, assert_order_independent, state};
    use crate::proto::EngineRng;
    use crate::proto::oplog::op::{SignedOp, open_body};

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(LostFound::default())]
    }

    fn item(description: &str) -> ItemBody {
        ItemBody {
            description: description.into(),
            place: None,
            contact: None,
        }
    }

    fn claim(item: OpId, note: Option<&str>) -> LostFoundOp {
        LostFoundOp::Claim(ClaimBody {
            item,
            note: note.map(str::to_string),
        })
    }

    /// `who` writes `op` after hearing everything; its id.
    fn write(room: &mut Room, who: usize, op: &LostFoundOp) -> Result<OpId, String> {
        let (kind, body) = op.body();
        room.write(who, NAME, kind, &body).map(|s| s.op.id())
    }

    fn folded(room: &Room) -> LostFound {
        state::<LostFound>(&room.fold(), NAME).clone()
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
    fn refused(lf: &mut LostFound, op: &AppliedOp<'_>, want: &str) {
        let before = lf.save();
        let checked = lf.check(op).expect_err("check refuses");
        let applied = lf.apply(op).expect_err("apply refuses");
        assert_eq!(checked, applied);
        assert!(applied.contains(want), "{applied:?} lacks {want:?}");
        assert_eq!(lf.save(), before, "a refused op changed the state");
    }

    /// A state holding one found item with id `01..` posted by author 1.
    fn one_found_item() -> LostFound {
        let mut lf = LostFound::default();
        let body = LostFoundOp::Found(item("blue umbrella")).body();
        lf.apply(&applied(1, 1, 1, body.0, &body.1))
            .expect("posted");
        lf
    }

    #[test]
    fn lost_and_found_items_are_listed_newest_first_until_resolved() {
        let mut room = Room::new(2, 1, make);
        let umbrella = ItemBody {
            description: "blue umbrella".into(),
            place: Some("main hall".into()),
            contact: Some("ask at the desk".into()),
        };
        let lost = write(&mut room, 0, &LostFoundOp::Lost(umbrella.clone())).expect("posted");
        let found = write(&mut room, 1, &LostFoundOp::Found(item("keys"))).expect("posted");
        let lf = folded(&room);
        let open: Vec<OpId> = lf.items(false).iter().map(|e| e.item.id).collect();
        assert_eq!(open, vec![found, lost]);
        let it = lf.item(&lost).expect("exists");
        assert_eq!(it.kind, ItemKind::Lost);
        assert_eq!(it.poster, room.id(0));
        assert_eq!(it.place.as_deref(), Some("main hall"));
        assert_eq!(it.contact.as_deref(), Some("ask at the desk"));
        assert_eq!(
            lf.items(false)[1].short,
            ids::short(&lost, [lost, found].iter())
        );

        write(&mut room, 0, &LostFoundOp::Resolve(lost)).expect("resolved");
        let lf = folded(&room);
        let open: Vec<OpId> = lf.items(false).iter().map(|e| e.item.id).collect();
        assert_eq!(open, vec![found]);
        let all: Vec<OpId> = lf.items(true).iter().map(|e| e.item.id).collect();
        assert_eq!(all, vec![found, lost]);
        assert!(!lf.item(&lost).expect("kept").is_open());
    }

    #[test]
    fn several_people_claim_one_item_and_the_poster_sees_them_in_order() {
        let mut room = Room::new(3, 2, make);
        let id = write(&mut room, 0, &LostFoundOp::Found(item("keys"))).expect("posted");
        write(&mut room, 1, &claim(id, Some("red keyring"))).expect("claimed");
        write(&mut room, 2, &claim(id, None)).expect("claimed");
        let lf = folded(&room);
        let claims = &lf.item(&id).expect("exists").claims;
        let by: Vec<NodeId> = claims.iter().map(|c| c.by).collect();
        assert_eq!(by, vec![room.id(1), room.id(2)]);
        assert_eq!(claims[0].note.as_deref(), Some("red keyring"));
        assert_eq!(claims[1].note, None);
    }

    #[test]
    fn the_poster_cannot_claim_and_nobody_claims_twice() {
        let mut room = Room::new(2, 3, make);
        let id = write(&mut room, 0, &LostFoundOp::Lost(item("phone"))).expect("posted");
        let err = write(&mut room, 0, &claim(id, None)).expect_err("the poster");
        assert!(err.contains("you cannot claim it"), "{err}");
        write(&mut room, 1, &claim(id, Some("at the bar"))).expect("claimed");
        let err = write(&mut room, 1, &claim(id, None)).expect_err("twice");
        assert!(err.contains("already claimed"), "{err}");
        assert_eq!(room.ops.len(), 2);
    }

    #[test]
    fn only_the_poster_resolves_and_only_once_and_claims_stop_after() {
        let mut room = Room::new(2, 4, make);
        let id = write(&mut room, 0, &LostFoundOp::Found(item("scarf"))).expect("posted");
        let err = write(&mut room, 1, &LostFoundOp::Resolve(id)).expect_err("not the poster");
        assert!(err.contains("only the poster of item"), "{err}");
        write(&mut room, 0, &LostFoundOp::Resolve(id)).expect("resolved");
        let err = write(&mut room, 0, &LostFoundOp::Resolve(id)).expect_err("twice");
        assert!(err.contains("is already resolved"), "{err}");
        let err = write(&mut room, 1, &claim(id, None)).expect_err("resolved");
        assert!(err.contains("is resolved"), "{err}");
        assert_eq!(room.ops.len(), 2);
    }

    #[test]
    fn refusals_change_nothing() {
        let mut lf = one_found_item();
        let target = OpId([1; 32]);
        let body = claim(target, None).body().1;
        refused(
            &mut lf,
            &applied(2, 1, 2, KIND_CLAIM, &body),
            "you posted item 0101: you cannot claim it",
        );
        lf.apply(&applied(2, 2, 2, KIND_CLAIM, &body))
            .expect("claimed");
        refused(
            &mut lf,
            &applied(3, 2, 3, KIND_CLAIM, &body),
            "you have already claimed item 0101",
        );
        let resolve = LostFoundOp::Resolve(target).body().1;
        refused(
            &mut lf,
            &applied(4, 2, 4, KIND_RESOLVE, &resolve),
            "only the poster of item 0101 can resolve it",
        );
        lf.apply(&applied(5, 1, 5, KIND_RESOLVE, &resolve))
            .expect("resolved");
        refused(
            &mut lf,
            &applied(6, 1, 6, KIND_RESOLVE, &resolve),
            "item 0101 is already resolved",
        );
        refused(
            &mut lf,
            &applied(7, 3, 7, KIND_CLAIM, &body),
            "item 0101 is resolved",
        );
    }

    #[test]
    fn an_item_takes_a_bounded_number_of_claims() {
        let mut lf = one_found_item();
        let body = claim(OpId([1; 32]), None).body().1;
        for n in 0..CLAIMS_PER_ITEM_MAX {
            let by = 10 + n as u8;
            lf.apply(&applied(by, by, 2 + n as u64, KIND_CLAIM, &body))
                .expect("claimed");
        }
        refused(
            &mut lf,
            &applied(200, 200, 100, KIND_CLAIM, &body),
            "has 64 claims, the most it takes",
        );
    }

    #[test]
    fn fields_are_within_their_limits() {
        let mut lf = one_found_item();
        let long = "x".repeat(201);
        let with = |description: &str, place: Option<&str>, contact: Option<&str>| ItemBody {
            description: description.into(),
            place: place.map(str::to_string),
            contact: contact.map(str::to_string),
        };
        let cases = [
            (with(" ", None, None), "empty description"),
            (
                with(&long, None, None),
                "description has more than 200 characters",
            ),
            (
                with("a\nb", None, None),
                "description has a control character",
            ),
            (with("x", Some(""), None), "empty where"),
            (with("x", Some(&long), None), "where has more than 200"),
            (with("x", None, Some(" ")), "empty contact"),
            (with("x", None, Some(&long)), "contact has more than 200"),
            (
                with("x", None, Some("\u{1b}[2J")),
                "contact has a control character",
            ),
        ];
        for (i, (body, want)) in cases.into_iter().enumerate() {
            for kind in [ItemKind::Lost, ItemKind::Found] {
                let (k, b) = LostFoundOp::post(kind, body.clone()).body();
                refused(&mut lf, &applied(50 + i as u8, 1, 9, k, &b), want);
            }
        }
        let most = "é".repeat(200);
        let (k, b) = LostFoundOp::Lost(with(&most, Some(&most), Some(&most))).body();
        lf.apply(&applied(90, 1, 9, k, &b))
            .expect("200 characters each are allowed");
        for (note, want) in [
            (" ", "empty note"),
            (long.as_str(), "note has more than 200"),
        ] {
            let b = claim(OpId([1; 32]), Some(note)).body().1;
            refused(&mut lf, &applied(91, 2, 10, KIND_CLAIM, &b), want);
        }
    }

    #[test]
    fn unknown_kinds_bad_bodies_and_unknown_items_are_refused() {
        let mut lf = one_found_item();
        refused(
            &mut lf,
            &applied(2, 2, 2, 0, b""),
            "lostfound has no kind 0",
        );
        refused(
            &mut lf,
            &applied(2, 2, 2, 5, b""),
            "lostfound has no kind 5",
        );
        refused(
            &mut lf,
            &applied(2, 2, 2, KIND_LOST, b"junk"),
            "lostfound lost body",
        );
        refused(
            &mut lf,
            &applied(2, 2, 2, KIND_FOUND, b""),
            "lostfound found body",
        );
        refused(
            &mut lf,
            &applied(2, 2, 2, KIND_CLAIM, &[1; 32]),
            "lostfound claim body",
        );
        let mut trailing = LostFoundOp::Resolve(OpId([1; 32])).body().1;
        trailing.push(0);
        refused(
            &mut lf,
            &applied(2, 1, 2, KIND_RESOLVE, &trailing),
            "lostfound resolve body",
        );
        let ghost = OpId([9; 32]);
        refused(
            &mut lf,
            &applied(2, 2, 2, KIND_CLAIM, &claim(ghost, None).body().1),
            "no item 09090909",
        );
        refused(
            &mut lf,
            &applied(2, 2, 2, KIND_RESOLVE, &LostFoundOp::Resolve(ghost).body().1),
            "no item 09090909",
        );
    }

    #[test]
    fn ops_round_trip_through_their_bodies() {
        for op in [
            LostFoundOp::Lost(item("hat")),
            LostFoundOp::Found(ItemBody {
                description: "hat".into(),
                place: Some("gate".into()),
                contact: Some("me".into()),
            }),
            claim(OpId([1; 32]), Some("mine")),
            claim(OpId([1; 32]), None),
            LostFoundOp::Resolve(OpId([2; 32])),
        ] {
            let (kind, body) = op.body();
            assert_eq!(LostFoundOp::decode(kind, &body), Ok(op));
        }
    }

    /// A claim written without hearing the resolve counts exactly when it
    /// sorts before the resolve in the fold, whatever order ops arrive in.
    #[test]
    fn a_claim_concurrent_with_the_resolve_counts_only_if_it_sorts_first() {
        // Seeds where the claim sorts after, and before, the resolve.
        let mut outcomes = [0; 2];
        for seed in 0..8 {
            let mut room = Room::new(2, seed, make);
            let id = write(&mut room, 0, &LostFoundOp::Found(item("bag"))).expect("posted");
            // The claimer hears the post, then writes without hearing the
            // resolve; both ops get the same lamport time, so the authors'
            // ids decide their order.
            room.write(
                1,
                NAME,
                KIND_FOUND,
                &LostFoundOp::Found(item("pen")).body().1,
            )
            .expect("heard the bag");
            let resolve = write(&mut room, 0, &LostFoundOp::Resolve(id)).expect("resolved");
            let (kind, body) = claim(id, None).body();
            let claimed = room
                .write_unheard(1, NAME, kind, &body)
                .expect("the claimer saw it open");
            let e = assert_order_independent(make, &room.ops, seed, 8);
            let lf = state::<LostFound>(&e, NAME);
            let resolve_op = room
                .ops
                .iter()
                .find(|o| o.op.id() == resolve)
                .expect("written");
            let claim_first = fold_key(&claimed) < fold_key(resolve_op);
            outcomes[usize::from(claim_first)] += 1;
            let it = lf.item(&id).expect("exists");
            assert_eq!(it.claims.len(), usize::from(claim_first), "seed {seed}");
            assert!(!it.is_open(), "seed {seed}");
            assert_eq!(
                e.folder().stats().refused,
                u64::from(!claim_first),
                "seed {seed}"
            );
        }
        assert!(outcomes.iter().all(|n| *n > 0), "both orders: {outcomes:?}");
    }

    #[test]
    fn commands_become_ops_with_their_ids_resolved() {
        let lf = one_found_item();
        let id = OpId([1; 32]);
        assert_eq!(
            lf.op_for(&parse("lost", "hat where=gate").expect("parses")),
            Ok(Some(LostFoundOp::Lost(ItemBody {
                description: "hat".into(),
                place: Some("gate".into()),
                contact: None
            })))
        );
        assert_eq!(
            lf.op_for(&parse("claim", "0101 mine").expect("parses")),
            Ok(Some(claim(id, Some("mine"))))
        );
        assert_eq!(
            lf.op_for(&parse("resolve", "01").expect("parses")),
            Ok(Some(LostFoundOp::Resolve(id)))
        );
        assert_eq!(
            lf.op_for(&parse("resolve", "ff").expect("parses")),
            Err("no item ff".into())
        );
        assert_eq!(lf.op_for(&Command::List { all: true }), Ok(None));
    }

    #[test]
    fn lost_and_found_commands_parse() {
        assert_eq!(
            parse(
                "lost",
                " blue umbrella where=main hall contact=ask at desk "
            ),
            Ok(Command::Post {
                kind: ItemKind::Lost,
                item: ItemBody {
                    description: "blue umbrella".into(),
                    place: Some("main hall".into()),
                    contact: Some("ask at desk".into()),
                }
            })
        );
        assert_eq!(
            parse("found", r#"keys contact="dm me, \"sam\"""#),
            Ok(Command::Post {
                kind: ItemKind::Found,
                item: ItemBody {
                    description: "keys".into(),
                    place: None,
                    contact: Some(r#"dm me, "sam""#.into()),
                }
            })
        );
        assert_eq!(
            parse("found", "a=b keys"),
            Ok(Command::Post {
                kind: ItemKind::Found,
                item: item("a=b keys")
            })
        );
        for (word, args, want) in [
            ("lost", "", "usage: /lost DESCRIPTION"),
            ("found", "where=hall", "usage: /found DESCRIPTION"),
            ("lost", "hat where=", "empty where"),
            ("lost", "hat contact=  ", "empty contact"),
            ("lost", "hat where=a where=b", "where= given twice"),
            ("found", "hat where=\"hall", "closing quote"),
        ] {
            let err = parse(word, args).expect_err(args);
            assert!(err.contains(want), "{word} {args:?}: {err}");
        }
        let long = "x".repeat(201);
        assert!(
            parse("lost", &long)
                .unwrap_err()
                .contains("description has more than 200")
        );
        assert!(
            parse("lost", &format!("x contact={long}"))
                .unwrap_err()
                .contains("contact has more than 200")
        );
    }

    #[test]
    fn claim_resolve_and_listing_commands_parse() {
        assert_eq!(
            parse("claim", "7f3a"),
            Ok(Command::Claim {
                id: "7f3a".into(),
                note: None
            })
        );
        assert_eq!(
            parse("claim", " 7F3A  it has my name inside "),
            Ok(Command::Claim {
                id: "7F3A".into(),
                note: Some("it has my name inside".into())
            })
        );
        assert_eq!(parse("claim", ""), Err("usage: /claim ID [note]".into()));
        assert_eq!(
            parse("claim", "keys mine"),
            Err("\"keys\" is not an item id (hex digits)".into())
        );
        assert!(
            parse("claim", &format!("7f3a {}", "x".repeat(201)))
                .unwrap_err()
                .contains("note has more than 200")
        );
        assert_eq!(
            parse("resolve", " 7f3a "),
            Ok(Command::Resolve { id: "7f3a".into() })
        );
        for bad in ["", "7f3a 1"] {
            assert_eq!(parse("resolve", bad), Err("usage: /resolve ID".into()));
        }
        assert_eq!(
            parse("resolve", "x"),
            Err("\"x\" is not an item id (hex digits)".into())
        );
        assert_eq!(parse("lostfound", ""), Ok(Command::List { all: false }));
        assert_eq!(parse("lostfound", " all "), Ok(Command::List { all: true }));
        assert_eq!(
            parse("lostfound", "everything"),
            Err("usage: /lostfound [all]".into())
        );
        assert_eq!(
            parse("announce", "x"),
            Err("lostfound has no command /announce".into())
        );
        for word in COMMANDS {
            assert!(!parse(word, "").is_err_and(|e| e.contains("no command")));
        }
    }

    /// Random scenarios: several people post, claim and resolve (some
    /// without hearing the others); every fold order gives one state, and
    /// the state keeps its invariants.
    #[test]
    fn random_scenarios_fold_alike_in_any_order_and_keep_invariants() {
        // Written claims that a resolve they had not heard refused.
        let mut claims_after_resolve = 0;
        for seed in 0..20 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let people = 4;
            let mut room = Room::new(people, seed, make);
            // (poster, id) of every item written.
            let mut posted: Vec<(usize, OpId)> = Vec::new();
            let mut written = [0usize; 4];
            for step in 0..80 {
                let who = rng.random_range(0..people);
                let op = if posted.is_empty() || rng.random_bool(0.3) {
                    let kind = if rng.random_bool(0.5) {
                        ItemKind::Lost
                    } else {
                        ItemKind::Found
                    };
                    LostFoundOp::post(
                        kind,
                        ItemBody {
                            description: format!("thing {step}"),
                            place: rng.random_bool(0.5).then(|| "hall".to_string()),
                            contact: rng.random_bool(0.5).then(|| "desk".to_string()),
                        },
                    )
                } else if rng.random_bool(0.6) {
                    let (_, id) = posted[rng.random_range(0..posted.len())];
                    claim(id, rng.random_bool(0.5).then_some("mine"))
                } else {
                    // Mostly one of the writer's own items.
                    let own: Vec<OpId> = posted
                        .iter()
                        .filter(|(by, _)| *by == who || rng.random_bool(0.1))
                        .map(|(_, id)| *id)
                        .collect();
                    match own.first() {
                        Some(_) => LostFoundOp::Resolve(own[rng.random_range(0..own.len())]),
                        None => claim(posted[0].1, None),
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
                    if op.item().is_some() {
                        posted.push((who, signed.op.id()));
                    }
                }
            }
            assert!(
                written.iter().all(|n| *n > 0),
                "seed {seed}: every kind is written ({written:?})"
            );
            let e = assert_order_independent(make, &room.ops, seed, 8);
            let lf = state::<LostFound>(&e, NAME);
            assert_eq!(
                lf.items.len(),
                posted.len(),
                "seed {seed}: posts always count"
            );
            for it in lf.items.values() {
                let mut by: Vec<NodeId> = it.claims.iter().map(|c| c.by).collect();
                assert!(!by.contains(&it.poster), "seed {seed}: the poster claimed");
                let n = by.len();
                by.sort();
                by.dedup();
                assert_eq!(by.len(), n, "seed {seed}: one claim per person");
            }
            let mut refused_here = 0;
            // Claims on resolved items are refused: every claim in the log
            // on an item counts only if it sorts before the resolve.
            for op in &room.ops {
                if op.op.kind != KIND_CLAIM {
                    continue;
                }
                let Some(LostFoundOp::Claim(c)) = decode_signed(op) else {
                    panic!("seed {seed}: a written claim decodes");
                };
                let poster = lf.item(&c.item).expect("exists").poster;
                let resolve = room.ops.iter().find(|r| {
                    r.op.author == poster && decode_signed(r) == Some(LostFoundOp::Resolve(c.item))
                });
                let counted = lf
                    .item(&c.item)
                    .expect("exists")
                    .claims
                    .iter()
                    .any(|k| k.id == op.op.id());
                let after_resolve = resolve.is_some_and(|r| fold_key(op) > fold_key(r));
                // Everything else was checked by the claimer, who knows
                // their own claims: only a resolve they had not heard
                // can refuse a written claim.
                assert_eq!(counted, !after_resolve, "seed {seed}");
                refused_here += u64::from(after_resolve);
            }
            assert_eq!(
                e.folder().stats().refused,
                refused_here,
                "seed {seed}: the fold refused nothing else"
            );
            claims_after_resolve += refused_here;
            let listed = lf.items(false);
            assert!(listed.iter().all(|e| e.item.is_open()), "seed {seed}");
            for pair in lf.items(true).windows(2) {
                assert!(
                    pair[0].item.fold_key() > pair[1].item.fold_key(),
                    "seed {seed}"
                );
            }
            for e in lf.items(true) {
                assert_eq!(lf.find(&e.short), Ok(e.item.id), "seed {seed}");
            }
            let mut copy = LostFound::default();
            copy.load(&lf.save()).expect("a saved state loads");
            assert_eq!(&copy, lf, "seed {seed}");
        }
        assert!(claims_after_resolve > 0, "the scenarios reach the conflict");
    }

    /// A written op's place in the fold order.
    fn fold_key(op: &SignedOp) -> (u64, NodeId, u64) {
        (op.op.lamport, op.op.author, op.op.seq)
    }

    /// A written op, opened and decoded.
    fn decode_signed(op: &SignedOp) -> Option<LostFoundOp> {
        let body = open_body(&SEAL, &op.op).ok()?;
        LostFoundOp::decode(op.op.kind, &body).ok()
    }
}
