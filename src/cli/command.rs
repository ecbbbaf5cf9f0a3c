//! The line client's input: one stdin line becomes one [`Command`].
//!
//! A pure function, so every command, escape and error is tested here and
//! the run loop only dispatches. Plain lines are chat; lines starting with
//! `/` are commands (`//` escapes a chat line that starts with `/`). With
//! `--json`, every non-blank line must be a JSON command object, for
//! scripts: `{"cmd":"chat","text":"hi"}`, `{"cmd":"dm","to":"ada","text":"hi"}`,
//! `{"cmd":"peers","verbose":true}`, `{"cmd":"members"}`, `{"cmd":"me"}`,
//! `{"cmd":"nick","name":"ada"}`, `{"cmd":"join"}`, `{"cmd":"help"}`,
//! `{"cmd":"quit"}`, and `{"cmd":"line","text":"/vote list"}` for any line
//! as typed. Anything else (plain text, `/me`, `[1,2]`, `"hi"`, broken
//! JSON) is refused and nothing is sent, so a script never chats a line it
//! meant as a command. Missing, unknown and duplicate fields are errors too
//! (`{"cmd":"chat","text":"a","text":"b"}` names `"text"`), so a typo in a
//! script fails loudly instead of doing something else.

use serde_json::{Map, Value};

/// Longest chat or direct-message text, in bytes (UTF-8).
pub const TEXT_BYTES_MAX: usize = 4096;
/// Longest input line, in bytes, before any parsing (a JSON line escapes
/// text up to 6 bytes per character, plus the object around it).
pub const LINE_BYTES_MAX: usize = 6 * TEXT_BYTES_MAX + 1024;
pub use crate::config::{NICK_CHARS_MAX, NickError, check_nick};

/// Ops `/history` shows without a count.
pub const HISTORY_DEFAULT: usize = 20;
/// Most ops `/history` shows.
pub const HISTORY_MAX: usize = 1000;

/// The `/help` text: one line per command.
pub const HELP: &str = "\
TEXT               send TEXT to the room (start it with // to send a line that starts with /)
/peers [verbose]   list the nodes linked to this one
/members           list the room's members and their status
/me                show this node's id, nick and join link
/nick NAME         set your nickname (1 to 32 characters)
/dm NICK|ID TEXT   send TEXT privately to one member (nick, short id or full id)
/join              show the join link and its QR code
/state             show the op-log's state hash and counts
/snapshot          save a snapshot now (restarts replay only newer ops)
/history [N]       show the last N chat lines and messages (default 20)
/help              show this list
/quit              leave the room and exit";

/// What a line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send text to the room.
    Chat(String),
    /// List linked peers (`verbose`: with addresses and directions).
    Peers {
        /// Also show each link's address and direction.
        verbose: bool,
    },
    /// List the room's members.
    Members,
    /// Show this node's id, nick and join link.
    Me,
    /// Set the nickname (already checked by [`check_nick`]).
    Nick(String),
    /// Send text privately; `to` is a nick, a short id or a full id, for the
    /// caller to resolve.
    Dm {
        /// The recipient as typed: a nick, a short id or a full id.
        to: String,
        /// The message, checked like chat text.
        text: String,
    },
    /// Show the join link and its QR code.
    Join,
    /// Show the op-log's state (state hash, op and author counts).
    State,
    /// Write a snapshot of the room's state now.
    Snapshot,
    /// Show the last N ops of the room (chat and direct messages).
    History(usize),
    /// An applet command (announcements, polls, queues, lost+found,
    /// requests, roster).
    Applet(crate::cli::applets::AppletCommand),
    /// Show [`HELP`].
    Help,
    /// Leave and exit.
    Quit,
}

/// Why a line is not a command. Nothing was done; the client shows the
/// message and reads the next line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// `/NAME` is neither a built-in nor an applet command.
    #[error("unknown command /{name}; type /help to see the commands")]
    Unknown {
        /// The command word without its `/` (empty for a lone `/`).
        name: String,
    },
    /// A known command with missing, extra or out-of-range arguments.
    #[error("usage: {usage}")]
    Usage {
        /// The command's usage line, as in [`HELP`].
        usage: &'static str,
    },
    /// `/nick NAME` with a name [`check_nick`] refuses.
    #[error("bad nickname: {0}")]
    Nick(#[from] NickError),
    /// Chat or direct-message text over [`TEXT_BYTES_MAX`].
    #[error("the text is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Its length in UTF-8 bytes.
        len: usize,
        /// [`TEXT_BYTES_MAX`].
        max: usize,
    },
    /// The input line is over [`LINE_BYTES_MAX`]; refused before parsing.
    #[error("the line is {len} bytes long; at most {max} are allowed")]
    LineTooLong {
        /// Its length in bytes.
        len: usize,
        /// [`LINE_BYTES_MAX`].
        max: usize,
    },
    /// Chat or direct-message text that is empty or only white space.
    #[error("the message is empty")]
    EmptyText,
    /// Chat or direct-message text holding a control character other than
    /// tab and newline.
    #[error("the text has a control character (only tab and newline are allowed)")]
    ControlCharacter,
    /// With `--json`, an object that does not parse or is not a valid
    /// command (syntax error, unknown `cmd`, a missing, unknown, duplicate or
    /// mistyped field); the reason.
    #[error("bad JSON command: {0}")]
    Json(String),
    /// With `--json`, a line that is not a JSON object.
    #[error(
        "with --json every line is a JSON command object, e.g. {{\"cmd\":\"chat\",\"text\":\"hi\"}}"
    )]
    NotJsonObject,
    /// An applet command's arguments are wrong (the reason says how).
    #[error("{0}")]
    Applet(String),
}

/// Parses one input line (its line ending included or not). `Ok(None)` for
/// a blank line. With `json`, every other line must be a JSON command
/// object ([`CommandError::NotJsonObject`] otherwise).
pub fn parse_line(line: &str, json: bool) -> Result<Option<Command>, CommandError> {
    if line.len() > LINE_BYTES_MAX {
        return Err(CommandError::LineTooLong {
            len: line.len(),
            max: LINE_BYTES_MAX,
        });
    }
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if json {
        return parse_json(line).map(Some);
    }
    if line.starts_with("//") {
        return Ok(Some(Command::Chat(check_text(&line[1..])?)));
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Command::Chat(check_text(line)?)));
    };
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    let no_args = |command: Command, usage: &'static str| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::Usage { usage })
        }
    };
    let command = match name.to_ascii_lowercase().as_str() {
        "peers" => match args.to_ascii_lowercase().as_str() {
            "" => Command::Peers { verbose: false },
            "verbose" => Command::Peers { verbose: true },
            _ => {
                return Err(CommandError::Usage {
                    usage: "/peers [verbose]",
                });
            }
        },
        "members" => no_args(Command::Members, "/members")?,
        "me" => no_args(Command::Me, "/me")?,
        "join" => no_args(Command::Join, "/join")?,
        "state" => no_args(Command::State, "/state")?,
        "snapshot" => no_args(Command::Snapshot, "/snapshot")?,
        "history" => match args {
            "" => Command::History(HISTORY_DEFAULT),
            n => match n.parse::<usize>() {
                Ok(n) if (1..=HISTORY_MAX).contains(&n) => Command::History(n),
                _ => {
                    return Err(CommandError::Usage {
                        usage: "/history [N] (N from 1 to 1000)",
                    });
                }
            },
        },
        "help" => no_args(Command::Help, "/help")?,
        "quit" => no_args(Command::Quit, "/quit")?,
        "nick" if args.is_empty() => {
            return Err(CommandError::Usage {
                usage: "/nick NAME",
            });
        }
        "nick" => Command::Nick(check_nick(args)?),
        "dm" => {
            let usage = CommandError::Usage {
                usage: "/dm NICK|ID TEXT",
            };
            let Some((to, text)) = args.split_once(char::is_whitespace) else {
                return Err(usage);
            };
            Command::Dm {
                to: to.to_string(),
                text: check_text(text.trim())?,
            }
        }
        word => match crate::cli::applets::parse(word, args) {
            Some(Ok(command)) => Command::Applet(command),
            Some(Err(reason)) => return Err(CommandError::Applet(reason)),
            None => {
                return Err(CommandError::Unknown {
                    name: name.to_string(),
                });
            }
        },
    };
    Ok(Some(command))
}

/// Checks chat or direct-message text: not blank, at most
/// [`TEXT_BYTES_MAX`] bytes, no control characters but tab and newline.
fn check_text(text: &str) -> Result<String, CommandError> {
    if text.trim().is_empty() {
        return Err(CommandError::EmptyText);
    }
    if text.len() > TEXT_BYTES_MAX {
        return Err(CommandError::TooLong {
            len: text.len(),
            max: TEXT_BYTES_MAX,
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return Err(CommandError::ControlCharacter);
    }
    Ok(text.to_string())
}

/// The JSON commands and the fields each may have (besides `cmd`).
const JSON_COMMANDS: &[(&str, &[&str])] = &[
    ("chat", &["text"]),
    ("dm", &["to", "text"]),
    ("peers", &["verbose"]),
    ("members", &[]),
    ("me", &[]),
    ("nick", &["name"]),
    ("join", &[]),
    ("state", &[]),
    ("snapshot", &[]),
    ("history", &["n"]),
    ("help", &[]),
    ("quit", &[]),
    // Any line as typed, e.g. `{"cmd":"line","text":"/vote lunch pizza"}`:
    // every applet command is reachable from JSON this way.
    ("line", &["text"]),
];

/// A JSON object whose keys are all different. serde_json's own `Map`
/// keeps the last of two equal keys without a word; this one refuses them.
struct UniqueKeys(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON command object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate field {key:?}"
                        )));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(UniqueKeys(map))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn parse_json(line: &str) -> Result<Command, CommandError> {
    let json = |msg: String| CommandError::Json(msg);
    // Only an object is a command: refuse anything else before parsing, so
    // a plain line gets the rule, not a JSON syntax error.
    if !line.starts_with('{') {
        return Err(CommandError::NotJsonObject);
    }
    let UniqueKeys(obj) = serde_json::from_str(line).map_err(|e| json(e.to_string()))?;
    let cmd = match obj.get("cmd") {
        Some(Value::String(cmd)) => cmd.as_str(),
        Some(_) => return Err(json("\"cmd\" must be a string".into())),
        None => return Err(json("missing field \"cmd\"".into())),
    };
    let Some((_, fields)) = JSON_COMMANDS.iter().find(|(name, _)| *name == cmd) else {
        let known: Vec<&str> = JSON_COMMANDS.iter().map(|(name, _)| *name).collect();
        return Err(json(format!(
            "unknown \"cmd\" {cmd:?}; known: {}",
            known.join(", ")
        )));
    };
    if let Some(key) = obj
        .keys()
        .find(|k| k.as_str() != "cmd" && !fields.contains(&k.as_str()))
    {
        return Err(json(format!("{cmd:?} has no field {key:?}")));
    }
    Ok(match cmd {
        "chat" => Command::Chat(check_text(string_field(&obj, cmd, "text")?)?),
        "dm" => {
            let to = string_field(&obj, cmd, "to")?.trim();
            if to.is_empty() {
                return Err(json("\"to\" is empty".into()));
            }
            Command::Dm {
                to: to.to_string(),
                text: check_text(string_field(&obj, cmd, "text")?)?,
            }
        }
        "peers" => Command::Peers {
            verbose: match obj.get("verbose") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(json("\"verbose\" must be true or false".into())),
            },
        },
        "members" => Command::Members,
        "me" => Command::Me,
        "nick" => Command::Nick(check_nick(string_field(&obj, cmd, "name")?)?),
        "join" => Command::Join,
        "state" => Command::State,
        "snapshot" => Command::Snapshot,
        "history" => Command::History(match obj.get("n") {
            None => HISTORY_DEFAULT,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=HISTORY_MAX).contains(n))
                .ok_or_else(|| json("\"n\" must be 1 to 1000".into()))?,
            Some(_) => return Err(json("\"n\" must be a number".into())),
        }),
        "help" => Command::Help,
        "quit" => Command::Quit,
        "line" => {
            let text = string_field(&obj, cmd, "text")?;
            parse_line(text, false)?.ok_or_else(|| json("\"text\" is empty".into()))?
        }
        other => return Err(json(format!("{other:?} is known but not handled"))),
    })
}

/// A required string field of a JSON command.
fn string_field<'a>(
    obj: &'a Map<String, Value>,
    cmd: &str,
    field: &str,
) -> Result<&'a str, CommandError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CommandError::Json(format!(
            "{cmd:?} field {field:?} must be a string"
        ))),
        None => Err(CommandError::Json(format!(
            "{cmd:?} needs a string field {field:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(line: &str) -> Result<Option<Command>, CommandError> {
        parse_line(line, false)
    }

    fn ok(line: &str) -> Command {
        match plain(line) {
            Ok(Some(c)) => c,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn blank_lines_are_nothing() {
        for line in ["", "   ", "\n", "\r\n", "\t \n"] {
            assert_eq!(plain(line), Ok(None), "{line:?}");
            assert_eq!(parse_line(line, true), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn plain_text_is_chat_trimmed() {
        assert_eq!(ok("  hello room \r\n"), Command::Chat("hello room".into()));
        assert_eq!(ok("café ☕"), Command::Chat("café ☕".into()));
    }

    #[test]
    fn a_double_slash_escapes_a_chat_line_starting_with_a_slash() {
        assert_eq!(ok("//peers"), Command::Chat("/peers".into()));
        assert_eq!(ok("///x"), Command::Chat("//x".into()));
        assert_eq!(ok("//"), Command::Chat("/".into()));
    }

    #[test]
    fn each_command_parses() {
        assert_eq!(ok("/peers"), Command::Peers { verbose: false });
        assert_eq!(ok("/peers verbose"), Command::Peers { verbose: true });
        assert_eq!(ok("/PEERS  Verbose "), Command::Peers { verbose: true });
        assert_eq!(ok("/members"), Command::Members);
        assert_eq!(ok("/me"), Command::Me);
        assert_eq!(
            ok("/nick  Ada Lovelace "),
            Command::Nick("Ada Lovelace".into())
        );
        assert_eq!(
            ok("/dm ada  see you at  noon "),
            Command::Dm {
                to: "ada".into(),
                text: "see you at  noon".into()
            }
        );
        assert_eq!(
            ok("/dm\t1a2b3c4d hi"),
            Command::Dm {
                to: "1a2b3c4d".into(),
                text: "hi".into()
            }
        );
        assert_eq!(ok("/join"), Command::Join);
        assert_eq!(ok("/help"), Command::Help);
        assert_eq!(ok("/quit"), Command::Quit);
    }

    #[test]
    fn an_unknown_command_is_named_and_help_suggested() {
        let err = plain("/frobnicate now").expect_err("unknown");
        assert_eq!(
            err,
            CommandError::Unknown {
                name: "frobnicate".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "unknown command /frobnicate; type /help to see the commands"
        );
        assert_eq!(
            plain("/"),
            Err(CommandError::Unknown {
                name: String::new()
            })
        );
    }

    #[test]
    fn wrong_arguments_give_the_usage() {
        let usage = |u| Err(CommandError::Usage { usage: u });
        assert_eq!(plain("/peers all"), usage("/peers [verbose]"));
        assert_eq!(plain("/members x"), usage("/members"));
        assert_eq!(plain("/quit now"), usage("/quit"));
        assert_eq!(plain("/nick"), usage("/nick NAME"));
        assert_eq!(plain("/nick   "), usage("/nick NAME"));
        assert_eq!(plain("/dm"), usage("/dm NICK|ID TEXT"));
        assert_eq!(plain("/dm ada"), usage("/dm NICK|ID TEXT"));
        assert_eq!(plain("/dm ada   "), usage("/dm NICK|ID TEXT"));
    }

    #[test]
    fn nicknames_are_checked() {
        assert_eq!(check_nick(" ada "), Ok("ada".into()));
        assert_eq!(check_nick(&"é".repeat(NICK_CHARS_MAX)), Ok("é".repeat(32)));
        assert_eq!(
            check_nick(&"x".repeat(NICK_CHARS_MAX + 1)),
            Err(NickError::TooLong {
                chars: 33,
                max: NICK_CHARS_MAX
            })
        );
        assert_eq!(check_nick(" \t "), Err(NickError::Empty));
        assert_eq!(check_nick("a\u{1b}[31mb"), Err(NickError::ControlCharacter));
        assert_eq!(
            plain(&format!("/nick {}", "x".repeat(40))),
            Err(CommandError::Nick(NickError::TooLong {
                chars: 40,
                max: NICK_CHARS_MAX
            }))
        );
    }

    #[test]
    fn text_limits_are_enforced() {
        let longest = "x".repeat(TEXT_BYTES_MAX);
        assert_eq!(ok(&longest), Command::Chat(longest.clone()));
        let too_long = "x".repeat(TEXT_BYTES_MAX + 1);
        let err = Err(CommandError::TooLong {
            len: TEXT_BYTES_MAX + 1,
            max: TEXT_BYTES_MAX,
        });
        assert_eq!(plain(&too_long), err);
        assert_eq!(plain(&format!("/dm ada {too_long}")), err);
        assert_eq!(plain("a\u{1b}[2Jb"), Err(CommandError::ControlCharacter));
        let huge = "x".repeat(LINE_BYTES_MAX + 1);
        assert_eq!(
            parse_line(&huge, true),
            Err(CommandError::LineTooLong {
                len: LINE_BYTES_MAX + 1,
                max: LINE_BYTES_MAX
            })
        );
    }

    #[test]
    fn json_commands_parse_in_json_mode() {
        let j = |line: &str| parse_line(line, true);
        assert_eq!(
            j(r#"{"cmd":"chat","text":"hi\nthere"}"#),
            Ok(Some(Command::Chat("hi\nthere".into())))
        );
        assert_eq!(
            j(r#" {"cmd":"dm","to":"ada","text":"psst"} "#),
            Ok(Some(Command::Dm {
                to: "ada".into(),
                text: "psst".into()
            }))
        );
        assert_eq!(
            j(r#"{"cmd":"peers"}"#),
            Ok(Some(Command::Peers { verbose: false }))
        );
        assert_eq!(
            j(r#"{"verbose":true,"cmd":"peers"}"#),
            Ok(Some(Command::Peers { verbose: true }))
        );
        assert_eq!(j(r#"{"cmd":"members"}"#), Ok(Some(Command::Members)));
        assert_eq!(j(r#"{"cmd":"me"}"#), Ok(Some(Command::Me)));
        assert_eq!(
            j(r#"{"cmd":"nick","name":" Ada "}"#),
            Ok(Some(Command::Nick("Ada".into())))
        );
        assert_eq!(j(r#"{"cmd":"join"}"#), Ok(Some(Command::Join)));
        assert_eq!(j(r#"{"cmd":"help"}"#), Ok(Some(Command::Help)));
        assert_eq!(j(r#"{"cmd":"quit"}"#), Ok(Some(Command::Quit)));
        // "line" takes any line as typed: applet commands, chat, commands.
        assert_eq!(
            j(r#"{"cmd":"line","text":"/vote list"}"#),
            parse_line("/vote list", false)
        );
        assert!(matches!(
            j(r#"{"cmd":"line","text":"/vote list"}"#),
            Ok(Some(Command::Applet(_)))
        ));
        assert_eq!(
            j(r#"{"cmd":"line","text":"{not json}"}"#),
            Ok(Some(Command::Chat("{not json}".into())))
        );
        assert_eq!(j(r#"{"cmd":"line","text":"/me"}"#), Ok(Some(Command::Me)));
    }

    #[test]
    fn in_json_mode_every_line_that_is_not_a_json_object_is_refused() {
        for line in [
            "garbage{",
            "[1,2,3]",
            r#""hi""#,
            "hello room",
            "/me",
            "//x",
            "42",
            "null",
        ] {
            let err = parse_line(line, true).expect_err(line);
            assert_eq!(err, CommandError::NotJsonObject, "{line:?}");
            assert_eq!(
                err.to_string(),
                r#"with --json every line is a JSON command object, e.g. {"cmd":"chat","text":"hi"}"#
            );
        }
        // An object that is not valid JSON is a JSON error with the reason.
        assert!(matches!(
            parse_line("{garbage", true),
            Err(CommandError::Json(_))
        ));
    }

    #[test]
    fn a_json_command_with_a_duplicate_key_is_refused_naming_the_key() {
        let dup = |line: &str| match parse_line(line, true) {
            Err(CommandError::Json(msg)) => msg,
            other => panic!("{line:?} gave {other:?}"),
        };
        assert!(
            dup(r#"{"cmd":"chat","text":"a","text":"b"}"#).starts_with("duplicate field \"text\""),
            "{}",
            dup(r#"{"cmd":"chat","text":"a","text":"b"}"#)
        );
        assert!(dup(r#"{"cmd":"chat","cmd":"quit"}"#).starts_with("duplicate field \"cmd\""));
        // Equal keys in a nested value are not the command's fields: the
        // command is refused for its type instead.
        assert_eq!(
            dup(r#"{"cmd":"chat","text":{"a":1}}"#),
            "\"chat\" field \"text\" must be a string"
        );
    }

    #[test]
    fn a_brace_line_is_chat_without_json_mode() {
        assert_eq!(
            ok(r#"{"cmd":"quit"}"#),
            Command::Chat(r#"{"cmd":"quit"}"#.into())
        );
    }

    #[test]
    fn bad_json_commands_are_refused_with_the_reason() {
        let err = |line: &str| match parse_line(line, true) {
            Err(CommandError::Json(msg)) => msg,
            other => panic!("{line:?} gave {other:?}"),
        };
        assert!(err(r#"{"cmd":"chat""#).contains("EOF"));
        assert_eq!(err(r#"{"text":"hi"}"#), "missing field \"cmd\"");
        assert_eq!(err(r#"{"cmd":7}"#), "\"cmd\" must be a string");
        assert!(
            err(r#"{"cmd":"dance"}"#).starts_with("unknown \"cmd\" \"dance\"; known: chat, dm")
        );
        assert_eq!(
            err(r#"{"cmd":"chat"}"#),
            "\"chat\" needs a string field \"text\""
        );
        assert_eq!(
            err(r#"{"cmd":"chat","text":1}"#),
            "\"chat\" field \"text\" must be a string"
        );
        assert_eq!(
            err(r#"{"cmd":"chat","text":"hi","txt":"x"}"#),
            "\"chat\" has no field \"txt\""
        );
        assert_eq!(
            err(r#"{"cmd":"dm","text":"hi"}"#),
            "\"dm\" needs a string field \"to\""
        );
        assert_eq!(
            err(r#"{"cmd":"dm","to":" ","text":"hi"}"#),
            "\"to\" is empty"
        );
        assert_eq!(err(r#"{"cmd":"line","text":"  "}"#), "\"text\" is empty");
        assert_eq!(
            err(r#"{"cmd":"peers","verbose":"yes"}"#),
            "\"verbose\" must be true or false"
        );
        assert_eq!(
            err(r#"{"cmd":"quit","now":true}"#),
            "\"quit\" has no field \"now\""
        );
        // Content errors keep their own variants.
        assert_eq!(
            parse_line(r#"{"cmd":"chat","text":"  "}"#, true),
            Err(CommandError::EmptyText)
        );
        assert_eq!(
            parse_line(r#"{"cmd":"nick","name":""}"#, true),
            Err(CommandError::Nick(NickError::Empty))
        );
    }

    #[test]
    fn help_has_one_line_per_command() {
        let lines: Vec<&str> = HELP.lines().collect();
        // The TEXT line stands for chat; "line" (JSON only) is any line.
        let typed = JSON_COMMANDS.iter().filter(|(n, _)| *n != "line");
        assert_eq!(lines.len(), typed.clone().count());
        assert!(lines[0].starts_with("TEXT"));
        for (name, _) in typed.filter(|(n, _)| *n != "chat") {
            let command = format!("/{name}");
            assert!(
                lines.iter().any(|l| l.starts_with(&command)),
                "{command} missing from HELP"
            );
        }
    }
}
