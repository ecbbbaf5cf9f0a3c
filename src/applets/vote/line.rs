//! The line client's poll commands: `/vote` run on a [`Node`], the poll
//! listings with their close times, and how an incoming vote op reads (a
//! poll's close with its result, read from the node by [`COMMANDS`]'s
//! context).
//!
//! [`COMMANDS`] is the applet's entry for [`crate::applets::BUILTIN`]; the
//! machinery it runs in (dispatch, `/help`, shared text helpers) is
//! [`crate::cli::applets`]. Unlike the fold beside it, this talks to a node.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::applets::vote;
use crate::cli::applets::{
    AppletCommand, Commands, Described, Names, OpContext, Shown, described, done, duration_text,
    err, one_line, runner, utc_text,
};
use crate::node::{Node, unix_micros};

/// `/vote`.
pub static COMMANDS: Commands = Commands {
    words: &["vote"],
    help: "\
/vote meta ID title=.. options=a,b[,..] [closes=10m]   create a poll
/vote ID OPTION              vote (again to change your vote, until the poll closes)
/vote close ID               close your poll
/vote list, /vote show ID    list polls, show one poll's tally",
    parse: |_, args| vote::parse(args).map(|c| AppletCommand::new(vote::NAME, c)),
    run: runner!(run_vote, vote::Command),
    describe: describe_vote,
    context: Some(vote_context),
};

fn tally_text(t: &vote::Tally, now_ms: u64) -> String {
    let mut s = format!(
        "poll {} \"{}\": {} voter(s), {}",
        t.poll,
        one_line(&t.title),
        t.voters,
        close_text(t, now_ms)
    );
    for c in &t.counts {
        s.push_str(&format!("\n  {:>3}  {}", c.votes, c.option));
    }
    s
}

/// When a poll closes, as of `now_ms`: "closes in 12m (2025-06-01 14:05
/// UTC)", "closed (2025-06-01 13:50 UTC)" (by its close op or its close
/// time), "open, no close time".
fn close_text(t: &vote::Tally, now_ms: u64) -> String {
    // The close op's time when it has one; else the time given at creation.
    let at = t.closed_wall_ms.or(t.closes_at_ms);
    match (t.is_closed_at(now_ms), at) {
        (true, Some(at)) => format!("closed ({})", utc_text(at)),
        (true, None) => "closed".to_string(),
        (false, Some(at)) => format!(
            "closes in {} ({})",
            duration_text(at.saturating_sub(now_ms)),
            utc_text(at)
        ),
        (false, None) => "open, no close time".to_string(),
    }
}

/// A poll's close time in its JSON: `closes_at` (UTC text of the close
/// op's time, else the close time given; null without either) and
/// `closes_in_ms` (null once closed or without a close time).
fn close_json(t: &vote::Tally, now_ms: u64) -> Value {
    let at = t.closed_wall_ms.or(t.closes_at_ms);
    let closes_in_ms = match t.closes_at_ms {
        Some(at) if !t.is_closed_at(now_ms) => Some(at - now_ms),
        _ => None,
    };
    json!({
        "closed_now": t.is_closed_at(now_ms),
        "closes_at": at.map(utc_text),
        "closes_in_ms": closes_in_ms,
    })
}

/// A poll's result from its tally: the winner, or the tied options.
fn result_text(t: &vote::Tally) -> String {
    let leaders = t.leaders();
    match leaders.as_slice() {
        [] => "no votes".to_string(),
        [one] => format!(
            "{} wins with {} of {} vote(s)",
            one_line(&one.option),
            one.votes,
            t.voters
        ),
        tied => format!(
            "tie between {} with {} vote(s) each",
            tied.iter()
                .map(|c| one_line(&c.option))
                .collect::<Vec<_>>()
                .join(", "),
            tied[0].votes
        ),
    }
}

/// A poll's result in JSON: `winner` (null on a tie or without votes),
/// `tied` (the options sharing the most votes, when more than one),
/// `voters` and `counts` (per option, in the poll's order).
fn result_json(t: &vote::Tally) -> Value {
    let leaders = t.leaders();
    let winner = match leaders.as_slice() {
        [one] => Some(one.option.clone()),
        _ => None,
    };
    let tied: Vec<&str> = if leaders.len() > 1 {
        leaders.iter().map(|c| c.option.as_str()).collect()
    } else {
        Vec::new()
    };
    json!({"winner": winner, "tied": tied, "voters": t.voters, "counts": t.counts})
}

async fn run_vote(node: &Node, c: vote::Command, _names: &Names<'_>) -> Result<Shown, String> {
    let name = vote::NAME;
    let now_ms = unix_micros() / 1000;
    match &c {
        vote::Command::List => {
            let tallies = node
                .query(name, |v: &vote::Votes| {
                    v.polls().iter().map(|p| p.tally()).collect::<Vec<_>>()
                })
                .await
                .map_err(err)?;
            let list: Vec<Value> = tallies
                .iter()
                .map(|t| {
                    let mut entry = close_json(t, now_ms);
                    entry["tally"] = json!(t);
                    entry
                })
                .collect();
            let human = if tallies.is_empty() {
                "no polls".to_string()
            } else {
                tallies
                    .iter()
                    .map(|t| tally_text(t, now_ms))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            return Ok(Shown {
                json: json!({"event": "polls", "polls": list}),
                human,
            });
        }
        vote::Command::Show { poll } => {
            let id = poll.clone();
            let tally = node
                .query(name, move |v: &vote::Votes| v.tally(&id))
                .await
                .map_err(err)?
                .ok_or_else(|| format!("no poll {poll}"))?;
            let my_vote = {
                let (id, me) = (poll.clone(), node.id());
                node.query(name, move |v: &vote::Votes| {
                    v.poll(&id).and_then(|p| p.vote_of(&me).map(str::to_string))
                })
                .await
                .map_err(err)?
            };
            let mut human = tally_text(&tally, now_ms);
            if let Some(v) = &my_vote {
                human.push_str(&format!("\n  (your vote: {v})"));
            }
            let mut json = close_json(&tally, now_ms);
            json["event"] = json!("poll");
            json["tally"] = json!(tally);
            json["my_vote"] = json!(my_vote);
            return Ok(Shown { json, human });
        }
        _ => {}
    }
    let op = c.op(now_ms).ok_or("nothing to write")?;
    let id = node.act(&op).await.map_err(err)?;
    let (action, human) = match &c {
        vote::Command::Create { poll, .. } => ("create", format!("* poll {poll} created")),
        vote::Command::Vote { poll, option } => {
            ("vote", format!("* voted {option} in poll {poll}"))
        }
        vote::Command::Close { poll } => ("close", format!("* poll {poll} closed")),
        _ => unreachable!("answered above"),
    };
    if let vote::Command::Close { poll } = &c {
        // The result as this node has it now that its close is folded.
        let id_ = poll.clone();
        let tally = node
            .query(name, move |v: &vote::Votes| v.tally(&id_))
            .await
            .map_err(err)?;
        if let Some(t) = tally {
            let mut shown = done(
                name,
                action,
                id,
                None,
                format!("{human}: {}", result_text(&t)),
            );
            shown.json["result"] = result_json(&t);
            return Ok(shown);
        }
    }
    Ok(done(name, action, id, None, human))
}

fn describe_vote(kind: u16, body: &[u8], context: &OpContext) -> Option<Described> {
    match vote::VoteOp::decode(kind, body).ok()? {
        vote::VoteOp::Create(p) => described(
            "create",
            format!(
                "opened poll {} \"{}\": {}",
                p.poll,
                one_line(&p.title),
                p.options.join(", ")
            ),
        ),
        vote::VoteOp::Vote(v) => described("vote", format!("voted in poll {}", v.poll)),
        vote::VoteOp::Close(c) => match context.closed_poll.as_ref().filter(|t| t.poll == c.poll) {
            Some(t) => {
                let mut fields = serde_json::Map::new();
                fields.insert("result".into(), result_json(t));
                Some(Described {
                    action: "close",
                    summary: format!("closed poll {}: {}", c.poll, result_text(t)),
                    fields,
                })
            }
            None => described("close", format!("closed poll {}", c.poll)),
        },
    }
}

/// A poll close's context: the poll's tally with the close folded.
fn vote_context<'a>(node: &'a Node, kind: u16, body: &'a [u8]) -> BoxFuture<'a, OpContext> {
    Box::pin(async move {
        let mut context = OpContext::default();
        if let Ok(vote::VoteOp::Close(c)) = vote::VoteOp::decode(kind, body) {
            let poll = c.poll.clone();
            context.closed_poll = node
                .query(vote::NAME, move |v: &vote::Votes| v.tally(&poll))
                .await
                .ok()
                .flatten();
        }
        context
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::applets::describe;

    fn tally(
        counts: &[(&str, usize)],
        closed_wall_ms: Option<u64>,
        closes_at_ms: Option<u64>,
    ) -> vote::Tally {
        vote::Tally {
            poll: "lunch".into(),
            title: "Lunch?".into(),
            counts: counts
                .iter()
                .map(|(option, votes)| vote::OptionCount {
                    option: option.to_string(),
                    votes: *votes,
                })
                .collect(),
            voters: counts.iter().map(|(_, v)| v).sum(),
            closed: closed_wall_ms.is_some(),
            closed_wall_ms,
            closes_at_ms,
        }
    }

    #[test]
    fn the_poll_list_shows_when_each_poll_closes() {
        let now = 1_709_214_000_000; // 2024-02-29 13:40 UTC
        let open = tally(&[("pizza", 1)], None, Some(now + 12 * 60_000));
        let text = tally_text(&open, now);
        assert!(
            text.starts_with(
                "poll lunch \"Lunch?\": 1 voter(s), closes in 12m (2024-02-29 13:52 UTC)"
            ),
            "{text}"
        );
        let json = close_json(&open, now);
        assert_eq!(json["closes_at"], "2024-02-29 13:52 UTC");
        assert_eq!(json["closes_in_ms"], 12 * 60_000);
        assert_eq!(json["closed_now"], false);
        // Past its close time.
        let text = tally_text(&open, now + 13 * 60_000);
        assert!(text.contains(", closed (2024-02-29 13:52 UTC)"), "{text}");
        assert_eq!(
            close_json(&open, now + 13 * 60_000)["closes_in_ms"],
            Value::Null
        );
        // Closed by its creator: the close op's time.
        let closed = tally(&[("pizza", 1)], Some(now - 60_000), Some(now + 60_000));
        assert!(tally_text(&closed, now).contains(", closed (2024-02-29 13:39 UTC)"));
        // No close time.
        let endless = tally(&[], None, None);
        assert!(tally_text(&endless, now).contains(", open, no close time"));
        assert_eq!(close_json(&endless, now)["closes_at"], Value::Null);
    }

    #[test]
    fn a_poll_close_reads_with_its_result() {
        let (kind, body) = vote::VoteOp::Close(vote::ClosePoll {
            poll: "lunch".into(),
        })
        .body();
        let described = |t: Option<vote::Tally>| {
            describe(vote::NAME, kind, &body, &OpContext { closed_poll: t }).expect("a vote op")
        };
        let won = described(Some(tally(&[("pizza", 3), ("salad", 2)], Some(5), None)));
        assert_eq!(won.action, "close");
        assert_eq!(
            won.summary,
            "closed poll lunch: pizza wins with 3 of 5 vote(s)"
        );
        assert_eq!(won.fields["result"]["winner"], "pizza");
        assert_eq!(won.fields["result"]["voters"], 5);
        assert_eq!(won.fields["result"]["counts"][1]["votes"], 2);
        let tie = described(Some(tally(
            &[("pizza", 2), ("salad", 2), ("soup", 1)],
            Some(5),
            None,
        )));
        assert_eq!(
            tie.summary,
            "closed poll lunch: tie between pizza, salad with 2 vote(s) each"
        );
        assert_eq!(tie.fields["result"]["winner"], Value::Null);
        assert_eq!(tie.fields["result"]["tied"], json!(["pizza", "salad"]));
        let none = described(Some(tally(&[("pizza", 0)], Some(5), None)));
        assert_eq!(none.summary, "closed poll lunch: no votes");
        // Another poll's tally is not this close's result.
        let mut other = tally(&[("pizza", 1)], Some(5), None);
        other.poll = "dinner".into();
        let plain = described(Some(other));
        assert_eq!(plain.summary, "closed poll lunch");
        assert!(plain.fields.is_empty());
    }
}
