//! The line client's roster commands: `/invite`, `/revoke`, `/kiosk` and
//! `/roster` run on a [`Node`] (a member may be named by nick), and how an
//! incoming roster op reads.
//!
//! [`COMMANDS`] is the applet's entry for [`crate::applets::BUILTIN`]; the
//! machinery it runs in (dispatch, `/help`, shared text helpers) is
//! [`crate::cli::applets`]. Unlike the fold beside it, this talks to a node.

use serde_json::json;

use crate::applets::roster;
use crate::cli::applets::{
    AppletCommand, Commands, Described, Names, OpContext, Shown, described, done, err, runner,
};
use crate::event::Member;
use crate::id::NodeId;
use crate::node::Node;

/// `/invite`, `/revoke`, `/kiosk`, `/organiser`, `/roster` (the words of
/// [`roster::COMMANDS`]); a member may be named by nick.
pub static COMMANDS: Commands = Commands {
    words: &[
        "invite",
        "revoke",
        "kiosk",
        "organiser",
        "block",
        "unblock",
        "blocked",
        "policy",
        "roster",
    ],
    help: "\
/invite ID, /revoke ID       invite or revoke a node (short id of a member, or full id)
/kiosk add|remove ID         designate a kiosk node
/organiser add|remove ID     name an organiser (the room's root only)
/block ID, /unblock ID       this node refuses (or takes back) a node's links; /blocked lists them
/policy [pow first=N every=N] the room's policy; organisers set proof of work (bits, at most 22)
/roster                      show the root, organisers, members, revocations and kiosks",
    parse: parse_roster,
    run: runner!(run_roster_named, RosterCommand),
    describe: describe_roster,
    context: None,
};

/// A roster command, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RosterCommand {
    /// Naming its node by id (or id prefix).
    Parsed(roster::Command),
    /// Naming a member by nick (`/invite bob`, `/kiosk add bob`): resolved
    /// against the members when run, then parsed again with the id.
    Named {
        word: String,
        /// The arguments before the name (`add` of `/kiosk add bob`).
        before: String,
        name: String,
    },
}

fn parse_roster(word: &str, args: &str) -> Result<AppletCommand, String> {
    let parse = roster::parser(word).ok_or_else(|| format!("/{word} is not a roster command"))?;
    let command = match parse(args) {
        Ok(c) => RosterCommand::Parsed(c),
        Err(e) => {
            // Not an id: perhaps a member's nick (or nick#hex).
            let (before, name) = args.trim().rsplit_once(' ').unwrap_or(("", args.trim()));
            let hex = name.bytes().all(|b| b.is_ascii_hexdigit());
            if name.is_empty() || hex {
                return Err(e);
            }
            RosterCommand::Named {
                word: word.to_string(),
                before: before.trim().to_string(),
                name: name.to_string(),
            }
        }
    };
    Ok(AppletCommand::new(roster::NAME, command))
}

async fn run_roster_named(
    node: &Node,
    c: RosterCommand,
    names: &Names<'_>,
) -> Result<Shown, String> {
    match c {
        RosterCommand::Parsed(c) => run_roster(node, c, names).await,
        RosterCommand::Named { word, before, name } => {
            let members = node.members().await.map_err(err)?;
            let mut known = crate::present::Names::default();
            known.learn(&members);
            for (id, nick) in names.0 {
                known.set(*id, nick);
            }
            let ids: Vec<NodeId> = members.iter().map(|m| m.node).collect();
            let node_id = known.resolve(&name, &ids)?;
            let parse =
                roster::parser(&word).ok_or_else(|| format!("/{word} is not a roster command"))?;
            let c = parse(&format!("{before} {node_id}"))?;
            run_roster(node, c, names).await
        }
    }
}

/// A node named by full id or id prefix (among members and the nodes the
/// roster names).
fn resolve_node(
    target: &roster::Target,
    members: &[Member],
    known: &[NodeId],
) -> Result<NodeId, String> {
    let mut all: Vec<NodeId> = members.iter().map(|m| m.node).collect();
    all.extend_from_slice(known);
    target.resolve(&all)
}

async fn run_roster(node: &Node, c: roster::Command, names: &Names<'_>) -> Result<Shown, String> {
    let name = roster::NAME;
    if let roster::Command::Show = c {
        let view = node
            .query(name, |r: &roster::Roster| r.view())
            .await
            .map_err(err)?;
        let mut human = if view.open {
            "roster: open (no invitations yet: anyone with the room code is in)".to_string()
        } else {
            "roster: invite-only".to_string()
        };
        if let Some(r) = &view.root {
            human.push_str(&format!("\n  root      {}", names.name(r)));
        }
        for e in &view.organisers {
            human.push_str(&format!("\n  organiser {}", names.name(&e.node)));
        }
        for e in view.members.iter().filter(|e| Some(e.node) != view.root) {
            human.push_str(&format!(
                "\n  member    {}  (named by {})",
                names.name(&e.node),
                names.name(&e.by)
            ));
        }
        for r in &view.revoked {
            human.push_str(&format!(
                "\n  revoked   {}  (by {}; its ops from #{} on have no effect)",
                names.name(&r.entry.node),
                names.name(&r.entry.by),
                r.from_seq
            ));
        }
        for e in &view.kiosks {
            human.push_str(&format!("\n  kiosk     {}", names.name(&e.node)));
        }
        return Ok(Shown {
            json: json!({"event": "roster", "roster": view}),
            human,
        });
    }
    if let roster::Command::Policy(set) = c {
        let Some(policy) = set else {
            let pow = node
                .query(name, |r: &roster::Roster| r.pow())
                .await
                .map_err(err)?;
            return Ok(Shown {
                json: json!({"event": "policy", "pow": {"first": pow.first, "every": pow.every}}),
                human: format!(
                    "policy: proof of work {} bits on a new identity's first op, {} on every op",
                    pow.first, pow.every
                ),
            });
        };
        let id = node
            .act(&roster::RosterOp::SetPow(policy))
            .await
            .map_err(err)?;
        let human = format!(
            "* the room asks for {} bits of proof of work on a new identity's first op, {} on every op",
            policy.first, policy.every
        );
        return Ok(done(name, "policy_pow", id, None, human));
    }
    if let roster::Command::Blocked = c {
        let (blocked, allowed) = node.lists().await.map_err(err)?;
        let mut human = if blocked.is_empty() {
            "blocked: nobody".to_string()
        } else {
            format!(
                "blocked: {}",
                blocked
                    .iter()
                    .map(|n| names.name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if let Some(a) = &allowed {
            human.push_str(&format!(
                "\nallowlist: {}",
                a.iter()
                    .map(|n| names.name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Ok(Shown {
            json: json!({"event": "blocked", "blocked": blocked, "allowed": allowed}),
            human,
        });
    }
    let members = node.members().await.map_err(err)?;
    let known = node
        .query(name, |r: &roster::Roster| r.nodes())
        .await
        .map_err(err)?;
    let (target, action) = match &c {
        roster::Command::Invite(t) => (t, "invite"),
        roster::Command::Revoke(t) => (t, "revoke"),
        roster::Command::KioskAdd(t) => (t, "kiosk_add"),
        roster::Command::KioskRemove(t) => (t, "kiosk_remove"),
        roster::Command::OrganiserAdd(t) => (t, "organiser_add"),
        roster::Command::OrganiserRemove(t) => (t, "organiser_remove"),
        roster::Command::Block(t) => (t, "block"),
        roster::Command::Unblock(t) => (t, "unblock"),
        roster::Command::Show | roster::Command::Blocked | roster::Command::Policy(_) => {
            unreachable!("answered above")
        }
    };
    let mut known = known;
    known.push(node.id());
    let who = resolve_node(target, &members, &known)?;
    if let roster::Command::Block(_) | roster::Command::Unblock(_) = c {
        if who == node.id() {
            return Err("that is this node itself".into());
        }
        let block = matches!(c, roster::Command::Block(_));
        node.block(who, block).await.map_err(err)?;
        let human = if block {
            format!(
                "* blocked {}: no link with it from this node (the room is unchanged)",
                names.name(&who)
            )
        } else {
            format!("* unblocked {}", names.name(&who))
        };
        return Ok(Shown {
            json: json!({"event": "done", "applet": name, "action": action, "node": who.to_string()}),
            human,
        });
    }
    let op = match &c {
        roster::Command::Invite(_) => roster::RosterOp::Invite(who),
        roster::Command::Revoke(_) => {
            let upto = node.chain_head(who).await.map_err(err)?;
            roster::RosterOp::revoke(who, upto)
        }
        roster::Command::KioskAdd(_) => roster::RosterOp::KioskAdd(who),
        roster::Command::KioskRemove(_) => roster::RosterOp::KioskRemove(who),
        roster::Command::OrganiserAdd(_) => roster::RosterOp::OrganiserAdd(who),
        roster::Command::OrganiserRemove(_) => roster::RosterOp::OrganiserRemove(who),
        roster::Command::Show
        | roster::Command::Policy(_)
        | roster::Command::Blocked
        | roster::Command::Block(_)
        | roster::Command::Unblock(_) => unreachable!("answered above"),
    };
    let id = node.act(&op).await.map_err(err)?;
    let human = match action {
        "invite" => format!("* invited {}", names.name(&who)),
        "revoke" => format!("* revoked {}", names.name(&who)),
        "kiosk_add" => format!("* {} is a kiosk", names.name(&who)),
        "kiosk_remove" => format!("* {} is no longer a kiosk", names.name(&who)),
        "organiser_add" => format!("* {} is an organiser", names.name(&who)),
        _ => format!("* {} is no longer an organiser", names.name(&who)),
    };
    let mut shown = done(name, action, id, None, human);
    shown.json["node"] = json!(who.to_string());
    Ok(shown)
}

fn describe_roster(kind: u16, body: &[u8], _: &OpContext) -> Option<Described> {
    match roster::RosterOp::decode(kind, body).ok()? {
        roster::RosterOp::Invite(n) => described("invite", format!("invited {}", n.fmt_short())),
        roster::RosterOp::Revoke(r) => {
            described("revoke", format!("revoked {}", r.node.fmt_short()))
        }
        roster::RosterOp::KioskAdd(n) => {
            described("kiosk_add", format!("made {} a kiosk", n.fmt_short()))
        }
        roster::RosterOp::KioskRemove(n) => {
            described("kiosk_remove", format!("removed kiosk {}", n.fmt_short()))
        }
        roster::RosterOp::OrganiserAdd(n) => described(
            "organiser_add",
            format!("named {} an organiser", n.fmt_short()),
        ),
        roster::RosterOp::OrganiserRemove(n) => described(
            "organiser_remove",
            format!("removed organiser {}", n.fmt_short()),
        ),
        roster::RosterOp::SetPow(p) => described(
            "policy_pow",
            format!(
                "asks for {} bits of proof of work on a new identity's first op, {} on every op",
                p.first, p.every
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::applets::parse;

    /// The command value `parse` made, as a `C`.
    fn parsed<C: std::any::Any + Clone>(word: &str, args: &str) -> Option<C> {
        parse(word, args)?.ok()?.get::<C>().cloned()
    }

    #[test]
    fn roster_commands_take_a_nick_as_well_as_an_id() {
        assert_eq!(
            parsed("invite", "bob"),
            Some(RosterCommand::Named {
                word: "invite".into(),
                before: String::new(),
                name: "bob".into()
            })
        );
        assert_eq!(
            parsed("kiosk", "add dan#4444"),
            Some(RosterCommand::Named {
                word: "kiosk".into(),
                before: "add".into(),
                name: "dan#4444".into()
            })
        );
        assert!(matches!(
            parsed("invite", "abcd"),
            Some(RosterCommand::Parsed(_))
        ));
        assert!(
            matches!(parse("invite", "abc"), Some(Err(_))),
            "a short hex prefix"
        );
    }
}
