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
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;

use super::settings::{self, Paths, ProfileName, Remembered, Resolved, Settings};
use crate::actors::beacon::DiscoveryConfig;
use crate::config::{Config, IdentitySource, Profile, Room, check_nick};
use crate::config::{DEFAULT_DISCOVERY_PORT, DEFAULT_PORT};
use crate::crypto::room::RoomCode;
use crate::join::JoinUri;
use crate::node::Node;

/// The flags both clients take. Each one overrides the config file and the
/// environment (see [`super::settings`]).
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// The room code everyone at the event shares. Without it (and without
    /// --join), the last room is joined again, or a strong code is
    /// generated.
    #[arg(long, value_name = "CODE")]
    pub room: Option<String>,
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
    /// Engine defaults for rooms of more than about 50 nodes.
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
            join: self.join.clone(),
            nick: self.nick.clone(),
            port: self.port,
            bind: self.bind,
            discovery: self.no_discovery.then_some(false),
            discovery_port: self.discovery_port,
            broadcast: (!self.broadcasts.is_empty()).then(|| self.broadcasts.clone()),
            seeds: (!self.seeds.is_empty()).then(|| self.seeds.clone()),
            key_file: self.key_file.clone(),
            data_dir: self.data_dir.clone(),
            profile: self.large_room.then_some(ProfileName::Large),
            hide_room: self.hide_room.then_some(true),
            mouse: self.mouse.then_some(true),
        }
    }

    /// The settings in force: defaults, remembered, file, environment, flags.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let paths = Paths::standard(self.config.clone()).map_err(|e| e.to_string())?;
        settings::resolve_from_process(paths, &self.to_settings()).map_err(|e| e.to_string())
    }
}

/// Everything decided before the node starts.
pub struct Plan {
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
    /// Records the nick for the next run (when this run remembers).
    pub fn remember_nick(&mut self, nick: &str) -> Result<(), String> {
        let Some((paths, remembered)) = &mut self.remember else {
            return Ok(());
        };
        remembered.nick = Some(nick.to_string());
        remembered
            .save(paths)
            .map_err(|e| format!("cannot remember the nick: {e}"))
    }

    /// Writes `last.toml`.
    pub fn save_remembered(&self) -> Result<(), String> {
        match &self.remember {
            Some((paths, remembered)) => remembered.save(paths).map_err(|e| {
                format!(
                    "cannot remember this room in {}: {e}",
                    paths.remembered_file().display()
                )
            }),
            None => Ok(()),
        }
    }
}

/// Takes the lock beside a key file; `Ok(None)` when another process holds it.
pub fn lock_key_file(key: &Path) -> Result<Option<File>, String> {
    if key.is_dir() {
        return Err(format!("{} is a directory, not a key file", key.display()));
    }
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut lock_path = key.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", PathBuf::from(&lock_path).display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock the key file: {e}")),
    }
}

/// Plans a run from the settings in force. Blocking (derives the room key).
pub fn plan(resolved: &Resolved) -> Result<Plan, String> {
    let s = &resolved.settings;
    let flag = |key: &str| match resolved.source(key) {
        settings::Source::Flag => format!("--{}", key.replace('_', "-")),
        other => format!("{key} ({other})"),
    };
    let mut notes = Vec::new();
    let invite = match &s.join {
        Some(uri) => Some(JoinUri::parse(uri).map_err(|e| format!("{}: {e}", flag("join")))?),
        None => None,
    };
    let (code, generated_room) = match (&s.room, invite.as_ref().and_then(|i| i.room.clone())) {
        (Some(typed), _) => (
            RoomCode::parse(typed).map_err(|e| format!("{}: {e}", flag("room")))?,
            false,
        ),
        (None, Some(code)) => (code, false),
        (None, None) if invite.is_some() => {
            return Err("the join link has no room code: add --room CODE".into());
        }
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
    let room = Room::derive(code).map_err(|e| format!("room: {e}"))?;
    let profile = match s.profile {
        Some(ProfileName::Large) => Profile::LargeRoom,
        _ => Profile::SmallRoom,
    };
    let mut config = Config::new(room).with_profile(profile);
    config.nick = match &s.nick {
        Some(n) => Some(check_nick(n).map_err(|e| format!("{}: {e}", flag("nick")))?),
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
    if let Some(invite) = &invite {
        for peer in &invite.peers {
            if !config.seeds.contains(peer) {
                config.seeds.push(peer.clone());
            }
        }
    }
    let key = resolved.key_file();
    let mut key_lock = None;
    config.identity = match lock_key_file(&key) {
        Ok(Some(lock)) => {
            key_lock = Some(lock);
            IdentitySource::KeyFile(key.clone())
        }
        Ok(None) if resolved.key_file_named() => {
            return Err(format!(
                "key file {} is in use by another flashmesh process",
                key.display()
            ));
        }
        Err(e) if resolved.key_file_named() => return Err(e),
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
    config.data_dir = match &config.identity {
        IdentitySource::KeyFile(key) => Some(s.data_dir.clone().unwrap_or_else(|| {
            key.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("rooms"), |d| d.join("rooms"))
        })),
        _ => None,
    };
    config.validate().map_err(|e| e.to_string())?;
    let remember = matches!(config.identity, IdentitySource::KeyFile(_)).then(|| {
        (
            resolved.paths().clone(),
            Remembered {
                room: Some(room_text),
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

fn absolute(path: &Path) -> Option<PathBuf> {
    std::path::absolute(path).ok()
}

/// Starts the planned node; when the default port is taken (a second node
/// on this machine), any free port.
pub async fn start(plan: &Plan, port_named: bool) -> Result<Node, String> {
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
    .map_err(|e| e.to_string())
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

    fn plan_of(dir: &Path, args: &RunArgs) -> Result<Plan, String> {
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
        assert!(e.as_ref().is_some_and(|e| e.contains("--nick")), "{e:?}");
        let bad_seed = RunArgs {
            seeds: vec!["nohost".into()],
            ..base.clone()
        };
        assert!(
            plan_of(dir.path(), &bad_seed)
                .err()
                .is_some_and(|e| e.contains("seed"))
        );
        let bad_join = RunArgs {
            join: Some("http://example.org".into()),
            ..base
        };
        assert!(
            plan_of(dir.path(), &bad_join)
                .err()
                .is_some_and(|e| e.contains("--join"))
        );
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
        assert!(
            plan_of(dir.path(), &args)
                .err()
                .is_some_and(|e| e.contains("in use"))
        );
        drop(held);
        let args = RunArgs {
            key_file: Some(dir.path().to_path_buf()),
            ..args
        };
        let e = plan_of(dir.path(), &args).err();
        assert!(
            e.as_ref().is_some_and(|e| e.contains("is a directory")),
            "{e:?}"
        );
    }
}
