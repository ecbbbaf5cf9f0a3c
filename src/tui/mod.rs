//! The full-screen client: what a person at a terminal gets from plain
//! `flashmesh`.
//!
//! Built as the ratatui templates are: a pure reducer
//! ([`App::update`]: an [`Action`] in, [`Effect`]s out), a pure
//! [`draw::draw`], and this runtime, which turns terminal input and node
//! events into actions and carries out effects on their own tasks, so the
//! screen never waits for the network. It redraws when something happened
//! (a key, an event, the one-second tick for clocks and countdowns), never
//! in a busy loop.
//!
//! The node starts after the first-run [`wizard`] (start or join a room,
//! pick a nick) when no room is known; the choice is remembered
//! ([`crate::cli::settings`]), so the next start goes straight back into
//! the room. The terminal is restored on every way out: `/quit`, Ctrl-C,
//! SIGTERM, an error, and a panic (a hook restores it before the message
//! prints). The mouse is not captured unless `--mouse` or `mouse = true`
//! asks, so the terminal's own copy and paste keep working.

pub mod app;
pub mod draw;
pub mod wizard;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use crossterm::{execute, terminal};
use futures_util::StreamExt as _;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

pub use app::{Action, App, Effect, View};

use crate::applets::{announce, lostfound, queue, request, roster, vote};
use crate::cli::command::{self, Command};
use crate::cli::launch::{RunArgs, history_place, plan, start, terminate_signal};
use crate::node::Node;
use crate::present::{self, Names};

/// Ops of the room's past loaded into the views at start.
pub const HISTORY_LOADED_MAX: usize = 10_000;
/// Answers from effect tasks waiting for the UI.
const ACTIONS_QUEUED_MAX: usize = 1024;
/// How often members, links and the log's state are read again, and the
/// clock ticks.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Applet lists are read again at most this often while ops arrive.
const LISTING_DELAY: Duration = Duration::from_millis(150);

/// Puts the terminal back as it was: on drop, and from the panic hook.
struct TerminalGuard {
    mouse: bool,
}

fn restore_terminal(mouse: bool) {
    let _ = terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    if mouse {
        let _ = execute!(out, crossterm::event::DisableMouseCapture);
    }
    let _ = execute!(
        out,
        crossterm::event::DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

impl TerminalGuard {
    fn enter(mouse: bool) -> Result<TerminalGuard, String> {
        terminal::enable_raw_mode().map_err(|e| format!("cannot set up the terminal: {e}"))?;
        let guard = TerminalGuard { mouse };
        let mut out = std::io::stdout();
        execute!(
            out,
            terminal::EnterAlternateScreen,
            crossterm::event::EnableBracketedPaste
        )
        .map_err(|e| format!("cannot set up the terminal: {e}"))?;
        if mouse {
            execute!(out, crossterm::event::EnableMouseCapture)
                .map_err(|e| format!("cannot set up the terminal: {e}"))?;
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal(mouse);
            previous(info);
        }));
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal(self.mouse);
    }
}

type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

/// Runs the full-screen client until the person leaves. The error is the
/// one-line reason it could not start (printed after the terminal is
/// restored).
pub async fn run(args: RunArgs) -> Result<(), String> {
    let mut resolved = args.resolve()?;
    let mouse = resolved.settings.mouse == Some(true);
    let guard = TerminalGuard::enter(mouse)?;
    let mut term: Term = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .map_err(|e| format!("cannot draw on the terminal: {e}"))?;
    let mut keys = EventStream::new();
    let mut terminate = terminate_signal();

    // First start: the wizard.
    let mut from_wizard_start = false;
    if resolved.settings.room.is_none() && resolved.settings.join.is_none() {
        let mut w = wizard::Wizard::new(resolved.settings.nick.clone());
        let choice = loop {
            term.draw(|f| wizard::draw(&w, f))
                .map_err(|e| e.to_string())?;
            let step = tokio::select! {
                _ = &mut terminate => wizard::Step::Cancel,
                ev = keys.next() => match ev {
                    Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => w.on_key(k),
                    Some(Ok(TermEvent::Paste(p))) => { w.paste(&p); wizard::Step::Continue }
                    Some(Ok(_)) => wizard::Step::Continue,
                    Some(Err(e)) => return Err(format!("reading the terminal: {e}")),
                    None => wizard::Step::Cancel,
                },
            };
            match step {
                wizard::Step::Continue => {}
                wizard::Step::Cancel => return Ok(()),
                wizard::Step::Done(choice) => break choice,
            }
        };
        from_wizard_start = choice.room.is_none() && choice.join.is_none();
        let args = RunArgs {
            room: choice.room,
            join: choice.join,
            nick: choice.nick.or(args.nick.clone()),
            ..args.clone()
        };
        resolved = args.resolve()?;
    }
    term.draw(|f| {
        f.render_widget(
            ratatui::widgets::Paragraph::new("Opening the room (deriving its keys)…"),
            f.area(),
        )
    })
    .map_err(|e| e.to_string())?;
    let mut plan = tokio::task::spawn_blocking(move || plan(&resolved))
        .await
        .map_err(|e| e.to_string())??;
    let node = start(&plan, args.port.is_some()).await?;
    if let Err(e) = plan.save_remembered() {
        tracing::warn!("{e}");
    }

    let mut app = App::new(
        node.id(),
        plan.config.room.code().as_str().to_string(),
        node.room_tag().to_string(),
        node.join_uri(!plan.hide_room).to_uri(),
    );
    app.history_place = history_place(&node, &plan);
    app.now_ms = present::now_ms();
    if let Ok(size) = term.size() {
        app.width = size.width;
        app.height = size.height;
    }
    if let Some(nick) = &plan.config.nick {
        app.names.set(node.id(), nick);
    }
    for note in &plan.notes {
        app.update(Action::Failed(note.clone()));
    }
    if plan.generated_room || from_wizard_start {
        app.popup = Some(app::Popup::Identity);
    }

    let (tx, mut rx) = mpsc::channel::<Action>(ACTIONS_QUEUED_MAX);
    let mut bus = node.subscribe();
    {
        let node = node.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Ok(ops) = node.history_tail(None, HISTORY_LOADED_MAX).await {
                let _ = tx.send(Action::History(ops)).await;
            }
        });
    }
    let mut pending: BTreeSet<View> = View::ALL.into_iter().filter(|v| v.has_list()).collect();
    // Listings come back on their own channel, numbered: reads of one view
    // can overlap, and only the newest one read may be shown.
    let (listing_tx, mut listing_rx) = mpsc::channel::<(View, u64, Action)>(ACTIONS_QUEUED_MAX);
    let mut listing_latest: std::collections::BTreeMap<View, u64> = Default::default();
    let mut listing_seq: u64 = 0;
    let listing_due = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(listing_due);
    let mut refresh = tokio::time::interval(REFRESH_INTERVAL);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let outcome: Result<(), String> = loop {
        let mut actions = Vec::new();
        tokio::select! {
            _ = &mut terminate => break Ok(()),
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => actions.push(Action::Key(k)),
                Some(Ok(TermEvent::Paste(p))) => actions.push(Action::Paste(p)),
                Some(Ok(TermEvent::Resize(w, h))) => actions.push(Action::Resize(w, h)),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(format!("reading the terminal: {e}")),
                None => break Ok(()),
            },
            ev = bus.recv() => match ev {
                Ok(ev) => actions.push(Action::Node(ev)),
                Err(RecvError::Lagged(n)) => {
                    actions.push(Action::Failed(format!("missed {n} events (the screen fell behind); reloading the room's log")));
                    let node = node.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        if let Ok(ops) = node.history_tail(None, HISTORY_LOADED_MAX).await {
                            let _ = tx.send(Action::History(ops)).await;
                        }
                    });
                    pending.extend(View::ALL.into_iter().filter(|v| v.has_list()));
                }
                Err(RecvError::Closed) => break Ok(()),
            },
            Some(action) = rx.recv() => actions.push(action),
            Some((view, seq, action)) = listing_rx.recv() => {
                if listing_latest.get(&view) == Some(&seq) {
                    actions.push(action);
                }
            }
            _ = refresh.tick() => {
                actions.push(Action::Tick { now_ms: present::now_ms() });
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Some(action) = read_room(&node).await {
                        let _ = tx.send(action).await;
                    }
                });
            }
            _ = &mut listing_due, if !pending.is_empty() => {
                for view in std::mem::take(&mut pending) {
                    listing_seq += 1;
                    let seq = listing_seq;
                    listing_latest.insert(view, seq);
                    let node = node.clone();
                    let tx = listing_tx.clone();
                    tokio::spawn(async move {
                        if let Some(action) = read_listing(&node, view).await {
                            let _ = tx.send((view, seq, action)).await;
                        }
                    });
                }
            }
        }
        // Take what else is waiting, then draw once.
        while let Ok(action) = rx.try_recv() {
            actions.push(action);
        }
        let mut effects = Vec::new();
        for action in actions {
            if let Action::NickSet(nick) = &action
                && let Err(e) = plan.remember_nick(nick)
            {
                effects.extend(app.update(Action::Failed(e)));
            }
            effects.extend(app.update(action));
        }
        for effect in effects {
            match effect {
                Effect::Quit => {}
                Effect::Refresh(view) => {
                    if pending.is_empty() {
                        listing_due
                            .as_mut()
                            .reset(tokio::time::Instant::now() + LISTING_DELAY);
                    }
                    pending.insert(view);
                }
                Effect::Run(line) => {
                    let node = node.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for action in execute(&node, &line).await {
                            let _ = tx.send(action).await;
                        }
                    });
                }
            }
        }
        if app.quit {
            break Ok(());
        }
        if let Err(e) = term.draw(|f| draw::draw(&app, f)) {
            break Err(format!("drawing: {e}"));
        }
    };
    // Leave the room with the screen already restored: the goodbye takes
    // a moment and the person's shell should be back at once.
    drop(term);
    drop(guard);
    println!("flashmesh: leaving the room…");
    node.shutdown().await;
    outcome
}

/// Members, links and this node's state mark.
async fn read_room(node: &Node) -> Option<Action> {
    let members = node.members().await.ok()?;
    let links = node.peers().await.ok()?.len();
    let mark = node
        .log_state()
        .await
        .ok()
        .map(|s| crate::event::StateMark::of(&s.state_hash, s.ops));
    Some(Action::Room {
        members,
        links,
        mark,
    })
}

/// An applet's listing.
async fn read_listing(node: &Node, view: View) -> Option<Action> {
    use app::Listing;
    let listing = match view {
        View::Announcements => Listing::Announcements(
            node.query(announce::NAME, |a: &announce::Announce| {
                a.announcements(None)
            })
            .await
            .ok()?,
        ),
        View::Polls => Listing::Polls(
            node.query(vote::NAME, |v: &vote::Votes| v.polls().to_vec())
                .await
                .ok()?,
        ),
        View::Queues => Listing::Queues(
            node.query(queue::NAME, |q: &queue::Queues| q.queues().to_vec())
                .await
                .ok()?,
        ),
        View::LostFound => Listing::LostFound(
            node.query(lostfound::NAME, |l: &lostfound::LostFound| l.items(true))
                .await
                .ok()?,
        ),
        View::Requests => Listing::Requests(
            node.query(request::NAME, |r: &request::Requests| {
                r.list(true)
                    .into_iter()
                    .map(|q| (r.short(&q.id), q.clone()))
                    .collect()
            })
            .await
            .ok()?,
        ),
        View::Roster => Listing::Roster(
            node.query(roster::NAME, |r: &roster::Roster| r.view())
                .await
                .ok()?,
        ),
        View::Chat | View::Dms => return None,
    };
    Some(Action::Listing(listing))
}

/// Runs one typed line against the node, as the line client would; the
/// answers are actions.
pub async fn execute(node: &Node, line: &str) -> Vec<Action> {
    match run_line(node, line).await {
        Ok(actions) => actions,
        Err(e) => vec![Action::Failed(e)],
    }
}

async fn run_line(node: &Node, line: &str) -> Result<Vec<Action>, String> {
    let Some(cmd) = command::parse_line(line, false).map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let err = |e: crate::Error| e.to_string();
    let names = async || -> Result<(Names, Vec<crate::id::NodeId>), String> {
        let members = node.members().await.map_err(err)?;
        let mut names = Names::default();
        names.learn(&members);
        Ok((names, members.iter().map(|m| m.node).collect()))
    };
    Ok(match cmd {
        Command::Chat(text) => {
            node.chat(&text).await.map_err(err)?;
            Vec::new() // the op's event shows it
        }
        Command::Dm { to, text } => {
            let (names, known) = names().await?;
            let target = names.resolve(&to, &known)?;
            node.mail(target, text.clone().into_bytes())
                .await
                .map_err(err)?;
            vec![Action::DmSent {
                to: target,
                text,
                wall_ms: present::now_ms(),
            }]
        }
        Command::Nick(name) => {
            node.set_nick(&name).await.map_err(err)?;
            vec![Action::NickSet(name)]
        }
        Command::Members => {
            let (names, _) = names().await?;
            let members = node.members().await.map_err(err)?;
            let list: Vec<String> = members
                .iter()
                .map(|m| {
                    format!(
                        "{} ({}) {}",
                        names.show(&m.node),
                        m.node.fmt_short(),
                        present::status_word(m.status)
                    )
                })
                .collect();
            vec![Action::Said(if list.is_empty() {
                "no other members yet".into()
            } else {
                format!("members: {}", list.join(", "))
            })]
        }
        Command::Peers { .. } => {
            let (names, _) = names().await?;
            let peers = node.peers().await.map_err(err)?;
            let list: Vec<String> = peers
                .iter()
                .map(|p| format!("{} at {}", names.show(&p.peer), p.addr))
                .collect();
            vec![Action::Said(if list.is_empty() {
                "no links yet".into()
            } else {
                format!("{} link(s): {}", list.len(), list.join(", "))
            })]
        }
        Command::State => {
            let s = node.log_state().await.map_err(err)?;
            vec![Action::Said(format!(
                "log: {} ops from {} authors, state {}{}",
                s.ops,
                s.authors,
                &crate::id::to_hex(&s.state_hash)[..16],
                if s.durable { "" } else { " (memory only)" }
            ))]
        }
        Command::Snapshot => {
            let ops = node.snapshot().await.map_err(err)?;
            vec![Action::Said(format!("snapshot saved: {ops} ops"))]
        }
        Command::History(_) => vec![Action::Said(
            "the room's history is in the views: PgUp scrolls back".into(),
        )],
        Command::Applet(cmd) => {
            let (names, _) = names().await?;
            let shown =
                crate::cli::applets::run(node, cmd, &crate::cli::applets::Names(names.nicks()))
                    .await?;
            vec![Action::Said(shown.human)]
        }
        // The app handles these itself before they get here.
        Command::Me | Command::Join | Command::Help | Command::Quit => Vec::new(),
    })
}
