//! Polls: a person creates a poll with 2 to 16 options, every node votes
//! at most once and may change its vote until the poll closes, the
//! creator closes it (or it closes at the time it was given), and anyone
//! reads the live tally.
//!
//! # Kinds
//!
//! | kind | body | what it does |
//! |---|---|---|
//! | [`KIND_CREATE`] = 1 | [`CreatePoll`] `{ poll, title, options, closes_at_ms }` | creates poll `poll` |
//! | [`KIND_VOTE`] = 2 | [`CastVote`] `{ poll, option }` | the author's vote, replacing its earlier one |
//! | [`KIND_CLOSE`] = 3 | [`ClosePoll`] `{ poll }` | closes the poll |
//!
//! Bodies are encoded with [`codec::encode_value`]; build them with
//! [`VoteOp::body`]. An unknown kind or a body that does not decode (or
//! does not re-encode to the same bytes) is refused.
//!
//! # Rules, in the order they are checked
//!
//! Create ([`CreatePoll`]):
//! 1. `poll` is a name ([`ids::check_name`]) and not one of the command
//!    words [`COMMAND_WORDS`] (`/vote list` could not be told from a vote
//!    in a poll named `list`).
//! 2. No poll of that name exists: the first create in fold order keeps
//!    the name; a later one is refused, whoever wrote it.
//! 3. `title`: not blank, at most [`TITLE_CHARS_MAX`] characters.
//! 4. `options`: [`OPTIONS_MIN`] to [`OPTIONS_MAX`] of them; each 1 to
//!    [`OPTION_CHARS_MAX`] characters, not blank, no spaces around it, no
//!    comma (the command separates options with commas), no two alike
//!    (compared as written).
//! 5. `closes_at_ms`, if given, is after the op's own `wall_ms` (a poll
//!    may not be born closed).
//!
//! Vote ([`CastVote`]):
//! 1. `poll` is a name and the poll exists.
//! 2. The poll was not closed by a close op earlier in fold order.
//! 3. The op's `wall_ms` is before the poll's `closes_at_ms`, if it has
//!    one.
//! 4. `option` is one of the poll's options, exactly as written; if not,
//!    the reason lists the options.
//!
//! A node has at most one vote per poll: a later vote (in fold order) by
//! the same author replaces its earlier one, also for the same option.
//! Anyone may vote, the creator too.
//!
//! Close ([`ClosePoll`]):
//! 1. `poll` is a name and the poll exists.
//! 2. The author is the poll's creator.
//! 3. The poll was not closed by an earlier close op. A close after the
//!    poll's close time is taken: it changes no vote (votes from then on
//!    are refused anyway) and records the closing for every client, with
//!    no clock needed.
//!
//! # Time
//!
//! The fold never reads a clock: "too late" is the vote op's own `wall_ms`
//! against the poll's `closes_at_ms`, and "after the close" is fold order.
//! Whether a poll is closed *now* by its time depends on a now, so clients
//! ask [`Poll::is_closed_at`] / [`Tally::is_closed_at`] with their clock;
//! [`Tally::closed`] is only the close op. (An author whose clock is
//! behind can still vote after the close time as others see it; the op's
//! `wall_ms` is all every node has in common.)
//!
//! # Commands (the line client)
//!
//! ```text
//! /vote meta ID title=.. options=a,b[,..] [closes=10m]
//! /vote ID OPTION
//! /vote close ID
//! /vote list
//! /vote show ID
//! ```
//!
//! [`parse`] turns the text after `/vote` into a [`Command`]; `closes=` is
//! a duration ([`args::duration_ms`]) that [`Command::op`] adds to the
//! node's clock to get `closes_at_ms`.
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

/// The applet's name in ops.
pub const NAME: &str = "vote";
/// Longest poll title, in characters.
pub const TITLE_CHARS_MAX: usize = 200;
/// Longest option, in characters.
pub const OPTION_CHARS_MAX: usize = 64;
/// Fewest options of a poll.
pub const OPTIONS_MIN: usize = 2;
/// Most options of a poll.
pub const OPTIONS_MAX: usize = 16;
/// Words that cannot be poll ids: they are the line client's subcommands.
pub const COMMAND_WORDS: [&str; 4] = ["meta", "close", "list", "show"];

/// Body of [`KIND_CREATE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePoll {
    /// The poll's id, a name ([`ids::check_name`]).
    pub poll: String,
    /// The question: at most [`TITLE_CHARS_MAX`] characters.
    pub title: String,
    /// [`OPTIONS_MIN`] to [`OPTIONS_MAX`] distinct options, each at most
    /// [`OPTION_CHARS_MAX`] characters.
    pub options: Vec<String>,
    /// Wall time (ms since the Unix epoch) from which votes are refused.
    pub closes_at_ms: Option<u64>,
}

/// Body of [`KIND_VOTE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CastVote {
    /// The poll.
    pub poll: String,
    /// One of its options.
    pub option: String,
}

/// Body of [`KIND_CLOSE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosePoll {
    /// The poll.
    pub poll: String,
}

crate::applet_ops! {
    /// An op of this applet, typed: [`VoteOp::body`] encodes it,
    /// [`VoteOp::decode`] reads it back.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum VoteOp for NAME {
        /// Creates a poll; the body is a [`CreatePoll`].
        KIND_CREATE = 1 => Create(CreatePoll),
        /// A vote; the body is a [`CastVote`].
        KIND_VOTE = 2 => Vote(CastVote),
        /// Closes a poll; the body is a [`ClosePoll`].
        KIND_CLOSE = 3 => Close(ClosePoll),
    }
}

/// One node's vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    /// Who voted.
    pub voter: NodeId,
    /// For what.
    pub option: String,
    /// The vote op (the latest of this voter's counted votes).
    pub op: OpId,
    /// The voter's wall clock when voting (for display only).
    pub wall_ms: u64,
}

/// The close op of a poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    /// The close op.
    pub op: OpId,
    /// Its author's wall clock when closing (for display only).
    pub wall_ms: u64,
}

/// A poll and its votes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// Its id.
    pub id: String,
    /// The question.
    pub title: String,
    /// Its options, in the order given.
    pub options: Vec<String>,
    /// Who created it (the only one who may close it).
    pub creator: NodeId,
    /// The create op.
    pub created: OpId,
    /// The creator's wall clock when creating it (for display only).
    pub created_wall_ms: u64,
    /// Wall time (ms since the Unix epoch) from which votes are refused,
    /// if given.
    pub closes_at_ms: Option<u64>,
    /// The close op, once there is one.
    pub closed: Option<Closed>,
    /// One per voter, sorted by voter.
    pub ballots: Vec<Ballot>,
}

impl Poll {
    /// Closed by its close op, or by its close time at `now_ms`.
    pub fn is_closed_at(&self, now_ms: u64) -> bool {
        self.closed.is_some() || self.closes_at_ms.is_some_and(|t| now_ms >= t)
    }

    /// The option `voter` voted for.
    pub fn vote_of(&self, voter: &NodeId) -> Option<&str> {
        self.ballot_index(voter)
            .ok()
            .map(|i| self.ballots[i].option.as_str())
    }

    /// The tally: votes per option, in the options' order.
    pub fn tally(&self) -> Tally {
        let counts = self
            .options
            .iter()
            .map(|option| OptionCount {
                option: option.clone(),
                votes: self.ballots.iter().filter(|b| b.option == *option).count(),
            })
            .collect();
        Tally {
            poll: self.id.clone(),
            title: self.title.clone(),
            counts,
            voters: self.ballots.len(),
            closed: self.closed.is_some(),
            closed_wall_ms: self.closed.as_ref().map(|c| c.wall_ms),
            closes_at_ms: self.closes_at_ms,
        }
    }

    fn ballot_index(&self, voter: &NodeId) -> Result<usize, usize> {
        self.ballots.binary_search_by(|b| b.voter.cmp(voter))
    }
}

/// Votes for one option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionCount {
    /// The option.
    pub option: String,
    /// Its votes.
    pub votes: usize,
}

/// A poll's live tally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// The poll's id.
    pub poll: String,
    /// Its question.
    pub title: String,
    /// Per option, in the poll's order.
    pub counts: Vec<OptionCount>,
    /// Nodes with a vote (the sum of the counts).
    pub voters: usize,
    /// Closed by its creator's close op (not by time: see
    /// [`Tally::is_closed_at`]).
    pub closed: bool,
    /// The close op's wall time (display only), once there is one.
    pub closed_wall_ms: Option<u64>,
    /// The poll's close time, if given (see [`Poll::closes_at_ms`]).
    pub closes_at_ms: Option<u64>,
}

impl Tally {
    /// Closed by its close op, or by its close time at `now_ms`.
    pub fn is_closed_at(&self, now_ms: u64) -> bool {
        self.closed || self.closes_at_ms.is_some_and(|t| now_ms >= t)
    }

    /// The options with the most votes, in the poll's order: one is the
    /// winner, more are a tie, none when nobody voted.
    pub fn leaders(&self) -> Vec<&OptionCount> {
        let most = self.counts.iter().map(|c| c.votes).max().unwrap_or(0);
        if most == 0 {
            return Vec::new();
        }
        self.counts.iter().filter(|c| c.votes == most).collect()
    }
}

/// The voting applet: every poll, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Votes {
    polls: Vec<Poll>,
}

impl Votes {
    /// Every poll, by id.
    pub fn polls(&self) -> &[Poll] {
        &self.polls
    }

    /// The poll `id`.
    pub fn poll(&self, id: &str) -> Option<&Poll> {
        self.index(id).ok().map(|i| &self.polls[i])
    }

    /// The tally of poll `id`.
    pub fn tally(&self, id: &str) -> Option<Tally> {
        self.poll(id).map(Poll::tally)
    }

    fn index(&self, id: &str) -> Result<usize, usize> {
        self.polls.binary_search_by(|p| p.id.as_str().cmp(id))
    }

    fn existing(&self, id: &str) -> Result<&Poll, String> {
        ids::check_name(id)?;
        self.poll(id).ok_or_else(|| format!("no poll {id}"))
    }

    /// The rules: what `op` would change, or why it is refused. Shared by
    /// [`Applet::check`] and [`Applet::apply`].
    fn validate(&self, op: &AppliedOp<'_>) -> Result<Change, String> {
        match VoteOp::decode(op.kind, op.body)? {
            VoteOp::Create(c) => {
                check_poll_id(&c.poll)?;
                if self.poll(&c.poll).is_some() {
                    return Err(format!("poll {} already exists", c.poll));
                }
                check_title(&c.title)?;
                check_options(&c.options)?;
                if c.closes_at_ms.is_some_and(|t| t <= op.wall_ms) {
                    return Err(format!("poll {} would close before it opens", c.poll));
                }
                Ok(Change::Create(Poll {
                    id: c.poll,
                    title: c.title,
                    options: c.options,
                    creator: op.author,
                    created: op.id,
                    created_wall_ms: op.wall_ms,
                    closes_at_ms: c.closes_at_ms,
                    closed: None,
                    ballots: Vec::new(),
                }))
            }
            VoteOp::Vote(v) => {
                let poll = self.existing(&v.poll)?;
                if poll.closed.is_some() {
                    return Err(format!("poll {} is closed", v.poll));
                }
                if poll.closes_at_ms.is_some_and(|t| op.wall_ms >= t) {
                    return Err(format!(
                        "poll {} is closed (its close time has passed)",
                        v.poll
                    ));
                }
                if !poll.options.contains(&v.option) {
                    return Err(format!(
                        "option {} is not in poll {} (pick one of: {})",
                        v.option,
                        v.poll,
                        poll.options.join(", ")
                    ));
                }
                Ok(Change::Vote(
                    v.poll,
                    Ballot {
                        voter: op.author,
                        option: v.option,
                        op: op.id,
                        wall_ms: op.wall_ms,
                    },
                ))
            }
            VoteOp::Close(c) => {
                let poll = self.existing(&c.poll)?;
                if poll.creator != op.author {
                    return Err(format!("only the creator of poll {} can close it", c.poll));
                }
                if poll.closed.is_some() {
                    return Err(format!("poll {} is already closed", c.poll));
                }
                Ok(Change::Close(
                    c.poll,
                    Closed {
                        op: op.id,
                        wall_ms: op.wall_ms,
                    },
                ))
            }
        }
    }

    fn commit(&mut self, change: Change) {
        match change {
            Change::Create(poll) => {
                if let Err(i) = self.index(&poll.id) {
                    self.polls.insert(i, poll);
                }
            }
            Change::Vote(id, ballot) => {
                if let Ok(p) = self.index(&id) {
                    let poll = &mut self.polls[p];
                    match poll.ballot_index(&ballot.voter) {
                        Ok(i) => poll.ballots[i] = ballot,
                        Err(i) => poll.ballots.insert(i, ballot),
                    }
                }
            }
            Change::Close(id, closed) => {
                if let Ok(p) = self.index(&id) {
                    self.polls[p].closed = Some(closed);
                }
            }
        }
    }
}

/// What a valid op changes (validated, not yet applied).
enum Change {
    Create(Poll),
    Vote(String, Ballot),
    Close(String, Closed),
}

impl Applet for Votes {
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
        codec::encode_state(&self.polls).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.polls = super::chat::decode_state(state)?;
        Ok(())
    }

    fn reset(&mut self) {
        self.polls.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn check_poll_id(id: &str) -> Result<(), String> {
    ids::check_name(id)?;
    if COMMAND_WORDS.contains(&id) {
        return Err(format!("{id} is a command word: pick another poll id"));
    }
    Ok(())
}

fn check_title(title: &str) -> Result<(), String> {
    if title.trim().is_empty() {
        return Err("a poll needs a title".into());
    }
    if title.chars().count() > TITLE_CHARS_MAX {
        return Err(format!(
            "a poll title has at most {TITLE_CHARS_MAX} characters"
        ));
    }
    Ok(())
}

/// The option rules (count, length, spaces, commas, duplicates).
pub fn check_options(options: &[String]) -> Result<(), String> {
    if !(OPTIONS_MIN..=OPTIONS_MAX).contains(&options.len()) {
        return Err(format!(
            "a poll has {OPTIONS_MIN} to {OPTIONS_MAX} options, not {}",
            options.len()
        ));
    }
    for (i, option) in options.iter().enumerate() {
        if option.trim().is_empty() {
            return Err("an option cannot be empty".into());
        }
        if option.chars().count() > OPTION_CHARS_MAX {
            return Err(format!(
                "option {option:?} is longer than {OPTION_CHARS_MAX} characters"
            ));
        }
        if option.trim() != option {
            return Err(format!("option {option:?} has spaces around it"));
        }
        if option.contains(',') {
            return Err(format!("option {option:?} has a comma"));
        }
        if options[..i].contains(option) {
            return Err(format!("option {option} is given twice"));
        }
    }
    Ok(())
}

/// A `/vote` request of the line client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `/vote meta ID title=.. options=a,b[,..] [closes=10m]`
    Create {
        /// The poll's id.
        poll: String,
        /// The question.
        title: String,
        /// The options, in order.
        options: Vec<String>,
        /// How long after it is written the poll closes.
        closes_in_ms: Option<u64>,
    },
    /// `/vote ID OPTION`
    Vote {
        /// The poll.
        poll: String,
        /// One of its options.
        option: String,
    },
    /// `/vote close ID`
    Close {
        /// The poll.
        poll: String,
    },
    /// `/vote list`
    List,
    /// `/vote show ID`
    Show {
        /// The poll.
        poll: String,
    },
}

impl Command {
    /// The op a request writes, with `now_ms` the node's clock (for
    /// `closes=`); `None` for the queries (`list`, `show`).
    pub fn op(&self, now_ms: u64) -> Option<VoteOp> {
        match self {
            Command::Create {
                poll,
                title,
                options,
                closes_in_ms,
            } => Some(VoteOp::Create(CreatePoll {
                poll: poll.clone(),
                title: title.clone(),
                options: options.clone(),
                closes_at_ms: closes_in_ms.map(|d| now_ms.saturating_add(d)),
            })),
            Command::Vote { poll, option } => Some(VoteOp::Vote(CastVote {
                poll: poll.clone(),
                option: option.clone(),
            })),
            Command::Close { poll } => Some(VoteOp::Close(ClosePoll { poll: poll.clone() })),
            Command::List | Command::Show { .. } => None,
        }
    }
}

/// How to write `/vote`.
pub const USAGE: &str = "usage: /vote meta ID title=.. options=a,b[,..] [closes=10m] | /vote ID OPTION | /vote close ID | /vote list | /vote show ID";

/// Parses the text after `/vote`.
pub fn parse(input: &str) -> Result<Command, String> {
    let input = input.trim();
    let (word, rest) = split_word(input);
    match word {
        "" => Err(USAGE.into()),
        "meta" => {
            let (poll, rest) = split_word(rest);
            if poll.is_empty() {
                return Err("usage: /vote meta ID title=.. options=a,b[,..] [closes=10m]".into());
            }
            check_poll_id(poll)?;
            let a = args::parse(rest, &["title", "options", "closes"])?;
            if !a.text.is_empty() {
                return Err(format!(
                    "unexpected {:?} (use title=.. options=a,b [closes=10m])",
                    a.text
                ));
            }
            let title = a.require("title")?.to_string();
            check_title(&title)?;
            let options: Vec<String> = a
                .require("options")?
                .split(',')
                .map(|o| o.trim().to_string())
                .collect();
            check_options(&options)?;
            let closes_in_ms = a.get("closes").map(args::duration_ms).transpose()?;
            Ok(Command::Create {
                poll: poll.to_string(),
                title,
                options,
                closes_in_ms,
            })
        }
        "close" => one_id(rest, "usage: /vote close ID").map(|poll| Command::Close { poll }),
        "show" => one_id(rest, "usage: /vote show ID").map(|poll| Command::Show { poll }),
        "list" if rest.is_empty() => Ok(Command::List),
        "list" => Err("usage: /vote list".into()),
        poll => {
            ids::check_name(poll)?;
            if rest.is_empty() {
                return Err(format!("which option? usage: /vote {poll} OPTION"));
            }
            Ok(Command::Vote {
                poll: poll.to_string(),
                option: rest.to_string(),
            })
        }
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

/// Exactly one id in `rest`.
fn one_id(rest: &str, usage: &str) -> Result<String, String> {
    let (id, more) = split_word(rest);
    if id.is_empty() || !more.is_empty() {
        return Err(usage.into());
    }
    ids::check_name(id)?;
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::applets::testkit::{Room, assert_order_independent, state};
    use crate::proto::EngineRng;
    use crate::proto::oplog::op::SignedOp;

    fn make() -> Vec<Box<dyn Applet>> {
        vec![Box::new(Votes::default())]
    }

    fn node(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|o| o.to_string()).collect()
    }

    fn create(poll: &str, options: &[&str], closes_at_ms: Option<u64>) -> VoteOp {
        VoteOp::Create(CreatePoll {
            poll: poll.into(),
            title: format!("about {poll}"),
            options: strings(options),
            closes_at_ms,
        })
    }

    fn cast(poll: &str, option: &str) -> VoteOp {
        VoteOp::Vote(CastVote {
            poll: poll.into(),
            option: option.into(),
        })
    }

    fn close(poll: &str) -> VoteOp {
        VoteOp::Close(ClosePoll { poll: poll.into() })
    }

    /// Applies a raw kind and body by `author` at `wall_ms`, asserting that
    /// `check` agrees with `apply` and that a refusal changes nothing.
    fn run_raw(
        v: &mut Votes,
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
        let before = v.save();
        let checked = v.check(&op);
        assert_eq!(v.save(), before, "check changes nothing");
        let applied = v.apply(&op);
        assert_eq!(checked, applied, "check and apply agree");
        if applied.is_err() {
            assert_eq!(v.save(), before, "a refused op changes nothing");
        }
        applied
    }

    fn run(v: &mut Votes, author: u8, wall_ms: u64, op: VoteOp) -> Result<(), String> {
        let (kind, body) = op.body();
        run_raw(v, author, wall_ms, kind, &body)
    }

    fn counts(v: &Votes, poll: &str) -> Vec<usize> {
        let tally = v.tally(poll).expect("the poll exists");
        tally.counts.iter().map(|c| c.votes).collect()
    }

    #[test]
    fn votes_are_tallied_per_option_in_the_polls_order() {
        let mut v = Votes::default();
        run(
            &mut v,
            1,
            10,
            create("lunch", &["thai", "pizza", "soup"], None),
        )
        .expect("created");
        run(&mut v, 1, 11, cast("lunch", "pizza")).expect("voted");
        run(&mut v, 2, 12, cast("lunch", "pizza")).expect("voted");
        run(&mut v, 3, 13, cast("lunch", "thai")).expect("voted");
        let tally = v.tally("lunch").expect("the poll exists");
        assert_eq!(
            tally,
            Tally {
                poll: "lunch".into(),
                title: "about lunch".into(),
                counts: vec![
                    OptionCount {
                        option: "thai".into(),
                        votes: 1
                    },
                    OptionCount {
                        option: "pizza".into(),
                        votes: 2
                    },
                    OptionCount {
                        option: "soup".into(),
                        votes: 0
                    },
                ],
                voters: 3,
                closed: false,
                closed_wall_ms: None,
                closes_at_ms: None,
            }
        );
        let leaders: Vec<&str> = tally.leaders().iter().map(|c| c.option.as_str()).collect();
        assert_eq!(leaders, ["pizza"]);
        let poll = v.poll("lunch").expect("the poll exists");
        assert_eq!(poll.creator, node(1));
        assert_eq!(poll.vote_of(&node(3)), Some("thai"));
        assert_eq!(poll.vote_of(&node(4)), None);
        assert!(v.tally("dinner").is_none());
    }

    #[test]
    fn a_later_vote_by_the_same_node_replaces_its_earlier_one() {
        let mut v = Votes::default();
        run(&mut v, 1, 10, create("lunch", &["a", "b"], None)).expect("created");
        run(&mut v, 2, 11, cast("lunch", "a")).expect("voted");
        run(&mut v, 2, 12, cast("lunch", "b")).expect("changed");
        assert_eq!(counts(&v, "lunch"), vec![0, 1]);
        run(&mut v, 2, 13, cast("lunch", "b")).expect("the same again");
        assert_eq!(counts(&v, "lunch"), vec![0, 1]);
        assert_eq!(v.poll("lunch").expect("exists").ballots[0].wall_ms, 13);
    }

    #[test]
    fn bad_creates_are_refused_with_their_reason() {
        let long = "x".repeat(OPTION_CHARS_MAX + 1);
        let seventeen: Vec<String> = (0..17).map(|i| format!("o{i}")).collect();
        let seventeen: Vec<&str> = seventeen.iter().map(String::as_str).collect();
        let cases: Vec<(VoteOp, &str)> = vec![
            (create("Lunch", &["a", "b"], None), "lower-case"),
            (create("list", &["a", "b"], None), "command word"),
            (create("meta", &["a", "b"], None), "command word"),
            (create("lunch", &["a"], None), "2 to 16 options"),
            (create("lunch", &seventeen, None), "2 to 16 options"),
            (create("lunch", &["a", ""], None), "cannot be empty"),
            (create("lunch", &["a", "  "], None), "cannot be empty"),
            (create("lunch", &["a", &long], None), "longer than 64"),
            (create("lunch", &["a", " b"], None), "spaces around"),
            (create("lunch", &["a", "b,c"], None), "comma"),
            (
                create("lunch", &["a", "b", "a"], None),
                "option a is given twice",
            ),
            (
                create("lunch", &["a", "b"], Some(100)),
                "would close before it opens",
            ),
            (
                create("lunch", &["a", "b"], Some(99)),
                "would close before it opens",
            ),
            (
                VoteOp::Create(CreatePoll {
                    poll: "lunch".into(),
                    title: " ".into(),
                    options: strings(&["a", "b"]),
                    closes_at_ms: None,
                }),
                "needs a title",
            ),
            (
                VoteOp::Create(CreatePoll {
                    poll: "lunch".into(),
                    title: "t".repeat(TITLE_CHARS_MAX + 1),
                    options: strings(&["a", "b"]),
                    closes_at_ms: None,
                }),
                "at most 200",
            ),
        ];
        let mut v = Votes::default();
        for (op, reason) in cases {
            let err = run(&mut v, 1, 100, op.clone()).expect_err("refused");
            assert!(err.contains(reason), "{op:?}: {err}");
        }
        assert!(v.polls().is_empty());
        // The limits themselves are allowed.
        let sixteen: Vec<String> = (0..16).map(|i| format!("o{i}")).collect();
        let sixteen: Vec<&str> = sixteen.iter().map(String::as_str).collect();
        run(&mut v, 1, 100, create("big", &sixteen, Some(101))).expect("16 options");
        let max = "y".repeat(OPTION_CHARS_MAX);
        run(&mut v, 1, 100, create("long", &["a b", &max], None)).expect("64 characters");
    }

    #[test]
    fn the_first_create_keeps_the_name() {
        let mut v = Votes::default();
        run(&mut v, 1, 10, create("lunch", &["a", "b"], None)).expect("created");
        let err = run(&mut v, 2, 11, create("lunch", &["c", "d"], None)).expect_err("taken");
        assert_eq!(err, "poll lunch already exists");
        let err = run(&mut v, 1, 12, create("lunch", &["c", "d"], None)).expect_err("taken");
        assert_eq!(err, "poll lunch already exists");
        assert_eq!(
            v.poll("lunch").expect("exists").options,
            strings(&["a", "b"])
        );
    }

    #[test]
    fn bad_votes_are_refused_with_their_reason() {
        let mut v = Votes::default();
        assert_eq!(
            run(&mut v, 2, 10, cast("lunch", "a")),
            Err("no poll lunch".into())
        );
        run(&mut v, 1, 10, create("lunch", &["thai", "pizza"], None)).expect("created");
        assert_eq!(
            run(&mut v, 2, 11, cast("lunch", "sushi")),
            Err("option sushi is not in poll lunch (pick one of: thai, pizza)".into())
        );
        assert_eq!(
            run(&mut v, 2, 11, cast("lunch", "Thai")),
            Err("option Thai is not in poll lunch (pick one of: thai, pizza)".into())
        );
        assert!(run(&mut v, 2, 11, cast("Lunch", "thai")).is_err());
        assert_eq!(v.tally("lunch").expect("exists").voters, 0);
    }

    #[test]
    fn votes_from_the_close_time_on_are_refused() {
        let mut v = Votes::default();
        run(&mut v, 1, 10, create("lunch", &["a", "b"], Some(50))).expect("created");
        run(&mut v, 2, 49, cast("lunch", "a")).expect("just in time");
        let err = run(&mut v, 3, 50, cast("lunch", "a")).expect_err("too late");
        assert_eq!(err, "poll lunch is closed (its close time has passed)");
        let err = run(&mut v, 2, 60, cast("lunch", "b")).expect_err("too late to change");
        assert!(err.contains("closed"), "{err}");
        assert_eq!(counts(&v, "lunch"), vec![1, 0]);
        // The fold keeps no clock: the poll is open or closed by time only
        // against the time a client asks about.
        let poll = v.poll("lunch").expect("exists");
        assert!(poll.closed.is_none());
        assert!(!poll.is_closed_at(49));
        assert!(poll.is_closed_at(50));
        let tally = poll.tally();
        assert!(!tally.closed);
        assert!(!tally.is_closed_at(49));
        assert!(tally.is_closed_at(50));
        // A close after the close time is taken and recorded.
        run(&mut v, 1, 70, close("lunch")).expect("closed by its creator");
        assert!(v.tally("lunch").expect("exists").closed);
    }

    #[test]
    fn the_leaders_are_the_winner_or_every_tied_option_or_none_without_votes() {
        let mut v = Votes::default();
        run(
            &mut v,
            1,
            10,
            create("lunch", &["thai", "pizza", "soup"], None),
        )
        .expect("created");
        let names = |v: &Votes| -> Vec<String> {
            let tally = v.tally("lunch").expect("the poll exists");
            tally.leaders().iter().map(|c| c.option.clone()).collect()
        };
        assert!(names(&v).is_empty(), "no votes: no leader");
        run(&mut v, 1, 11, cast("lunch", "soup")).expect("voted");
        run(&mut v, 2, 12, cast("lunch", "thai")).expect("voted");
        assert_eq!(names(&v), ["thai", "soup"], "a tie, in the poll's order");
        run(&mut v, 3, 13, cast("lunch", "soup")).expect("voted");
        assert_eq!(names(&v), ["soup"]);
    }

    #[test]
    fn only_the_creator_closes_and_only_once_and_votes_after_it_are_refused() {
        let mut v = Votes::default();
        assert_eq!(
            run(&mut v, 1, 10, close("lunch")),
            Err("no poll lunch".into())
        );
        run(&mut v, 1, 10, create("lunch", &["a", "b"], None)).expect("created");
        run(&mut v, 2, 11, cast("lunch", "a")).expect("voted");
        assert_eq!(
            run(&mut v, 2, 12, close("lunch")),
            Err("only the creator of poll lunch can close it".into())
        );
        run(&mut v, 1, 13, close("lunch")).expect("closed");
        assert_eq!(
            run(&mut v, 1, 14, close("lunch")),
            Err("poll lunch is already closed".into())
        );
        assert_eq!(
            run(&mut v, 3, 15, cast("lunch", "b")),
            Err("poll lunch is closed".into())
        );
        assert_eq!(
            run(&mut v, 2, 15, cast("lunch", "b")),
            Err("poll lunch is closed".into())
        );
        let poll = v.poll("lunch").expect("exists");
        assert_eq!(poll.closed.as_ref().map(|c| c.wall_ms), Some(13));
        assert!(poll.is_closed_at(0));
        assert_eq!(counts(&v, "lunch"), vec![1, 0]);
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_refused() {
        let mut v = Votes::default();
        assert_eq!(
            run_raw(&mut v, 1, 10, 9, b""),
            Err("vote has no kind 9".into())
        );
        let err = run_raw(&mut v, 1, 10, KIND_CREATE, b"junk").expect_err("undecodable");
        assert!(err.starts_with("vote create body:"), "{err}");
        // A vote body under the create kind does not decode either.
        let (_, body) = cast("lunch", "a").body();
        assert!(run_raw(&mut v, 1, 10, KIND_CREATE, &body).is_err());
        let (kind, mut body) = close("lunch").body();
        body.push(0);
        assert!(run_raw(&mut v, 1, 10, kind, &body).is_err());
        assert!(v.polls().is_empty());
    }

    #[test]
    fn saved_state_loads_back() {
        let mut v = Votes::default();
        run(&mut v, 1, 10, create("lunch", &["a", "b"], Some(99))).expect("created");
        run(&mut v, 2, 11, cast("lunch", "b")).expect("voted");
        run(&mut v, 1, 12, create("talk", &["x", "y"], None)).expect("created");
        run(&mut v, 1, 13, close("talk")).expect("closed");
        let mut w = Votes::default();
        w.load(&v.save()).expect("loads");
        assert_eq!(w, v);
        assert!(w.load(b"junk").is_err());
        w.reset();
        assert_eq!(w, Votes::default());
    }

    /// Writes `op` as `who` (hearing everything first).
    fn write(room: &mut Room, who: usize, op: &VoteOp) -> Result<SignedOp, String> {
        let (kind, body) = op.body();
        room.write(who, NAME, kind, &body)
    }

    fn write_unheard(room: &mut Room, who: usize, op: &VoteOp) -> Result<SignedOp, String> {
        let (kind, body) = op.body();
        room.write_unheard(who, NAME, kind, &body)
    }

    fn fold_key(op: &SignedOp) -> (u64, NodeId, u64) {
        (op.op.lamport, op.op.author, op.op.seq)
    }

    #[test]
    fn a_refused_command_is_never_written() {
        let mut room = Room::new(2, 1, make);
        write(&mut room, 0, &create("lunch", &["a", "b"], None)).expect("created");
        let err = write(&mut room, 1, &cast("lunch", "c")).expect_err("refused by check");
        assert!(err.contains("pick one of: a, b"), "{err}");
        let err = write(&mut room, 1, &close("lunch")).expect_err("refused by check");
        assert!(err.contains("only the creator"), "{err}");
        assert_eq!(room.ops.len(), 1);
    }

    #[test]
    fn a_vote_concurrent_with_the_close_counts_only_if_it_sorts_before_it() {
        let mut room = Room::new(2, 3, make);
        write(&mut room, 0, &create("lunch", &["a", "b"], None)).expect("created");
        let first = write(&mut room, 1, &cast("lunch", "a")).expect("voted");
        // The creator closes without having heard the vote: same lamport,
        // the author breaks the tie.
        let closing = write_unheard(&mut room, 0, &close("lunch")).expect("closed");
        assert_eq!(first.op.lamport, closing.op.lamport);
        // The voter changes its vote without having heard the close: its
        // own check takes it, every fold refuses it.
        let second = write_unheard(&mut room, 1, &cast("lunch", "b")).expect("written");
        assert!(fold_key(&second) > fold_key(&closing));
        let e = assert_order_independent(make, &room.ops, 3, 10);
        let votes = state::<Votes>(&e, NAME);
        let expected = if fold_key(&first) < fold_key(&closing) {
            vec![1, 0]
        } else {
            vec![0, 0]
        };
        assert_eq!(counts(votes, "lunch"), expected);
        assert!(votes.tally("lunch").expect("exists").closed);
    }

    #[test]
    fn concurrent_creates_of_one_name_keep_the_first_in_fold_order() {
        let mut room = Room::new(2, 4, make);
        let a = write_unheard(&mut room, 0, &create("lunch", &["a", "b"], None)).expect("written");
        let b = write_unheard(&mut room, 1, &create("lunch", &["c", "d"], None)).expect("written");
        let e = assert_order_independent(make, &room.ops, 4, 10);
        let poll = state::<Votes>(&e, NAME).poll("lunch").expect("exists");
        let (winner, options) = if fold_key(&a) < fold_key(&b) {
            (a.op.author, strings(&["a", "b"]))
        } else {
            (b.op.author, strings(&["c", "d"]))
        };
        assert_eq!(poll.creator, winner);
        assert_eq!(poll.options, options);
    }

    /// The rules again, written plainly, over ops sorted by fold key.
    #[derive(Default)]
    struct Model {
        creator: Option<NodeId>,
        options: Vec<String>,
        closes_at_ms: Option<u64>,
        closed: bool,
        ballots: BTreeMap<NodeId, String>,
    }

    fn model(written: &[(SignedOp, VoteOp)]) -> BTreeMap<String, Model> {
        let mut sorted: Vec<&(SignedOp, VoteOp)> = written.iter().collect();
        sorted.sort_by_key(|(s, _)| fold_key(s));
        let mut polls: BTreeMap<String, Model> = BTreeMap::new();
        for (s, op) in sorted {
            let (author, wall) = (s.op.author, s.op.wall_ms);
            match op {
                VoteOp::Create(c) => {
                    if !polls.contains_key(&c.poll) && c.closes_at_ms.is_none_or(|t| t > wall) {
                        polls.insert(
                            c.poll.clone(),
                            Model {
                                creator: Some(author),
                                options: c.options.clone(),
                                closes_at_ms: c.closes_at_ms,
                                ..Model::default()
                            },
                        );
                    }
                }
                VoteOp::Vote(b) => {
                    if let Some(p) = polls.get_mut(&b.poll)
                        && !p.closed
                        && p.closes_at_ms.is_none_or(|t| wall < t)
                        && p.options.contains(&b.option)
                    {
                        p.ballots.insert(author, b.option.clone());
                    }
                }
                VoteOp::Close(c) => {
                    if let Some(p) = polls.get_mut(&c.poll)
                        && p.creator == Some(author)
                    {
                        p.closed = true;
                    }
                }
            }
        }
        polls
    }

    #[test]
    fn random_rooms_fold_alike_in_any_order_and_tally_one_vote_per_node() {
        const POLLS: [&str; 3] = ["lunch", "talk", "room"];
        const OPTIONS: [&str; 4] = ["a", "b", "c", "d"];
        let (mut ballots, mut closed, mut refused_in_fold) = (0, 0, 0);
        for seed in 0..20 {
            let mut rng = EngineRng::seed_from_u64(seed);
            let mut room = Room::new(4, seed, make);
            let mut written: Vec<(SignedOp, VoteOp)> = Vec::new();
            for _ in 0..60 {
                let who = rng.random_range(0..4usize);
                let poll = POLLS[rng.random_range(0..POLLS.len())];
                let op = match rng.random_range(0..10) {
                    0 | 1 => {
                        let n = rng.random_range(2..=OPTIONS.len());
                        let closes = rng
                            .random_bool(0.5)
                            .then(|| 1000 + rng.random_range(10..120));
                        create(poll, &OPTIONS[..n], closes)
                    }
                    9 => close(poll),
                    _ => cast(poll, OPTIONS[rng.random_range(0..OPTIONS.len())]),
                };
                let (kind, body) = op.body();
                let result = match rng.random_range(0..3) {
                    0 => room.write_unheard(who, NAME, kind, &body),
                    1 => room.write(who, NAME, kind, &body),
                    _ => room.write_at(who, 1000 + rng.random_range(0..120), NAME, kind, &body),
                };
                if let Ok(signed) = result {
                    written.push((signed, op));
                }
            }
            let e = assert_order_independent(make, &room.ops, seed, 4);
            let votes = state::<Votes>(&e, NAME);
            let expected = model(&written);
            assert_eq!(
                votes
                    .polls()
                    .iter()
                    .map(|p| p.id.clone())
                    .collect::<Vec<_>>(),
                expected.keys().cloned().collect::<Vec<_>>(),
                "seed {seed}"
            );
            for poll in votes.polls() {
                let m = &expected[&poll.id];
                // One ballot per node, sorted by node.
                assert!(
                    poll.ballots.windows(2).all(|w| w[0].voter < w[1].voter),
                    "seed {seed}"
                );
                assert!(poll.ballots.len() <= room.people.len(), "seed {seed}");
                for b in &poll.ballots {
                    assert!(poll.options.contains(&b.option), "seed {seed}");
                    assert!(
                        poll.closes_at_ms.is_none_or(|t| b.wall_ms < t),
                        "seed {seed}"
                    );
                }
                let tally = poll.tally();
                assert_eq!(
                    tally.counts.iter().map(|c| c.votes).sum::<usize>(),
                    tally.voters
                );
                let got: BTreeMap<NodeId, String> = poll
                    .ballots
                    .iter()
                    .map(|b| (b.voter, b.option.clone()))
                    .collect();
                assert_eq!(got, m.ballots, "seed {seed} poll {}", poll.id);
                assert_eq!(Some(poll.creator), m.creator, "seed {seed}");
                assert_eq!(poll.closed.is_some(), m.closed, "seed {seed}");
                ballots += poll.ballots.len();
                closed += usize::from(m.closed);
            }
            // Ops their authors' checks took that the fold refuses
            // (written without hearing what came before them).
            refused_in_fold += e.folder().stats().refused;
        }
        // The scenarios reach every case.
        assert!(ballots > 20, "{ballots} ballots");
        assert!(closed > 5, "{closed} closed polls");
        assert!(refused_in_fold > 5, "{refused_in_fold} refused in the fold");
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse("meta lunch title=Where to eat? options=thai, pizza ,soup closes=10m"),
            Ok(Command::Create {
                poll: "lunch".into(),
                title: "Where to eat?".into(),
                options: strings(&["thai", "pizza", "soup"]),
                closes_in_ms: Some(600_000),
            })
        );
        assert_eq!(
            parse(r#"meta lunch title="a=b" options=x,y"#),
            Ok(Command::Create {
                poll: "lunch".into(),
                title: "a=b".into(),
                options: strings(&["x", "y"]),
                closes_in_ms: None,
            })
        );
        assert_eq!(
            parse("lunch thai food"),
            Ok(Command::Vote {
                poll: "lunch".into(),
                option: "thai food".into()
            })
        );
        assert_eq!(
            parse(" close lunch "),
            Ok(Command::Close {
                poll: "lunch".into()
            })
        );
        assert_eq!(parse("list"), Ok(Command::List));
        assert_eq!(
            parse("show lunch"),
            Ok(Command::Show {
                poll: "lunch".into()
            })
        );
    }

    #[test]
    fn bad_commands_give_reasons() {
        let cases = [
            ("", "usage"),
            ("meta", "usage: /vote meta"),
            ("meta Lunch title=t options=a,b", "lower-case"),
            ("meta show title=t options=a,b", "command word"),
            ("meta lunch options=a,b", "missing title="),
            ("meta lunch title=t", "missing options="),
            ("meta lunch title=t options=a", "2 to 16 options"),
            ("meta lunch title=t options=a,,b", "cannot be empty"),
            ("meta lunch title=t options=a,b,a", "given twice"),
            (
                "meta lunch title=t options=a,b closes=soon",
                "not a duration",
            ),
            ("meta lunch title=t options=a,b closes=0m", "more than zero"),
            ("meta lunch why title=t options=a,b", "unexpected \"why\""),
            ("meta lunch title=\" \" options=a,b", "needs a title"),
            ("close", "usage: /vote close ID"),
            ("close a b", "usage: /vote close ID"),
            ("show", "usage: /vote show ID"),
            ("list all", "usage: /vote list"),
            ("lunch", "which option?"),
            ("Lunch a", "lower-case"),
        ];
        for (input, reason) in cases {
            let err = parse(input).expect_err(input);
            assert!(err.contains(reason), "{input:?}: {err}");
        }
    }

    #[test]
    fn commands_become_ops_with_an_absolute_close_time() {
        let create = parse("meta lunch title=t options=a,b closes=90s").expect("parses");
        assert_eq!(
            create.op(1_000),
            Some(VoteOp::Create(CreatePoll {
                poll: "lunch".into(),
                title: "t".into(),
                options: strings(&["a", "b"]),
                closes_at_ms: Some(91_000),
            }))
        );
        assert_eq!(
            parse("lunch a").expect("parses").op(5),
            Some(cast("lunch", "a"))
        );
        assert_eq!(
            parse("close lunch").expect("parses").op(5),
            Some(close("lunch"))
        );
        assert_eq!(Command::List.op(5), None);
        assert_eq!(parse("show lunch").expect("parses").op(5), None);
        // And the body decodes back to the op.
        let op = cast("lunch", "a");
        let (kind, body) = op.body();
        assert_eq!(VoteOp::decode(kind, &body), Ok(op));
    }
}
