//! Node configuration: what [`crate::Node::start`] needs, with defaults a
//! person on a LAN expects, and [`Config::validate`] with errors that name
//! the field.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::actors::beacon::{DiscoveryConfig, DiscoveryConfigError};
use crate::crypto::identity::Identity;
use crate::crypto::room::{RoomCode, RoomError, RoomKeys};
use crate::id::NodeId;
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

/// A room: its code, its root if it names one, and the keys derived from
/// both. Deriving is slow (Argon2id, 64 MiB): do it once, off any
/// latency-sensitive path, and clone.
///
/// The root is the node that runs the room (see
/// [`crate::applets::roster`]): part of the room's identity, mixed into
/// its keys, so a rooted room and the open room of the same code are two
/// rooms that cannot hear each other.
#[derive(Clone, Debug)]
pub struct Room {
    code: RoomCode,
    root: Option<NodeId>,
    keys: RoomKeys,
}

impl Room {
    /// Derives the keys of the room known by its code alone (no root;
    /// blocking, about 0.2 s).
    pub fn derive(code: RoomCode) -> Result<Room, RoomError> {
        Room::derive_rooted(code, None)
    }

    /// Derives the keys of the room with this code and root (blocking,
    /// about 0.2 s).
    pub fn derive_rooted(code: RoomCode, root: Option<NodeId>) -> Result<Room, RoomError> {
        let keys = RoomKeys::derive_rooted(&code, root.as_ref())?;
        Ok(Room { code, root, keys })
    }

    /// The room code, as normalised.
    pub fn code(&self) -> &RoomCode {
        &self.code
    }

    /// The room's root, if it names one.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// The keys derived from the code.
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

/// Which defaults the engines (membership, topology, plumtree) run with.
/// One type for the node ([`Config::with_profile`]) and the simulator
/// ([`crate::sim::SimConfig::set_profile`]); settings and JSON spell it
/// `small` or `large`.
///
/// The small room is for up to [`Profile::SMALL_ROOM_NODES_MAX`] (50)
/// nodes, the large room for more (sized for 1,000);
/// [`Profile::for_nodes`] applies that boundary, and
/// [`Profile::engines`] gives the engine configurations. Where each value
/// comes from is said on the engines' presets (`small_room`, `large_room`)
/// and in `docs/protocol.md` ("Defaults and how they were chosen").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Up to [`Profile::SMALL_ROOM_NODES_MAX`] nodes on a shared, flaky
    /// network: fast detection without false alarms (measured in rooms of
    /// 4 to 20 nodes), 3 to 5 links per node. The default.
    #[default]
    Small,
    /// More than [`Profile::SMALL_ROOM_NODES_MAX`] nodes, sized for 1,000:
    /// slower heartbeats, paginated digests, 4 to 8 links per node.
    Large,
}

impl Profile {
    /// The most nodes the small profile is for; a room of more gets the
    /// large one ([`Profile::for_nodes`]). A bandwidth choice: the small
    /// profile's membership traffic grows with the room, and at 100 nodes
    /// it costs about 1.8 times the large profile's (`docs/protocol.md`,
    /// "Defaults and how they were chosen", has the runs).
    pub const SMALL_ROOM_NODES_MAX: usize = 50;

    /// The profile a room of `nodes` nodes gets: small up to
    /// [`Profile::SMALL_ROOM_NODES_MAX`], large above.
    pub fn for_nodes(nodes: usize) -> Profile {
        if nodes <= Profile::SMALL_ROOM_NODES_MAX {
            Profile::Small
        } else {
            Profile::Large
        }
    }

    /// The engine configurations of this profile.
    pub fn engines(self) -> EngineConfigs {
        match self {
            Profile::Small => EngineConfigs {
                membership: membership::Config::small_room(),
                topology: topology::Config::small_room(),
                plumtree: plumtree::Config::small_room(),
            },
            Profile::Large => EngineConfigs {
                membership: membership::Config::large_room(),
                topology: topology::Config::large_room(),
                plumtree: plumtree::Config::large_room(),
            },
        }
    }
}

/// The configurations of the three engines, as a [`Profile`] sets them.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfigs {
    /// Membership and failure detection.
    pub membership: membership::Config,
    /// The degree-constrained link set.
    pub topology: topology::Config,
    /// Broadcast (Plumtree).
    pub plumtree: plumtree::Config,
}

/// Everything a node needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// The room to join.
    pub room: Room,
    /// Where the node's identity comes from.
    pub identity: IdentitySource,
    /// Published to the room; `None` publishes no nick.
    pub nick: Option<String>,
    /// Where to accept links; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Beacon discovery; `None` turns it off (seeds only).
    pub discovery: Option<DiscoveryConfig>,
    /// Seed peers, `host:port`, dialled by address.
    pub seeds: Vec<String>,
    /// Nodes this node never links with (its own blocklist; more can be
    /// added while it runs, [`crate::Node::block`]).
    pub blocked: Vec<NodeId>,
    /// When set, the only nodes this node links with (its own allowlist).
    pub allowed: Option<Vec<NodeId>>,
    /// Where the op-log is stored: under this directory, in
    /// `<room tag>-<short node id>/` (so rooms and identities never share a
    /// file). `None` keeps the op-log in memory only.
    pub data_dir: Option<PathBuf>,
    /// Membership and failure detection (from the [`Profile`]).
    pub membership: membership::Config,
    /// The link set (from the [`Profile`]).
    pub topology: topology::Config,
    /// Broadcast (from the [`Profile`]).
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

/// A configuration value that cannot work: which field, and why. Nothing
/// was started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {reason}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The field, as a path in [`Config`]: `nick`, `seeds`,
    /// `discovery.jitter`, `membership.gossip_interval`, `applets`.
    pub field: &'static str,
    /// What is wrong with its value, in words.
    pub reason: String,
}

impl ConfigError {
    /// `field` (a path in [`Config`]) cannot be used, because of `reason`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            field,
            reason: reason.into(),
        }
    }
}

impl Config {
    /// The defaults: listen on 0.0.0.0:9000, beacons on port 9999 to every
    /// interface's broadcast address, no seeds, a fresh identity, the
    /// small-room profile.
    pub fn new(room: Room) -> Config {
        let EngineConfigs {
            membership,
            topology,
            plumtree,
        } = Profile::default().engines();
        Config {
            room,
            identity: IdentitySource::Ephemeral,
            nick: None,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
            discovery: Some(DiscoveryConfig::default()),
            seeds: Vec::new(),
            blocked: Vec::new(),
            allowed: None,
            data_dir: None,
            membership,
            topology,
            plumtree,
            applets: Vec::new(),
        }
    }

    /// Registers a library user's applet: its ops are checked before
    /// publishing, folded in the same total order as the built-in ones,
    /// counted in the state hash, and readable with [`crate::Node::query`];
    /// its notices ([`Applet::notices`]) are raised as
    /// [`crate::Event::Notice`]. `examples/custom_applet.rs` is one.
    /// Ops of applets a node does not know are stored and relayed anyway, so
    /// nodes with and without it share one log (their state hashes differ).
    pub fn with_applet<A: Applet + Default>(mut self) -> Config {
        self.applets.push(AppletFactory::new(|| {
            Box::new(A::default()) as Box<dyn Applet>
        }));
        self
    }

    /// Switches the engines to a profile's defaults (see
    /// [`Profile::engines`]).
    pub fn with_profile(mut self, profile: Profile) -> Config {
        let EngineConfigs {
            membership,
            topology,
            plumtree,
        } = profile.engines();
        (self.membership, self.topology, self.plumtree) = (membership, topology, plumtree);
        self
    }

    /// Checks everything [`crate::Node::start`] relies on; the error names
    /// the first field that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(nick) = &self.nick {
            check_nick(nick).map_err(|e| ConfigError::new("nick", e.to_string()))?;
        }
        if self.seeds.len() > SEEDS_MAX {
            return Err(ConfigError::new(
                "seeds",
                format!("at most {SEEDS_MAX}, got {}", self.seeds.len()),
            ));
        }
        for seed in &self.seeds {
            crate::join::parse_peer(seed).map_err(|e| ConfigError::new("seeds", e.to_string()))?;
        }
        if let Some(discovery) = &self.discovery {
            discovery.validate().map_err(|e| {
                let field = match e {
                    DiscoveryConfigError::IntervalTooShort { .. } => "discovery.interval",
                    DiscoveryConfigError::Jitter(_) => "discovery.jitter",
                };
                ConfigError::new(field, e.to_string())
            })?;
        }
        self.membership.validate()?;
        self.topology.validate()?;
        self.plumtree.validate()?;
        let mut names: std::collections::BTreeSet<&'static str> =
            crate::applets::BUILTIN.iter().map(|b| b.name).collect();
        for factory in &self.applets {
            let name = factory.make().name();
            if !names.insert(name) {
                return Err(ConfigError::new(
                    "applets",
                    format!("the name {name:?} is taken (by a built-in applet or another one)"),
                ));
            }
        }
        Ok(())
    }
}

/// Why a nickname was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NickError {
    /// Nothing but spaces.
    #[error("the nickname is empty")]
    Empty,
    /// Longer than [`NICK_CHARS_MAX`].
    #[error("the nickname is {chars} characters long; at most {max} are allowed")]
    TooLong {
        /// Its length, in characters (after trimming).
        chars: usize,
        /// The most allowed ([`NICK_CHARS_MAX`]).
        max: usize,
    },
    /// A control character (a newline, a tab, an escape) in it.
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn room() -> Room {
        Room::derive(RoomCode::parse("amber-otter-lamp-mesa-quilt-river-4821").expect("a code"))
            .expect("derives")
    }

    #[test]
    fn a_room_of_up_to_fifty_nodes_is_small_and_a_bigger_one_large() {
        assert_eq!(Profile::SMALL_ROOM_NODES_MAX, 50);
        assert_eq!(Profile::for_nodes(2), Profile::Small);
        assert_eq!(Profile::for_nodes(50), Profile::Small);
        assert_eq!(Profile::for_nodes(51), Profile::Large);
        assert_eq!(Profile::for_nodes(1000), Profile::Large);
        assert_eq!(Profile::default(), Profile::Small);
    }

    #[test]
    fn a_profile_sets_all_three_engines_and_is_spelled_in_lowercase() {
        for (profile, name) in [(Profile::Small, "small"), (Profile::Large, "large")] {
            let e = profile.engines();
            let (m, t, p) = match profile {
                Profile::Small => (
                    membership::Config::small_room(),
                    topology::Config::small_room(),
                    plumtree::Config::small_room(),
                ),
                Profile::Large => (
                    membership::Config::large_room(),
                    topology::Config::large_room(),
                    plumtree::Config::large_room(),
                ),
            };
            assert_eq!((e.membership, e.topology, e.plumtree), (m, t, p));
            let json = serde_json::to_string(&profile).expect("serialises");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<Profile>(&json).expect("parses"),
                profile
            );
            // The simulator's table prints the profile's Debug name.
            assert_eq!(format!("{profile:?}").to_lowercase(), name);
        }
        assert!(serde_json::from_str::<Profile>("\"medium\"").is_err());
    }

    #[test]
    fn with_profile_switches_every_engine_and_new_is_the_small_room() {
        let room = room();
        let small = Config::new(room.clone());
        assert_eq!(small.membership, membership::Config::small_room());
        assert_eq!(small.topology, topology::Config::small_room());
        assert_eq!(small.plumtree, plumtree::Config::small_room());
        let large = Config::new(room).with_profile(Profile::Large);
        assert_eq!(large.membership, membership::Config::large_room());
        assert_eq!(large.topology, topology::Config::large_room());
        assert_eq!(large.plumtree, plumtree::Config::large_room());
        assert_eq!(large.validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_field_that_cannot_work() {
        let good = Config::new(room());
        assert_eq!(good.validate(), Ok(()));
        let field_of = |change: &dyn Fn(&mut Config)| {
            let mut c = good.clone();
            change(&mut c);
            let e = c.validate().expect_err("refused");
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid configuration: {}: ", e.field)),
                "{e}"
            );
            e.field
        };
        assert_eq!(field_of(&|c| c.nick = Some(" ".into())), "nick");
        assert_eq!(field_of(&|c| c.seeds = vec!["nohost".into()]), "seeds");
        assert_eq!(
            field_of(&|c| c.seeds = vec!["10.0.0.1:9000".into(); SEEDS_MAX + 1]),
            "seeds"
        );
        assert_eq!(
            field_of(&|c| {
                if let Some(d) = &mut c.discovery {
                    d.jitter = 5.0;
                }
            }),
            "discovery.jitter"
        );
        assert_eq!(
            field_of(&|c| {
                if let Some(d) = &mut c.discovery {
                    d.interval = Duration::ZERO;
                }
            }),
            "discovery.interval"
        );
        assert_eq!(
            field_of(&|c| c.membership.gossip_interval = Duration::ZERO),
            "membership.gossip_interval"
        );
        assert_eq!(
            field_of(&|c| c.topology.degree_min = 0),
            "topology.degree_min"
        );
        assert_eq!(
            field_of(&|c| c.plumtree.graft_rounds_max = 0),
            "plumtree.graft_rounds_max"
        );
    }
}
