//! The line client's resource-request commands: `/request`,
//! `/claim-request`, `/unclaim`, `/fulfil`, `/cancel` and `/requests` run on
//! a [`Node`], and how an incoming request op reads.
//!
//! [`COMMANDS`] is the applet's entry for [`crate::applets::BUILTIN`]; the
//! machinery it runs in (dispatch, `/help`, shared text helpers) is
//! [`crate::cli::applets`]. Unlike the fold beside it, this talks to a node.

use serde_json::{Value, json};

use crate::applets::request;
use crate::cli::applets::{
    AppletCommand, Commands, Described, Names, OpContext, Shown, described, done, err, one_line,
    runner,
};
use crate::id::NodeId;
use crate::node::Node;

/// `/request`, `/claim-request`, `/unclaim`, `/fulfil`, `/cancel`,
/// `/requests` (the words of [`request::COMMANDS`]).
pub static COMMANDS: Commands = Commands {
    words: &[
        "request",
        "claim-request",
        "unclaim",
        "fulfil",
        "cancel",
        "requests",
    ],
    help: "\
/request what=.. [where=..] [urgency=low|normal|urgent]   ask for something
/claim-request ID            take a request on; /unclaim ID gives it back
/fulfil ID, /cancel ID       mark a request done, or cancel your own
/requests [all]              list open requests, most urgent first",
    parse: |word, args| {
        let parse =
            request::parser(word).ok_or_else(|| format!("/{word} is not a request command"))?;
        parse(args).map(|c| AppletCommand::new(request::NAME, c))
    },
    run: runner!(run_request, request::Command),
    describe: describe_request,
    context: None,
};

async fn run_request(node: &Node, c: request::Command, names: &Names<'_>) -> Result<Shown, String> {
    let name = request::NAME;
    if let request::Command::List { all } = c {
        let list = node
            .query(name, move |r: &request::Requests| {
                r.list(all)
                    .into_iter()
                    .map(|req| (r.short(&req.id), req.clone()))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(err)?;
        let lines: Vec<String> = list
            .iter()
            .map(|(short, r)| request_line(short, r, names))
            .collect();
        let json_list: Vec<Value> = list
            .iter()
            .map(|(short, r)| json!({"short": short, "request": r}))
            .collect();
        return Ok(Shown {
            json: json!({"event": "requests", "requests": json_list}),
            human: if lines.is_empty() {
                "no open requests".to_string()
            } else {
                lines.join("\n")
            },
        });
    }
    let find = |prefix: String| async move {
        node.query(name, move |r: &request::Requests| r.find(&prefix))
            .await
            .map_err(err)?
    };
    let (op, action) = match &c {
        request::Command::Request(new) => (request::RequestOp::Request(new.clone()), "request"),
        request::Command::Claim(p) => (request::RequestOp::Claim(find(p.clone()).await?), "claim"),
        request::Command::Unclaim(p) => (
            request::RequestOp::Unclaim(find(p.clone()).await?),
            "unclaim",
        ),
        request::Command::Fulfil(p) => {
            (request::RequestOp::Fulfil(find(p.clone()).await?), "fulfil")
        }
        request::Command::Cancel(p) => {
            (request::RequestOp::Cancel(find(p.clone()).await?), "cancel")
        }
        request::Command::List { .. } => unreachable!("answered above"),
    };
    let id = node.act(&op).await.map_err(err)?;
    let target = match op {
        request::RequestOp::Request(_) => id,
        request::RequestOp::Claim(t)
        | request::RequestOp::Unclaim(t)
        | request::RequestOp::Fulfil(t)
        | request::RequestOp::Cancel(t) => t,
    };
    let short = node
        .query(name, move |r: &request::Requests| r.short(&target))
        .await
        .map_err(err)?;
    let human = match action {
        "request" => format!("* requested as {short}"),
        "claim" => format!("* you took request {short} on"),
        "unclaim" => format!("* you gave request {short} back"),
        "fulfil" => format!("* request {short} fulfilled"),
        _ => format!("* request {short} cancelled"),
    };
    Ok(done(name, action, id, Some(short), human))
}

/// One request in `/requests`: who asked, and who holds, fulfilled or
/// cancelled it (the op's author, from `closed_by`; a claimer who did not
/// fulfil it is named apart).
fn request_line(short: &str, r: &request::Request, names: &Names<'_>) -> String {
    let by = |node: &Option<NodeId>| {
        node.as_ref()
            .map(|n| format!(" by {}", names.name(n)))
            .unwrap_or_default()
    };
    let status = match r.status {
        request::Status::Open => "open".to_string(),
        request::Status::Claimed => format!("claimed{}", by(&r.claimer)),
        request::Status::Fulfilled | request::Status::Cancelled => {
            let mut s = format!("{}{}", r.status.as_str(), by(&r.closed_by));
            if r.claimer.is_some() && r.claimer != r.closed_by {
                s.push_str(&format!(" (claimed{})", by(&r.claimer)));
            }
            s
        }
    };
    format!(
        "{short} [{}] {}{}  by {}  {status}",
        r.urgency.as_str(),
        one_line(&r.what),
        r.place
            .as_ref()
            .map(|p| format!(" @ {}", one_line(p)))
            .unwrap_or_default(),
        names.name(&r.requester),
    )
}

fn describe_request(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match request::RequestOp::decode(kind, body).ok()? {
        request::RequestOp::Request(r) => described(
            "request",
            format!("requests ({}) {}", r.urgency.as_str(), one_line(&r.what)),
        ),
        request::RequestOp::Claim(_) => described("claim", "took a request on".into()),
        request::RequestOp::Unclaim(_) => described("unclaim", "gave a request back".into()),
        request::RequestOp::Fulfil(_) => described("fulfil", "fulfilled a request".into()),
        request::RequestOp::Cancel(_) => described("cancel", "cancelled a request".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::id::OpId;

    fn request_by(
        requester: u8,
        status: request::Status,
        claimer: Option<u8>,
        closed_by: Option<u8>,
    ) -> request::Request {
        request::Request {
            id: OpId([9; 32]),
            requester: NodeId([requester; 32]),
            what: "extension cord".into(),
            place: None,
            urgency: request::Urgency::Urgent,
            lamport: 1,
            seq: 1,
            wall_ms: 0,
            status,
            claimer: claimer.map(|n| NodeId([n; 32])),
            closed_by: closed_by.map(|n| NodeId([n; 32])),
            changed_ms: 0,
        }
    }

    #[test]
    fn a_request_list_names_who_fulfilled_it_not_only_who_claimed_it() {
        let nicks: HashMap<NodeId, String> = [
            (NodeId([1; 32]), "ada".to_string()),
            (NodeId([2; 32]), "bob".to_string()),
        ]
        .into_iter()
        .collect();
        let names = Names(&nicks);
        use request::Status::*;
        // Claimed by bob, then fulfilled by ada, the requester.
        let line = request_line("7f3a", &request_by(1, Fulfilled, Some(2), Some(1)), &names);
        assert_eq!(
            line,
            "7f3a [urgent] extension cord  by ada (01010101)  fulfilled by ada (01010101) (claimed by bob (02020202))"
        );
        // Fulfilled by its claimer.
        let line = request_line("7f3a", &request_by(1, Fulfilled, Some(2), Some(2)), &names);
        assert!(line.ends_with("  fulfilled by bob (02020202)"), "{line}");
        // Fulfilled by the requester without a claim.
        let line = request_line("7f3a", &request_by(1, Fulfilled, None, Some(1)), &names);
        assert!(line.ends_with("  fulfilled by ada (01010101)"), "{line}");
        let line = request_line("7f3a", &request_by(1, Cancelled, Some(2), Some(1)), &names);
        assert!(
            line.ends_with("  cancelled by ada (01010101) (claimed by bob (02020202))"),
            "{line}"
        );
        let line = request_line("7f3a", &request_by(1, Claimed, Some(2), None), &names);
        assert!(line.ends_with("  claimed by bob (02020202)"), "{line}");
        let line = request_line("7f3a", &request_by(1, Open, None, None), &names);
        assert!(line.ends_with("  open"), "{line}");
    }
}
