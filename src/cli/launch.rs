//! From flags to a running node, for both clients: the flags both take,
//! the settings layered over them ([`super::settings`]), the plan (room,
//! identity, storage) and the start, and what is remembered for the next
//! run.
//!
//! ## Identity
//!
//! The key file defaults to `$XDG_DATA_HOME/flashmesh/identity.key` (or
//! `~/.local/share/...`). A process holds a lock on `<key file>.lock` while
//! it runs: a second process started with the same default key file runs
//! with a fresh identity for that run (and says so, and remembers nothing)
//! instead of impersonating the first; with a key file named in the
//! settings it stops with an error.
//!
//! ## What is remembered
//!
//! After a node starts with a key file, `last.toml` records the room code
//! it joined, its nick and a key file named by hand, so the same command
//! with no flags comes back to the same room, as the same member, with the
//! same history (kept under `rooms/` beside the key file). `/nick` updates
//! it. Where the history went is said at start: the store's directory.

use std::fs::{File, OpenOptions};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::settings::{self, Paths, Remembered, Resolved, Settings, SettingsError};
use crate::actors::beacon::DiscoveryConfig;
use crate::config::{Config, ConfigError, IdentitySource, NickError, Profile, Room, check_nick};
use crate::config::{DEFAULT_DISCOVERY_PORT, DEFAULT_PORT};
use crate::crypto::identity::Identity;
use crate::crypto::room::{RoomCode, RoomError};
use crate::id::NodeId;
use crate::join::{JoinError, JoinUri};
use crate::node::Node;

/// Why a run could not be planned or started. Nothing was started, and
/// nothing remembered was changed, unless the variant says otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// The settings (config file, `last.toml`, environment) could not be
    /// read.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The join link does not parse.
    #[error("{setting}: {source}")]
    Join {
        /// Where it was set: `--join`, or the key and its source.
        setting: String,
        /// What is wrong with it.
        source: JoinError,
    },
    /// The room's root (or an id of the `blocked` or `allowed` list) is
    /// not a node id, or this node's own could not be read for `--root
    /// me`.
    #[error("{setting}: {reason}")]
    Root {
        /// Where it was set: `--root`, or the key and its source.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A join link without a room code, and no room code given.
    #[error("the join link has no room code: add --room CODE")]
    JoinWithoutRoom,
    /// The room code is unusable, or its keys could not be derived.
    #[error("{setting}: {source}")]
    Room {
        /// Where it was set: `--room`, or the key and its source.
        setting: String,
        /// What is wrong with it.
        source: RoomError,
    },
    /// The nickname is refused.
    #[error("{setting}: {source}")]
    Nick {
        /// Where it was set: `--nick`, or the key and its source.
        setting: String,
        /// What is wrong with it.
        source: NickError,
    },
    /// The key file named in the settings cannot be used (a key file not
    /// named is replaced by a fresh identity for the run instead).
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The planned configuration cannot work; the error names the field.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The node did not start (a port taken, a store in use...).
    #[error(transparent)]
    Node(#[from] crate::Error),
    /// What the run remembers for the next one could not be written. The
    /// node runs on; the previous `last.toml` is intact.
    #[error("cannot remember {what} in {}: {source}", path.display())]
    Remember {
        /// What: `this room` or `the nick`.
        what: &'static str,
        /// The file (`last.toml`).
        path: PathBuf,
        /// The failed write.
        source: io::Error,
    },
}

/// For callers that still report errors as text (`?` into `String`).
impl From<LaunchError> for String {
    fn from(e: LaunchError) -> String {
        e.to_string()
    }
}

/// Why a key file cannot be locked for this process. Nothing was written
/// to the key file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The path names a directory.
    #[error("{} is a directory, not a key file", path.display())]
    IsDirectory {
        /// The path given as the key file.
        path: PathBuf,
    },
    /// The key file's directory could not be created.
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The lock file beside the key file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    OpenLock {
        /// The lock file, `<key file>.lock`.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The lock could not be taken (not because another process holds it).
    #[error("cannot lock the key file {}: {source}", path.display())]
    Lock {
        /// The lock file, `<key file>.lock`.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Another process holds the key file's lock.
    #[error("key file {} is in use by another flashmesh process", path.display())]
    InUse {
        /// The key file.
        path: PathBuf,
    },
}

/// The flags both clients take. Each one overrides the config file and the
/// environment (see [`super::settings`]).
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// The room code everyone at the event shares. Without it (and without
    /// --join), the last room is joined again, or a strong code is
    /// generated.
    #[arg(long, value_name = "CODE")]
    pub room: Option<String>,
    /// The room's root: the node that runs it (64 hex digits), or `me` to
    /// start a room you run (invite-only once you invite someone; share its
    /// /join link, which carries the root). A rooted room is a different
    /// room from the open room of the same code.
    #[arg(long, value_name = "ID|me")]
    pub root: Option<String>,
    /// Join with an invitation link (flashmesh://join?...): its room code
    /// and peers. --room overrides the link's room.
    #[arg(long, value_name = "URI")]
    pub join: Option<String>,
    /// Your nickname in the room (1 to 32 characters); remembered.
    #[arg(long, value_name = "NAME")]
    pub nick: Option<String>,
    /// TCP port for links (0 = any free port). Default 9000, or any free
    /// port when 9000 is taken (a second node on the same machine).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Address to accept links on [default: 0.0.0.0].
    #[arg(long, value_name = "IP")]
    pub bind: Option<IpAddr>,
    /// UDP port for discovery beacons (shared by every node on a host)
    /// [default: 9999].
    #[arg(long, value_name = "N")]
    pub discovery_port: Option<u16>,
    /// Where to send beacons (repeatable), e.g. 127.255.255.255 or
    /// 192.168.1.255. Default: 255.255.255.255 and every interface's
    /// broadcast address.
    #[arg(long = "broadcast", value_name = "ADDR")]
    pub broadcasts: Vec<Ipv4Addr>,
    /// Do not send or listen for beacons (use seeds only).
    #[arg(long)]
    pub no_discovery: bool,
    /// A peer to dial, HOST:PORT (repeatable).
    #[arg(long = "seed", value_name = "HOST:PORT")]
    pub seeds: Vec<String>,
    /// Where this node's identity key lives (created if missing, mode 0600).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Where the room's history is stored. Default: `rooms/` beside the
    /// key file. A run with a throwaway identity keeps it in memory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Engine defaults for rooms of more than 50 nodes (the large room).
    #[arg(long)]
    pub large_room: bool,
    /// One JSON object per line on stdout; JSON commands on stdin (the line
    /// client).
    #[arg(long)]
    pub json: bool,
    /// Leave the room code out of /join links and QR codes (newcomers then
    /// need the code from you).
    #[arg(long)]
    pub hide_room: bool,
    /// The config file [default: $XDG_CONFIG_HOME/flashmesh/config.toml].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The full-screen client captures the mouse (wheel scrolls; the
    /// terminal's own copy and paste then need Shift).
    #[arg(long)]
    pub mouse: bool,
}

impl RunArgs {
    /// The settings the flags set (nothing for a flag not given).
    pub fn to_settings(&self) -> Settings {
        Settings {
            room: self.room.clone(),
            root: self.root.clone(),
            join: self.join.clone(),
            nick: self.nick.clone(),
            port: self.port,
            bind: self.bind,
            discovery: self.no_discovery.then_some(false),
            discovery_port: self.discovery_port,
            broadcast: (!self.broadcasts.is_empty()).then(|| self.broadcasts.clone()),
            seeds: (!self.seeds.is_empty()).then(|| self.seeds.clone()),
            blocked: None,
            allowed: None,
            key_file: self.key_file.clone(),
            data_dir: self.data_dir.clone(),
            profile: self.large_room.then_some(Profile::Large),
            hide_room: self.hide_room.then_some(true),
            mouse: self.mouse.then_some(true),
        }
    }

    /// The settings in force: defaults, remembered, file, environment, flags.
    pub fn resolve(&self) -> Result<Resolved, LaunchError> {
        let paths = Paths::standard(self.config.clone())?;
        Ok(settings::resolve_from_process(paths, &self.to_settings())?)
    }
}

/// Everything decided before the node starts.
pub struct Plan {
    /// The node's configuration.
    pub config: Config,
    /// The room code was generated for this run (nobody else has it yet).
    pub generated_room: bool,
    /// Leave the room code out of join links.
    pub hide_room: bool,
    /// What to remember once the node runs (`None`: a throwaway identity).
    pub remember: Option<(Paths, Remembered)>,
    /// Warnings and notes for the person, one line each.
    pub notes: Vec<String>,
    _key_lock: Option<File>,
}

impl Plan {
    /// Records the nick for the next run (when this run remembers). The
    /// error is a [`LaunchError::Remember`], as text: both clients show it
    /// and run on.
    pub fn remember_nick(&mut self, nick: &str) -> Result<(), String> {
        let Some((_, remembered)) = &mut self.remember else {
            return Ok(());
        };
        remembered.nick = Some(nick.to_string());
        self.save("the nick").map_err(|e| e.to_string())
    }

    /// Writes `last.toml` (a [`LaunchError::Remember`] when it cannot).
    pub fn save_remembered(&self) -> Result<(), LaunchError> {
        self.save("this room")
    }

    fn save(&self, what: &'static str) -> Result<(), LaunchError> {
        match &self.remember {
            Some((paths, remembered)) => {
                remembered
                    .save(paths)
                    .map_err(|source| LaunchError::Remember {
                        what,
                        path: paths.remembered_file(),
                        source,
                    })
            }
            None => Ok(()),
        }
    }
}

/// Takes the lock beside a key file; `Ok(None)` when another process holds it.
pub fn lock_key_file(key: &Path) -> Result<Option<File>, KeyFileError> {
    if key.is_dir() {
        return Err(KeyFileError::IsDirectory {
            path: key.to_path_buf(),
        });
    }
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| KeyFileError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let mut lock_path = key.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| KeyFileError::OpenLock {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(source)) => Err(KeyFileError::Lock {
            path: lock_path,
            source,
        }),
    }
}

/// Plans a run from the settings in force. Blocking (derives the room key).
pub fn plan(resolved: &Resolved) -> Result<Plan, LaunchError> {
    let s = &resolved.settings;
    let flag = |key: &str| match resolved.source(key) {
        settings::Source::Flag => format!("--{}", key.replace('_', "-")),
        other => format!("{key} ({other})"),
    };
    let mut notes = Vec::new();
    let invite = match &s.join {
        Some(uri) => Some(JoinUri::parse(uri).map_err(|source| LaunchError::Join {
            setting: flag("join"),
            source,
        })?),
        None => None,
    };
    let (code, generated_room) = match (&s.room, invite.as_ref().and_then(|i| i.room.clone())) {
        (Some(typed), _) => (
            RoomCode::parse(typed).map_err(|source| LaunchError::Room {
                setting: flag("room"),
                source,
            })?,
            false,
        ),
        (None, Some(code)) => (code, false),
        (None, None) if invite.is_some() => return Err(LaunchError::JoinWithoutRoom),
        (None, None) => (RoomCode::generate(&mut rand::rng()), true),
    };
    if code.is_weak() {
        notes.push(format!(
            "warning: this room code is weak (about {:.0} bits): anyone who can reach a node \
             can guess it offline. Prefer a generated code (run without --room).",
            code.estimated_bits()
        ));
    }
    let room_text = code.as_str().to_string();
    // The root: typed, or the link's; a remembered one only with the
    // remembered room it belongs to.
    let remembered_room = matches!(resolved.source("room"), settings::Source::Remembered(_));
    let root_text = match (&s.root, invite.as_ref().and_then(|i| i.root)) {
        (Some(_), _) if matches!(resolved.source("root"), settings::Source::Remembered(_)) => s
            .root
            .clone()
            .filter(|_| remembered_room && invite.is_none()),
        (Some(typed), _) => Some(typed.clone()),
        (None, Some(root)) => Some(root.to_string()),
        (None, None) => None,
    };
    let key = resolved.key_file();
    let mut key_lock = None;
    let mut identity = match lock_key_file(&key) {
        Ok(Some(lock)) => {
            key_lock = Some(lock);
            IdentitySource::KeyFile(key.clone())
        }
        Ok(None) if resolved.key_file_named() => {
            return Err(KeyFileError::InUse { path: key }.into());
        }
        Err(e) if resolved.key_file_named() => return Err(e.into()),
        Ok(None) => {
            notes.push(format!(
                "note: {} is in use by another flashmesh process; this run uses a fresh \
                 identity and keeps nothing (pass --key-file to keep one)",
                key.display()
            ));
            IdentitySource::Ephemeral
        }
        Err(e) => {
            notes.push(format!(
                "note: {e}; this run uses a fresh identity and keeps nothing"
            ));
            IdentitySource::Ephemeral
        }
    };
    let root = match root_text.as_deref().map(str::trim) {
        None => None,
        Some("me") => Some(own_id(&mut identity).map_err(|reason| LaunchError::Root {
            setting: flag("root"),
            reason,
        })?),
        Some(hex) => Some(NodeId::from_hex(hex).map_err(|e| LaunchError::Root {
            setting: flag("root"),
            reason: format!("{hex:?} is not a node id (64 hex digits, or `me`): {e}"),
        })?),
    };
    let room = Room::derive_rooted(code, root).map_err(|source| LaunchError::Room {
        setting: "room".into(),
        source,
    })?;
    let mut config = Config::new(room).with_profile(s.profile.unwrap_or_default());
    config.nick = match &s.nick {
        Some(n) => Some(check_nick(n).map_err(|source| LaunchError::Nick {
            setting: flag("nick"),
            source,
        })?),
        None => None,
    };
    config.listen = SocketAddr::new(
        s.bind.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        s.port.unwrap_or(DEFAULT_PORT),
    );
    let discovery_port = s.discovery_port.unwrap_or(DEFAULT_DISCOVERY_PORT);
    config.discovery = if s.discovery == Some(false) {
        None
    } else {
        Some(DiscoveryConfig {
            port: discovery_port,
            broadcast_addrs: s
                .broadcast
                .iter()
                .flatten()
                .map(|ip| SocketAddr::from((*ip, discovery_port)))
                .collect(),
            ..DiscoveryConfig::default()
        })
    };
    config.seeds = s.seeds.clone().unwrap_or_default();
    let ids = |key: &str, list: &[String]| -> Result<Vec<NodeId>, LaunchError> {
        list.iter()
            .map(|hex| {
                NodeId::from_hex(hex.trim()).map_err(|e| LaunchError::Root {
                    setting: flag(key),
                    reason: format!("{hex:?} is not a node id (64 hex digits): {e}"),
                })
            })
            .collect()
    };
    config.blocked = ids("blocked", s.blocked.as_deref().unwrap_or_default())?;
    config.allowed = match &s.allowed {
        Some(list) => Some(ids("allowed", list)?),
        None => None,
    };
    if let Some(invite) = &invite {
        for peer in &invite.peers {
            if !config.seeds.contains(peer) {
                config.seeds.push(peer.clone());
            }
        }
    }
    config.identity = identity;
    config.data_dir = match &config.identity {
        IdentitySource::KeyFile(key) => Some(s.data_dir.clone().unwrap_or_else(|| {
            key.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("rooms"), |d| d.join("rooms"))
        })),
        _ => None,
    };
    config.validate()?;
    let remember = matches!(config.identity, IdentitySource::KeyFile(_)).then(|| {
        (
            resolved.paths().clone(),
            Remembered {
                room: Some(room_text),
                root: root.map(|r| r.to_string()),
                nick: config.nick.clone(),
                key_file: resolved.key_file_named().then(|| absolute(&key)).flatten(),
            },
        )
    });
    Ok(Plan {
        config,
        generated_room,
        hide_room: s.hide_room == Some(true),
        remember,
        notes,
        _key_lock: key_lock,
    })
}

/// This node's id for `--root me`: the key file's identity (created now
/// if it does not exist yet), or a fresh identity that the run then uses.
fn own_id(identity: &mut IdentitySource) -> Result<NodeId, String> {
    match identity {
        IdentitySource::KeyFile(path) => Identity::load_or_create(path)
            .map(|i| i.node_id())
            .map_err(|e| e.to_string()),
        IdentitySource::Given(i) => Ok(i.node_id()),
        IdentitySource::Ephemeral => {
            let fresh = Arc::new(Identity::generate());
            let id = fresh.node_id();
            *identity = IdentitySource::Given(fresh);
            Ok(id)
        }
    }
}

fn absolute(path: &Path) -> Option<PathBuf> {
    std::path::absolute(path).ok()
}

/// Starts the planned node; when the default port is taken (a second node
/// on this machine), any free port.
pub async fn start(plan: &Plan, port_named: bool) -> Result<Node, LaunchError> {
    match Node::start(plan.config.clone()).await {
        Err(crate::error::Error::Listen { source, .. })
            if !port_named && source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            tracing::info!("port {DEFAULT_PORT} is taken; using any free port");
            let mut config = plan.config.clone();
            config.listen.set_port(0);
            Node::start(config).await
        }
        other => other,
    }
    .map_err(LaunchError::Node)
}

/// Where this node keeps the room's history, for the person.
pub fn history_place(node: &Node, plan: &Plan) -> String {
    match &plan.config.data_dir {
        Some(dir) => format!(
            "{}",
            dir.join(format!("{}-{}", node.room_tag(), node.id().fmt_short()))
                .display()
        ),
        None => "memory only (a throwaway identity): nothing is kept".to_string(),
    }
}

/// Resolves on Ctrl-C (SIGINT), SIGTERM or SIGHUP (pending forever when
/// none can be watched): both clients then leave the room gracefully.
pub fn terminate_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) {
                (Ok(mut term), Ok(mut hup)) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                        _ = hup.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves `args` against settings files in `dir` and no environment.
    fn resolved(dir: &Path, args: &RunArgs) -> Resolved {
        let paths = Paths {
            config_file: dir.join("config.toml"),
            config_named: false,
            data_dir: dir.join("data"),
        };
        settings::resolve(paths, &args.to_settings(), &|_| None).expect("resolves")
    }

    fn plan_of(dir: &Path, args: &RunArgs) -> Result<Plan, LaunchError> {
        plan(&resolved(dir, args))
    }

    #[test]
    fn a_missing_room_is_generated_and_strong() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let plan = plan_of(dir.path(), &RunArgs::default()).expect("plans");
        assert!(plan.generated_room);
        assert!(!plan.config.room.code().is_weak());
    }

    #[test]
    fn the_next_run_comes_back_to_the_remembered_room_nick_and_key() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let key = dir.path().join("keys").join("me.key");
        let first = plan_of(
            dir.path(),
            &RunArgs {
                nick: Some("ada".into()),
                key_file: Some(key.clone()),
                ..RunArgs::default()
            },
        )
        .expect("plans");
        assert!(first.generated_room);
        first.save_remembered().expect("remembers");
        let code = first.config.room.code().as_str().to_string();
        drop(first); // releases the key lock
        let second = plan_of(dir.path(), &RunArgs::default()).expect("plans");
        assert!(!second.generated_room);
        assert_eq!(second.config.room.code().as_str(), code);
        assert_eq!(second.config.nick.as_deref(), Some("ada"));
        match &second.config.identity {
            IdentitySource::KeyFile(p) => assert_eq!(p, &absolute(&key).expect("absolute")),
            other => panic!("expected the remembered key file, got {other:?}"),
        }
    }

    #[test]
    fn a_join_link_gives_the_room_and_the_seeds() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let uri = "flashmesh://join?room=amber-otter-lamp-mesa-quilt-river-4821&peer=10.0.0.7:9000";
        let args = RunArgs {
            join: Some(uri.into()),
            ..RunArgs::default()
        };
        let plan = plan_of(dir.path(), &args).expect("plans");
        assert!(!plan.generated_room);
        assert_eq!(plan.config.seeds, vec!["10.0.0.7:9000".to_string()]);
        assert_eq!(
            plan.config.room.code().as_str(),
            "amber-otter-lamp-mesa-quilt-river-4821"
        );
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let base = RunArgs {
            room: Some("amber-otter-lamp-mesa-quilt-river-4821".into()),
            ..RunArgs::default()
        };
        let bad_nick = RunArgs {
            nick: Some(" ".into()),
            ..base.clone()
        };
        let e = plan_of(dir.path(), &bad_nick).err();
        assert!(
            matches!(&e, Some(LaunchError::Nick { setting, source: NickError::Empty })
                if setting == "--nick"),
            "{e:?}"
        );
        assert!(e.is_some_and(|e| e.to_string().starts_with("--nick: ")));
        let bad_seed = RunArgs {
            seeds: vec!["nohost".into()],
            ..base.clone()
        };
        let e = plan_of(dir.path(), &bad_seed).err();
        assert!(
            matches!(&e, Some(LaunchError::Config(c)) if c.field == "seeds"),
            "{e:?}"
        );
        let bad_join = RunArgs {
            join: Some("http://example.org".into()),
            ..base.clone()
        };
        let e = plan_of(dir.path(), &bad_join).err();
        assert!(
            matches!(&e, Some(LaunchError::Join { setting, .. }) if setting == "--join"),
            "{e:?}"
        );
        let bad_room = RunArgs {
            room: Some("\u{7}".into()),
            ..base.clone()
        };
        let e = plan_of(dir.path(), &bad_room).err();
        assert!(
            matches!(&e, Some(LaunchError::Room { setting, .. }) if setting == "--room"),
            "{e:?}"
        );
        let no_room = RunArgs {
            room: None,
            join: Some("flashmesh://join?peer=10.0.0.7:9000".into()),
            ..base
        };
        let e = plan_of(dir.path(), &no_room).err();
        assert!(matches!(e, Some(LaunchError::JoinWithoutRoom)), "{e:?}");
    }

    #[test]
    fn a_key_file_in_use_is_refused_when_named_and_a_directory_is_named_as_such() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let key = dir.path().join("k");
        let held = lock_key_file(&key).expect("locks").expect("free");
        let args = RunArgs {
            key_file: Some(key),
            room: Some("amber-otter-lamp-mesa-quilt-river-4821".into()),
            ..RunArgs::default()
        };
        let e = plan_of(dir.path(), &args).err();
        assert!(
            matches!(&e, Some(LaunchError::KeyFile(KeyFileError::InUse { .. }))),
            "{e:?}"
        );
        assert!(e.is_some_and(|e| e.to_string().contains("in use")));
        drop(held);
        let args = RunArgs {
            key_file: Some(dir.path().to_path_buf()),
            ..args
        };
        let e = plan_of(dir.path(), &args).err();
        assert!(
            matches!(
                &e,
                Some(LaunchError::KeyFile(KeyFileError::IsDirectory { .. }))
            ),
            "{e:?}"
        );
        assert!(
            e.is_some_and(|e| e.to_string().contains("is a directory")),
            "the message says what is wrong"
        );
    }
}
