//! The line client's queue commands: `/queue` run on a [`Node`] (and
//! `/queue list` without an id, every queue), and how an incoming queue op
//! reads.
//!
//! [`COMMANDS`] is the applet's entry for [`crate::applets::BUILTIN`]; the
//! machinery it runs in (dispatch, `/help`, shared text helpers) is
//! [`crate::cli::applets`]. Unlike the fold beside it, this talks to a node.

use serde_json::json;

use crate::applets::queue;
use crate::cli::applets::{
    AppletCommand, Commands, Described, Names, OpContext, Shown, described, done, err, one_line,
    runner,
};
use crate::node::Node;

/// `/queue`.
pub static COMMANDS: Commands = Commands {
    words: &["queue"],
    help: "\
/queue create ID [title=..]  create a queue (you serve it)
/queue join ID label=.. [party=N] [note=..]   take a place in a queue
/queue leave ID              give up your place
/queue next ID               serve the next person (the queue's owner)
/queue list [ID]             show a queue's places (all queues without ID)",
    parse: |_, args| {
        let command = if args.trim() == "list" {
            QueueCommand::All
        } else {
            QueueCommand::One(queue::parse(args)?)
        };
        Ok(AppletCommand::new(queue::NAME, command))
    },
    run: runner!(run_queue, QueueCommand),
    describe: describe_queue,
    context: None,
};

/// A `/queue` command: one queue's, or `/queue list` without an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueueCommand {
    One(queue::Command),
    /// `/queue list` without an id: every queue.
    All,
}

fn queue_text(q: &queue::Queue, names: &Names<'_>) -> String {
    let mut s = format!(
        "queue {}{} (owner {}): {} waiting",
        q.id,
        q.title
            .as_ref()
            .map(|t| format!(" \"{}\"", one_line(t)))
            .unwrap_or_default(),
        names.name(&q.owner),
        q.waiting.len()
    );
    if let Some(served) = q.now_serving() {
        s.push_str(&format!(", now serving {}", one_line(&served.entry.label)));
    }
    for p in q.places() {
        s.push_str(&format!(
            "\n  {:>3}. {} (party of {}){}  [{}]",
            p.position,
            one_line(&p.entry.label),
            p.entry.party,
            p.entry
                .note
                .as_ref()
                .map(|n| format!(" - {}", one_line(n)))
                .unwrap_or_default(),
            names.name(&p.entry.node)
        ));
    }
    s
}

async fn list_queues(node: &Node) -> Result<Shown, String> {
    let queues = node
        .query(queue::NAME, |q: &queue::Queues| q.queues().to_vec())
        .await
        .map_err(err)?;
    let human = if queues.is_empty() {
        "no queues".to_string()
    } else {
        queues
            .iter()
            .map(|q| format!("{}: {} waiting", q.id, q.waiting.len()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Shown {
        json: json!({"event": "queues", "queues": queues}),
        human,
    })
}

async fn run_queue(node: &Node, c: QueueCommand, names: &Names<'_>) -> Result<Shown, String> {
    match c {
        QueueCommand::One(c) => run_one_queue(node, c, names).await,
        QueueCommand::All => list_queues(node).await,
    }
}

async fn run_one_queue(node: &Node, c: queue::Command, names: &Names<'_>) -> Result<Shown, String> {
    let name = queue::NAME;
    if let queue::Command::List { queue: id } = &c {
        let (qid, me) = (id.clone(), node.id());
        let (q, mine) = node
            .query(name, move |q: &queue::Queues| {
                (q.queue(&qid).cloned(), q.position(&qid, &me))
            })
            .await
            .map_err(err)?;
        let q = q.ok_or_else(|| format!("no queue {id}"))?;
        let mut human = queue_text(&q, names);
        if let Some(p) = mine {
            human.push_str(&format!("\n  (you are number {p})"));
        }
        return Ok(Shown {
            json: json!({"event": "queue", "queue": q, "places": q.places(), "my_position": mine}),
            human,
        });
    }
    let op = c.op().ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        queue::Command::Create { queue, .. } => ("create", format!("* queue {queue} created")),
        queue::Command::Join { queue, .. } => {
            let (qid, me) = (queue.clone(), node.id());
            let pos = node
                .query(name, move |q: &queue::Queues| q.position(&qid, &me))
                .await
                .map_err(err)?;
            (
                "join",
                match pos {
                    Some(p) => format!("* joined queue {queue}: you are number {p}"),
                    None => format!("* joined queue {queue}"),
                },
            )
        }
        queue::Command::Leave { queue } => ("leave", format!("* left queue {queue}")),
        queue::Command::Next { queue } => {
            let qid = queue.clone();
            let served = node
                .query(name, move |q: &queue::Queues| {
                    q.queue(&qid)
                        .and_then(|q| q.now_serving().map(|s| s.entry.clone()))
                })
                .await
                .map_err(err)?;
            (
                "next",
                match served {
                    Some(e) => format!(
                        "* queue {queue}: now serving {} (party of {}) [{}]",
                        one_line(&e.label),
                        e.party,
                        names.name(&e.node)
                    ),
                    None => format!("* queue {queue}: served the next"),
                },
            )
        }
        queue::Command::List { .. } => unreachable!("answered above"),
    };
    Ok(done(name, action, id, None, human))
}

fn describe_queue(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match queue::QueueOp::decode(kind, body).ok()? {
        queue::QueueOp::Create(q) => described("create", format!("opened queue {}", q.queue)),
        queue::QueueOp::Join(j) => described(
            "join",
            format!("joined queue {} as {}", j.queue, one_line(&j.label)),
        ),
        queue::QueueOp::Leave(l) => described("leave", format!("left queue {}", l.queue)),
        queue::QueueOp::Next(n) => {
            described("next", format!("served the next in queue {}", n.queue))
        }
    }
}
