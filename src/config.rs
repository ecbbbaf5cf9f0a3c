//! Node configuration: what [`crate::Node::start`] needs, with defaults a
//! person on a LAN expects, and [`Config::validate`] with errors that name
//! the field.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use crate::actors::beacon::DiscoveryConfig;
use crate::crypto::identity::Identity;
use crate::crypto::room::{RoomCode, RoomError, RoomKeys};
use crate::proto::oplog::fold::Applet;
use crate::proto::{membership, plumtree, topology};

/// The TCP port a node listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9000;
/// The UDP port beacons use unless told otherwise.
pub const DEFAULT_DISCOVERY_PORT: u16 = 9999;
/// Longest nickname, in characters (after trimming).
pub const NICK_CHARS_MAX: usize = 32;
/// Most seed peers.
pub const SEEDS_MAX: usize = 32;

/// A room: its code and the keys derived from it. Deriving is slow
/// (Argon2id, 64 MiB): do it once, off any latency-sensitive path, and clone.
#[derive(Clone, Debug)]
pub struct Room {
    code: RoomCode,
    keys: RoomKeys,
}

impl Room {
    /// Derives the room's keys from its code (blocking; about 0.2 s).
    pub fn derive(code: RoomCode) -> Result<Room, RoomError> {
        let keys = RoomKeys::derive(&code)?;
        Ok(Room { code, keys })
    }

    pub fn code(&self) -> &RoomCode {
        &self.code
    }

    pub fn keys(&self) -> &RoomKeys {
        &self.keys
    }
}

/// Where the node's identity comes from.
#[derive(Clone)]
pub enum IdentitySource {
    /// A key file: loaded if it exists, created (0600) if not. A restarted
    /// node keeps its id.
    KeyFile(PathBuf),
    /// A fresh identity for this run only.
    Ephemeral,
    /// One the caller already holds.
    Given(Arc<Identity>),
}

impl std::fmt::Debug for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentitySource::KeyFile(p) => write!(f, "KeyFile({})", p.display()),
            IdentitySource::Ephemeral => f.write_str("Ephemeral"),
            IdentitySource::Given(id) => write!(f, "Given({})", id.node_id().fmt_short()),
        }
    }
}

/// The engine profiles (see `docs/protocol.md`, "Defaults").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// 2–50 nodes, flaky Wi-Fi: fast detection, few links.
    #[default]
    SmallRoom,
    /// Up to about 1000 nodes.
    LargeRoom,
}

/// Everything a node needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    pub room: Room,
    pub identity: IdentitySource,
    /// Published to the room; `None` publishes no nick.
    pub nick: Option<String>,
    /// Where to accept links; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Beacon discovery; `None` turns it off (seeds only).
    pub discovery: Option<DiscoveryConfig>,
    /// Seed peers, `host:port`, dialled by address.
    pub seeds: Vec<String>,
    /// Where the op-log is stored: under this directory, in
    /// `<room tag>-<short node id>/` (so rooms and identities never share a
    /// file). `None` keeps the op-log in memory only.
    pub data_dir: Option<PathBuf>,
    pub membership: membership::Config,
    pub topology: topology::Config,
    pub plumtree: plumtree::Config,
    /// A library user's own applets, folded beside the built-in ones (see
    /// [`Config::with_applet`]).
    pub applets: Vec<AppletFactory>,
}

/// Makes an empty instance of a library user's applet. The node calls it
/// at start and whenever it rebuilds its op-log (a restart after a panic),
/// so it must return the same empty state every time.
#[derive(Clone)]
pub struct AppletFactory(Arc<dyn Fn() -> Box<dyn Applet> + Send + Sync>);

impl AppletFactory {
    /// Wraps `make`.
    pub fn new(make: impl Fn() -> Box<dyn Applet> + Send + Sync + 'static) -> AppletFactory {
        AppletFactory(Arc::new(make))
    }

    /// One empty instance.
    pub fn make(&self) -> Box<dyn Applet> {
        (self.0)()
    }
}

impl std::fmt::Debug for AppletFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppletFactory({})", self.make().name())
    }
}

/// A configuration that cannot work; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// The defaults: listen on 0.0.0.0:9000, beacons on port 9999 to every
    /// interface's broadcast address, no seeds, a fresh identity, the
    /// small-room profile.
    pub fn new(room: Room) -> Config {
        Config {
            room,
            identity: IdentitySource::Ephemeral,
            nick: None,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
            discovery: Some(DiscoveryConfig::default()),
            seeds: Vec::new(),
            data_dir: None,
            membership: membership::Config::small_room(),
            topology: topology::Config::small_room(),
            plumtree: plumtree::Config::small_room(),
            applets: Vec::new(),
        }
    }

    /// Registers a library user's applet: its ops are checked before
    /// publishing, folded in the same total order as the built-in ones,
    /// counted in the state hash, and readable with [`crate::Node::query`].
    /// Ops of applets a node does not know are stored and relayed anyway, so
    /// nodes with and without it share one log (their state hashes differ).
    pub fn with_applet<A: Applet + Default>(mut self) -> Config {
        self.applets.push(AppletFactory::new(|| {
            Box::new(A::default()) as Box<dyn Applet>
        }));
        self
    }

    /// Switches the engines to a profile's defaults.
    pub fn with_profile(mut self, profile: Profile) -> Config {
        (self.membership, self.topology, self.plumtree) = match profile {
            Profile::SmallRoom => (
                membership::Config::small_room(),
                topology::Config::small_room(),
                plumtree::Config::small_room(),
            ),
            Profile::LargeRoom => (
                membership::Config::large_room(),
                topology::Config::large_room(),
                plumtree::Config::large_room(),
            ),
        };
        self
    }

    /// Checks everything [`crate::Node::start`] relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(nick) = &self.nick {
            check_nick(nick).map_err(|e| ConfigError(format!("nick: {e}")))?;
        }
        if self.seeds.len() > SEEDS_MAX {
            return Err(ConfigError(format!(
                "seeds: at most {SEEDS_MAX}, got {}",
                self.seeds.len()
            )));
        }
        for seed in &self.seeds {
            crate::join::parse_peer(seed).map_err(|e| ConfigError(format!("seeds: {e}")))?;
        }
        self.membership.validate().map_err(ConfigError)?;
        self.topology.validate().map_err(ConfigError)?;
        self.plumtree.validate().map_err(ConfigError)?;
        let mut names: std::collections::BTreeSet<&'static str> =
            crate::applets::builtin().iter().map(|a| a.name()).collect();
        for factory in &self.applets {
            let name = factory.make().name();
            if !names.insert(name) {
                return Err(ConfigError(format!(
                    "applets: the name {name:?} is taken (by a built-in applet or another one)"
                )));
            }
        }
        Ok(())
    }
}

/// Why a nickname was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NickError {
    #[error("the nickname is empty")]
    Empty,
    #[error("the nickname is {chars} characters long; at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    #[error("the nickname has a control character")]
    ControlCharacter,
}

/// Checks a nickname: surrounding space trimmed, 1 to [`NICK_CHARS_MAX`]
/// characters, no control characters. Returns the trimmed name.
pub fn check_nick(name: &str) -> Result<String, NickError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NickError::Empty);
    }
    if name.chars().any(char::is_control) {
        return Err(NickError::ControlCharacter);
    }
    let chars = name.chars().count();
    if chars > NICK_CHARS_MAX {
        return Err(NickError::TooLong {
            chars,
            max: NICK_CHARS_MAX,
        });
    }
    Ok(name.to_string())
}
