//! The simulator's planner of resource-request ops: make a request, claim
//! someone else's, fulfil or unclaim one the author holds, or cancel its
//! own.
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written. Registered with its weight in
//! [`crate::applets::BUILTIN`]; the machinery that draws an applet and
//! writes a chat line when a plan gives `None` is `src/sim/ops.rs`.

use rand::RngExt;

use crate::applets::request;
use crate::proto::EngineRng;
use crate::sim::ops::{op, pick, state};
use crate::sim::{PlanContext, Planned};

/// One request op by the author of `c`, or `None` for a chat line (a
/// [`crate::sim::PlanFn`]).
pub(crate) fn plan(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
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
