//! A library user's own applet, end to end: a kudos board.
//!
//! `kudos NICK TEXT` gives a member kudos. The applet folds a count per
//! person (and the last words they got), and through the notices hook it
//! tells whoever got kudos ("you have 1 kudos, the last from ada: thanks
//! for the demo"): the node raises that as `Event::Notice` without knowing
//! the applet.
//!
//! Two nodes start in this process on loopback (port 0, no discovery; bob
//! is seeded with ada's address). Ada types `kudos bob thanks for the
//! demo`; bob sees the folded count and gets the notice. The program exits
//! 0 when it all happened, and 1 with the reason if something did not
//! within [`DEADLINE`].
//!
//! ```text
//! cargo run --example custom_applet
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use flashmesh::applet_ops;
use flashmesh::codec;
use flashmesh::proto::oplog::fold::{Applet, AppliedOp};
use flashmesh::proto::oplog::notice::Notice;
use flashmesh::{Config, Event, Node, NodeId, Room, RoomCode};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// How long each step may take (a loaded machine is slow to link).
const DEADLINE: Duration = Duration::from_secs(30);
/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// The applet's name in ops.
pub const NAME: &str = "kudos";
/// Longest kudos text, in characters.
pub const TEXT_CHARS_MAX: usize = 200;
/// The notice bob gets: one per kudos count, so each new kudos is news.
pub const NOTICE: &str = "kudos_received";

/// The body of [`KIND_GIVE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Give {
    /// Who gets the kudos.
    pub to: NodeId,
    /// What for.
    pub text: String,
}

applet_ops! {
    /// A kudos op, typed: [`KudosOp::body`] encodes it, [`KudosOp::decode`]
    /// reads it back, and `Node::act` publishes it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum KudosOp for NAME {
        /// Kudos to someone; the body is a [`Give`].
        KIND_GIVE = 1 => Give(Give),
    }
}

/// What one person got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// How many kudos.
    pub count: u64,
    /// The last one: from whom, and the text.
    pub last: Option<(NodeId, String)>,
}

/// The kudos board: a pure fold of kudos ops (no clock, no randomness,
/// ordered maps only), so every node ends with the same bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kudos {
    people: BTreeMap<NodeId, Person>,
}

impl Kudos {
    /// What `node` got.
    pub fn of(&self, node: &NodeId) -> Person {
        self.people.get(node).cloned().unwrap_or_default()
    }

    /// The rules: the body decodes, nobody gives themselves kudos, the
    /// text is not blank and at most [`TEXT_CHARS_MAX`] characters.
    fn validate(op: &AppliedOp<'_>) -> Result<Give, String> {
        let KudosOp::Give(give) = KudosOp::decode(op.kind, op.body)?;
        if give.to == op.author {
            return Err("kudos to yourself do not count".into());
        }
        if give.text.trim().is_empty() {
            return Err("kudos need a few words".into());
        }
        if give.text.chars().count() > TEXT_CHARS_MAX {
            return Err(format!("kudos have at most {TEXT_CHARS_MAX} characters"));
        }
        Ok(give)
    }
}

impl Applet for Kudos {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, op: &AppliedOp<'_>) -> Result<(), String> {
        Kudos::validate(op).map(|_| ())
    }

    fn apply(&mut self, op: &AppliedOp<'_>) -> Result<(), String> {
        let give = Kudos::validate(op)?;
        let person = self.people.entry(give.to).or_default();
        person.count += 1;
        person.last = Some((op.author, give.text));
        Ok(())
    }

    fn save(&self) -> Vec<u8> {
        codec::encode_state(&self.people).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<(), String> {
        self.people = codec::decode_state(state).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn reset(&mut self) {
        self.people.clear();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    /// One notice while `me` has kudos, about its count: a new kudos makes
    /// a new count, which is news; the old one stops holding.
    fn notices(&self, me: &NodeId) -> Vec<Notice> {
        let Some(person) = self.people.get(me) else {
            return Vec::new();
        };
        let from = match &person.last {
            Some((by, text)) => format!(", the last from {}: {text}", by.fmt_short()),
            None => String::new(),
        };
        vec![
            Notice::new(
                NOTICE,
                vec![("count", person.count.to_string())],
                format!("you have {} kudos{from}", person.count),
            )
            .with_badge(format!("★ {}", person.count)),
        ]
    }
}

/// `kudos NICK TEXT`: the nick and the text.
fn parse(line: &str) -> Result<(&str, &str), String> {
    let usage = || "usage: kudos NICK TEXT".to_string();
    let rest = line.strip_prefix("kudos ").ok_or_else(usage)?;
    let (nick, text) = rest.trim().split_once(' ').ok_or_else(usage)?;
    Ok((nick, text.trim()))
}

/// A node on 127.0.0.1:0 with the kudos applet, no discovery, seeded with
/// `seed` if given.
fn config(room: &Room, nick: &str, seed: Option<SocketAddr>) -> Config {
    let mut cfg = Config::new(room.clone()).with_applet::<Kudos>();
    cfg.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    cfg.discovery = None;
    cfg.nick = Some(nick.to_string());
    cfg.seeds = seed.iter().map(SocketAddr::to_string).collect();
    cfg
}

/// Polls `check` until it gives a value, or fails with `what` after
/// [`DEADLINE`].
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= until {
            return Err(format!("timed out after {DEADLINE:?} waiting for {what}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The first kudos notice among the events received so far.
fn kudos_notice(events: &mut broadcast::Receiver<Event>) -> Option<Notice> {
    while let Ok(event) = events.try_recv() {
        if let Event::Notice { applet, notice } = event
            && applet == NAME
        {
            return Some(notice);
        }
    }
    None
}

async fn run(ada: &Node, bob: &Node) -> Result<(), String> {
    let mut bob_events = bob.subscribe();

    // Ada types a command; the nick is resolved against the members she
    // knows (it arrives with membership gossip).
    let line = "kudos bob thanks for the demo";
    let (nick, text) = parse(line)?;
    let to = wait_for(&format!("ada to know {nick}"), || async {
        let members = ada.members().await.ok()?;
        members
            .into_iter()
            .find(|m| m.nick.as_deref() == Some(nick))
            .map(|m| m.node)
    })
    .await?;
    let op = KudosOp::Give(Give {
        to,
        text: text.to_string(),
    });
    let id = ada
        .act(&op)
        .await
        .map_err(|e| format!("ada's kudos: {e}"))?;
    println!("ada> {line}   (op {})", id.fmt_short());

    // The rules are asked before publishing: this never becomes an op.
    let own = ada
        .act(&KudosOp::Give(Give {
            to: ada.id(),
            text: "me".into(),
        }))
        .await;
    match own {
        Err(flashmesh::Error::Rejected(reason)) => {
            println!("ada> kudos ada me   refused: {reason}")
        }
        other => return Err(format!("kudos to oneself were not refused: {other:?}")),
    }

    let me = bob.id();
    let person = wait_for("bob's node to fold the kudos", || async {
        let person = bob.query(NAME, move |k: &Kudos| k.of(&me)).await.ok()?;
        (person.count == 1).then_some(person)
    })
    .await?;
    println!(
        "bob's node folded: {} kudos, the last: {:?}",
        person.count,
        person.last.as_ref().map(|(_, text)| text)
    );
    let notice = wait_for("bob's kudos notice", || {
        let notice = kudos_notice(&mut bob_events);
        async { notice }
    })
    .await?;
    println!("bob's node says: {}", notice.text);
    if notice.about != vec![("count", "1".to_string())] {
        return Err(format!("unexpected notice: {notice:?}"));
    }
    let agree = wait_for("both nodes to hold the same state", || async {
        let (a, b) = (ada.log_state().await.ok()?, bob.log_state().await.ok()?);
        (a.state_hash == b.state_hash).then_some(())
    })
    .await;
    agree.map(|()| println!("ada and bob hold the same state"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let room = match RoomCode::parse("kudos-example-harbor-quartz-lantern-2718")
        .map_err(|e| e.to_string())
        .and_then(|code| Room::derive(code).map_err(|e| e.to_string()))
    {
        Ok(room) => room,
        Err(e) => {
            eprintln!("custom_applet: the room: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ada = match Node::start(config(&room, "ada", None)).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!("custom_applet: ada's node did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bob = match Node::start(config(&room, "bob", Some(ada.local_addr()))).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!("custom_applet: bob's node did not start: {e}");
            ada.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    let result = run(&ada, &bob).await;
    bob.shutdown().await;
    ada.shutdown().await;
    match result {
        Ok(()) => {
            println!("custom_applet: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("custom_applet: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
