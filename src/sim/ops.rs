//! The ops a simulated node writes: a mix of every built-in applet, chosen
//! from what the author's own replica holds (vote in a poll it knows,
//! serve its own queue, claim someone else's item...), so most ops are
//! valid where they are written, and concurrent ones race the way people
//! do (two claims of one request, a vote against a close). An op its
//! author's own rules refuse is replaced by a chat line, so `--ops N`
//! writes exactly N ops.
//!
//! The mix comes from the applets' registrations
//! ([`crate::applets::BUILTIN`], each with its [`SimOps`]): per op, chat
//! 30 %, announcements 10 %, voting 15 %, queueing 15 %, lost+found 10 %,
//! requests 15 %, roster 5 %.

use rand::RngExt;

use crate::applets::{BUILTIN, announce, lostfound, queue, request, roster, vote};
use crate::id::NodeId;
use crate::proto::EngineRng;
use crate::proto::oplog::fold::Folder;

/// Which ops `--ops` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpMix {
    /// Chat lines only.
    Chat,
    /// Every built-in applet.
    #[default]
    All,
}

impl std::str::FromStr for OpMix {
    type Err = String;
    fn from_str(s: &str) -> Result<OpMix, String> {
        match s {
            "chat" => Ok(OpMix::Chat),
            "all" => Ok(OpMix::All),
            _ => Err(format!("op mix {s:?}: use chat or all")),
        }
    }
}

/// An op to write: applet, kind, plain body.
pub type Planned = (&'static str, u16, Vec<u8>);

/// What a simulated author knows when it picks an op.
#[derive(Clone, Copy)]
pub struct PlanContext<'a> {
    /// The op's number in the run (for names and texts).
    pub k: usize,
    /// The author.
    pub me: NodeId,
    /// The author's replica's fold.
    pub folder: &'a Folder,
    /// Every node of the run, in node order.
    pub nodes: &'a [NodeId],
    /// The virtual wall clock, milliseconds.
    pub wall_ms: u64,
}

/// Picks one op of an applet from what the author holds; `None` writes a
/// chat line instead.
pub type PlanFn = fn(&mut EngineRng, &PlanContext<'_>) -> Option<Planned>;

/// How the simulator writes an applet's ops: its share of them and how it
/// picks one.
#[derive(Clone, Copy)]
pub struct SimOps {
    /// The applet's weight: its share of the ops is its weight over the
    /// sum of every registered applet's.
    pub weight: u32,
    /// Picks the op.
    pub plan: PlanFn,
}

fn state<'a, A: 'static>(folder: &'a Folder, name: &str) -> Option<&'a A> {
    folder.applet(name)?.as_any().downcast_ref::<A>()
}

fn pick<'a, T>(rng: &mut EngineRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.random_range(0..items.len())])
    }
}

/// Op number `k` by `me`, at `wall_ms`, given what its replica folded;
/// `None` for a chat line. The applet is drawn by the weights of
/// [`crate::applets::BUILTIN`].
pub(crate) fn plan(
    rng: &mut EngineRng,
    k: usize,
    me: NodeId,
    folder: &Folder,
    nodes: &[NodeId],
    wall_ms: u64,
) -> Option<Planned> {
    let context = PlanContext {
        k,
        me,
        folder,
        nodes,
        wall_ms,
    };
    let mix = || BUILTIN.iter().filter_map(|b| b.sim);
    let total: u32 = mix().map(|s| s.weight).sum();
    if total == 0 {
        return None;
    }
    let mut roll = rng.random_range(0..total);
    for ops in mix() {
        if roll < ops.weight {
            return (ops.plan)(rng, &context);
        }
        roll -= ops.weight;
    }
    None
}

/// Chat's plan: a chat line.
pub(crate) fn plan_chat(_: &mut EngineRng, _: &PlanContext<'_>) -> Option<Planned> {
    None
}

fn op<O: crate::applets::AppletOp>(o: O) -> Option<Planned> {
    let (kind, body) = o.kind_and_body();
    Some((o.applet(), kind, body))
}

pub(crate) fn plan_announce(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
    let PlanContext { k, me, folder, .. } = *c;
    let a: &announce::Announce = state(folder, announce::NAME)?;
    let mine: Vec<announce::Announcement> = a
        .announcements(None)
        .into_iter()
        .map(|e| e.announcement)
        .filter(|x| x.author == me)
        .collect();
    let topic = ["general", "food", "help"][rng.random_range(0..3usize)];
    match (rng.random_range(0..4u32), pick(rng, &mine)) {
        (0, Some(x)) if !x.pinned => op(announce::AnnounceOp::Pin(x.id)),
        (1, Some(x)) if x.pinned => op(announce::AnnounceOp::Unpin(x.id)),
        (2, Some(x)) => op(announce::AnnounceOp::Retract(x.id)),
        _ => op(announce::AnnounceOp::Post(announce::Post {
            topic: topic.to_string(),
            text: format!("announcement {k}"),
        })),
    }
}

pub(crate) fn plan_vote(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
    let PlanContext {
        k,
        me,
        folder,
        wall_ms,
        ..
    } = *c;
    let v: &vote::Votes = state(folder, vote::NAME)?;
    let open: Vec<&vote::Poll> = v.polls().iter().filter(|p| p.closed.is_none()).collect();
    match (rng.random_range(0..6u32), pick(rng, &open)) {
        (0, _) | (_, None) => op(vote::VoteOp::Create(vote::CreatePoll {
            poll: format!("p{k}"),
            title: format!("poll {k}"),
            options: vec!["a".into(), "b".into(), "c".into()],
            // Some polls close by time, within the run.
            closes_at_ms: rng
                .random_bool(0.5)
                .then(|| wall_ms + rng.random_range(2_000..20_000)),
        })),
        (1, Some(p)) if p.creator == me => {
            op(vote::VoteOp::Close(vote::ClosePoll { poll: p.id.clone() }))
        }
        (_, Some(p)) => {
            let option = pick(rng, &p.options)?.clone();
            op(vote::VoteOp::Vote(vote::CastVote {
                poll: p.id.clone(),
                option,
            }))
        }
    }
}

pub(crate) fn plan_queue(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
    let PlanContext { k, me, folder, .. } = *c;
    let q: &queue::Queues = state(folder, queue::NAME)?;
    let all = q.queues();
    let roll = rng.random_range(0..5u32);
    let Some(target) = pick(rng, all) else {
        return op(queue::QueueOp::Create(queue::CreateQueue {
            queue: format!("q{k}"),
            title: None,
        }));
    };
    let waiting = target.waiting.iter().any(|e| e.node == me);
    match roll {
        0 => op(queue::QueueOp::Create(queue::CreateQueue {
            queue: format!("q{k}"),
            title: Some(format!("queue {k}")),
        })),
        1 if target.owner == me && !target.waiting.is_empty() => {
            op(queue::QueueOp::Next(queue::ServeNext {
                queue: target.id.clone(),
            }))
        }
        2 if waiting => op(queue::QueueOp::Leave(queue::LeaveQueue {
            queue: target.id.clone(),
        })),
        _ if !waiting => op(queue::QueueOp::Join(queue::JoinQueue {
            queue: target.id.clone(),
            label: format!("person {k}"),
            party: rng.random_range(1..5),
            note: None,
        })),
        _ => None,
    }
}

pub(crate) fn plan_lostfound(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
    let PlanContext { k, me, folder, .. } = *c;
    let l: &lostfound::LostFound = state(folder, lostfound::NAME)?;
    let open: Vec<lostfound::Item> = l.items(false).into_iter().map(|e| e.item).collect();
    match (rng.random_range(0..3u32), pick(rng, &open)) {
        (1, Some(item)) if item.poster != me => {
            op(lostfound::LostFoundOp::Claim(lostfound::ClaimBody {
                item: item.id,
                note: None,
            }))
        }
        (2, Some(item)) if item.poster == me => op(lostfound::LostFoundOp::Resolve(item.id)),
        _ => {
            let kind = if rng.random_bool(0.5) {
                lostfound::ItemKind::Lost
            } else {
                lostfound::ItemKind::Found
            };
            op(lostfound::LostFoundOp::post(
                kind,
                lostfound::ItemBody {
                    description: format!("item {k}"),
                    place: Some("main hall".into()),
                    contact: None,
                },
            ))
        }
    }
}

pub(crate) fn plan_request(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
    let PlanContext { k, me, folder, .. } = *c;
    let r: &request::Requests = state(folder, request::NAME)?;
    let open: Vec<request::Request> = r.list(false).into_iter().cloned().collect();
    let urgency = [
        request::Urgency::Low,
        request::Urgency::Normal,
        request::Urgency::Urgent,
    ][rng.random_range(0..3usize)];
    match (rng.random_range(0..5u32), pick(rng, &open)) {
        (1, Some(x)) if x.requester != me && x.claimer.is_none() => {
            op(request::RequestOp::Claim(x.id))
        }
        (2, Some(x)) if x.claimer == Some(me) => op(request::RequestOp::Fulfil(x.id)),
        (3, Some(x)) if x.claimer == Some(me) => op(request::RequestOp::Unclaim(x.id)),
        (4, Some(x)) if x.requester == me => op(request::RequestOp::Cancel(x.id)),
        _ => op(request::RequestOp::Request(request::NewRequest {
            what: format!("need {k}"),
            place: None,
            urgency,
        })),
    }
}

pub(crate) fn plan_roster(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
    let PlanContext {
        me, folder, nodes, ..
    } = *c;
    let r: &roster::Roster = state(folder, roster::NAME)?;
    let other = *pick(rng, nodes)?;
    if other == me {
        return None;
    }
    match rng.random_range(0..10u32) {
        0 => op(roster::RosterOp::Revoke(other)),
        1 | 2 if r.is_member(&other) || r.is_open() => op(roster::RosterOp::KioskAdd(other)),
        3 if r.is_kiosk(&other) => op(roster::RosterOp::KioskRemove(other)),
        _ => op(roster::RosterOp::Invite(other)),
    }
}
