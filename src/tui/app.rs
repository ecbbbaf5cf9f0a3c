//! The TUI's state and its reducer: `App::update(Action) -> Vec<Effect>`.
//!
//! Pure: no terminal, no node, no clock. Terminal input and node events
//! come in as [`Action`]s (with the time, when it matters); what the app
//! wants done to the node goes out as [`Effect`]s, which the runtime
//! ([`super::run`]) carries out on its own tasks and answers with more
//! actions. So every key and every event is unit-tested here, and drawing
//! ([`super::draw`]) only reads the state.

use std::collections::{BTreeMap, BTreeSet};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::actors::oplog::HistoryOp;
use crate::applets::{announce, lostfound, queue, request, roster, vote};
use crate::event::{Event, Member, StateMark, Status};
use crate::id::NodeId;
use crate::present::{self, Names, OpKind, OpView};

/// Lines kept per view; older ones are dropped (the log keeps them all).
pub const PANE_LINES_MAX: usize = 20_000;
/// Typed lines the input remembers (Up/Down).
pub const INPUT_HISTORY_MAX: usize = 200;
/// Lines PgUp/PgDn move.
pub const SCROLL_STEP: usize = 10;

/// The views in the sidebar, in order (Alt+1..8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    /// The room's chat lines and the client's notes.
    Chat,
    /// Direct messages to and from this node.
    Dms,
    /// The announcements list and the activity of that applet.
    Announcements,
    /// The polls list, with their tallies and countdowns.
    Polls,
    /// The queues list: who waits where, who is served next.
    Queues,
    /// Lost and found items.
    LostFound,
    /// Help requests, urgent first.
    Requests,
    /// Who is admitted: the root, organisers, invited members, kiosks, revoked nodes.
    Roster,
}

impl View {
    /// Every view in sidebar order: `ALL[i]` is the view Alt+(i+1) opens,
    /// and Ctrl+N/P step through it.
    pub const ALL: [View; 8] = [
        View::Chat,
        View::Dms,
        View::Announcements,
        View::Polls,
        View::Queues,
        View::LostFound,
        View::Requests,
        View::Roster,
    ];

    /// The sidebar's word.
    pub fn title(self) -> &'static str {
        match self {
            View::Chat => "room chat",
            View::Dms => "direct msgs",
            View::Announcements => "announcements",
            View::Polls => "polls",
            View::Queues => "queues",
            View::LostFound => "lost+found",
            View::Requests => "requests",
            View::Roster => "roster",
        }
    }

    /// The applet whose ops this view lists (and whose activity it logs).
    pub fn applet(self) -> Option<&'static str> {
        match self {
            View::Chat => None,
            View::Dms => None,
            View::Announcements => Some(announce::NAME),
            View::Polls => Some(vote::NAME),
            View::Queues => Some(queue::NAME),
            View::LostFound => Some(lostfound::NAME),
            View::Requests => Some(request::NAME),
            View::Roster => Some(roster::NAME),
        }
    }

    /// The view an applet's ops show in.
    pub fn of_applet(applet: &str) -> View {
        View::ALL
            .into_iter()
            .find(|v| v.applet() == Some(applet))
            .unwrap_or(View::Chat)
    }

    /// Whether the view has a list to select in.
    pub fn has_list(self) -> bool {
        !matches!(self, View::Chat | View::Dms)
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// Where a line sorts: the op's place in the room's order, or, for the
/// client's own notes, after everything known when it was written.
pub type LineKey = (u64, NodeId, u64);

/// What a line in a pane is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// A chat line; `author` said `text`.
    Chat,
    /// A direct message with `to`.
    Dm {
        /// The recipient: this node for a message received, the other
        /// person for one this node sent.
        to: NodeId,
    },
    /// What an applet op did.
    Action,
    /// The client's own note (a command's answer).
    Note,
    /// Something went wrong (a refused command, a warning).
    Error,
}

/// One line of a pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Where the line sorts in its pane; a pane holds one line per key
    /// (inserting a key again does nothing).
    pub key: LineKey,
    /// When it was written, in ms since the Unix epoch: the author's wall
    /// clock for an op, the app's last tick for a note. Shown as `HH:MM`.
    pub wall_ms: u64,
    /// `None` for the client's own notes.
    pub author: Option<NodeId>,
    /// What the line is; it picks the line's form and colour.
    pub kind: LineKind,
    /// The words shown after the time and the author (a peer's words
    /// with control characters already removed).
    pub text: String,
    /// Names this node's nick.
    pub mention: bool,
}

/// A view's lines and what the person has read of them.
#[derive(Clone, Debug, Default)]
pub struct Pane {
    /// The lines, sorted by [`Line::key`], oldest first; at most
    /// [`PANE_LINES_MAX`] (the oldest go first).
    pub lines: Vec<Line>,
    /// Lines that arrived while the view was not shown.
    pub unread: usize,
    /// One of them names this node.
    pub mention: bool,
    /// The first line not read when the view was opened: the marker goes
    /// above it, until the view is left.
    pub marker: Option<LineKey>,
    /// How many lines up from the newest the view is scrolled.
    pub scroll: usize,
}

impl Pane {
    /// Inserts a line in order; `false` if it was there already.
    fn insert(&mut self, line: Line) -> bool {
        let at = match self.lines.binary_search_by(|l| l.key.cmp(&line.key)) {
            Ok(_) => return false,
            Err(at) => at,
        };
        self.lines.insert(at, line);
        if self.lines.len() > PANE_LINES_MAX {
            self.lines.remove(0);
        }
        true
    }
}

/// Which part of the screen takes the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The input line: keys type, Enter sends.
    Input,
    /// The view's list: Up/Down select a row, letters act on it (see
    /// [`App::list_hint`]); any other character goes back to typing.
    List,
}

/// A window over the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Popup {
    /// The keys and the commands (F1, `/help`), scrolled by
    /// [`App::popup_scroll`].
    Help,
    /// This node's id, the room code, the join link and its QR code.
    Identity,
    /// One member, with what can be done to them.
    Member(NodeId),
    /// A destructive action, run if the person says yes.
    Confirm {
        /// What the person is asked ("revoke ada? ...").
        question: String,
        /// The command line run ([`Effect::Run`]) on `y` or Enter.
        line: String,
    },
}

/// A member as the TUI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    /// The member's id.
    pub node: NodeId,
    /// Its liveness, as this node's membership sees it.
    pub status: Status,
    /// Its nick, once it has published one.
    pub nick: Option<String>,
    /// The op-log state it last published; the same as
    /// [`App::my_mark`] means the two logs agree.
    pub state: Option<StateMark>,
    /// The addresses it published (`ip:port`).
    pub addrs: Vec<String>,
}

/// The applets' folded states, as last read from the node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listings {
    /// Announcements not retracted: pinned first, then newest first.
    pub announcements: Vec<announce::Entry>,
    /// Every poll, by id.
    pub polls: Vec<vote::Poll>,
    /// Every queue, by id.
    pub queues: Vec<queue::Queue>,
    /// Lost and found items, resolved ones included, newest first.
    pub lostfound: Vec<lostfound::Entry>,
    /// Requests with their short ids: open and claimed ones by urgency,
    /// then the closed ones.
    pub requests: Vec<(String, request::Request)>,
    /// The roster; `None` until it was first read.
    pub roster: Option<roster::RosterView>,
}

/// One applet's listing, as a refresh brings it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Replaces [`Listings::announcements`].
    Announcements(Vec<announce::Entry>),
    /// Replaces [`Listings::polls`].
    Polls(Vec<vote::Poll>),
    /// Replaces [`Listings::queues`].
    Queues(Vec<queue::Queue>),
    /// Replaces [`Listings::lostfound`].
    LostFound(Vec<lostfound::Entry>),
    /// Replaces [`Listings::requests`].
    Requests(Vec<(String, request::Request)>),
    /// Replaces [`Listings::roster`].
    Roster(roster::RosterView),
}

/// What happens to the app.
#[derive(Clone, Debug)]
pub enum Action {
    /// A key was pressed (or repeated; releases are not passed on).
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): it goes into the
    /// input, and is never sent by itself.
    Paste(String),
    /// The terminal is now this many columns wide and rows high.
    Resize(u16, u16),
    /// A second passed: `now_ms` is the wall clock (poll countdowns).
    Tick {
        /// Milliseconds since the Unix epoch.
        now_ms: u64,
    },
    /// Something the node published.
    Node(Event),
    /// The room's past, oldest first (loaded at start).
    History(Vec<HistoryOp>),
    /// The node's view of the room, refreshed.
    Room {
        /// Every other node the node knows of, any liveness; they replace
        /// [`App::members`].
        members: Vec<Member>,
        /// Links open now.
        links: usize,
        /// This node's state mark.
        mark: Option<StateMark>,
    },
    /// An applet's state, read again (after [`Effect::Refresh`]).
    Listing(Listing),
    /// A command's answer, for the person.
    Said(String),
    /// A command was refused or failed.
    Failed(String),
    /// The nick this node now has.
    NickSet(String),
    /// This node wrote a direct message (sealed: only the command knows
    /// its words).
    DmSent {
        /// The recipient.
        to: NodeId,
        /// The words, as typed.
        text: String,
        /// When it was sent, in ms since the Unix epoch.
        wall_ms: u64,
    },
}

/// What the app asks the runtime to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Run a line as the line client would (chat, `/dm`, `/vote`, ...).
    Run(String),
    /// Read an applet's state again.
    Refresh(View),
    /// Leave the room and restore the terminal.
    Quit,
}

/// The TUI's whole state.
pub struct App {
    /// This node's id.
    pub me: NodeId,
    /// The room code, shown in the identity popup (it admits whoever
    /// sees it).
    pub room_code: String,
    /// The room's public tag (hex), shortened in the header and status
    /// bar.
    pub room_tag: String,
    /// The `flashmesh://join` link others can join with; it leaves the
    /// room code out when the node was told to hide it.
    pub join_uri: String,
    /// The join link as a QR code (rows of text, drawn black on white),
    /// if it could be made.
    pub qr: Option<Vec<String>>,
    /// Where this node keeps the history.
    pub history_place: String,
    /// The nicks known, this node's included: how members are shown and
    /// found.
    pub names: Names,
    /// The other members, by id: replaced by each [`Action::Room`],
    /// updated by member and nick events in between.
    pub members: BTreeMap<NodeId, MemberRow>,
    /// Links open now (0: nobody from the room found yet).
    pub links: usize,
    /// This node's own op-log state mark, to compare with the members'.
    pub my_mark: Option<StateMark>,
    /// The view shown.
    pub view: View,
    /// Every view's pane; each view has one from [`App::new`] on.
    pub panes: BTreeMap<View, Pane>,
    /// What the list views show.
    pub listings: Listings,
    /// The selected row of each list view.
    pub selected: BTreeMap<View, usize>,
    /// Which part of the screen takes the keys.
    pub focus: Focus,
    /// The line being typed (one line: a paste's line breaks become
    /// spaces).
    pub input: TextArea<'static>,
    /// Lines sent, oldest first, no two in a row the same; at most
    /// [`INPUT_HISTORY_MAX`].
    pub input_history: Vec<String>,
    /// Where Up/Down is in the input history (`None`: a new line).
    pub history_at: Option<usize>,
    /// The window over the view, if one is open; it takes the keys.
    pub popup: Option<Popup>,
    /// How far the help popup is scrolled.
    pub popup_scroll: u16,
    /// Beacons of another room heard while alone: from where, how many.
    pub other_room: Option<(std::net::SocketAddr, u64)>,
    /// The badges of the applets' notices raised so far (the queue's
    /// "YOU'RE NEXT in help"), shown in the status bar.
    pub badges: BTreeSet<String>,
    /// The wall clock, as of the last tick.
    pub now_ms: u64,
    /// The terminal's width, in columns.
    pub width: u16,
    /// The terminal's height, in rows.
    pub height: u16,
    /// Lamport high-water mark: the client's notes sort after it.
    lamport_seen: u64,
    note_seq: u64,
    /// The person asked to leave (Ctrl-C, `/quit`): the runtime stops
    /// after this update.
    pub quit: bool,
}

impl App {
    /// A fresh app for a running node.
    pub fn new(me: NodeId, room_code: String, room_tag: String, join_uri: String) -> App {
        let mut panes = BTreeMap::new();
        for v in View::ALL {
            panes.insert(v, Pane::default());
        }
        App {
            me,
            room_code,
            room_tag,
            qr: crate::join::qr_rows(&join_uri).ok(),
            join_uri,
            history_place: String::new(),
            names: Names::default(),
            members: BTreeMap::new(),
            links: 0,
            my_mark: None,
            view: View::Chat,
            panes,
            listings: Listings::default(),
            selected: BTreeMap::new(),
            focus: Focus::Input,
            input: new_input(),
            input_history: Vec::new(),
            history_at: None,
            popup: None,
            popup_scroll: 0,
            other_room: None,
            badges: BTreeSet::new(),
            now_ms: 0,
            width: 80,
            height: 24,
            lamport_seen: 0,
            note_seq: 0,
            quit: false,
        }
    }

    /// The pane of `view`.
    pub fn pane(&self, view: View) -> &Pane {
        // Every view has a pane from `new` on.
        &self.panes[&view]
    }

    fn pane_mut(&mut self, view: View) -> &mut Pane {
        self.panes.entry(view).or_default()
    }

    /// The typed input line.
    pub fn input_text(&self) -> String {
        self.input.lines().join(" ")
    }

    /// Members counted as here or suspect, this node excluded.
    pub fn live_members(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.node != self.me && present::is_live(m.status))
            .count()
    }

    /// Live members whose published state mark equals this node's.
    pub fn agreeing(&self) -> usize {
        let Some(mine) = &self.my_mark else { return 0 };
        self.members
            .values()
            .filter(|m| m.node != self.me && present::is_live(m.status))
            .filter(|m| m.state.as_ref() == Some(mine))
            .count()
    }

    /// Rows of `view`'s list (0 for chat and direct messages).
    pub fn list_len(&self, view: View) -> usize {
        let l = &self.listings;
        match view {
            View::Announcements => l.announcements.len(),
            View::Polls => l.polls.len(),
            View::Queues => l.queues.len(),
            View::LostFound => l.lostfound.len(),
            View::Requests => l.requests.len(),
            View::Roster => self.roster_rows().len(),
            View::Chat | View::Dms => 0,
        }
    }

    /// The roster view's rows: every member known, this node first.
    pub fn roster_rows(&self) -> Vec<NodeId> {
        let mut rows = vec![self.me];
        rows.extend(self.members.keys().filter(|n| **n != self.me));
        if let Some(r) = &self.listings.roster {
            let revoked = r.revoked.iter().map(|v| &v.entry);
            for e in r.members.iter().chain(revoked).chain(&r.kiosks) {
                if !rows.contains(&e.node) {
                    rows.push(e.node);
                }
            }
        }
        rows
    }

    /// The selected row of `view` (clamped to the list).
    pub fn selection(&self, view: View) -> Option<usize> {
        let len = self.list_len(view);
        (len > 0).then(|| self.selected.get(&view).copied().unwrap_or(0).min(len - 1))
    }

    /// Adds a note (or an error) to the current view.
    pub fn note(&mut self, kind: LineKind, text: impl Into<String>) {
        self.note_seq += 1;
        let line = Line {
            key: (self.lamport_seen, NodeId([0xff; 32]), self.note_seq),
            wall_ms: self.now_ms,
            author: None,
            kind,
            text: text.into(),
            mention: false,
        };
        let view = self.view;
        self.pane_mut(view).insert(line);
    }

    /// Adds an op's line to its view, counting it unread when not shown.
    fn add_line(&mut self, view: View, line: Line) {
        self.lamport_seen = self.lamport_seen.max(line.key.0);
        let shown = self.view == view && self.popup.is_none();
        let mention = line.mention;
        let pane = self.pane_mut(view);
        if pane.insert(line) && !shown {
            pane.unread += 1;
            pane.mention |= mention;
        }
    }

    /// One op as a line in its view.
    fn add_op(&mut self, op: &OpView<'_>, key: LineKey) -> Option<View> {
        let text = present::op_text(op, &self.me, &self.names)?;
        let (view, kind) = match &text.kind {
            OpKind::Chat => (View::Chat, LineKind::Chat),
            OpKind::Dm { to, .. } => (View::Dms, LineKind::Dm { to: *to }),
            OpKind::Action { applet, .. } => (View::of_applet(applet), LineKind::Action),
        };
        let mention = op.author != self.me
            && self
                .names
                .nick(&self.me)
                .is_some_and(|nick| mentions(&text.text, nick));
        self.add_line(
            view,
            Line {
                key,
                wall_ms: text.wall_ms,
                author: Some(op.author),
                kind,
                text: text.text,
                mention,
            },
        );
        Some(view)
    }

    /// The reducer.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => self.on_key(key),
            Action::Paste(text) => {
                self.focus = Focus::Input;
                // One line: a paste's line breaks become spaces, and it
                // waits in the input for Enter.
                let flat: String = text
                    .chars()
                    .filter(|c| *c != '\r')
                    .map(|c| if c == '\n' { ' ' } else { c })
                    .collect();
                self.input.insert_str(flat);
                Vec::new()
            }
            Action::Resize(w, h) => {
                self.width = w;
                self.height = h;
                Vec::new()
            }
            Action::Tick { now_ms } => {
                self.now_ms = now_ms;
                Vec::new()
            }
            Action::Node(ev) => self.on_event(ev),
            Action::History(ops) => {
                for o in &ops {
                    self.add_op(&OpView::of_history(o), (o.lamport, o.author, o.seq));
                }
                // The past is read.
                for pane in self.panes.values_mut() {
                    pane.unread = 0;
                    pane.mention = false;
                }
                Vec::new()
            }
            Action::Room {
                members,
                links,
                mark,
            } => {
                self.names.learn(&members);
                self.members = members
                    .into_iter()
                    .map(|m| {
                        (
                            m.node,
                            MemberRow {
                                node: m.node,
                                status: m.status,
                                nick: m.nick,
                                state: m.state,
                                addrs: m.addrs.iter().map(|a| a.to_string()).collect(),
                            },
                        )
                    })
                    .collect();
                self.links = links;
                self.my_mark = mark;
                Vec::new()
            }
            Action::Listing(listing) => {
                let l = &mut self.listings;
                match listing {
                    Listing::Announcements(v) => l.announcements = v,
                    Listing::Polls(v) => l.polls = v,
                    Listing::Queues(v) => l.queues = v,
                    Listing::LostFound(v) => l.lostfound = v,
                    Listing::Requests(v) => l.requests = v,
                    Listing::Roster(v) => l.roster = Some(v),
                }
                Vec::new()
            }
            Action::Said(text) => {
                // The line client's answers start with "* "; here the
                // note's own mark says it.
                let text = text.strip_prefix("* ").map_or(text.clone(), str::to_string);
                self.note(LineKind::Note, text);
                Vec::new()
            }
            Action::Failed(text) => {
                self.note(LineKind::Error, text);
                Vec::new()
            }
            Action::DmSent { to, text, wall_ms } => {
                self.note_seq += 1;
                let line = Line {
                    key: (self.lamport_seen, self.me, self.note_seq),
                    wall_ms,
                    author: Some(self.me),
                    kind: LineKind::Dm { to },
                    text: present::clean(&text),
                    mention: false,
                };
                self.add_line(View::Dms, line);
                Vec::new()
            }
            Action::NickSet(nick) => {
                self.names.set(self.me, &nick);
                self.note(LineKind::Note, format!("you are now known as {nick}"));
                Vec::new()
            }
        }
    }

    fn on_event(&mut self, ev: Event) -> Vec<Effect> {
        match ev {
            Event::Op {
                author,
                seq,
                lamport,
                wall_ms,
                applet,
                kind,
                body,
                ..
            } => {
                if applet == crate::applets::dm::NAME {
                    // Shown from the Mail event (to this node) or from
                    // the command (from it); others' are sealed.
                    return Vec::new();
                }
                let view = OpView::of_event(author, wall_ms, &applet, kind, body.as_deref());
                self.add_op(&view, (lamport, author, seq));
                let list = View::of_applet(&applet);
                if list.has_list() {
                    return vec![Effect::Refresh(list)];
                }
                Vec::new()
            }
            Event::Mail {
                from,
                payload,
                wall_ms,
                lamport,
                seq,
                ..
            } => {
                let view = OpView {
                    author: from,
                    wall_ms,
                    applet: crate::applets::dm::NAME,
                    kind: crate::applets::dm::KIND_MESSAGE,
                    body: Some(&[]),
                    dm_to: Some(self.me),
                    dm_text: Some(&payload),
                    context: None,
                };
                // The op's own key: the same line as the history's, so a
                // message that arrives while the history loads shows once.
                let key = (lamport, from, seq);
                self.add_op(&view, key);
                Vec::new()
            }
            Event::Member { node, status, nick } => {
                if let Some(n) = &nick {
                    self.names.set(node, n);
                }
                let row = self.members.entry(node).or_insert(MemberRow {
                    node,
                    status,
                    nick: None,
                    state: None,
                    addrs: Vec::new(),
                });
                row.status = status;
                if nick.is_some() {
                    row.nick = nick;
                }
                Vec::new()
            }
            Event::Nick { node, nick } => {
                self.names.set(node, &nick);
                if let Some(row) = self.members.get_mut(&node) {
                    row.nick = Some(nick);
                }
                Vec::new()
            }
            Event::OtherRoomBeacons { from, count } => {
                self.other_room = Some((from, count));
                self.note(LineKind::Error, present::other_room_text(from, count));
                Vec::new()
            }
            Event::LinkUp { .. } => {
                self.links += 1;
                self.other_room = None;
                Vec::new()
            }
            Event::LinkDown { .. } => {
                self.links = self.links.saturating_sub(1);
                Vec::new()
            }
            Event::Notice { applet, notice } => {
                if let Some(badge) = notice.badge {
                    self.badges.insert(present::clean(&badge));
                }
                let view = View::of_applet(applet);
                self.note_in(view, present::clean(&notice.text));
                if view.has_list() {
                    vec![Effect::Refresh(view)]
                } else {
                    Vec::new()
                }
            }
            Event::ProofOfWork {
                bits,
                done,
                elapsed_ms,
            } => {
                self.note(
                    LineKind::Note,
                    if done {
                        format!(
                            "proof of work made ({bits} bits, {:.1} s)",
                            elapsed_ms as f64 / 1000.0
                        )
                    } else {
                        format!("making the proof of work this room asks for ({bits} bits)...")
                    },
                );
                Vec::new()
            }
            Event::OpNoEffect { applet, reason, .. } => {
                self.note(
                    LineKind::Error,
                    format!(
                        "your {applet} op has no effect: {}",
                        present::clean(&reason)
                    ),
                );
                Vec::new()
            }
            Event::Equivocation { author, seq } => {
                let who = self.names.show(&author);
                self.note(
                    LineKind::Error,
                    format!("{who} forked its log at op {seq}: its ops from there no longer count"),
                );
                Vec::new()
            }
            Event::ActorRestarted { actor, reason, .. } => {
                self.note(
                    LineKind::Error,
                    format!("internal: the {actor} actor crashed ({reason}) and was restarted"),
                );
                Vec::new()
            }
            Event::ActorFailed { actor, reason } => {
                self.note(
                    LineKind::Error,
                    format!(
                        "internal: the {actor} actor keeps crashing ({reason}); restart flashmesh"
                    ),
                );
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A note in a given view (counted unread there when not shown).
    fn note_in(&mut self, view: View, text: String) {
        self.note_seq += 1;
        let line = Line {
            key: (self.lamport_seen, NodeId([0xff; 32]), self.note_seq),
            wall_ms: self.now_ms,
            author: None,
            kind: LineKind::Note,
            text,
            mention: true,
        };
        self.add_line(view, line);
    }

    /// Opens `view`: its unread lines get the marker.
    pub fn switch(&mut self, view: View) {
        if view == self.view {
            return;
        }
        let old = self.view;
        self.pane_mut(old).marker = None;
        self.view = view;
        let pane = self.pane_mut(view);
        pane.marker = (pane.unread > 0)
            .then(|| pane.lines.len().checked_sub(pane.unread))
            .flatten()
            .and_then(|i| pane.lines.get(i))
            .map(|l| l.key);
        pane.unread = 0;
        pane.mention = false;
        // Every view opens ready to type; Esc selects in a list.
        self.focus = Focus::Input;
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        // Keys that work everywhere.
        match key.code {
            KeyCode::Char('c') if ctrl => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            KeyCode::F(1) => {
                self.popup = Some(Popup::Help);
                self.popup_scroll = 0;
                return Vec::new();
            }
            KeyCode::Char('e') if ctrl => {
                self.popup = Some(Popup::Identity);
                return Vec::new();
            }
            _ => {}
        }
        if let Some(popup) = self.popup.clone() {
            return self.on_popup_key(popup, key);
        }
        match key.code {
            KeyCode::Char(c @ '1'..='8') if alt => {
                let i = c as usize - '1' as usize;
                self.switch(View::ALL[i]);
                return Vec::new();
            }
            KeyCode::Char('n') if ctrl => {
                let i = (self.view.index() + 1) % View::ALL.len();
                self.switch(View::ALL[i]);
                return Vec::new();
            }
            KeyCode::Char('p') if ctrl => {
                let i = (self.view.index() + View::ALL.len() - 1) % View::ALL.len();
                self.switch(View::ALL[i]);
                return Vec::new();
            }
            KeyCode::PageUp => {
                let pane = self.pane_mut(self.view);
                pane.scroll = (pane.scroll + SCROLL_STEP).min(pane.lines.len().saturating_sub(1));
                return Vec::new();
            }
            KeyCode::PageDown => {
                let pane = self.pane_mut(self.view);
                pane.scroll = pane.scroll.saturating_sub(SCROLL_STEP);
                return Vec::new();
            }
            KeyCode::Esc => {
                if self.view.has_list() {
                    self.focus = match self.focus {
                        Focus::Input => Focus::List,
                        Focus::List => Focus::Input,
                    };
                }
                return Vec::new();
            }
            _ => {}
        }
        match self.focus {
            Focus::Input => self.on_input_key(key),
            Focus::List => self.on_list_key(key),
        }
    }

    fn on_popup_key(&mut self, popup: Popup, key: KeyEvent) -> Vec<Effect> {
        if popup == Popup::Help {
            let step = match key.code {
                KeyCode::Up => -1,
                KeyCode::Down => 1,
                KeyCode::PageUp => -(SCROLL_STEP as i32),
                KeyCode::PageDown => SCROLL_STEP as i32,
                _ => 0,
            };
            if step != 0 {
                // Drawing stops at the last page; this stops at a bound
                // past any help text.
                self.popup_scroll = (self.popup_scroll as i32 + step).clamp(0, 200) as u16;
                return Vec::new();
            }
        }
        match (popup, key.code) {
            (Popup::Confirm { line, .. }, KeyCode::Char('y') | KeyCode::Enter) => {
                self.popup = None;
                vec![Effect::Run(line)]
            }
            (Popup::Member(node), KeyCode::Char(c)) => {
                let who = self.names.show(&node);
                let id = node.to_string();
                self.popup = None;
                match c {
                    'd' => self.prefill(&format!("/dm {who} ")),
                    'i' => self.confirm(
                        format!("invite {who} to the room?"),
                        format!("/invite {id}"),
                    ),
                    'r' => self.confirm(
                        format!("revoke {who}? (revocation always wins)"),
                        format!("/revoke {id}"),
                    ),
                    'k' => self.confirm(format!("make {who} a kiosk?"), format!("/kiosk add {id}")),
                    _ => self.popup = Some(Popup::Member(node)),
                }
                Vec::new()
            }
            (_, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('n') | KeyCode::Enter) => {
                self.popup = None;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn confirm(&mut self, question: String, line: String) {
        self.popup = Some(Popup::Confirm { question, line });
    }

    /// Puts a command template in the input for the person to finish.
    fn prefill(&mut self, text: &str) {
        self.input = new_input();
        self.input.insert_str(text);
        self.focus = Focus::Input;
    }

    fn on_input_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            // Enter (and the keys terminals send for it) sends; the input
            // is one line.
            KeyCode::Enter => return self.submit(),
            KeyCode::Char('j' | 'm') if ctrl => return self.submit(),
            KeyCode::Tab => {
                self.complete();
                return Vec::new();
            }
            KeyCode::Up => {
                self.history_step(true);
                return Vec::new();
            }
            KeyCode::Down => {
                self.history_step(false);
                return Vec::new();
            }
            _ => {}
        }
        self.input.input(key);
        Vec::new()
    }

    fn history_step(&mut self, back: bool) {
        if self.input_history.is_empty() {
            return;
        }
        let last = self.input_history.len() - 1;
        self.history_at = match (self.history_at, back) {
            (None, true) => Some(last),
            (None, false) => None,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i >= last => None,
            (Some(i), false) => Some(i + 1),
        };
        let text = self
            .history_at
            .map(|i| self.input_history[i].clone())
            .unwrap_or_default();
        self.input = new_input();
        self.input.insert_str(text);
    }

    /// Tab: completes the word before the cursor, a `/command` or a nick.
    fn complete(&mut self) {
        let text = self.input_text();
        let (head, word) = match text.rfind(' ') {
            Some(i) => (&text[..=i], &text[i + 1..]),
            None => ("", text.as_str()),
        };
        if word.is_empty() {
            return;
        }
        let candidates: Vec<String> = if head.is_empty() && word.starts_with('/') {
            command_words()
                .into_iter()
                .filter(|c| c.starts_with(word))
                .map(|c| format!("{c} "))
                .collect()
        } else {
            let mut nicks: Vec<String> = self
                .members
                .keys()
                .map(|n| self.names.show(n))
                .filter(|n| n.to_lowercase().starts_with(&word.to_lowercase()))
                .collect();
            nicks.sort();
            nicks.dedup();
            nicks
                .into_iter()
                .map(|n| {
                    if head.is_empty() {
                        format!("{n}: ")
                    } else {
                        format!("{n} ")
                    }
                })
                .collect()
        };
        match candidates.as_slice() {
            [one] => {
                self.input = new_input();
                self.input.insert_str(format!("{head}{one}"));
            }
            [] => {}
            many => {
                let list = many.iter().map(|s| s.trim()).collect::<Vec<_>>().join("  ");
                self.note(LineKind::Note, list);
            }
        }
    }

    /// Enter: the typed line becomes a command or chat.
    fn submit(&mut self) -> Vec<Effect> {
        let text = self.input_text();
        let line = text.trim().to_string();
        if line.is_empty() {
            return Vec::new();
        }
        self.input = new_input();
        self.history_at = None;
        if self.input_history.last() != Some(&line) {
            self.input_history.push(line.clone());
            if self.input_history.len() > INPUT_HISTORY_MAX {
                self.input_history.remove(0);
            }
        }
        self.pane_mut(self.view).scroll = 0;
        // Commands that are the TUI's own.
        let word = line.split_whitespace().next().unwrap_or("");
        match word {
            "/quit" | "/exit" => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            "/help" => {
                self.popup = Some(Popup::Help);
                self.popup_scroll = 0;
                return Vec::new();
            }
            "/join" | "/me" => {
                self.popup = Some(Popup::Identity);
                return Vec::new();
            }
            "/whois" => {
                let query = line["/whois".len()..].trim();
                let known: Vec<NodeId> = self.members.keys().copied().collect();
                match self.names.resolve(query, &known) {
                    Ok(node) => self.popup = Some(Popup::Member(node)),
                    Err(e) => self.note(LineKind::Error, e),
                }
                return Vec::new();
            }
            _ => {}
        }
        if self.view == View::Dms && !line.starts_with('/') {
            // In the DM view a plain line answers the last person who wrote.
            let last = self
                .pane(View::Dms)
                .lines
                .iter()
                .rev()
                .find_map(|l| match l.kind {
                    LineKind::Dm { to } if l.author == Some(self.me) => Some(to),
                    LineKind::Dm { .. } => l.author,
                    _ => None,
                });
            return match last {
                Some(to) => vec![Effect::Run(format!("/dm {to} {line}"))],
                None => {
                    self.note(
                        LineKind::Error,
                        "no conversation yet: /dm NICK TEXT starts one",
                    );
                    Vec::new()
                }
            };
        }
        vec![Effect::Run(line)]
    }

    fn on_list_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let view = self.view;
        let len = self.list_len(view);
        let sel = self.selection(view);
        match key.code {
            KeyCode::Up => {
                if let Some(s) = sel {
                    self.selected.insert(view, s.saturating_sub(1));
                }
                return Vec::new();
            }
            KeyCode::Down => {
                if let Some(s) = sel {
                    self.selected
                        .insert(view, (s + 1).min(len.saturating_sub(1)));
                }
                return Vec::new();
            }
            _ => {}
        }
        let effects = self.list_action(view, sel, key.code);
        if let Some(effects) = effects {
            return effects;
        }
        // Any other character: back to typing.
        if let KeyCode::Char(_) = key.code
            && !key.modifiers.contains(KeyModifiers::CONTROL)
        {
            self.focus = Focus::Input;
            self.input.input(key);
        }
        Vec::new()
    }

    /// A key on a list row; `None` when the key means nothing there.
    fn list_action(
        &mut self,
        view: View,
        sel: Option<usize>,
        code: KeyCode,
    ) -> Option<Vec<Effect>> {
        let run = |line: String| Some(vec![Effect::Run(line)]);
        let KeyCode::Char(c) = code else {
            if code == KeyCode::Enter && view == View::Roster {
                let node = *self.roster_rows().get(sel?)?;
                self.popup = Some(Popup::Member(node));
                return Some(Vec::new());
            }
            return None;
        };
        match (view, c) {
            (View::Announcements, 'n') => self.prefill("/announce "),
            (View::Polls, 'n') => self.prefill("/vote meta ID title=\"\" options=a,b closes=30m"),
            (View::Queues, 'n') => self.prefill("/queue create "),
            (View::LostFound, 'n') => self.prefill("/lost "),
            (View::LostFound, 'f') if sel.is_none() => self.prefill("/found "),
            (View::Requests, 'n') => self.prefill("/request what="),
            (View::Announcements, 'p' | 'x') => {
                let e = self.listings.announcements.get(sel?)?;
                let id = e.short.clone();
                return match c {
                    'p' if e.announcement.pinned => run(format!("/unpin {id}")),
                    'p' => run(format!("/pin {id}")),
                    _ => {
                        self.confirm(
                            format!("retract announcement {id}?"),
                            format!("/retract {id}"),
                        );
                        Some(Vec::new())
                    }
                };
            }
            (View::Polls, '1'..='9') => {
                let poll = self.listings.polls.get(sel?)?;
                let option = poll.options.get(c as usize - '1' as usize)?;
                return run(format!("/vote {} {}", poll.id, option));
            }
            (View::Polls, 'c') => {
                let id = self.listings.polls.get(sel?)?.id.clone();
                self.confirm(
                    format!("close poll {id}? (no more votes count)"),
                    format!("/vote close {id}"),
                );
            }
            (View::Queues, 'j') => {
                let id = self.listings.queues.get(sel?)?.id.clone();
                let me = self.names.show(&self.me);
                self.prefill(&format!("/queue join {id} label={me} party=1"));
            }
            (View::Queues, 'l') => {
                let id = self.listings.queues.get(sel?)?.id.clone();
                return run(format!("/queue leave {id}"));
            }
            (View::Queues, 's') => {
                let id = self.listings.queues.get(sel?)?.id.clone();
                return run(format!("/queue next {id}"));
            }
            (View::LostFound, 'c' | 'r' | 'f') => {
                let e = self.listings.lostfound.get(sel?)?;
                let id = e.short.clone();
                match c {
                    'r' => self.confirm(
                        format!("mark item {id} as resolved?"),
                        format!("/resolve {id}"),
                    ),
                    _ => self.prefill(&format!("/claim {id} ")),
                }
            }
            (View::Requests, 'c' | 'u' | 'f' | 'x') => {
                let id = self.listings.requests.get(sel?)?.0.clone();
                return match c {
                    'c' => run(format!("/claim-request {id}")),
                    'u' => run(format!("/unclaim {id}")),
                    'f' => run(format!("/fulfil {id}")),
                    _ => {
                        self.confirm(format!("cancel request {id}?"), format!("/cancel {id}"));
                        Some(Vec::new())
                    }
                };
            }
            (View::Roster, 'i' | 'r') => {
                let node = *self.roster_rows().get(sel?)?;
                let who = self.names.show(&node);
                match c {
                    'i' => self.confirm(format!("invite {who}?"), format!("/invite {node}")),
                    _ => self.confirm(
                        format!("revoke {who}? (revocation always wins)"),
                        format!("/revoke {node}"),
                    ),
                }
            }
            _ => return None,
        }
        Some(Vec::new())
    }

    /// The keys a list view offers, for its hint line.
    pub fn list_hint(view: View) -> &'static str {
        match view {
            View::Announcements => "n new · p pin/unpin · x retract",
            View::Polls => "1-9 vote · n new poll · c close",
            View::Queues => "j join · l leave · s serve next · n new queue",
            View::LostFound => "n lost · f found/claim · c claim · r resolve",
            View::Requests => "n new · c claim · u unclaim · f fulfil · x cancel",
            View::Roster => "Enter details · i invite · r revoke",
            View::Chat | View::Dms => "",
        }
    }
}

/// The line client's own slash-words Tab completes; the applets' come
/// from their registrations ([`command_words`]).
pub const CORE_COMMAND_WORDS: &[&str] = &[
    "/dm",
    "/help",
    "/history",
    "/join",
    "/me",
    "/members",
    "/nick",
    "/peers",
    "/quit",
    "/snapshot",
    "/state",
    "/whois",
];

/// Every slash-word Tab completes, sorted: the line client's own and each
/// built-in applet's ([`crate::cli::applets::Commands::words`]).
pub fn command_words() -> Vec<String> {
    let mut words: Vec<String> = CORE_COMMAND_WORDS
        .iter()
        .map(|w| w.to_string())
        .chain(
            crate::cli::applets::all().flat_map(|(_, c)| c.words.iter().map(|w| format!("/{w}"))),
        )
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Whether `text` names `nick` (a whole word, any case).
pub fn mentions(text: &str, nick: &str) -> bool {
    let nick = nick.to_lowercase();
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .any(|w| w == nick)
}

fn new_input() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(ratatui::style::Style::default());
    t.set_placeholder_text("type to chat · /help for commands · F1 keys");
    t
}
