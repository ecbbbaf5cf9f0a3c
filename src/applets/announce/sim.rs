//! The simulator's planner of announcement ops: post to a topic, or pin,
//! unpin or retract one of the author's own announcements.
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written. Registered with its weight in
//! [`crate::applets::BUILTIN`]; the machinery that draws an applet and
//! writes a chat line when a plan gives `None` is `src/sim/ops.rs`.

use rand::RngExt;

use crate::applets::announce;
use crate::proto::EngineRng;
use crate::sim::ops::{op, pick, state};
use crate::sim::{PlanContext, Planned};

/// One announce op by the author of `c`, or `None` for a chat line (a
/// [`crate::sim::PlanFn`]).
pub(crate) fn plan(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
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
