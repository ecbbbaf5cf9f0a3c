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
//!
//! This is the machinery they share: the draw by weight ([`plan`]), what
//! a planner is given ([`PlanContext`]) and the helpers planners use.
//! Each applet's planner is its own `sim.rs` (`src/applets/<name>/sim.rs`);
//! chat has none of its own, since a chat line is what the simulator
//! writes whenever a plan gives `None` ([`plan_chat`]).

use rand::RngExt;

use crate::applets::BUILTIN;
use crate::id::NodeId;
use crate::proto::EngineRng;
use crate::proto::oplog::OpLog;
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

/// How the simulator writes an applet's ops: its share of them, how it
/// picks one, and who writes them.
#[derive(Clone, Copy)]
pub struct SimOps {
    /// The applet's weight: its share of the ops is its weight over the
    /// sum of every registered applet's.
    pub weight: u32,
    /// Picks the op.
    pub plan: PlanFn,
    /// Whether the room's root (node 0) writes this applet's ops, when it
    /// is up (organisers' work, like the roster's), rather than a random
    /// live node.
    pub by_root: bool,
}

/// Draws the applet of the next op by the weights of
/// [`crate::applets::BUILTIN`]; `None` when no applet has a weight.
pub(crate) fn draw(rng: &mut EngineRng) -> Option<SimOps> {
    let mix = || BUILTIN.iter().filter_map(|b| b.sim);
    let total: u32 = mix().map(|s| s.weight).sum();
    if total == 0 {
        return None;
    }
    let mut roll = rng.random_range(0..total);
    for ops in mix() {
        if roll < ops.weight {
            return Some(ops);
        }
        roll -= ops.weight;
    }
    None
}

/// Applet `name`'s state in `folder`, as an `A`.
pub(crate) fn state<'a, A: 'static>(folder: &'a Folder, name: &str) -> Option<&'a A> {
    folder.applet(name)?.as_any().downcast_ref::<A>()
}

/// One of `items`, drawn uniformly; `None` if there are none.
pub(crate) fn pick<'a, T>(rng: &mut EngineRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.random_range(0..items.len())])
    }
}

/// Op number `k` of the drawn applet (`ops`) by `me`, at `wall_ms`, given
/// what its replica holds; `None` for a chat line.
pub(crate) fn plan(
    rng: &mut EngineRng,
    ops: SimOps,
    k: usize,
    me: NodeId,
    oplog: &OpLog,
    nodes: &[NodeId],
    wall_ms: u64,
) -> Option<Planned> {
    let context = PlanContext {
        k,
        me,
        folder: oplog.folder(),
        nodes,
        wall_ms,
    };
    (ops.plan)(rng, &context)
}

/// Chat's plan: a chat line.
pub(crate) fn plan_chat(_: &mut EngineRng, _: &PlanContext<'_>) -> Option<Planned> {
    None
}

/// Typed op `o`, planned.
pub(crate) fn op<O: crate::applets::AppletOp>(o: O) -> Option<Planned> {
    let (kind, body) = o.kind_and_body();
    Some((o.applet(), kind, body))
}
