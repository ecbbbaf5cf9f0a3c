//! The line client's lost+found commands: `/lost`, `/found`, `/claim`,
//! `/resolve` and `/lostfound` run on a [`Node`], and how an incoming
//! lost+found op reads.
//!
//! [`COMMANDS`] is the applet's entry for [`crate::applets::BUILTIN`]; the
//! machinery it runs in (dispatch, `/help`, shared text helpers) is
//! [`crate::cli::applets`]. Unlike the fold beside it, this talks to a node.

use serde_json::json;

use crate::applets::lostfound;
use crate::cli::applets::{
    AppletCommand, Commands, Described, Names, OpContext, Shown, described, done, err, one_line,
    runner,
};
use crate::node::Node;

/// `/lost`, `/found`, `/claim`, `/resolve`, `/lostfound`.
pub static COMMANDS: Commands = Commands {
    words: lostfound::COMMANDS,
    help: "\
/lost TEXT [where=..] [contact=..]    report a lost item
/found TEXT [where=..] [contact=..]   report a found item
/claim ID [note]             claim a found item (or say you found a lost one)
/resolve ID                  mark your item as back with its owner
/lostfound [all]             list open items, newest first",
    parse: |word, args| {
        lostfound::parse(word, args).map(|c| AppletCommand::new(lostfound::NAME, c))
    },
    run: runner!(run_lostfound, lostfound::Command),
    describe: describe_lostfound,
    context: None,
};

async fn run_lostfound(
    node: &Node,
    c: lostfound::Command,
    names: &Names<'_>,
) -> Result<Shown, String> {
    let name = lostfound::NAME;
    if let lostfound::Command::List { all } = c {
        let entries = node
            .query(name, move |l: &lostfound::LostFound| l.items(all))
            .await
            .map_err(err)?;
        let mut lines = Vec::new();
        for e in &entries {
            let i = &e.item;
            let mut s = format!(
                "{} {} {}{}{}  [{}]",
                e.short,
                match i.kind {
                    lostfound::ItemKind::Lost => "LOST ",
                    lostfound::ItemKind::Found => "FOUND",
                },
                one_line(&i.description),
                i.place
                    .as_ref()
                    .map(|p| format!(" @ {}", one_line(p)))
                    .unwrap_or_default(),
                i.contact
                    .as_ref()
                    .map(|c| format!(" (contact: {})", one_line(c)))
                    .unwrap_or_default(),
                names.name(&i.poster)
            );
            if !i.is_open() {
                s.push_str("  resolved");
            }
            for claim in &i.claims {
                s.push_str(&format!(
                    "\n      claimed by {}{}",
                    names.name(&claim.by),
                    claim
                        .note
                        .as_ref()
                        .map(|n| format!(": {}", one_line(n)))
                        .unwrap_or_default()
                ));
            }
            lines.push(s);
        }
        return Ok(Shown {
            json: json!({"event": "lostfound", "items": entries}),
            human: if lines.is_empty() {
                "no open items".to_string()
            } else {
                lines.join("\n")
            },
        });
    }
    let c2 = c.clone();
    let op = node
        .query(name, move |l: &lostfound::LostFound| l.op_for(&c2))
        .await
        .map_err(err)??
        .ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        lostfound::Command::Post { kind, .. } => match kind {
            lostfound::ItemKind::Lost => ("lost", "reported lost".to_string()),
            lostfound::ItemKind::Found => ("found", "reported found".to_string()),
        },
        lostfound::Command::Claim { id, .. } => ("claim", format!("claimed {id}")),
        lostfound::Command::Resolve { id } => ("resolve", format!("resolved {id}")),
        lostfound::Command::List { .. } => unreachable!("answered above"),
    };
    let short = if matches!(c, lostfound::Command::Post { .. }) {
        Some(
            node.query(name, move |l: &lostfound::LostFound| l.short(&id))
                .await
                .map_err(err)?,
        )
    } else {
        None
    };
    let human = match &short {
        Some(s) => format!("* {human} as {s}"),
        None => format!("* {human}"),
    };
    Ok(done(name, action, id, short, human))
}

fn describe_lostfound(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match lostfound::LostFoundOp::decode(kind, body).ok()? {
        lostfound::LostFoundOp::Lost(item) => {
            described("lost", format!("lost {}", one_line(&item.description)))
        }
        lostfound::LostFoundOp::Found(item) => {
            described("found", format!("found {}", one_line(&item.description)))
        }
        lostfound::LostFoundOp::Claim(_) => described("claim", "claimed an item".into()),
        lostfound::LostFoundOp::Resolve(_) => described("resolve", "resolved an item".into()),
    }
}
