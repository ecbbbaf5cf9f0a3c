//! Resource requests: someone asks for something ("2 chairs", "a medic"),
//! somewhere, with an urgency; someone else claims it, and it ends
//! fulfilled or cancelled.
//!
//! A request has no chosen name: it is known by the id of the op that
//! made it, shown as the shortest unique prefix ([`ids::short`]) and typed
//! as any prefix that picks it out ([`Requests::find`]).
//!
//! # Ops
//!
//! | kind | op | body |
//! |---|---|---|
//! | [`KIND_REQUEST`] | make a request | [`NewRequest`] `{ what, where, urgency }` |
//! | [`KIND_CLAIM`] | take it on | [`RequestRef`] `{ request }` |
//! | [`KIND_UNCLAIM`] | give it back | [`RequestRef`] |
//! | [`KIND_FULFIL`] | it is done | [`RequestRef`] |
//! | [`KIND_CANCEL`] | no longer needed | [`RequestRef`] |
//!
//! Build bodies with [`RequestOp::body`]; every op is decoded with
//! [`RequestOp::decode`], which refuses unknown kinds and bodies that do
//! not decode.
//!
//! # Rules
//!
//! A request goes `open → claimed → fulfilled`, may go back from
//! `claimed` to `open` (unclaim), and may be cancelled while open or
//! claimed. Fulfilled and cancelled are final (closed). The rules, in the
//! order they are checked (the first that fails refuses the op, with its
//! reason, and changes nothing):
//!
//! * **request**: `what` is not blank and has at most [`WHAT_CHARS_MAX`]
//!   characters; `where`, if given, is not blank and has at most
//!   [`WHERE_CHARS_MAX`] characters. Anyone may make a request.
//! * **claim**: the request exists; it is not closed; the author is not
//!   its requester (asking and helping are two people); it is not claimed
//!   already. Two claims of one open request: the first in fold order
//!   wins and the second is refused.
//! * **unclaim**: the request exists; it is not closed; it is claimed;
//!   the author is its claimer (only the claimer releases it; a requester
//!   whose helper went quiet cancels and asks again).
//! * **fulfil**: the request exists; it is not closed; the author is the
//!   requester or the claimer (an open request is fulfilled by its
//!   requester only: "I found one myself"; anyone else claims it first).
//! * **cancel**: the request exists; the author is its requester; it is
//!   not closed (a claimed request may be cancelled; its claimer is kept
//!   on record).
//!
//! Every decision reads only the ops and the state folded so far, so it
//! is the same on every node: concurrent claims, or a cancel and a fulfil
//! written at once, are settled by the fold order `(lamport, author,
//! seq)`.
//!
//! # Listing
//!
//! [`Requests::list`] gives the open and claimed requests, urgent first,
//! then normal, then low, oldest first (fold order of the request op)
//! within an urgency; with `all`, the closed ones follow, oldest first.
//!
//! # Commands
//!
//! ```text
//! /request what=TEXT [where=TEXT] [urgency=low|normal|urgent]
//! /request TEXT [where=TEXT] [urgency=..]      (free text is `what`)
//! /claim-request ID
//! /unclaim ID
//! /fulfil ID
//! /cancel ID
//! /requests [all]
//! ```
//!
//! [`COMMANDS`] maps each slash-word to its parser; the parsers need no
//! state, and the node resolves `ID` prefixes with [`Requests::find`].
//!
//! # Layout
//!
//! This file is the fold: pure, no IO, no clock, no randomness. Beside
//! it, [`line`](mod@line) runs the commands on a node for the line client,
//! and `sim.rs` plans this applet's ops in the simulator; the applet's
//! entry in [`crate::applets::BUILTIN`] names both.

pub mod line;
pub(crate) mod sim;

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{args, ids};
use crate::codec;
use crate::id::{NodeId, OpId};
use crate::proto::oplog::fold::{Applet, AppliedOp};

/// The applet's name in ops.
pub const NAME: &str = "request";
/// Longest `what`, in characters.
pub const WHAT_CHARS_MAX: usize = 200;
/// Longest `where`, in characters.
pub const WHERE_CHARS_MAX: usize = 200;

/// How soon it is needed. Listed urgent first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    /// When someone can.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Now.
    Urgent,
}

impl Urgency {
    /// The word people type and read: `low`, `normal`, `urgent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::Urgent => "urgent",
        }
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Urgency {
    type Err = String;
    fn from_str(s: &str) -> Result<Urgency, String> {
        match s {
            "low" => Ok(Urgency::Low),
            "normal" => Ok(Urgency::Normal),
            "urgent" => Ok(Urgency::Urgent),
            _ => Err(format!("urgency {s:?}: use one of low, normal, urgent")),
        }
    }
}

/// Body of [`KIND_REQUEST`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    /// What is needed: 1 to [`WHAT_CHARS_MAX`] characters, not blank.
    pub what: String,
    /// Where: none, or 1 to [`WHERE_CHARS_MAX`] characters, not blank.
    #[serde(rename = "where")]
    pub place: Option<String>,
    /// How soon.
    pub urgency: Urgency,
}

/// Body of [`KIND_CLAIM`], [`KIND_UNCLAIM`], [`KIND_FULFIL`] and
/// [`KIND_CANCEL`]: the id of the request's op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRef {
    /// The request (the id of the op that made it).
    pub request: OpId,
}

impl From<OpId> for RequestRef {
    fn from(request: OpId) -> RequestRef {
        RequestRef { request }
    }
}

impl From<RequestRef> for OpId {
    fn from(r: RequestRef) -> OpId {
        r.request
    }
}

crate::applet_ops! {
    /// One op of this applet, typed: [`RequestOp::body`] encodes it,
    /// [`RequestOp::decode`] reads it back.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum RequestOp for NAME {
        /// Makes a request; body [`NewRequest`].
        KIND_REQUEST = 1 => Request(NewRequest),
        /// Claims an open request; body [`RequestRef`].
        KIND_CLAIM = 2 => Claim(OpId as RequestRef),
        /// Gives a claimed request back (open again); body [`RequestRef`].
        KIND_UNCLAIM = 3 => Unclaim(OpId as RequestRef),
        /// Marks a request fulfilled; body [`RequestRef`].
        KIND_FULFIL = 4 => Fulfil(OpId as RequestRef),
        /// Cancels a request; body [`RequestRef`].
        KIND_CANCEL = 5 => Cancel(OpId as RequestRef),
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nobody has taken it on.
    Open,
    /// Someone took it on (its `claimer`).
    Claimed,
    /// Done.
    Fulfilled,
    /// No longer needed.
    Cancelled,
}

impl Status {
    /// Fulfilled or cancelled: nothing more happens to it.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Fulfilled | Status::Cancelled)
    }

    /// The word people read: `open`, `claimed`, `fulfilled`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Claimed => "claimed",
            Status::Fulfilled => "fulfilled",
            Status::Cancelled => "cancelled",
        }
    }
}

/// One request and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The id of the op that made it.
    pub id: OpId,
    /// Who asked (the only one who may cancel it).
    pub requester: NodeId,
    /// What is needed.
    pub what: String,
    /// Where, if given.
    #[serde(rename = "where")]
    pub place: Option<String>,
    /// How soon.
    pub urgency: Urgency,
    /// The request op's place in the fold order (`lamport`, `requester`,
    /// `seq`): its age.
    pub lamport: u64,
    /// The request op's seq (see `lamport`).
    pub seq: u64,
    /// The request op's wall time (display only).
    pub wall_ms: u64,
    /// Where it stands.
    pub status: Status,
    /// Who holds it while claimed; kept when a claimed request is
    /// fulfilled or cancelled, cleared by an unclaim.
    pub claimer: Option<NodeId>,
    /// Who fulfilled or cancelled it.
    pub closed_by: Option<NodeId>,
    /// Wall time of the last op that changed it (display only).
    pub changed_ms: u64,
}

/// The request applet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    requests: BTreeMap<OpId, Request>,
}

/// What an accepted op does (worked out by [`Requests::validate`], done
/// by [`Requests::apply`]).
enum Change {
    Add(Request),
    Set {
        id: OpId,
        status: Status,
        claimer: Option<NodeId>,
        closed_by: Option<NodeId>,
    },
}

impl Requests {
    /// Every request, by id.
    pub fn requests(&self) -> impl Iterator<Item = &Request> {
        self.requests.values()
    }

    /// The request made by op `id`.
    pub fn request(&self, id: &OpId) -> Option<&Request> {
        self.requests.get(id)
    }

    /// The one request whose id starts with `prefix` (hex).
    pub fn find(&self, prefix: &str) -> Result<OpId, String> {
        // The shared messages say "item"; here it is a request.
        ids::resolve(prefix, self.requests.keys())
            .map_err(|e| e.replace("an item", "a request").replace("item", "request"))
    }

    /// The shortest unique prefix of `id` among the requests.
    pub fn short(&self, id: &OpId) -> String {
        ids::short(id, self.requests.keys())
    }

    /// Open and claimed requests, urgent first, then normal, then low,
    /// oldest first within an urgency; with `all`, then the closed ones,
    /// oldest first.
    pub fn list(&self, all: bool) -> Vec<&Request> {
        let age = |r: &Request| (r.lamport, r.requester, r.seq);
        let mut active: Vec<&Request> = self
            .requests
            .values()
            .filter(|r| !r.status.is_closed())
            .collect();
        active.sort_by_key(|r| (Reverse(r.urgency), age(r)));
        if all {
            let mut closed: Vec<&Request> = self
                .requests
                .values()
                .filter(|r| r.status.is_closed())
                .collect();
            closed.sort_by_key(|r| age(r));
            active.extend(closed);
        }
        active
    }

    /// The rules: what `op` would change, or why it is refused.
    fn validate(&self, op: &AppliedOp<'_>) -> Result<Change, String> {
        let target = match RequestOp::decode(op.kind, op.body)? {
            RequestOp::Request(new) => return self.validate_new(op, new),
            RequestOp::Claim(id)
            | RequestOp::Unclaim(id)
            | RequestOp::Fulfil(id)
            | RequestOp::Cancel(id) => id,
        };
        let Some(r) = self.requests.get(&target) else {
            return Err(format!("no request {}", target.fmt_short()));
        };
        let name = self.short(&target);
        let closed = || format!("request {name} is {}", r.status.as_str());
        let set = |status, claimer, closed_by| Change::Set {
            id: target,
            status,
            claimer,
            closed_by,
        };
        match op.kind {
            KIND_CLAIM => {
                if r.status.is_closed() {
                    return Err(closed());
                }
                if r.requester == op.author {
                    return Err(format!("you cannot claim your own request {name}"));
                }
                if r.status == Status::Claimed {
                    return Err(format!("request {name} is already claimed"));
                }
                Ok(set(Status::Claimed, Some(op.author), None))
            }
            KIND_UNCLAIM => {
                if r.status.is_closed() {
                    return Err(closed());
                }
                if r.status != Status::Claimed {
                    return Err(format!("request {name} is not claimed"));
                }
                if r.claimer != Some(op.author) {
                    return Err(format!("only the claimer of request {name} can unclaim it"));
                }
                Ok(set(Status::Open, None, None))
            }
            KIND_FULFIL => {
                if r.status.is_closed() {
                    return Err(closed());
                }
                if r.requester != op.author && r.claimer != Some(op.author) {
                    return Err(if r.status == Status::Open {
                        format!("claim request {name} before fulfilling it")
                    } else {
                        format!("only the requester or the claimer of request {name} can fulfil it")
                    });
                }
                Ok(set(Status::Fulfilled, r.claimer, Some(op.author)))
            }
            _ => {
                // KIND_CANCEL: decode took no other kind.
                if r.requester != op.author {
                    return Err(format!(
                        "only the requester of request {name} can cancel it"
                    ));
                }
                if r.status.is_closed() {
                    return Err(closed());
                }
                Ok(set(Status::Cancelled, r.claimer, Some(op.author)))
            }
        }
    }

    fn validate_new(&self, op: &AppliedOp<'_>, new: NewRequest) -> Result<Change, String> {
        check_text("what", &new.what, WHAT_CHARS_MAX)?;
        if let Some(place) = &new.place {
            check_text("where", place, WHERE_CHARS_MAX)?;
        }
        if self.requests.contains_key(&op.id) {
            // An op is folded once; this guards the state all the same.
            return Err(format!("request {} exists", op.id.fmt_short()));
        }
        Ok(Change::Add(Request {
            id: op.id,
            requester: op.author,
            what: new.what,
            place: new.place,
            urgency: new.urgency,
            lamport: op.lamport,
            seq: op.seq,
            wall_ms: op.wall_ms,
            status: Status::Open,
            claimer: None,
            closed_by: None,
            changed_ms: op.wall_ms,
        }))
    }
}

/// Refuses blank text and text over `max` characters.
fn check_text(field: &str, text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(format!(
            "{field} has {chars} characters, at most {max} allowed"
        ));
    }
    Ok(())
}

impl Applet for Requests {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        self.validate(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        match self.validate(op)? {
            Change::Add(r) => {
                self.requests.insert(r.id, r);
            }
            Change::Set {
                id,
                status,
                claimer,
                closed_by,
            } => {
                if let Some(r) = self.requests.get_mut(&id) {
                    r.status = status;
                    r.claimer = claimer;
                    r.closed_by = closed_by;
                    r.changed_ms = op.wall_ms;
                }
            }
        }
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(&self.requests).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.requests = super::chat::decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.requests.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A request typed on the line client, before the node makes it an op
/// (`ID`s are prefixes the node resolves with [`Requests::find`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `/request`.
    Request(NewRequest),
    /// `/claim-request ID`.
    Claim(String),
    /// `/unclaim ID`.
    Unclaim(String),
    /// `/fulfil ID`.
    Fulfil(String),
    /// `/cancel ID`.
    Cancel(String),
    /// `/requests [all]`.
    List {
        /// Fulfilled and cancelled requests too.
        all: bool,
    },
}

/// A command's parser: the text after the slash-word.
pub type Parser = fn(&str) -> Result<Command, String>;

/// The slash-words of this applet and their parsers.
pub const COMMANDS: &[(&str, Parser)] = &[
    ("request", parse_request),
    ("claim-request", parse_claim),
    ("unclaim", parse_unclaim),
    ("fulfil", parse_fulfil),
    ("cancel", parse_cancel),
    ("requests", parse_list),
];

/// The parser of `word` (a slash-word without its slash), if it is one
/// of this applet's.
pub fn parser(word: &str) -> Option<Parser> {
    COMMANDS.iter().find(|(w, _)| *w == word).map(|(_, p)| *p)
}

/// `/request what=TEXT [where=TEXT] [urgency=low|normal|urgent]`; text
/// before the first key is `what` when `what=` is not given.
pub fn parse_request(input: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /request what=.. [where=..] [urgency=low|normal|urgent]";
    let a = args::parse(input, &["what", "where", "urgency"])?;
    let what = match (a.text.is_empty(), a.get("what")) {
        (false, Some(_)) => {
            return Err(format!(
                "{:?} before what=: give what= or free text, not both",
                a.text
            ));
        }
        (false, None) => a.text.clone(),
        (true, Some(w)) => w.to_string(),
        (true, None) => return Err(USAGE.into()),
    };
    check_text("what", &what, WHAT_CHARS_MAX)?;
    let place = match a.get("where") {
        Some(w) => {
            check_text("where", w, WHERE_CHARS_MAX)?;
            Some(w.to_string())
        }
        None => None,
    };
    let urgency = match a.get("urgency") {
        Some(u) => u.parse()?,
        None => Urgency::default(),
    };
    Ok(Command::Request(NewRequest {
        what,
        place,
        urgency,
    }))
}

/// `/claim-request ID`.
pub fn parse_claim(input: &str) -> Result<Command, String> {
    one_id(input, "claim-request").map(Command::Claim)
}

/// `/unclaim ID`.
pub fn parse_unclaim(input: &str) -> Result<Command, String> {
    one_id(input, "unclaim").map(Command::Unclaim)
}

/// `/fulfil ID`.
pub fn parse_fulfil(input: &str) -> Result<Command, String> {
    one_id(input, "fulfil").map(Command::Fulfil)
}

/// `/cancel ID`.
pub fn parse_cancel(input: &str) -> Result<Command, String> {
    one_id(input, "cancel").map(Command::Cancel)
}

/// `/requests [all]`.
pub fn parse_list(input: &str) -> Result<Command, String> {
    match input.trim() {
        "" => Ok(Command::List { all: false }),
        "all" => Ok(Command::List { all: true }),
        _ => Err("usage: /requests [all]".into()),
    }
}

/// One request id: hex digits, any case (lower-cased).
fn one_id(input: &str, word: &str) -> Result<String, String> {
    let mut words = input.split_whitespace();
    let (Some(id), None) = (words.next(), words.next()) else {
        return Err(format!("usage: /{word} ID"));
    };
    if !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{id:?} is not a request id (hex digits)"));
    }
    Ok(id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::applets::testkit::{Room, assert_order_independent, state};
    use crate::proto::EngineRng;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Requests::default())]
    }

    fn node(who: u8) -> NodeId {
        NodeId([who; 32])
    }

    fn new(what: &str, place: Option<&str>, urgency: Urgency) -> RequestOp {
        RequestOp::Request(NewRequest {
            what: what.into(),
            place: place.map(Into::into),
            urgency,
        })
    }

    /// Ops applied straight to one state, one after another in fold
    /// order; every op is checked and applied, the two must agree, and a
    /// refusal must leave the saved state as it was.
    #[derive(Default)]
    struct Bench {
        state: Requests,
        n: u64,
    }

    impl Bench {
        fn raw(&mut self, who: u8, kind: u16, body: &[u8]) -> Result<OpId, String> {
            self.n += 1;
            let id = OpId(Sha256::digest(self.n.to_le_bytes()).into());
            let op = AppliedOp {
                id,
                author: node(who),
                seq: self.n,
                lamport: self.n,
                wall_ms: 1000 + self.n,
                kind,
                body,
                root: None,
            };
            let before = self.state.save();
            let checked = self.state.check(&op);
            assert_eq!(self.state.save(), before, "check changed the state");
            let applied = self.state.apply(&op);
            assert_eq!(checked, applied, "check and apply disagree");
            if applied.is_err() {
                assert_eq!(self.state.save(), before, "a refusal changed the state");
            }
            applied.map(|_| id)
        }

        fn op(&mut self, who: u8, op: RequestOp) -> Result<OpId, String> {
            let (kind, body) = op.body();
            self.raw(who, kind, &body)
        }

        fn get(&self, id: &OpId) -> &Request {
            self.state.request(id).expect("the request exists")
        }

        fn refused(&mut self, who: u8, op: RequestOp, reason: &str) {
            let err = self.op(who, op).expect_err("refused");
            assert!(err.contains(reason), "{err:?} does not say {reason:?}");
        }
    }

    #[test]
    fn a_request_is_open_with_what_where_and_urgency() {
        let mut b = Bench::default();
        let id = b
            .op(1, new("2 chairs", Some("hall B"), Urgency::Urgent))
            .expect("made");
        let r = b.get(&id);
        assert_eq!(
            (r.requester, r.what.as_str(), r.place.as_deref()),
            (node(1), "2 chairs", Some("hall B"))
        );
        assert_eq!(
            (r.urgency, r.status, r.claimer),
            (Urgency::Urgent, Status::Open, None)
        );
        assert_eq!((r.lamport, r.seq, r.wall_ms), (1, 1, 1001));
    }

    #[test]
    fn blank_or_too_long_text_is_refused() {
        let mut b = Bench::default();
        b.refused(1, new("  ", None, Urgency::Low), "what is empty");
        b.refused(1, new("x", Some(" "), Urgency::Low), "where is empty");
        let long = "é".repeat(WHAT_CHARS_MAX + 1);
        b.refused(1, new(&long, None, Urgency::Low), "at most 200");
        b.refused(1, new("x", Some(&long), Urgency::Low), "at most 200");
        let just = "é".repeat(WHAT_CHARS_MAX);
        b.op(1, new(&just, Some(&just), Urgency::Low))
            .expect("200 characters are fine, whatever their bytes");
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_refused() {
        let mut b = Bench::default();
        let err = b.raw(1, 9, &[]).expect_err("unknown kind");
        assert_eq!(err, "request has no kind 9");
        let err = b.raw(1, KIND_REQUEST, b"junk").expect_err("bad body");
        assert!(err.starts_with("request request body:"), "{err}");
        let err = b.raw(1, KIND_CLAIM, &[0; 31]).expect_err("short id");
        assert!(err.starts_with("request claim body:"), "{err}");
        // An urgency index that is not a variant.
        let (_, mut body) = new("x", None, Urgency::Low).body();
        let at = body.len() - 4;
        body[at] = 7;
        assert!(b.raw(1, KIND_REQUEST, &body).is_err());
        assert_eq!(b.state, Requests::default());
    }

    #[test]
    fn claims_go_to_the_first_and_never_to_the_requester() {
        let mut b = Bench::default();
        let id = b.op(1, new("tape", None, Urgency::Normal)).expect("made");
        b.refused(1, RequestOp::Claim(id), "cannot claim your own request");
        b.op(2, RequestOp::Claim(id)).expect("claimed");
        assert_eq!(
            (b.get(&id).status, b.get(&id).claimer),
            (Status::Claimed, Some(node(2)))
        );
        b.refused(3, RequestOp::Claim(id), "is already claimed");
        b.refused(2, RequestOp::Claim(id), "is already claimed");
        b.refused(3, RequestOp::Claim(OpId([9; 32])), "no request 09090909");
    }

    #[test]
    fn only_the_claimer_unclaims_and_the_request_opens_again() {
        let mut b = Bench::default();
        let id = b.op(1, new("tape", None, Urgency::Normal)).expect("made");
        b.refused(2, RequestOp::Unclaim(id), "is not claimed");
        b.op(2, RequestOp::Claim(id)).expect("claimed");
        b.refused(3, RequestOp::Unclaim(id), "only the claimer");
        b.refused(1, RequestOp::Unclaim(id), "only the claimer");
        b.op(2, RequestOp::Unclaim(id)).expect("released");
        assert_eq!(
            (b.get(&id).status, b.get(&id).claimer),
            (Status::Open, None)
        );
        b.op(3, RequestOp::Claim(id))
            .expect("someone else takes it");
        assert_eq!(b.get(&id).claimer, Some(node(3)));
    }

    #[test]
    fn the_claimer_or_the_requester_fulfils() {
        let mut b = Bench::default();
        let id = b.op(1, new("tape", None, Urgency::Normal)).expect("made");
        b.refused(2, RequestOp::Fulfil(id), "claim request");
        b.op(2, RequestOp::Claim(id)).expect("claimed");
        b.refused(
            3,
            RequestOp::Fulfil(id),
            "only the requester or the claimer",
        );
        b.op(2, RequestOp::Fulfil(id))
            .expect("fulfilled by the claimer");
        let r = b.get(&id);
        assert_eq!(
            (r.status, r.claimer, r.closed_by),
            (Status::Fulfilled, Some(node(2)), Some(node(2)))
        );
        b.refused(1, RequestOp::Fulfil(id), "is fulfilled");
        b.refused(3, RequestOp::Claim(id), "is fulfilled");
        b.refused(2, RequestOp::Unclaim(id), "is fulfilled");

        let mine = b.op(1, new("pens", None, Urgency::Low)).expect("made");
        b.op(1, RequestOp::Fulfil(mine)).expect("found them myself");
        assert_eq!(b.get(&mine).closed_by, Some(node(1)));
        let theirs = b.op(1, new("cups", None, Urgency::Low)).expect("made");
        b.op(4, RequestOp::Claim(theirs)).expect("claimed");
        b.op(1, RequestOp::Fulfil(theirs))
            .expect("the requester says done");
        let r = b.get(&theirs);
        assert_eq!((r.claimer, r.closed_by), (Some(node(4)), Some(node(1))));
    }

    #[test]
    fn only_the_requester_cancels_and_only_before_the_end() {
        let mut b = Bench::default();
        let id = b.op(1, new("tape", None, Urgency::Normal)).expect("made");
        b.op(2, RequestOp::Claim(id)).expect("claimed");
        b.refused(2, RequestOp::Cancel(id), "only the requester");
        b.op(1, RequestOp::Cancel(id))
            .expect("cancelled while claimed");
        let r = b.get(&id);
        assert_eq!(
            (r.status, r.claimer, r.closed_by),
            (Status::Cancelled, Some(node(2)), Some(node(1)))
        );
        b.refused(1, RequestOp::Cancel(id), "is cancelled");
        b.refused(2, RequestOp::Fulfil(id), "is cancelled");

        let done = b.op(1, new("pens", None, Urgency::Low)).expect("made");
        b.op(1, RequestOp::Fulfil(done)).expect("fulfilled");
        b.refused(1, RequestOp::Cancel(done), "is fulfilled");
        let open = b.op(1, new("cups", None, Urgency::Low)).expect("made");
        b.op(1, RequestOp::Cancel(open))
            .expect("cancelled while open");
    }

    #[test]
    fn the_list_is_urgent_first_then_oldest_and_all_adds_the_closed() {
        let mut b = Bench::default();
        let low = b.op(1, new("a", None, Urgency::Low)).expect("made");
        let normal1 = b.op(2, new("b", None, Urgency::Normal)).expect("made");
        let urgent = b.op(3, new("c", None, Urgency::Urgent)).expect("made");
        let normal2 = b.op(1, new("d", None, Urgency::Normal)).expect("made");
        let gone = b.op(2, new("e", None, Urgency::Urgent)).expect("made");
        let done = b.op(2, new("f", None, Urgency::Urgent)).expect("made");
        b.op(2, RequestOp::Cancel(gone)).expect("cancelled");
        b.op(1, RequestOp::Claim(normal1)).expect("claimed");
        b.op(2, RequestOp::Fulfil(done)).expect("fulfilled");
        let ids = |all| -> Vec<OpId> { b.state.list(all).iter().map(|r| r.id).collect() };
        assert_eq!(ids(false), vec![urgent, normal1, normal2, low]);
        assert_eq!(ids(true), vec![urgent, normal1, normal2, low, gone, done]);
    }

    #[test]
    fn requests_are_found_by_short_prefixes() {
        let mut b = Bench::default();
        let a = b.op(1, new("a", None, Urgency::Low)).expect("made");
        let c = b.op(1, new("c", None, Urgency::Low)).expect("made");
        let short = b.state.short(&a);
        assert!(short.len() >= ids::SHORT_HEX_MIN, "{short}");
        assert!(a.to_string().starts_with(&short));
        assert_eq!(b.state.find(&short), Ok(a));
        assert_eq!(b.state.find(&c.to_string().to_uppercase()), Ok(c));
        assert_eq!(
            b.state.find("").unwrap_err(),
            "\"\" is not a request id (hex digits)"
        );
        let none = if a.to_string().starts_with("ffff") || c.to_string().starts_with("ffff") {
            "0000"
        } else {
            "ffff"
        };
        assert_eq!(b.state.find(none), Err(format!("no request {none}")));
    }

    #[test]
    fn refusals_name_the_request_by_its_short_id() {
        let mut b = Bench::default();
        let id = b.op(1, new("a", None, Urgency::Low)).expect("made");
        let short = b.state.short(&id);
        let err = b.op(1, RequestOp::Claim(id)).expect_err("own");
        assert_eq!(err, format!("you cannot claim your own request {short}"));
    }

    #[test]
    fn saved_state_loads_back_and_garbage_does_not() {
        let mut b = Bench::default();
        let id = b.op(1, new("a", Some("b"), Urgency::Urgent)).expect("made");
        b.op(2, RequestOp::Claim(id)).expect("claimed");
        let saved = b.state.save();
        let mut other = Requests::default();
        other.load(&saved).expect("loads");
        assert_eq!(other, b.state);
        assert!(other.load(b"junk").is_err());
        other.reset();
        assert_eq!(other, Requests::default());
    }

    #[test]
    fn bodies_match_the_spec_vectors() {
        let (kind, body) = new("tea", Some("desk"), Urgency::Urgent).body();
        assert_eq!(kind, KIND_REQUEST);
        assert_eq!(
            crate::id::to_hex(&body),
            "0300000000000000746561\
             01 0400000000000000 6465736b\
             02000000"
                .replace(' ', "")
        );
        let (kind, body) = RequestOp::Fulfil(OpId([0xab; 32])).body();
        assert_eq!((kind, body), (KIND_FULFIL, vec![0xab; 32]));
        for op in [
            new("x", None, Urgency::Low),
            RequestOp::Claim(OpId([1; 32])),
            RequestOp::Unclaim(OpId([2; 32])),
            RequestOp::Fulfil(OpId([3; 32])),
            RequestOp::Cancel(OpId([4; 32])),
        ] {
            let (kind, body) = op.body();
            assert_eq!(RequestOp::decode(kind, &body), Ok(op));
        }
    }

    #[test]
    fn a_refused_command_never_becomes_an_op() {
        let mut room = Room::new(2, 3, make);
        let (kind, body) = new("chairs", None, Urgency::Normal).body();
        let made = room.write(0, NAME, kind, &body).expect("made").op.id();
        let (kind, body) = RequestOp::Claim(made).body();
        let err = room.write(0, NAME, kind, &body).expect_err("own request");
        assert!(err.contains("your own request"), "{err}");
        assert_eq!(room.ops.len(), 1);
        room.write(1, NAME, kind, &body)
            .expect("someone else claims it");
        let e = room.fold();
        let r = state::<Requests>(&e, NAME).request(&made).expect("exists");
        assert_eq!(r.claimer, Some(room.id(1)));
    }

    #[test]
    fn concurrent_claims_go_to_the_first_in_fold_order() {
        let mut room = Room::new(3, 11, make);
        let (kind, body) = new("chairs", None, Urgency::Normal).body();
        let made = room.write(0, NAME, kind, &body).expect("made").op.id();
        // Both hear the request (2 by writing one of its own), neither
        // hears the other's claim.
        let (kind, body) = new("cups", None, Urgency::Low).body();
        room.write(2, NAME, kind, &body).expect("made");
        let (kind, body) = RequestOp::Claim(made).body();
        let one = room.write(1, NAME, kind, &body).expect("claim 1").op;
        let two = room
            .write_unheard(2, NAME, kind, &body)
            .expect("claim 2")
            .op;
        let first = if (one.lamport, one.author, one.seq) < (two.lamport, two.author, two.seq) {
            one.author
        } else {
            two.author
        };
        let e = assert_order_independent(make, &room.ops, 11, 10);
        let r = state::<Requests>(&e, NAME).request(&made).expect("exists");
        assert_eq!((r.status, r.claimer), (Status::Claimed, Some(first)));
        assert_eq!(e.folder().stats().refused, 1);
    }

    /// Random rooms: four people making, claiming, releasing, fulfilling
    /// and cancelling requests, a third of the ops written without hearing
    /// the others.
    #[test]
    fn random_rooms_fold_alike_in_any_order_and_keep_the_state_machine() {
        // Over all seeds: requests seen in each status, and ops refused
        // only in the fold (written concurrently, overtaken there).
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut refused_in_fold = 0;
        for seed in 0..20u64 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let mut room = Room::new(4, seed, make);
            let mut made: Vec<OpId> = Vec::new();
            for step in 0..60 {
                let who = rng.random_range(0..4usize);
                let op = if made.is_empty() || rng.random_bool(0.25) {
                    let urgency = [Urgency::Low, Urgency::Normal, Urgency::Urgent]
                        [rng.random_range(0..3usize)];
                    let place = rng.random_bool(0.5).then_some("hall");
                    new(&format!("thing {step}"), place, urgency)
                } else {
                    let id = made[rng.random_range(0..made.len())];
                    match rng.random_range(0..5u8) {
                        0 | 1 => RequestOp::Claim(id),
                        2 => RequestOp::Unclaim(id),
                        3 => RequestOp::Fulfil(id),
                        _ => RequestOp::Cancel(id),
                    }
                };
                let (kind, body) = op.body();
                let written = if rng.random_bool(0.33) {
                    room.write_unheard(who, NAME, kind, &body)
                } else {
                    room.write(who, NAME, kind, &body)
                };
                if let (Ok(signed), RequestOp::Request(_)) = (written, &op) {
                    made.push(signed.op.id());
                }
            }
            let e = assert_order_independent(make, &room.ops, seed, 6);
            let s = state::<Requests>(&e, NAME);
            assert_eq!(s.requests().count(), made.len(), "seed {seed}");
            for r in s.requests() {
                let ok = match r.status {
                    Status::Open => r.claimer.is_none() && r.closed_by.is_none(),
                    Status::Claimed => {
                        r.claimer.is_some_and(|c| c != r.requester) && r.closed_by.is_none()
                    }
                    Status::Fulfilled => {
                        r.closed_by == Some(r.requester)
                            || (r.closed_by.is_some() && r.closed_by == r.claimer)
                    }
                    Status::Cancelled => r.closed_by == Some(r.requester),
                };
                assert!(ok, "seed {seed}: {r:?}");
                assert_ne!(r.claimer, Some(r.requester), "seed {seed}");
            }
            let open = s.list(false);
            assert!(open.iter().all(|r| !r.status.is_closed()), "seed {seed}");
            let keys: Vec<_> = open
                .iter()
                .map(|r| (Reverse(r.urgency), r.lamport, r.requester, r.seq))
                .collect();
            assert!(keys.is_sorted(), "seed {seed}");
            assert_eq!(s.list(true).len(), made.len(), "seed {seed}");
            for r in s.requests() {
                *seen.entry(r.status.as_str()).or_default() += 1;
            }
            refused_in_fold += e.folder().stats().refused;
        }
        assert_eq!(seen.len(), 4, "every status is reached: {seen:?}");
        assert!(refused_in_fold > 0, "some concurrent ops lose in the fold");
    }

    #[test]
    fn request_commands_parse() {
        let req = |what: &str, place: Option<&str>, urgency| {
            Ok(Command::Request(NewRequest {
                what: what.into(),
                place: place.map(Into::into),
                urgency,
            }))
        };
        assert_eq!(
            parse_request("what=2 chairs where=hall B urgency=urgent"),
            req("2 chairs", Some("hall B"), Urgency::Urgent)
        );
        assert_eq!(parse_request("what=tea"), req("tea", None, Urgency::Normal));
        assert_eq!(
            parse_request("a medic where=\"tent 3, urgency=?\" urgency=low"),
            req("a medic", Some("tent 3, urgency=?"), Urgency::Low)
        );
        assert_eq!(
            parse_request("").unwrap_err(),
            "usage: /request what=.. [where=..] [urgency=low|normal|urgent]"
        );
        assert!(
            parse_request("tea what=coffee")
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            parse_request("what=tea urgency=now")
                .unwrap_err()
                .contains("low, normal, urgent")
        );
        assert_eq!(
            parse_request("what=tea where=").unwrap_err(),
            "where is empty"
        );
        assert!(
            parse_request(&format!("what={}", "x".repeat(201)))
                .unwrap_err()
                .contains("at most 200")
        );
        assert!(
            parse_request("what=a what=b")
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn id_and_list_commands_parse() {
        assert_eq!(parse_claim(" 7F3a "), Ok(Command::Claim("7f3a".into())));
        assert_eq!(parse_unclaim("7f3a"), Ok(Command::Unclaim("7f3a".into())));
        assert_eq!(parse_fulfil("7f3a"), Ok(Command::Fulfil("7f3a".into())));
        assert_eq!(parse_cancel("7f3a"), Ok(Command::Cancel("7f3a".into())));
        assert_eq!(parse_claim("").unwrap_err(), "usage: /claim-request ID");
        assert_eq!(parse_fulfil("7f 3a").unwrap_err(), "usage: /fulfil ID");
        assert!(parse_cancel("lunch").unwrap_err().contains("hex digits"));
        assert_eq!(parse_list(""), Ok(Command::List { all: false }));
        assert_eq!(parse_list(" all "), Ok(Command::List { all: true }));
        assert_eq!(parse_list("some").unwrap_err(), "usage: /requests [all]");
        let p = parser("claim-request").expect("a command of this applet");
        assert_eq!(p("abcd"), Ok(Command::Claim("abcd".into())));
        assert!(parser("claim").is_none());
    }
}
