//! The simulator's planner of roster ops. The simulated room's root is
//! node 0, and it writes the roster's share of the ops (registered
//! `sim_by_root`): it names organisers and adds or removes kiosks (no
//! revocations: a revoked node loses its links, so the run's "every live
//! node holds every op" would no longer hold; revocation belongs to the
//! attack plans). Nobody invites, so the room stays open and the
//! other nodes' ops keep counting (closing a room is an attack plan's
//! business, not the op mix's).
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written; a node that may not change the roster
//! writes a chat line instead. Registered with its weight in
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
    let root = folder.root()?;
    if me != root && !r.may_act(&me) {
        return None;
    }
    let other = *pick(rng, nodes)?;
    if other == me {
        return None;
    }
    // No revocations in the op mix: a revoked node's links are refused, so
    // it could no longer hold every op (revocation is an attack plan's).
    match rng.random_range(0..10u32) {
        0..=3 if me == root => op(roster::RosterOp::OrganiserAdd(other)),
        4..=6 => op(roster::RosterOp::KioskAdd(other)),
        _ if r.is_kiosk(&other) => op(roster::RosterOp::KioskRemove(other)),
        _ => None,
    }
}
