//! The settings both clients share: a TOML file, `FLASHMESH_*` environment
//! variables and flags, layered over defaults and over what the last run
//! remembered.
//!
//! ## Layers
//!
//! From lowest to highest: the defaults, the **remembered** values of the
//! last run (`last.toml` in the data directory: the room code, the nick and
//! a key file named by hand), the **config file** (`config.toml` in
//! `$XDG_CONFIG_HOME/flashmesh/`, or `--config PATH`), the **environment**
//! (`FLASHMESH_ROOM`, `FLASHMESH_PORT`, ... one per key, lists
//! comma-separated) and the **flags**. A higher layer wins key by key, with
//! one exception: `room` and `join` say together where to meet, so a layer
//! that sets either replaces both from the layers below it (a `--join` link
//! is not overridden by a remembered room; within one layer, `room`
//! overrides the link's room code).
//!
//! The file is never written by flashmesh: what a run remembers goes to
//! `last.toml` (mode 0600: it holds the room code), so a person's comments
//! and choices in their own file stay as they wrote them. Unknown keys in
//! the file or in `last.toml` are refused with the key's name; unknown
//! `FLASHMESH_*` variables are ignored (scripts use some of their own).
//! `flashmesh config show` prints every key, its value and which layer it
//! came from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{DEFAULT_DISCOVERY_PORT, DEFAULT_PORT, Profile};

/// Largest config file read, in bytes (a config is a few hundred).
pub const FILE_BYTES_MAX: u64 = 64 * 1024;

/// The file and directory names under the XDG directories.
const APP_DIR: &str = "flashmesh";
const CONFIG_FILE: &str = "config.toml";
const REMEMBERED_FILE: &str = "last.toml";

/// Every setting, as the file spells it. All optional: a missing key falls
/// through to the layer below, and finally to [`Settings::defaults`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The room code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The room's root: a node id (64 hex digits), or `me` for this
    /// node's own. Only with the room it belongs to: a remembered root is
    /// not carried over to another room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// A join link (`flashmesh://join?...`): its room code and peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
    /// The nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    /// TCP port for links (0: any free port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Address to accept links on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<IpAddr>,
    /// Beacon discovery on the LAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<bool>,
    /// UDP port for beacons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_port: Option<u16>,
    /// Where to send beacons (empty: every interface's broadcast address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Vec<Ipv4Addr>>,
    /// Peers to dial, `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<String>>,
    /// Node ids (64 hex digits) this node never links with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Vec<String>>,
    /// When set, the only node ids this node links with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// The identity key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Where rooms' histories are stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Engine profile: `small` (up to 50 nodes) or `large`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Leave the room code out of join links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_room: Option<bool>,
    /// The TUI captures the mouse (off: the terminal's copy and paste work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mouse: Option<bool>,
}

/// What kind of value a key holds (for reading it from the environment).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
    List,
}

/// Every key, in the order `config show` prints them.
const KEYS: &[(&str, Kind)] = &[
    ("room", Kind::Text),
    ("root", Kind::Text),
    ("join", Kind::Text),
    ("nick", Kind::Text),
    ("port", Kind::Int),
    ("bind", Kind::Text),
    ("discovery", Kind::Bool),
    ("discovery_port", Kind::Int),
    ("broadcast", Kind::List),
    ("seeds", Kind::List),
    ("blocked", Kind::List),
    ("allowed", Kind::List),
    ("key_file", Kind::Text),
    ("data_dir", Kind::Text),
    ("profile", Kind::Text),
    ("hide_room", Kind::Bool),
    ("mouse", Kind::Bool),
];

/// The environment variable of a key: `FLASHMESH_` and the key in capitals.
pub fn env_var(key: &str) -> String {
    format!("FLASHMESH_{}", key.to_ascii_uppercase())
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Nothing set it: the default.
    Default,
    /// The last run remembered it, in this file (`last.toml`).
    Remembered(PathBuf),
    /// This config file.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// A command-line flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Remembered(p) => write!(f, "remembered from the last run ({})", p.display()),
            Source::File(p) => write!(f, "config file {}", p.display()),
            Source::Env(v) => write!(f, "environment {v}"),
            Source::Flag => f.write_str("flag"),
        }
    }
}

/// Why the settings could not be read. Nothing was started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A settings file (the config file or `last.toml`) cannot be read, or
    /// holds a key or value that is refused. It was not changed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong (an unknown key names it).
        reason: String,
    },
    /// A `FLASHMESH_*` variable holds a value that is refused.
    #[error("environment {var}: {reason}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// There is no home directory to find the standard files in.
    #[error("no home directory: set HOME or pass --config and --key-file")]
    NoHome,
}

/// The files settings live in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The config file (it may not exist).
    pub config_file: PathBuf,
    /// Whether `config_file` was named with `--config` (then it must exist).
    pub config_named: bool,
    /// flashmesh's data directory: the default key file and rooms, and
    /// `last.toml`.
    pub data_dir: PathBuf,
}

impl Paths {
    /// The XDG locations (`$XDG_CONFIG_HOME/flashmesh/config.toml`,
    /// `$XDG_DATA_HOME/flashmesh/`), or `config` for the config file.
    pub fn standard(config: Option<PathBuf>) -> Result<Paths, SettingsError> {
        let base = directories::BaseDirs::new().ok_or(SettingsError::NoHome)?;
        Ok(Paths {
            config_named: config.is_some(),
            config_file: config
                .unwrap_or_else(|| base.config_dir().join(APP_DIR).join(CONFIG_FILE)),
            data_dir: base.data_dir().join(APP_DIR),
        })
    }

    /// Where the last run's room, nick and key file are remembered.
    pub fn remembered_file(&self) -> PathBuf {
        self.data_dir.join(REMEMBERED_FILE)
    }

    /// The key file used unless one is named.
    pub fn default_key_file(&self) -> PathBuf {
        self.data_dir.join("identity.key")
    }
}

/// Settings with every value's source.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The values in force (unset keys fall to the defaults).
    pub settings: Settings,
    sources: BTreeMap<String, Source>,
    paths: Paths,
}

impl Resolved {
    /// Where `key`'s value came from ([`Source::Default`] when unset).
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// The files these settings were read from.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The key file: the one named, or the default in the data directory.
    pub fn key_file(&self) -> PathBuf {
        self.settings
            .key_file
            .clone()
            .unwrap_or_else(|| self.paths.default_key_file())
    }

    /// Whether the key file was named (not the default).
    pub fn key_file_named(&self) -> bool {
        self.settings.key_file.is_some()
    }

    /// `flashmesh config show`: one line per key, `key = value  # source`.
    pub fn show(&self) -> String {
        let defaults = Settings::defaults(&self.paths);
        let set = toml_table(&self.settings);
        let default_table = toml_table(&defaults);
        let mut out = format!(
            "# config file: {}{}\n# remembered: {}\n",
            self.paths.config_file.display(),
            if self.paths.config_file.exists() {
                ""
            } else {
                " (none yet)"
            },
            self.paths.remembered_file().display()
        );
        for (key, _) in KEYS {
            let (value, source) = match set.get(*key) {
                Some(v) => (v.to_string(), self.source(key).to_string()),
                None => match default_table.get(*key) {
                    Some(v) => (v.to_string(), "default".to_string()),
                    None => ("(unset)".to_string(), default_note(key).to_string()),
                },
            };
            out.push_str(&format!("{key} = {value}  # {source}\n"));
        }
        out
    }
}

fn default_note(key: &str) -> &'static str {
    match key {
        "room" => "default: the last room, or a generated code",
        "join" => "default: none",
        "nick" => "default: none (your short id shows)",
        "broadcast" => "default: every interface's broadcast address",
        _ => "default",
    }
}

impl Settings {
    /// The defaults, as `config show` prints them.
    pub fn defaults(paths: &Paths) -> Settings {
        Settings {
            port: Some(DEFAULT_PORT),
            bind: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            discovery: Some(true),
            discovery_port: Some(DEFAULT_DISCOVERY_PORT),
            seeds: Some(Vec::new()),
            key_file: Some(paths.default_key_file()),
            data_dir: Some(paths.default_key_file().with_file_name("rooms")),
            profile: Some(Profile::default()),
            hide_room: Some(false),
            mouse: Some(false),
            ..Settings::default()
        }
    }

    /// Reads a settings file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        toml::from_str::<Settings>(text).map_err(|e| SettingsError::File {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
        })
    }
}

/// A settings value as a TOML table of the keys it sets.
fn toml_table(settings: &Settings) -> toml::Table {
    // Serialising a struct of options, strings, numbers and lists cannot
    // fail; an empty table would only hide values from `config show`.
    toml::Table::try_from(settings).unwrap_or_default()
}

/// Reads a settings file: `Ok(None)` when it does not exist.
fn read_file(path: &Path) -> Result<Option<Settings>, SettingsError> {
    let bad = |reason: String| SettingsError::File {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if meta.is_dir() {
        return Err(bad("is a directory, not a config file".into()));
    }
    if meta.len() > FILE_BYTES_MAX {
        return Err(bad(format!(
            "{} bytes; a config file is at most {FILE_BYTES_MAX}",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("is not UTF-8 text".into()))?;
    Settings::parse(&text, path).map(Some)
}

/// Reads the `FLASHMESH_*` variables `get` returns.
fn from_env(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(Settings, Vec<String>), SettingsError> {
    let mut table = toml::Table::new();
    let mut set = Vec::new();
    for (key, kind) in KEYS {
        let var = env_var(key);
        let Some(raw) = get(&var) else { continue };
        let bad = |reason: String| SettingsError::Env {
            var: var.clone(),
            reason,
        };
        let value = match kind {
            Kind::Text => toml::Value::String(raw.clone()),
            Kind::Int => toml::Value::Integer(
                raw.trim()
                    .parse::<i64>()
                    .map_err(|_| bad(format!("{raw:?} is not a number")))?,
            ),
            Kind::Bool => toml::Value::Boolean(match raw.trim() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err(bad(format!("{raw:?} is not true or false"))),
            }),
            Kind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
        };
        table.insert((*key).to_string(), value);
        set.push((*key).to_string());
    }
    let settings = table
        .try_into::<Settings>()
        .map_err(|e| SettingsError::Env {
            var: "FLASHMESH_*".into(),
            reason: e.message().to_string(),
        })?;
    Ok((settings, set))
}

/// The values `remember` keeps from one run for the next.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remembered {
    /// The room code the last run joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// That room's root, if it names one (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The nick it used last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    /// The key file, when it was named by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

impl Remembered {
    /// Reads `last.toml`; a missing file remembers nothing.
    pub fn load(paths: &Paths) -> Result<Remembered, SettingsError> {
        let path = paths.remembered_file();
        let Some(settings) = read_file(&path)? else {
            return Ok(Remembered::default());
        };
        let refuse = |key: &str| SettingsError::File {
            path: path.clone(),
            reason: format!("unknown field `{key}` (it remembers room, root, nick and key_file)"),
        };
        let table = toml_table(&settings);
        if let Some(key) = table
            .keys()
            .find(|k| !matches!(k.as_str(), "room" | "root" | "nick" | "key_file"))
        {
            return Err(refuse(key));
        }
        Ok(Remembered {
            room: settings.room,
            root: settings.root,
            nick: settings.nick,
            key_file: settings.key_file,
        })
    }

    /// Writes `last.toml` (mode 0600, replaced whole: a crash leaves the old
    /// file or the new one).
    pub fn save(&self, paths: &Paths) -> std::io::Result<()> {
        let path = paths.remembered_file();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = format!(
            "# What flashmesh remembers from the last run (rewritten by it; \
             put your own settings in config.toml).\n{}",
            toml::to_string(self).map_err(std::io::Error::other)?
        );
        let tmp = path.with_extension("toml.tmp");
        {
            use std::io::Write as _;
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).write(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(0o600);
            }
            let mut file = opts.open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
    }

    fn as_settings(&self) -> Settings {
        Settings {
            room: self.room.clone(),
            root: self.root.clone(),
            nick: self.nick.clone(),
            key_file: self.key_file.clone(),
            ..Settings::default()
        }
    }
}

/// Layers the settings: remembered < file < environment (`get`) < `flags`.
pub fn resolve(
    paths: Paths,
    flags: &Settings,
    get_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, SettingsError> {
    let remembered = Remembered::load(&paths)?;
    let file = match read_file(&paths.config_file)? {
        Some(s) => s,
        None if paths.config_named => {
            return Err(SettingsError::File {
                path: paths.config_file.clone(),
                reason: "no such file".into(),
            });
        }
        None => Settings::default(),
    };
    let (env, _) = from_env(get_env)?;
    let layers = [
        (
            remembered.as_settings(),
            Source::Remembered(paths.remembered_file()),
        ),
        (file, Source::File(paths.config_file.clone())),
        (env, Source::Env(String::new())),
        (flags.clone(), Source::Flag),
    ];
    let mut merged = toml::Table::new();
    let mut sources = BTreeMap::new();
    for (layer, source) in layers {
        let table = toml_table(&layer);
        if table.contains_key("room") || table.contains_key("join") {
            for key in ["room", "join"] {
                merged.remove(key);
                sources.remove(key);
            }
        }
        for (key, value) in table {
            let source = match &source {
                Source::Env(_) => Source::Env(env_var(&key)),
                other => other.clone(),
            };
            sources.insert(key.clone(), source);
            merged.insert(key, value);
        }
    }
    let settings = merged
        .try_into::<Settings>()
        .map_err(|e| SettingsError::File {
            path: paths.config_file.clone(),
            reason: e.message().to_string(),
        })?;
    Ok(Resolved {
        settings,
        sources,
        paths,
    })
}

/// [`resolve`] with the process's environment.
pub fn resolve_from_process(paths: Paths, flags: &Settings) -> Result<Resolved, SettingsError> {
    resolve(paths, flags, &|var| std::env::var(var).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> Paths {
        Paths {
            config_file: dir.join("config.toml"),
            config_named: false,
            data_dir: dir.join("data"),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn each_layer_overrides_the_one_below_key_by_key() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = paths(dir.path());
        Remembered {
            room: Some("remembered-room".into()),
            root: None,
            nick: Some("old".into()),
            key_file: None,
        }
        .save(&p)
        .expect("saves");
        std::fs::write(
            &p.config_file,
            "nick = \"filenick\"\nport = 7000\nmouse = true\n",
        )
        .expect("writes");
        let env = |var: &str| match var {
            "FLASHMESH_PORT" => Some("7100".to_string()),
            "FLASHMESH_SEEDS" => Some("a:1, b:2".to_string()),
            _ => None,
        };
        let flags = Settings {
            mouse: Some(false),
            ..Settings::default()
        };
        let r = resolve(p.clone(), &flags, &env).expect("resolves");
        assert_eq!(r.settings.room.as_deref(), Some("remembered-room"));
        assert_eq!(r.source("room"), Source::Remembered(p.remembered_file()));
        assert_eq!(r.settings.nick.as_deref(), Some("filenick"));
        assert_eq!(r.source("nick"), Source::File(p.config_file.clone()));
        assert_eq!(r.settings.port, Some(7100));
        assert_eq!(r.source("port"), Source::Env("FLASHMESH_PORT".into()));
        assert_eq!(
            r.settings.seeds,
            Some(vec!["a:1".to_string(), "b:2".to_string()])
        );
        assert_eq!(r.settings.mouse, Some(false));
        assert_eq!(r.source("mouse"), Source::Flag);
        assert_eq!(r.source("bind"), Source::Default);
        let shown = r.show();
        assert!(
            shown.contains("port = 7100  # environment FLASHMESH_PORT"),
            "{shown}"
        );
        assert!(
            shown.contains("discovery_port = 9999  # default"),
            "{shown}"
        );
        assert!(
            shown.contains("nick = \"filenick\"  # config file"),
            "{shown}"
        );
    }

    #[test]
    fn a_join_link_above_replaces_a_remembered_room() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = paths(dir.path());
        Remembered {
            room: Some("remembered-room".into()),
            root: None,
            ..Remembered::default()
        }
        .save(&p)
        .expect("saves");
        let flags = Settings {
            join: Some("flashmesh://join?room=x".into()),
            ..Settings::default()
        };
        let r = resolve(p, &flags, &no_env).expect("resolves");
        assert_eq!(r.settings.room, None);
        assert_eq!(r.settings.join.as_deref(), Some("flashmesh://join?room=x"));
    }

    #[test]
    fn the_profile_is_small_or_large() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = paths(dir.path());
        std::fs::write(&p.config_file, "profile = \"large\"\n").expect("writes");
        let r = resolve(p.clone(), &Settings::default(), &no_env).expect("resolves");
        assert_eq!(r.settings.profile, Some(Profile::Large));
        assert!(r.show().contains("profile = \"large\""), "{}", r.show());
        let env = |var: &str| (var == "FLASHMESH_PROFILE").then(|| "small".to_string());
        let r = resolve(p.clone(), &Settings::default(), &env).expect("resolves");
        assert_eq!(r.settings.profile, Some(Profile::Small));
        std::fs::write(&p.config_file, "profile = \"medium\"\n").expect("writes");
        let err = resolve(p, &Settings::default(), &no_env).expect_err("refused");
        assert!(err.to_string().contains("medium"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = paths(dir.path());
        std::fs::write(&p.config_file, "nick = \"ada\"\ncolour = \"red\"\n").expect("writes");
        let err = resolve(p, &Settings::default(), &no_env).expect_err("refused");
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_where_they_came_from() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = paths(dir.path());
        std::fs::write(&p.config_file, "port = \"ninety\"\n").expect("writes");
        let err = resolve(p.clone(), &Settings::default(), &no_env).expect_err("refused");
        assert!(err.to_string().contains("config.toml"), "{err}");
        std::fs::remove_file(&p.config_file).expect("removes");
        let env = |var: &str| (var == "FLASHMESH_DISCOVERY").then(|| "maybe".to_string());
        let err = resolve(p, &Settings::default(), &env).expect_err("refused");
        assert!(err.to_string().contains("FLASHMESH_DISCOVERY"), "{err}");
    }

    #[test]
    fn a_named_config_file_must_exist_and_be_a_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut p = paths(dir.path());
        p.config_named = true;
        let err = resolve(p.clone(), &Settings::default(), &no_env).expect_err("refused");
        assert!(err.to_string().contains("no such file"), "{err}");
        p.config_file = dir.path().to_path_buf();
        let err = resolve(p, &Settings::default(), &no_env).expect_err("refused");
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn remembered_values_survive_a_round_trip_with_a_private_mode() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let p = paths(dir.path());
        let r = Remembered {
            room: Some("amber-otter".into()),
            root: None,
            nick: Some("ada".into()),
            key_file: Some(dir.path().join("k")),
        };
        r.save(&p).expect("saves");
        assert_eq!(Remembered::load(&p).expect("loads"), r);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(p.remembered_file())
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
