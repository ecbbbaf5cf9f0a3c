//! The simulator's planner of queue ops: create a queue, join or leave
//! one, or serve the next in one's own.
//!
//! Each op is chosen from what the author's replica holds, so most are
//! valid where they are written. Registered with its weight in
//! [`crate::applets::BUILTIN`]; the machinery that draws an applet and
//! writes a chat line when a plan gives `None` is `src/sim/ops.rs`.

use rand::RngExt;

use crate::applets::queue;
use crate::proto::EngineRng;
use crate::sim::ops::{op, pick, state};
use crate::sim::{PlanContext, Planned};

/// One queue op by the author of `c`, or `None` for a chat line (a
/// [`crate::sim::PlanFn`]).
pub(crate) fn plan(rng: &mut EngineRng, c: &PlanContext<'_>) -> Option<Planned> {
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
