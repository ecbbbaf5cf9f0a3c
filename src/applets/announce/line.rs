//! The line client's announcement commands: `/announce`, `/pin`,
//! `/unpin`, `/retract` and `/announcements` run on a [`Node`], and how an
//! incoming announcement op reads.
//!
//! [`COMMANDS`] is the applet's entry for [`crate::applets::BUILTIN`]; the
//! machinery it runs in (dispatch, `/help`, shared text helpers) is
//! [`crate::cli::applets`]. Unlike the fold beside it, this talks to a node.

use serde_json::json;

use crate::applets::announce;
use crate::cli::applets::{
    AppletCommand, Commands, Described, Names, OpContext, Shown, described, done, err, one_line,
    runner,
};
use crate::node::Node;

/// `/announce`, `/pin`, `/unpin`, `/retract`, `/announcements`.
pub static COMMANDS: Commands = Commands {
    words: announce::COMMANDS,
    help: "\
/announce [#topic] TEXT      post an announcement (topic general by default)
/pin ID, /unpin ID           pin or unpin your announcement (pinned ones list first)
/retract ID                  take back your announcement
/announcements [#topic]      list announcements, pinned first, newest first",
    parse: |word, args| announce::parse(word, args).map(|c| AppletCommand::new(announce::NAME, c)),
    run: runner!(run_announce, announce::Command),
    describe: describe_announce,
    context: None,
};

async fn run_announce(
    node: &Node,
    c: announce::Command,
    names: &Names<'_>,
) -> Result<Shown, String> {
    let name = announce::NAME;
    if let announce::Command::List { topic } = &c {
        let topic = topic.clone();
        let entries = node
            .query(name, move |a: &announce::Announce| {
                a.announcements(topic.as_deref())
            })
            .await
            .map_err(err)?;
        let mut human = if entries.is_empty() {
            "no announcements".to_string()
        } else {
            String::new()
        };
        for e in &entries {
            let a = &e.announcement;
            if !human.is_empty() {
                human.push('\n');
            }
            human.push_str(&format!(
                "{}{} #{} {}: {}",
                if a.pinned { "📌 " } else { "" },
                e.short,
                a.topic,
                names.name(&a.author),
                one_line(&a.text)
            ));
        }
        return Ok(Shown {
            json: json!({"event": "announcements", "announcements": entries}),
            human,
        });
    }
    let c2 = c.clone();
    let op = node
        .query(name, move |a: &announce::Announce| a.op_for(&c2))
        .await
        .map_err(err)??
        .ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        announce::Command::Announce { topic, .. } => ("post", format!("announced in #{topic}")),
        announce::Command::Pin { id } => ("pin", format!("pinned {id}")),
        announce::Command::Unpin { id } => ("unpin", format!("unpinned {id}")),
        announce::Command::Retract { id } => ("retract", format!("retracted {id}")),
        announce::Command::List { .. } => unreachable!("answered above"),
    };
    let short = if action == "post" {
        let s = node
            .query(name, move |a: &announce::Announce| a.short(&id))
            .await
            .map_err(err)?;
        Some(s)
    } else {
        None
    };
    let human = match &short {
        Some(s) => format!("* {human} as {s}"),
        None => format!("* {human}"),
    };
    Ok(done(name, action, id, short, human))
}

fn describe_announce(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match announce::AnnounceOp::decode(kind, body).ok()? {
        announce::AnnounceOp::Post(p) => described(
            "post",
            format!("announced in #{}: {}", p.topic, one_line(&p.text)),
        ),
        announce::AnnounceOp::Pin(_) => described("pin", "pinned an announcement".into()),
        announce::AnnounceOp::Unpin(_) => described("unpin", "unpinned an announcement".into()),
        announce::AnnounceOp::Retract(_) => {
            described("retract", "retracted an announcement".into())
        }
    }
}
