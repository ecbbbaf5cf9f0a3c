//! Drawing: a pure function of the [`App`] state onto a frame.
//!
//! Only what is visible is laid out: a pane with 10,000 lines wraps the
//! few dozen at its bottom (or around its scroll position), so a frame
//! costs the same in a long room as in a new one (`cargo bench --bench
//! tui` prints it).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr as _;

use super::app::{App, Focus, Line, LineKind, Popup, View};
use crate::event::Status;
use crate::id::NodeId;
use crate::present::{self, status_word};

/// The smallest terminal the TUI draws in.
pub const MIN_WIDTH: u16 = 40;
/// The fewest rows the TUI draws in; below this (or [`MIN_WIDTH`]) it asks
/// for a larger terminal.
pub const MIN_HEIGHT: u16 = 12;
/// From this width on, the members pane shows.
pub const MEMBERS_PANE_MIN_WIDTH: u16 = 100;
const SIDEBAR_WIDTH: u16 = 18;
const MEMBERS_WIDTH: u16 = 24;

const NICK_COLOURS: [Color; 10] = [
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Magenta,
    Color::Blue,
    Color::LightRed,
    Color::LightGreen,
    Color::LightCyan,
    Color::LightMagenta,
    Color::LightBlue,
];

/// A member's colour, from its id (the same on every screen).
pub fn nick_colour(node: &NodeId) -> Color {
    NICK_COLOURS[node.0[0] as usize % NICK_COLOURS.len()]
}

fn status_colour(s: Status) -> Color {
    match s {
        Status::Alive => Color::Green,
        Status::Suspect => Color::Yellow,
        Status::Dead => Color::Red,
        Status::Left => Color::DarkGray,
    }
}

/// Draws the whole screen.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The terminal is too small ({}×{}).\nflashmesh needs at least {MIN_WIDTH}×{MIN_HEIGHT}.\nMake the window larger, or Ctrl-C to leave.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [body, input_area, status_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    let show_members = area.width >= MEMBERS_PANE_MIN_WIDTH;
    let [sidebar, main, members] = Layout::horizontal([
        Constraint::Length(SIDEBAR_WIDTH),
        Constraint::Min(10),
        Constraint::Length(if show_members { MEMBERS_WIDTH } else { 0 }),
    ])
    .areas(body);
    draw_sidebar(app, frame, sidebar);
    if app.view.has_list() {
        draw_list_view(app, frame, main);
    } else {
        draw_pane(app, frame, main, app.view);
    }
    if show_members {
        draw_members(app, frame, members);
    }
    draw_input(app, frame, input_area);
    draw_status(app, frame, status_area);
    if let Some(popup) = &app.popup {
        draw_popup(app, frame, popup);
    }
}

fn draw_sidebar(app: &App, frame: &mut Frame, area: Rect) {
    let mut lines = vec![TextLine::from(Span::styled(
        format!("#{}", &app.room_tag[..app.room_tag.len().min(12)]),
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    for (i, v) in View::ALL.into_iter().enumerate() {
        let pane = app.pane(v);
        let mark = if pane.mention {
            "@"
        } else if pane.unread > 0 {
            "*"
        } else {
            " "
        };
        let text = format!("{}{mark}{}", i + 1, v.title());
        let mut style = Style::default();
        if v == app.view {
            style = style.add_modifier(Modifier::REVERSED);
        } else if pane.mention {
            style = style.fg(Color::Yellow).add_modifier(Modifier::BOLD);
        } else if pane.unread > 0 {
            style = style.add_modifier(Modifier::BOLD);
        }
        lines.push(TextLine::from(Span::styled(text, style)));
    }
    let block = Block::default().borders(Borders::RIGHT);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The display form of one pane line, wrapped to `width` columns.
pub fn wrap_line(app: &App, line: &Line, width: usize) -> Vec<TextLine<'static>> {
    let time = present::clock(line.wall_ms);
    let (who, who_style) = match (&line.kind, line.author) {
        (LineKind::Note, _) | (_, None) => ("*".to_string(), Style::default().fg(Color::DarkGray)),
        (LineKind::Error, _) => ("!".to_string(), Style::default().fg(Color::Red)),
        (LineKind::Dm { to }, Some(author)) => {
            let from = if author == app.me {
                "you".to_string()
            } else {
                app.names.show(&author)
            };
            let to = if *to == app.me {
                "you".to_string()
            } else {
                app.names.show(to)
            };
            (
                format!("{from}→{to}"),
                Style::default().fg(nick_colour(&author)),
            )
        }
        (LineKind::Action, Some(author)) => (
            format!("* {}", app.names.show(&author)),
            Style::default().fg(nick_colour(&author)),
        ),
        (LineKind::Chat, Some(author)) => (
            app.names.show(&author),
            Style::default()
                .fg(nick_colour(&author))
                .add_modifier(Modifier::BOLD),
        ),
    };
    let text_style = match line.kind {
        LineKind::Error => Style::default().fg(Color::Red),
        LineKind::Note | LineKind::Action => Style::default().fg(Color::Gray),
        _ if line.mention => Style::default().fg(Color::Yellow),
        _ => Style::default(),
    };
    let prefix_width = time.len() + 1 + who.width() + 1;
    let avail = width.saturating_sub(prefix_width).max(8);
    let chunks = wrap_text(&line.text, avail);
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        if i == 0 {
            out.push(TextLine::from(vec![
                Span::styled(time.clone(), Style::default().fg(Color::DarkGray)),
                Span::raw(" "),
                Span::styled(who.clone(), who_style),
                Span::raw(" "),
                Span::styled(chunk, text_style),
            ]));
        } else {
            out.push(TextLine::from(vec![
                Span::raw(" ".repeat(prefix_width.min(width.saturating_sub(8)))),
                Span::styled(chunk, text_style),
            ]));
        }
    }
    out
}

/// Cuts `text` into rows of at most `width` columns (at spaces where it
/// can, inside words where it must); newlines start rows.
pub fn wrap_text(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar as _;
    let width = width.max(1);
    let mut rows = Vec::new();
    for para in text.split('\n') {
        let mut row = String::new();
        let mut row_w = 0;
        for word in para.split_inclusive(' ') {
            let w = word.width();
            if row_w + w > width && row_w > 0 {
                rows.push(std::mem::take(&mut row).trim_end().to_string());
                row_w = 0;
            }
            if w > width {
                for c in word.chars() {
                    let cw = c.width().unwrap_or(0);
                    if row_w + cw > width {
                        rows.push(std::mem::take(&mut row));
                        row_w = 0;
                    }
                    row.push(c);
                    row_w += cw;
                }
            } else {
                row.push_str(word);
                row_w += w;
            }
        }
        rows.push(row.trim_end().to_string());
    }
    rows
}

fn draw_pane(app: &App, frame: &mut Frame, area: Rect, view: View) {
    let pane = app.pane(view);
    let width = area.width as usize;
    let height = area.height as usize;
    if pane.lines.is_empty() {
        let hint = match view {
            View::Chat => "Nothing said yet. Type below and press Enter to talk to the room.",
            View::Dms => {
                "No direct messages. /dm NICK TEXT writes to one person; only they can read it."
            }
            _ => "Nothing here yet.",
        };
        frame.render_widget(
            Paragraph::new(hint)
                .style(Style::default().fg(Color::DarkGray))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    // Walk up from the newest line not scrolled past, until the pane is
    // full; only those lines are wrapped.
    let end = pane.lines.len().saturating_sub(pane.scroll);
    let mut rows: Vec<TextLine<'static>> = Vec::new();
    for line in pane.lines[..end].iter().rev() {
        let mut wrapped = wrap_line(app, line, width);
        if pane.marker == Some(line.key) {
            wrapped.insert(
                0,
                TextLine::from(Span::styled(
                    format!("{:─^w$}", " new ", w = width),
                    Style::default().fg(Color::Red),
                )),
            );
        }
        for row in wrapped.into_iter().rev() {
            rows.push(row);
        }
        if rows.len() >= height {
            break;
        }
    }
    rows.truncate(height);
    rows.reverse();
    if pane.scroll > 0
        && let Some(first) = rows.first_mut()
    {
        *first = TextLine::from(Span::styled(
            format!("↑ {} more below · PgDn", pane.scroll),
            Style::default().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    // Bottom-aligned: newest line last.
    let pad = height.saturating_sub(rows.len());
    let mut all = vec![TextLine::default(); pad];
    all.extend(rows);
    frame.render_widget(Paragraph::new(all), area);
}

fn draw_list_view(app: &App, frame: &mut Frame, area: Rect) {
    let view = app.view;
    let [list_area, hint_area, log_area] = Layout::vertical([
        Constraint::Percentage(65),
        Constraint::Length(1),
        Constraint::Min(2),
    ])
    .areas(area);
    let items = list_items(app, view);
    let focused = app.focus == Focus::List;
    let title = format!(
        " {} {}",
        view.title(),
        if focused {
            "(↑↓ select · Esc to type)"
        } else {
            "(Esc to select)"
        }
    );
    let block = Block::default()
        .borders(Borders::BOTTOM)
        .title(title)
        .border_style(if focused {
            Style::default().fg(Color::Cyan)
        } else {
            Style::default().fg(Color::DarkGray)
        });
    if items.is_empty() {
        let empty = match view {
            View::Announcements => {
                "No announcements. Press Esc then n, or type /announce [#topic] TEXT."
            }
            View::Polls => "No polls. Press Esc then n, or type /vote meta ID title=.. options=a,b",
            View::Queues => "No queues. Press Esc then n, or type /queue create ID title=..",
            View::LostFound => "Nothing lost or found. /lost TEXT or /found TEXT [where=..]",
            View::Requests => "No requests. /request what=.. [where=..] [urgency=urgent]",
            _ => "Nothing here yet.",
        };
        frame.render_widget(
            Paragraph::new(empty)
                .block(block)
                .style(Style::default().fg(Color::DarkGray))
                .wrap(Wrap { trim: true }),
            list_area,
        );
    } else {
        let mut state = ListState::default().with_selected(app.selection(view));
        let list = List::new(items).block(block).highlight_style(if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        });
        frame.render_stateful_widget(list, list_area, &mut state);
    }
    frame.render_widget(
        Paragraph::new(App::list_hint(view)).style(Style::default().fg(Color::DarkGray)),
        hint_area,
    );
    draw_pane(app, frame, log_area, view);
}

fn list_items(app: &App, view: View) -> Vec<ListItem<'static>> {
    let l = &app.listings;
    let name = |n: &NodeId| {
        if *n == app.me {
            "you".to_string()
        } else {
            app.names.show(n)
        }
    };
    match view {
        View::Announcements => l
            .announcements
            .iter()
            .map(|e| {
                let a = &e.announcement;
                ListItem::new(TextLine::from(vec![
                    Span::styled(
                        if a.pinned { "[pinned] " } else { "" }.to_string(),
                        Style::default()
                            .fg(Color::Yellow)
                            .add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(
                        format!("{} ", e.short),
                        Style::default().fg(Color::DarkGray),
                    ),
                    Span::styled(format!("#{} ", a.topic), Style::default().fg(Color::Cyan)),
                    Span::styled(name(&a.author), Style::default().fg(nick_colour(&a.author))),
                    Span::raw(format!(": {}", present::one_line(&a.text))),
                ]))
            })
            .collect(),
        View::Polls => l
            .polls
            .iter()
            .map(|p| {
                let tally = p.tally();
                let closed = p.is_closed_at(app.now_ms);
                let when = match (p.closed.as_ref(), p.closes_at_ms) {
                    (Some(_), _) => "closed".to_string(),
                    (None, Some(t)) if closed => format!("closed at {}", present::clock(t)),
                    (None, Some(t)) => format!(
                        "closes {} (in {})",
                        present::clock(t),
                        present::span(t.saturating_sub(app.now_ms))
                    ),
                    (None, None) => "open".to_string(),
                };
                let mut lines = vec![TextLine::from(vec![
                    Span::styled(
                        format!("{} ", p.id),
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(format!("\"{}\" ", present::one_line(&p.title))),
                    Span::styled(
                        format!(
                            "· {} vote(s) · {when} · by {}",
                            tally.voters,
                            name(&p.creator)
                        ),
                        Style::default().fg(Color::DarkGray),
                    ),
                ])];
                let mine = p.vote_of(&app.me);
                let most = tally
                    .counts
                    .iter()
                    .map(|c| c.votes)
                    .max()
                    .unwrap_or(0)
                    .max(1);
                for (i, c) in tally.counts.iter().enumerate() {
                    let bar = "█".repeat(c.votes * 12 / most);
                    let tick = if mine == Some(c.option.as_str()) {
                        " ✓ yours"
                    } else {
                        ""
                    };
                    lines.push(TextLine::from(vec![
                        Span::raw(format!(
                            "   {} {:<12} ",
                            i + 1,
                            present::one_line(&c.option)
                        )),
                        Span::styled(bar, Style::default().fg(Color::Green)),
                        Span::raw(format!(" {}{tick}", c.votes)),
                    ]));
                }
                ListItem::new(Text::from(lines))
            })
            .collect(),
        View::Queues => l
            .queues
            .iter()
            .map(|q| {
                let mut lines = vec![TextLine::from(vec![
                    Span::styled(
                        format!("{} ", q.id),
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(
                        q.title
                            .as_deref()
                            .map(|t| format!("\"{}\" ", present::one_line(t)))
                            .unwrap_or_default(),
                    ),
                    Span::styled(
                        format!(
                            "· {} waiting · served by {}{}",
                            q.waiting.len(),
                            name(&q.owner),
                            q.now_serving()
                                .map(|s| format!(
                                    " · last served {}",
                                    present::one_line(&s.entry.label)
                                ))
                                .unwrap_or_default()
                        ),
                        Style::default().fg(Color::DarkGray),
                    ),
                ])];
                for (i, e) in q.waiting.iter().enumerate() {
                    let me = e.node == app.me;
                    let mut spans = vec![Span::raw(format!(
                        "   {}. {} (party {})",
                        i + 1,
                        present::one_line(&e.label),
                        e.party
                    ))];
                    if me && i == 0 {
                        spans.push(Span::styled(
                            "  ◀ you're next",
                            Style::default()
                                .fg(Color::Black)
                                .bg(Color::Yellow)
                                .add_modifier(Modifier::BOLD),
                        ));
                    } else if me {
                        spans.push(Span::styled("  ◀ you", Style::default().fg(Color::Yellow)));
                    }
                    lines.push(TextLine::from(spans));
                }
                ListItem::new(Text::from(lines))
            })
            .collect(),
        View::LostFound => l
            .lostfound
            .iter()
            .map(|e| {
                let it = &e.item;
                let kind = match it.kind {
                    crate::applets::lostfound::ItemKind::Lost => "LOST ",
                    crate::applets::lostfound::ItemKind::Found => "FOUND",
                };
                let state = match (it.resolved_ms, it.claims.len()) {
                    (Some(_), _) => "resolved".to_string(),
                    (None, 0) => "open".to_string(),
                    (None, n) => format!("{n} claim(s)"),
                };
                ListItem::new(TextLine::from(vec![
                    Span::styled(
                        format!("{} ", e.short),
                        Style::default().fg(Color::DarkGray),
                    ),
                    Span::styled(format!("{kind} "), Style::default().fg(Color::Cyan)),
                    Span::raw(present::one_line(&it.description)),
                    Span::styled(
                        format!(
                            "{}{} · by {} · {state}",
                            it.place
                                .as_deref()
                                .map(|p| format!(" @ {}", present::one_line(p)))
                                .unwrap_or_default(),
                            it.contact
                                .as_deref()
                                .map(|c| format!(" · contact {}", present::one_line(c)))
                                .unwrap_or_default(),
                            name(&it.poster)
                        ),
                        Style::default().fg(Color::DarkGray),
                    ),
                ]))
            })
            .collect(),
        View::Requests => l
            .requests
            .iter()
            .map(|(short, r)| {
                use crate::applets::request::Status as S;
                let state = match (r.status, r.claimer, r.closed_by) {
                    (S::Open, ..) => "open".to_string(),
                    (S::Claimed, Some(c), _) => format!("claimed by {}", name(&c)),
                    (S::Fulfilled, _, Some(by)) => format!("fulfilled by {}", name(&by)),
                    (S::Cancelled, _, _) => "cancelled".to_string(),
                    (s, ..) => s.as_str().to_string(),
                };
                let urgency = r.urgency.as_str();
                ListItem::new(TextLine::from(vec![
                    Span::styled(format!("{short} "), Style::default().fg(Color::DarkGray)),
                    Span::styled(
                        format!("[{urgency}] "),
                        if urgency == "urgent" {
                            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
                        } else {
                            Style::default().fg(Color::Cyan)
                        },
                    ),
                    Span::raw(present::one_line(&r.what)),
                    Span::styled(
                        format!(
                            "{} · by {} · {state}",
                            r.place
                                .as_deref()
                                .map(|p| format!(" @ {}", present::one_line(p)))
                                .unwrap_or_default(),
                            name(&r.requester)
                        ),
                        Style::default().fg(Color::DarkGray),
                    ),
                ]))
            })
            .collect(),
        View::Roster => {
            let roster = l.roster.as_ref();
            app.roster_rows()
                .into_iter()
                .map(|n| {
                    let status = if n == app.me {
                        Status::Alive
                    } else {
                        app.members.get(&n).map_or(Status::Left, |m| m.status)
                    };
                    let role = match roster {
                        Some(r) if r.revoked.iter().any(|v| v.entry.node == n) => "revoked",
                        Some(r) if r.root == Some(n) => "root",
                        Some(r) if r.organisers.iter().any(|e| e.node == n) => "organiser",
                        Some(r) if r.kiosks.iter().any(|e| e.node == n) => "kiosk",
                        Some(r) if r.members.iter().any(|e| e.node == n) => "member",
                        Some(r) if r.open => "open room",
                        Some(_) => "not invited",
                        None => "",
                    };
                    ListItem::new(TextLine::from(vec![
                        Span::styled("● ", Style::default().fg(status_colour(status))),
                        Span::styled(
                            format!("{:<16}", name(&n)),
                            Style::default().fg(nick_colour(&n)),
                        ),
                        Span::raw(format!(" {:<12}", status_word(status))),
                        Span::styled(
                            format!("{} {role}", n.fmt_short()),
                            Style::default().fg(Color::DarkGray),
                        ),
                    ]))
                })
                .collect()
        }
        View::Chat | View::Dms => Vec::new(),
    }
}

fn draw_members(app: &App, frame: &mut Frame, area: Rect) {
    let mut rows: Vec<(u8, String, NodeId, Status)> = app
        .members
        .values()
        .filter(|m| m.node != app.me)
        .map(|m| {
            let rank = match m.status {
                Status::Alive => 0,
                Status::Suspect => 1,
                Status::Dead => 2,
                Status::Left => 3,
            };
            (rank, app.names.show(&m.node), m.node, m.status)
        })
        .collect();
    rows.sort();
    let mut lines = vec![TextLine::from(Span::styled(
        format!("members ({} here)", app.live_members() + 1),
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    lines.push(TextLine::from(vec![
        Span::styled("● ", Style::default().fg(Color::Green)),
        Span::styled(
            format!("{} (you)", app.names.show(&app.me)),
            Style::default().fg(nick_colour(&app.me)),
        ),
    ]));
    for (_, name, node, status) in rows {
        lines.push(TextLine::from(vec![
            Span::styled("● ", Style::default().fg(status_colour(status))),
            Span::styled(name, Style::default().fg(nick_colour(&node))),
            Span::styled(
                if status == Status::Alive {
                    String::new()
                } else {
                    format!(" {}", status_word(status))
                },
                Style::default().fg(Color::DarkGray),
            ),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::LEFT)),
        area,
    );
}

fn draw_input(app: &App, frame: &mut Frame, area: Rect) {
    let [rule, line] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let hint = match app.view {
        View::Dms => " Enter answers the last conversation · /dm NICK TEXT",
        _ => "",
    };
    frame.render_widget(
        Paragraph::new(format!("{:─<w$}", hint, w = rule.width as usize))
            .style(Style::default().fg(Color::DarkGray)),
        rule,
    );
    let [prompt, text] =
        Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(line);
    frame.render_widget(Paragraph::new("> "), prompt);
    frame.render_widget(&app.input, text);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let live = app.live_members();
    let agree = app.agreeing();
    let log = if live == 0 {
        "log: only yours".to_string()
    } else if agree == live {
        format!("log agrees with all {live}")
    } else {
        format!("log agrees with {agree}/{live}")
    };
    // The applets' notice badges ("YOU'RE NEXT in help").
    let heading: String = app.badges.iter().map(|b| format!(" · {b}")).collect();
    if app.links == 0 {
        let text = match app.other_room {
            Some((from, _)) => format!(
                " ⚠ no links, but {} sends beacons of another room: is the room code right?{heading}",
                from.ip()
            ),
            None => format!(
                " ⚠ no links: nobody from this room found yet · Ctrl-E shows the join link{heading} · F1 help"
            ),
        };
        frame.render_widget(
            Paragraph::new(text).style(Style::default().fg(Color::Black).bg(Color::Yellow)),
            area,
        );
        return;
    }
    let text = format!(
        " #{} · {} link(s) · {} here · {log}{heading} · F1 help",
        &app.room_tag[..app.room_tag.len().min(8)],
        app.links,
        live + 1
    );
    frame.render_widget(
        Paragraph::new(text).style(Style::default().fg(Color::White).bg(Color::Blue)),
        area,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Help text: keys, then the commands.
pub const HELP_KEYS: &str = "\
Enter        send the line (a paste never sends by itself)
Tab          complete a nick or a /command
Up / Down    earlier lines you typed (in lists: select)
PgUp / PgDn  scroll the messages
Alt+1..8     switch view (Ctrl-N / Ctrl-P: next / previous)
Esc          in a list view: select items / back to typing
Ctrl-E       your identity, the join link and its QR code (/join)
/whois NICK  a member's details (invite, revoke, DM)
F1           this help            Ctrl-C  leave the room
Readline keys edit the line: Ctrl-A/E start/end, Ctrl-K/U cut, Ctrl-W word.";

fn draw_popup(app: &App, frame: &mut Frame, popup: &Popup) {
    let area = frame.area();
    let (title, lines): (String, Vec<TextLine<'static>>) = match popup {
        Popup::Help => {
            let mut lines: Vec<TextLine> = HELP_KEYS
                .lines()
                .map(|l| TextLine::from(l.to_string()))
                .collect();
            lines.push(TextLine::default());
            lines.push(TextLine::from(Span::styled(
                "Commands (type them below):",
                Style::default().add_modifier(Modifier::BOLD),
            )));
            let applet_help = crate::cli::applets::help();
            for l in crate::cli::command::HELP.lines().chain(applet_help.lines()) {
                lines.push(TextLine::from(l.to_string()));
            }
            (" help · ↑↓ PgUp PgDn scroll · Esc closes ".into(), lines)
        }
        Popup::Identity => {
            let text = vec![
                TextLine::from(format!(
                    "you: {} ({})",
                    app.names.show(&app.me),
                    app.me.fmt_short()
                )),
                TextLine::from(format!("room code: {}", app.room_code)),
                TextLine::from(format!("history kept in: {}", app.history_place)),
                TextLine::default(),
                TextLine::from("Others join with this link (or the code):"),
                TextLine::from(Span::styled(
                    app.join_uri.clone(),
                    Style::default().fg(Color::Cyan),
                )),
                TextLine::default(),
                TextLine::from(format!("your id: {}", app.me)),
            ];
            draw_identity(frame, area, text, app.qr.as_deref());
            return;
        }
        Popup::Member(node) => {
            let m = app.members.get(node);
            let status = if *node == app.me {
                "here (you)".to_string()
            } else {
                m.map_or("not seen".to_string(), |m| {
                    status_word(m.status).to_string()
                })
            };
            let mut lines = vec![
                TextLine::from(Span::styled(
                    app.names.show(node),
                    Style::default()
                        .fg(nick_colour(node))
                        .add_modifier(Modifier::BOLD),
                )),
                TextLine::from(format!("id: {node}")),
                TextLine::from(format!("status: {status}")),
            ];
            if let Some(m) = m {
                if let Some(s) = &m.state {
                    let agrees = app.my_mark.as_ref() == Some(s);
                    lines.push(TextLine::from(format!(
                        "log: {} ops, state {}{}",
                        s.ops,
                        s.hash,
                        if agrees { " (same as yours)" } else { "" }
                    )));
                }
                if !m.addrs.is_empty() {
                    lines.push(TextLine::from(format!("addresses: {}", m.addrs.join(", "))));
                }
            }
            lines.push(TextLine::default());
            lines.push(TextLine::from(
                "d direct message · i invite · r revoke · k make kiosk · Esc close",
            ));
            (" member ".into(), lines)
        }
        Popup::Confirm { question, .. } => (
            " are you sure? ".into(),
            vec![
                TextLine::from(question.clone()),
                TextLine::default(),
                TextLine::from("y yes · n no"),
            ],
        ),
    };
    let width = (lines.iter().map(|l| l.width()).max().unwrap_or(20) as u16 + 4)
        .max(title.chars().count() as u16 + 4)
        .min(area.width);
    let scroll = if matches!(popup, Popup::Help) {
        app.popup_scroll
    } else {
        0
    };
    let paragraph = Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .wrap(Wrap { trim: false });
    let height = paragraph.line_count(width) as u16;
    let rect = centered(area, width, height);
    // Scrolled no further than the last page.
    let scroll = scroll.min(height.saturating_sub(rect.height));
    frame.render_widget(Clear, rect);
    frame.render_widget(paragraph.scroll((scroll, 0)), rect);
}

/// Rows `lines` take when wrapped (at word boundaries, as drawn) to
/// `width` columns.
fn wrapped_height(lines: &[TextLine<'static>], width: u16) -> u16 {
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width) as u16
}

/// The identity popup: the text, and the QR code beside it (or below it)
/// when the terminal has room for it.
fn draw_identity(
    frame: &mut Frame,
    area: Rect,
    text: Vec<TextLine<'static>>,
    qr: Option<&[String]>,
) {
    let title = " identity and join link · Esc closes ";
    let qr_rows: &[String] = qr.unwrap_or_default();
    let qr_width = qr_rows.iter().map(|r| r.width()).max().unwrap_or(0) as u16;
    let qr_height = qr_rows.len() as u16;
    // Beside the QR code, the text takes what is left (at least 40
    // columns); alone, up to 56.
    let beside = area.width.saturating_sub(qr_width + 5).min(56);
    let side_by_side = qr_width > 0 && beside >= 40 && area.height >= qr_height + 2;
    let text_width = if side_by_side { beside } else { 56 };
    let width = if side_by_side {
        text_width + qr_width + 3
    } else {
        area.width
            .min(text_width.max(qr_width) + 2)
            .max(text_width.min(area.width))
    };
    let text_height = wrapped_height(
        &text,
        if side_by_side {
            text_width
        } else {
            width.saturating_sub(2)
        },
    );
    let below = !side_by_side
        && qr_width > 0
        && qr_width + 2 <= width
        && text_height + qr_height + 2 <= area.height;
    let height = if side_by_side {
        text_height.max(qr_height)
    } else if below {
        text_height + qr_height
    } else {
        text_height + 1
    } + 2;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(title);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let qr_text = || {
        Text::from(
            qr_rows
                .iter()
                .map(|r| TextLine::from(r.to_string()))
                .collect::<Vec<_>>(),
        )
    };
    if side_by_side {
        let [left, _, right] = Layout::horizontal([
            Constraint::Length(text_width),
            Constraint::Length(1),
            Constraint::Length(qr_width),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), left);
        frame.render_widget(Paragraph::new(qr_text()), right);
    } else if below {
        let [top, bottom] =
            Layout::vertical([Constraint::Length(text_height), Constraint::Min(0)]).areas(inner);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), top);
        frame.render_widget(Paragraph::new(qr_text()), bottom);
    } else {
        let mut text = text;
        if qr_width > 0 {
            text.push(TextLine::from(Span::styled(
                "(a larger terminal shows the QR code)",
                Style::default().fg(Color::DarkGray),
            )));
        }
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
    }
}
