//! The simulator's planner of lost+found ops: report an item lost or
//! found, claim someone else's, or resolve one's own.
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written. Registered with its weight in
//! [`crate::applets::BUILTIN`]; the machinery that draws an applet and
//! writes a chat line when a plan gives `None` is `src/sim/ops.rs`.

use rand::RngExt;

use crate::applets::lostfound;
use crate::proto::EngineRng;
use crate::sim::ops::{op, pick, state};
use crate::sim::{PlanContext, Planned};

/// One lostfound op by the author of `c`, or `None` for a chat line (a
/// [`crate::sim::PlanFn`]).
pub(crate) fn plan(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
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
