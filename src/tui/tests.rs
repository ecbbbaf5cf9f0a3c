//! The reducer's rules, and snapshots of every view and popup at 80×24 and
//! 120×40 (and of the too-small screen), times redacted.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{Action, App, Effect, Focus, Listing, Popup, View};
use super::{draw, wizard};
use crate::applets::{announce, lostfound, queue, request, roster, vote};
use crate::event::{Event, Member, Notice, StateMark, Status};
use crate::id::{NodeId, OpId};

/// A fixed wall time (its clock is redacted in snapshots).
const T0: u64 = 1_780_000_000_000;

fn id(b: u8) -> NodeId {
    NodeId([b; 32])
}

fn op(b: u8) -> OpId {
    OpId([b; 32])
}

fn me() -> NodeId {
    id(0x11)
}

fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn alt(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(app.update(key(KeyCode::Char(c))).is_empty());
    }
}

fn member(node: NodeId, nick: &str, status: Status) -> Member {
    Member {
        node,
        status,
        nick: Some(nick.into()),
        addrs: vec!["127.0.0.1:9000".parse().expect("an address")],
        generation: 1,
        heartbeat: 5,
        state: Some(StateMark {
            hash: "0123456789abcdef".into(),
            ops: 12,
        }),
    }
}

fn chat(author: NodeId, lamport: u64, text: &str) -> Event {
    Event::Op {
        id: op(lamport as u8),
        author,
        seq: lamport,
        lamport,
        wall_ms: T0 + lamport * 60_000,
        applet: crate::applets::chat::NAME.into(),
        kind: crate::applets::chat::KIND_MESSAGE,
        body: Some(text.as_bytes().to_vec()),
    }
}

fn app() -> App {
    let mut app = App::new(
        me(),
        "amber-otter-lamp-mesa-quilt-river-4821".into(),
        "3f2a9c0d11e4b5a6".into(),
        "flashmesh://join?room=amber-otter-lamp-mesa-quilt-river-4821&peer=192.168.1.5:9000".into(),
    );
    app.history_place = "/home/ada/.local/share/flashmesh/rooms/3f2a9c0d11e4b5a6-11111111".into();
    app.now_ms = T0 + 10 * 60_000;
    app.names.set(me(), "ada");
    app
}

/// A room with people, talk and every applet in use.
fn busy_app() -> App {
    let mut app = app();
    app.update(Action::Room {
        members: vec![
            member(me(), "ada", Status::Alive),
            member(id(0x22), "bob", Status::Alive),
            member(id(0x33), "carol", Status::Suspect),
            member(id(0x44), "dan", Status::Alive),
            member(id(0x55), "dan", Status::Dead),
            member(id(0x66), "erin", Status::Left),
        ],
        links: 3,
        mark: Some(StateMark {
            hash: "0123456789abcdef".into(),
            ops: 12,
        }),
    });
    app.update(Action::Node(chat(
        id(0x22),
        1,
        "morning all! the coffee is in hall B",
    )));
    app.update(Action::Node(chat(
        id(0x44),
        2,
        "which dan are you talking to?",
    )));
    app.update(Action::Node(chat(
        id(0x33),
        3,
        "ada, can you help at the desk? this line is long enough that it has to wrap onto a second row on a narrow screen",
    )));
    app.update(Action::Node(chat(me(), 4, "on my way")));
    app.update(Action::Listing(Listing::Polls(vec![vote::Poll {
        id: "lunch".into(),
        title: "Pizza or salad?".into(),
        options: vec!["pizza".into(), "salad".into()],
        creator: id(0x33),
        created: op(1),
        created_wall_ms: T0,
        closes_at_ms: Some(T0 + 40 * 60_000),
        closed: None,
        ballots: vec![
            vote::Ballot {
                voter: me(),
                option: "salad".into(),
                op: op(2),
                wall_ms: T0,
            },
            vote::Ballot {
                voter: id(0x22),
                option: "pizza".into(),
                op: op(3),
                wall_ms: T0,
            },
            vote::Ballot {
                voter: id(0x44),
                option: "pizza".into(),
                op: op(4),
                wall_ms: T0,
            },
        ],
    }])));
    let entry = |node: NodeId, label: &str| queue::Entry {
        node,
        label: label.into(),
        party: 1,
        note: None,
        joined: op(5),
        joined_wall_ms: T0,
    };
    app.update(Action::Listing(Listing::Queues(vec![queue::Queue {
        id: "help".into(),
        title: Some("Help desk".into()),
        owner: id(0x33),
        created: op(6),
        created_wall_ms: T0,
        waiting: vec![entry(me(), "ada"), entry(id(0x22), "bob")],
        served: Vec::new(),
    }])));
    app.update(Action::Node(Event::Notice {
        applet: queue::NAME,
        notice: queue::head_notice("help"),
    }));
    app.update(Action::Listing(Listing::Announcements(vec![
        announce::Entry {
            short: "7f3a".into(),
            announcement: announcement(
                id(0x33),
                "food",
                "Lunch is served in hall B until 14:00",
                true,
            ),
        },
        announce::Entry {
            short: "91bc".into(),
            announcement: announcement(id(0x22), "general", "Wi-Fi password is on the wall", false),
        },
    ])));
    app.update(Action::Listing(Listing::LostFound(vec![
        lostfound::Entry {
            short: "c0de".into(),
            item: lostfound::Item {
                id: op(7),
                kind: lostfound::ItemKind::Lost,
                poster: id(0x22),
                lamport: 7,
                seq: 7,
                wall_ms: T0,
                description: "blue umbrella".into(),
                place: Some("main hall".into()),
                contact: Some("front desk".into()),
                claims: Vec::new(),
                resolved_ms: None,
            },
        },
    ])));
    app.update(Action::Listing(Listing::Requests(vec![(
        "beef".into(),
        request::Request {
            id: op(8),
            requester: id(0x44),
            what: "extension cord".into(),
            place: Some("table 12".into()),
            urgency: request::Urgency::Urgent,
            lamport: 8,
            seq: 8,
            wall_ms: T0,
            status: request::Status::Claimed,
            claimer: Some(id(0x22)),
            closed_by: None,
            changed_ms: T0,
        },
    )])));
    app.update(Action::Listing(Listing::Roster(roster::RosterView {
        open: false,
        root: Some(me()),
        organisers: Vec::new(),
        members: vec![
            roster::Entry {
                node: id(0x22),
                by: me(),
                op: op(10),
                wall_ms: T0,
            },
            roster::Entry {
                node: id(0x33),
                by: me(),
                op: op(10),
                wall_ms: T0,
            },
        ],
        revoked: vec![roster::Revoked {
            entry: roster::Entry {
                node: id(0x66),
                by: me(),
                op: op(11),
                wall_ms: T0,
            },
            from_seq: 1,
        }],
        kiosks: Vec::new(),
    })));
    app
}

fn announcement(author: NodeId, topic: &str, text: &str, pinned: bool) -> announce::Announcement {
    announce::Announcement {
        id: op(9),
        author,
        topic: topic.into(),
        text: text.into(),
        lamport: 9,
        seq: 9,
        wall_ms: T0,
        pinned,
        retracted: false,
    }
}

/// The screen as text, one row per line.
fn screen(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| draw::draw(app, f)).expect("draws");
    buffer_text(term.backend().buffer())
}

fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut row = String::new();
        for x in 0..buf.area.width {
            row.push_str(buf[(x, y)].symbol());
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// Snapshots `app` at both sizes, with clock times redacted.
fn snap(name: &str, app: &App) {
    for (w, h) in [(80, 24), (120, 40)] {
        let text = screen(app, w, h);
        insta::with_settings!({filters => vec![(r"\b\d\d:\d\d\b", "HH:MM")]}, {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
        });
    }
}

#[test]
fn every_view_draws_at_both_sizes() {
    let mut app = busy_app();
    for (i, view) in View::ALL.into_iter().enumerate() {
        app.update(alt(char::from(b'1' + i as u8)));
        assert_eq!(app.view, view);
        snap(&format!("view_{:?}", view).to_lowercase(), &app);
    }
}

#[test]
fn every_popup_draws_at_both_sizes() {
    let mut app = busy_app();
    app.update(key(KeyCode::F(1)));
    snap("popup_help", &app);
    app.update(key(KeyCode::Esc));
    app.update(ctrl('e'));
    snap("popup_identity", &app);
    app.update(key(KeyCode::Esc));
    app.popup = Some(Popup::Member(id(0x44)));
    snap("popup_member", &app);
    app.update(key(KeyCode::Char('r')));
    assert!(matches!(app.popup, Some(Popup::Confirm { .. })));
    snap("popup_confirm", &app);
}

#[test]
fn a_room_with_no_links_warns_and_a_small_terminal_says_so() {
    let app = app();
    snap("alone", &app);
    insta::assert_snapshot!("too_small", screen(&app, 30, 8));
}

#[test]
fn the_wizard_draws_each_stage() {
    let mut w = wizard::Wizard::new(None);
    let draw_w = |w: &wizard::Wizard| {
        let mut term = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
        term.draw(|f| wizard::draw(w, f)).expect("draws");
        buffer_text(term.backend().buffer())
    };
    insta::assert_snapshot!("wizard_choose", draw_w(&w));
    w.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE));
    w.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    w.paste("not a code!");
    w.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    insta::assert_snapshot!("wizard_code_refused", draw_w(&w));
}

#[test]
fn a_notice_is_noted_in_its_applets_view_and_its_badge_stays_in_the_status_bar() {
    let mut app = app();
    let effects = app.update(Action::Node(Event::Notice {
        applet: queue::NAME,
        notice: queue::head_notice("help"),
    }));
    assert_eq!(effects, vec![Effect::Refresh(View::Queues)]);
    assert!(screen(&app, 120, 40).contains("YOU'RE NEXT in help"));
    // A library user's applet has no view: its notice goes to the room
    // chat, with nothing to refresh and no badge.
    let effects = app.update(Action::Node(Event::Notice {
        applet: "kudos",
        notice: Notice::new(
            "kudos_received",
            vec![("count", "1".into())],
            "you have 1 kudos".into(),
        ),
    }));
    assert!(effects.is_empty());
    let text = screen(&app, 120, 40);
    assert!(text.contains("you have 1 kudos"), "{text}");
    assert_eq!(app.badges.len(), 1);
}

#[test]
fn tab_completion_knows_every_registered_applet_word() {
    let words = super::app::command_words();
    for (_, commands) in crate::cli::applets::all() {
        for word in commands.words {
            assert!(words.contains(&format!("/{word}")), "/{word}");
        }
    }
    assert!(words.contains(&"/dm".to_string()));
    assert!(words.is_sorted());
}

#[test]
fn enter_sends_the_line_and_a_paste_never_does() {
    let mut app = app();
    assert!(app.update(Action::Paste("two\nlines".into())).is_empty());
    assert_eq!(app.input_text(), "two lines");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        vec![Effect::Run("two lines".into())]
    );
    assert_eq!(app.input_text(), "");
    typed(&mut app, "again");
    // Ctrl-J and Ctrl-M are Enter to a terminal: they send, never add a line.
    assert_eq!(app.update(ctrl('j')), vec![Effect::Run("again".into())]);
    assert!(
        app.update(key(KeyCode::Enter)).is_empty(),
        "an empty line sends nothing"
    );
}

#[test]
fn up_and_down_walk_the_lines_typed_before() {
    let mut app = app();
    for line in ["first", "second"] {
        typed(&mut app, line);
        app.update(key(KeyCode::Enter));
    }
    app.update(key(KeyCode::Up));
    assert_eq!(app.input_text(), "second");
    app.update(key(KeyCode::Up));
    assert_eq!(app.input_text(), "first");
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    assert_eq!(app.input_text(), "");
}

#[test]
fn tab_completes_commands_and_nicks() {
    let mut app = busy_app();
    typed(&mut app, "/vo");
    app.update(key(KeyCode::Tab));
    assert_eq!(app.input_text(), "/vote ");
    app.update(ctrl('u'));
    typed(&mut app, "car");
    app.update(key(KeyCode::Tab));
    assert_eq!(app.input_text(), "carol: ");
}

#[test]
fn clashing_nicks_show_with_their_id() {
    let app = busy_app();
    assert_eq!(app.names.show(&id(0x44)), "dan#4444");
    assert!(screen(&app, 120, 40).contains("dan#4444"));
}

#[test]
fn unread_lines_mark_their_view_and_the_marker_goes_above_them() {
    let mut app = busy_app();
    app.update(alt('4'));
    app.update(Action::Node(chat(id(0x22), 20, "still there, ada?")));
    let chat = app.pane(View::Chat);
    assert_eq!((chat.unread, chat.mention), (1, true));
    assert!(screen(&app, 80, 24).contains("1@room chat"));
    app.update(alt('1'));
    let chat = app.pane(View::Chat);
    assert_eq!(chat.unread, 0);
    assert_eq!(chat.marker, Some((20, id(0x22), 20)));
    assert!(screen(&app, 80, 24).contains(" new "));
    app.update(alt('2'));
    assert_eq!(
        app.pane(View::Chat).marker,
        None,
        "leaving the view clears the marker"
    );
}

#[test]
fn past_lines_arriving_late_sort_into_place() {
    let mut app = app();
    app.update(Action::Node(chat(id(0x22), 5, "later")));
    app.update(Action::Node(chat(id(0x33), 2, "earlier")));
    let texts: Vec<&str> = app
        .pane(View::Chat)
        .lines
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(texts, ["earlier", "later"]);
    app.update(Action::Node(chat(id(0x33), 2, "earlier")));
    assert_eq!(app.pane(View::Chat).lines.len(), 2, "an op shows once");
}

#[test]
fn a_poll_is_voted_with_a_number_key() {
    let mut app = busy_app();
    app.update(alt('4'));
    app.update(key(KeyCode::Esc));
    assert_eq!(app.focus, Focus::List);
    assert_eq!(
        app.update(key(KeyCode::Char('2'))),
        vec![Effect::Run("/vote lunch salad".into())]
    );
    assert!(
        app.update(key(KeyCode::Char('9'))).is_empty(),
        "no ninth option"
    );
}

#[test]
fn queue_keys_join_leave_and_serve() {
    let mut app = busy_app();
    app.update(alt('5'));
    app.update(key(KeyCode::Esc));
    assert!(app.update(key(KeyCode::Char('j'))).is_empty());
    assert_eq!(app.input_text(), "/queue join help label=ada party=1");
    assert_eq!(app.focus, Focus::Input);
    app.update(key(KeyCode::Esc));
    assert_eq!(
        app.update(key(KeyCode::Char('s'))),
        vec![Effect::Run("/queue next help".into())]
    );
    let screen = screen(&app, 80, 24);
    assert!(screen.contains("you're next"), "{screen}");
}

#[test]
fn a_revocation_asks_first() {
    let mut app = busy_app();
    app.update(alt('8'));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Down)); // bob
    assert!(app.update(key(KeyCode::Char('r'))).is_empty());
    assert!(
        matches!(&app.popup, Some(Popup::Confirm { line, .. }) if line == &format!("/revoke {}", id(0x22)))
    );
    assert!(app.update(key(KeyCode::Char('n'))).is_empty());
    assert_eq!(app.popup, None);
    app.update(key(KeyCode::Char('r')));
    assert_eq!(
        app.update(key(KeyCode::Char('y'))),
        vec![Effect::Run(format!("/revoke {}", id(0x22)))]
    );
}

#[test]
fn a_plain_line_in_the_dm_view_answers_the_last_conversation() {
    let mut app = busy_app();
    app.update(alt('2'));
    typed(&mut app, "hi");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    app.update(Action::Node(Event::Mail {
        id: op(40),
        from: id(0x22),
        payload: b"psst".to_vec(),
        wall_ms: T0,
        lamport: 40,
        seq: 3,
    }));
    typed(&mut app, "hi bob");
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        vec![Effect::Run(format!("/dm {} hi bob", id(0x22)))]
    );
}

#[test]
fn ctrl_c_quits_from_anywhere() {
    let mut app = busy_app();
    app.update(key(KeyCode::F(1)));
    assert_eq!(app.update(ctrl('c')), vec![Effect::Quit]);
    assert!(app.quit);
}

#[test]
fn an_op_of_a_list_view_asks_for_its_listing_again() {
    let mut app = app();
    let effects = app.update(Action::Node(Event::Op {
        id: op(50),
        author: id(0x22),
        seq: 1,
        lamport: 1,
        wall_ms: T0,
        applet: vote::NAME.into(),
        kind: 1,
        body: Some(Vec::new()),
    }));
    assert_eq!(effects, vec![Effect::Refresh(View::Polls)]);
}

#[test]
fn a_direct_message_shows_once_whether_live_or_from_the_history() {
    let mut app = app();
    app.update(Action::Node(Event::Mail {
        id: op(60),
        from: id(0x22),
        payload: b"psst".to_vec(),
        wall_ms: T0,
        lamport: 7,
        seq: 2,
    }));
    app.update(Action::History(vec![crate::actors::oplog::HistoryOp {
        id: op(60),
        author: id(0x22),
        seq: 2,
        lamport: 7,
        wall_ms: T0,
        applet: crate::applets::dm::NAME.into(),
        kind: crate::applets::dm::KIND_MESSAGE,
        body: Some(b"sealed".to_vec()),
        dm_to: Some(me()),
        dm_text: Some(b"psst".to_vec()),
    }]));
    let dms = &app.pane(View::Dms).lines;
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert_eq!(dms[0].text, "psst");
}
