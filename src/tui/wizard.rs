//! The first-run wizard: start a new room or join one, then pick a nick.
//! Pure, like the app: keys in, a [`Step`] out, drawn by [`draw`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::config::check_nick;
use crate::crypto::room::RoomCode;
use crate::join::JoinUri;

/// Where the wizard is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Start a new room or join one.
    Choose {
        /// The highlighted option: 0 starts a new room, 1 joins one.
        choice: usize,
    },
    /// Paste a room code or a join link.
    Code {
        /// What was typed or pasted so far.
        text: String,
        /// Why the last Enter refused it; cleared by the next character
        /// typed.
        error: Option<String>,
    },
    /// Pick a nick.
    Nick {
        /// The nick typed so far (starts as the offered one).
        text: String,
        /// Why the last Enter refused it; cleared by the next character
        /// typed.
        error: Option<String>,
    },
}

/// What the person chose.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Choice {
    /// A typed room code (`None`: a new room, or the link's).
    pub room: Option<String>,
    /// A pasted join link (one that carries a room code).
    pub join: Option<String>,
    /// The nick picked, checked; always `Some` in [`Step::Done`].
    pub nick: Option<String>,
}

/// The wizard's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wizard {
    /// The screen shown.
    pub stage: Stage,
    /// What was chosen so far (Esc on the nick screen forgets it).
    pub choice: Choice,
    /// A nick to offer (from the settings).
    pub nick_default: Option<String>,
}

/// What a key did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep reading keys (and draw again).
    Continue,
    /// The person is done: start or join the room as chosen.
    Done(Choice),
    /// The person quit (Ctrl-C, or Esc on the first screen): start nothing.
    Cancel,
}

impl Wizard {
    /// A wizard on its first screen; `nick_default` is the nick the nick
    /// screen offers.
    pub fn new(nick_default: Option<String>) -> Wizard {
        Wizard {
            stage: Stage::Choose { choice: 0 },
            choice: Choice::default(),
            nick_default,
        }
    }

    /// Pasted text goes into the field being typed.
    pub fn paste(&mut self, pasted: &str) {
        let flat: String = pasted.chars().filter(|c| !c.is_control()).collect();
        match &mut self.stage {
            Stage::Code { text, .. } | Stage::Nick { text, .. } => text.push_str(flat.trim()),
            Stage::Choose { .. } => {}
        }
    }

    /// Handles one key. On the first screen Up/Down/Tab, `1`/`n` and
    /// `2`/`j` choose; Enter moves on once the screen's field checks out
    /// (else the field shows why); Esc goes back to the first screen (and
    /// forgets the choice) or, there, cancels; Ctrl-C cancels anywhere.
    pub fn on_key(&mut self, key: KeyEvent) -> Step {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Step::Cancel;
        }
        match &mut self.stage {
            Stage::Choose { choice } => match key.code {
                KeyCode::Up | KeyCode::Down | KeyCode::Tab => *choice = 1 - *choice,
                KeyCode::Char('1') | KeyCode::Char('n') => *choice = 0,
                KeyCode::Char('2') | KeyCode::Char('j') => *choice = 1,
                KeyCode::Esc => return Step::Cancel,
                KeyCode::Enter if *choice == 0 => self.ask_nick(),
                KeyCode::Enter => {
                    self.stage = Stage::Code {
                        text: String::new(),
                        error: None,
                    }
                }
                _ => {}
            },
            Stage::Code { text, error } => match key.code {
                KeyCode::Enter => {
                    let typed = text.trim().to_string();
                    if typed.starts_with("flashmesh://") {
                        match JoinUri::parse(&typed) {
                            Ok(uri) if uri.room.is_none() => *error = Some(
                                "this link has no room code: ask for the code and paste it instead"
                                    .into(),
                            ),
                            Ok(_) => {
                                self.choice.join = Some(typed);
                                self.ask_nick();
                            }
                            Err(e) => *error = Some(format!("not a join link: {e}")),
                        }
                    } else {
                        match RoomCode::parse(&typed) {
                            Ok(_) => {
                                self.choice.room = Some(typed);
                                self.ask_nick();
                            }
                            Err(e) => *error = Some(e.to_string()),
                        }
                    }
                }
                KeyCode::Esc => self.stage = Stage::Choose { choice: 1 },
                _ => edit(text, error, key),
            },
            Stage::Nick { text, error } => match key.code {
                KeyCode::Enter => match check_nick(text) {
                    Ok(nick) => {
                        self.choice.nick = Some(nick);
                        return Step::Done(self.choice.clone());
                    }
                    Err(e) => *error = Some(e.to_string()),
                },
                KeyCode::Esc => {
                    self.choice = Choice::default();
                    self.stage = Stage::Choose { choice: 0 };
                }
                _ => edit(text, error, key),
            },
        }
        Step::Continue
    }

    fn ask_nick(&mut self) {
        self.stage = Stage::Nick {
            text: self.nick_default.clone().unwrap_or_default(),
            error: None,
        };
    }
}

/// A one-line field: characters, Backspace, Ctrl-U.
fn edit(text: &mut String, error: &mut Option<String>, key: KeyEvent) {
    match key.code {
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            *error = None;
            text.push(c);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        _ => {}
    }
}

/// Draws the wizard.
pub fn draw(w: &Wizard, frame: &mut Frame) {
    let area = frame.area();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::from(Span::styled("Welcome to flashmesh", bold)),
        Line::from("A chat and help desk for this event: no accounts, no servers."),
        Line::default(),
    ];
    let field = |label: &str, text: &str, error: &Option<String>| {
        let mut l = vec![
            Line::from(label.to_string()),
            Line::from(vec![
                Span::raw("> "),
                Span::styled(text.to_string(), Style::default().fg(Color::Cyan)),
                Span::styled("█", Style::default().fg(Color::Gray)),
            ]),
        ];
        if let Some(e) = error {
            l.push(Line::from(Span::styled(
                format!("! {e}"),
                Style::default().fg(Color::Red),
            )));
        }
        l
    };
    match &w.stage {
        Stage::Choose { choice } => {
            let opt = |i: usize, text: &str| {
                let style = if *choice == i {
                    Style::default().add_modifier(Modifier::REVERSED)
                } else {
                    Style::default()
                };
                Line::from(Span::styled(format!(" {} {text} ", i + 1), style))
            };
            lines.push(opt(0, "Start a new room (a strong code is made for you)"));
            lines.push(opt(1, "Join a room (paste its code or flashmesh:// link)"));
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "↑↓ choose · Enter continue · Ctrl-C quit",
                Style::default().fg(Color::DarkGray),
            )));
        }
        Stage::Code { text, error } => {
            lines.extend(field("Room code or join link:", text, error));
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "Enter continue · Esc back · Ctrl-U clear",
                Style::default().fg(Color::DarkGray),
            )));
        }
        Stage::Nick { text, error } => {
            lines.extend(field(
                "Your nickname (what others see, 1-32 characters):",
                text,
                error,
            ));
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "Enter join the room · Esc back",
                Style::default().fg(Color::DarkGray),
            )));
        }
    }
    let width = 66.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(" flashmesh · first start "))
            .wrap(Wrap { trim: false }),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(w: &mut Wizard, text: &str) {
        for c in text.chars() {
            assert_eq!(w.on_key(key(KeyCode::Char(c))), Step::Continue);
        }
    }

    #[test]
    fn starting_a_room_asks_only_for_a_nick() {
        let mut w = Wizard::new(None);
        assert_eq!(w.on_key(key(KeyCode::Enter)), Step::Continue);
        typed(&mut w, "ada");
        assert_eq!(
            w.on_key(key(KeyCode::Enter)),
            Step::Done(Choice {
                room: None,
                join: None,
                nick: Some("ada".into())
            })
        );
    }

    #[test]
    fn joining_takes_a_code_or_a_link_and_refuses_bad_ones_with_a_reason() {
        let mut w = Wizard::new(Some("bob".into()));
        w.on_key(key(KeyCode::Down));
        w.on_key(key(KeyCode::Enter));
        typed(&mut w, "flashmesh://nonsense");
        w.on_key(key(KeyCode::Enter));
        assert!(
            matches!(&w.stage, Stage::Code { error: Some(_), .. }),
            "{:?}",
            w.stage
        );
        w.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        w.paste("amber-otter-lamp-mesa-quilt-river-4821\n");
        w.on_key(key(KeyCode::Enter));
        assert_eq!(
            w.on_key(key(KeyCode::Enter)),
            Step::Done(Choice {
                room: Some("amber-otter-lamp-mesa-quilt-river-4821".into()),
                join: None,
                nick: Some("bob".into())
            }),
            "the remembered nick is offered"
        );
    }

    #[test]
    fn an_empty_nick_is_refused_and_ctrl_c_cancels() {
        let mut w = Wizard::new(None);
        w.on_key(key(KeyCode::Enter));
        w.on_key(key(KeyCode::Enter));
        assert!(matches!(&w.stage, Stage::Nick { error: Some(_), .. }));
        assert_eq!(
            w.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Step::Cancel
        );
    }
}
