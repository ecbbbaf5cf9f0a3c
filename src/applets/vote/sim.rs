//! The simulator's planner of poll ops: create a poll (some close by time,
//! within the run), vote in an open one, or close one's own.
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written. Registered with its weight in
//! [`crate::applets::BUILTIN`]; the machinery that draws an applet and
//! writes a chat line when a plan gives `None` is `src/sim/ops.rs`.

use rand::RngExt;

use crate::applets::vote;
use crate::proto::EngineRng;
use crate::sim::ops::{op, pick, state};
use crate::sim::{PlanContext, Planned};

/// One vote op by the author of `c`, or `None` for a chat line (a
/// [`crate::sim::PlanFn`]).
pub(crate) fn plan(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
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
