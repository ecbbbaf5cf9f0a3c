//! The simulator's planner of roster ops: invite or revoke another node of
//! the run, or add or remove it as a kiosk.
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written. Registered with its weight in
//! [`crate::applets::BUILTIN`]; the machinery that draws an applet and
//! writes a chat line when a plan gives `None` is `src/sim/ops.rs`.

use rand::RngExt;

use crate::applets::roster;
use crate::proto::EngineRng;
use crate::sim::ops::{op, pick, state};
use crate::sim::{PlanContext, Planned};

/// One roster op by the author of `c`, or `None` for a chat line (a
/// [`crate::sim::PlanFn`]).
pub(crate) fn plan(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
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
