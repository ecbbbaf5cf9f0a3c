//! Join links: everything a newcomer needs to reach a room, in one URI that
//! can be pasted or shown as a QR code.
//!
//! ```text
//! flashmesh://join?room=amber-otter-lunar-pine-river-cloud-4821&peer=192.168.1.5:9000&id=<64 hex>
//! ```
//!
//! `room` is the room code (left out when the inviter chooses not to share
//! it, so the link only says where to dial), `root` the room's root when
//! it names one (with the code it makes the room's keys), `peer` is an
//! address to dial (one or more), `id` is the node id the newcomer should
//! find at the first peer. Values are percent-encoded (`application/x-www-form-urlencoded`,
//! the `url` crate); unknown parameters are ignored so later versions can add
//! some. Grammar and limits: `docs/spec-drafts/join-uri.md`.
//!
//! Peers are kept as `host:port` strings, not resolved here: a DNS name is
//! fine and the node resolves it when it dials.

use std::fmt;
use std::net::SocketAddr;

use qrcode::{Color, QrCode};
use url::Url;
use url::form_urlencoded;

use crate::crypto::room::{RoomCode, RoomError};
use crate::id::{HexError, NodeId};

/// The URI scheme.
pub const JOIN_SCHEME: &str = "flashmesh";
/// The URI's host part: what kind of link this is.
pub const JOIN_HOST: &str = "join";
/// Most peers a join URI carries.
pub const JOIN_PEERS_MAX: usize = 16;
/// Longest join URI accepted or written, in bytes (fits a QR code at error
/// correction level M, whose limit is 2,331 bytes).
pub const JOIN_URI_BYTES_MAX: usize = 2048;
/// Longest host name in a peer address (the DNS limit).
pub const PEER_HOST_BYTES_MAX: usize = 253;

/// Why a join URI (or a peer address) was refused. Nothing was joined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The text (trimmed) is longer than [`JOIN_URI_BYTES_MAX`]; refused
    /// before parsing.
    #[error("the join link is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// [`JOIN_URI_BYTES_MAX`].
        max: usize,
    },
    /// The text does not parse as a URI; the `url` crate's reason.
    #[error("not a URI ({0}); a join link looks like flashmesh://join?room=...&peer=HOST:PORT")]
    NotAUri(String),
    /// The URI's scheme is not [`JOIN_SCHEME`].
    #[error("a join link starts with flashmesh://join, not {scheme}:")]
    WrongScheme {
        /// The scheme found, as the `url` crate lowercases it.
        scheme: String,
    },
    /// A `flashmesh:` URI whose host is not [`JOIN_HOST`], or whose path is
    /// neither empty nor `/`.
    #[error("a join link starts with flashmesh://join (this flashmesh link is something else)")]
    NotAJoin,
    /// The link has no `peer` parameter.
    #[error("the join link names no peer to dial (it needs at least one peer=HOST:PORT)")]
    MissingPeer,
    /// The link has more than [`JOIN_PEERS_MAX`] `peer` parameters.
    #[error("the join link names {count} peers; at most {max} are allowed")]
    TooManyPeers {
        /// Peers counted when parsing stopped: the first one over the limit,
        /// so always `max + 1`.
        count: usize,
        /// [`JOIN_PEERS_MAX`].
        max: usize,
    },
    /// A peer is not `HOST:PORT` with an IPv4 address, a bracketed IPv6
    /// address or a host name of at most [`PEER_HOST_BYTES_MAX`] bytes, and
    /// a port in 1..=65535.
    #[error("peer {peer:?} is not a HOST:PORT address: {reason}")]
    BadPeer {
        /// The peer as given (decoded).
        peer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `id` or `root` parameter is not 64 hex digits.
    #[error("id {id:?} is not a node id (64 hex digits): {source}")]
    BadId {
        /// The value as given (decoded).
        id: String,
        /// Why it is not a node id.
        source: HexError,
    },
    /// The `room` parameter is not a valid room code.
    #[error("the join link's room code is not valid: {0}")]
    BadRoom(RoomError),
    /// A parameter allowed once (`room`, `id` or `root`, named here)
    /// appears twice.
    #[error("the join link gives {0} more than once")]
    Repeated(&'static str),
    /// The `qrcode` crate could not encode the data (too long for any QR
    /// code); its reason.
    #[error("cannot draw a QR code: {0}")]
    Qr(String),
}

/// A parsed join link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinUri {
    /// The room code, if the inviter shared it.
    pub room: Option<RoomCode>,
    /// Addresses to dial, `host:port` (as [`parse_peer`] returns them), best
    /// first.
    pub peers: Vec<String>,
    /// The node id expected at the first peer, if given.
    pub node: Option<NodeId>,
    /// The room's root, if the room names one: part of the room's
    /// identity (with the code it derives the room's keys), so a link to a
    /// rooted room carries it.
    pub root: Option<NodeId>,
}

impl JoinUri {
    /// The link as text. Peers beyond [`JOIN_PEERS_MAX`], or that would make
    /// the link longer than [`JOIN_URI_BYTES_MAX`], are left out (the first
    /// ones are kept), so the result parses whenever there is at least one
    /// peer that fits.
    pub fn to_uri(&self) -> String {
        let prefix = format!("{JOIN_SCHEME}://{JOIN_HOST}?");
        let room = self
            .room
            .as_ref()
            .map(|r| format!("room={}", encode(r.as_str())));
        let id = self.node.map(|n| format!("id={n}"));
        let root = self.root.map(|n| format!("root={n}"));
        // The link is `prefix` then the parts joined by '&'.
        let length = |parts: usize, bytes: usize| prefix.len() + bytes + parts.saturating_sub(1);
        let fixed_parts =
            usize::from(room.is_some()) + usize::from(id.is_some()) + usize::from(root.is_some());
        let mut bytes = room.as_ref().map_or(0, String::len)
            + id.as_ref().map_or(0, String::len)
            + root.as_ref().map_or(0, String::len);
        let mut peers = Vec::new();
        for peer in self.peers.iter().take(JOIN_PEERS_MAX) {
            // ':' may stay literal in a query (RFC 3986 `pchar`): easier to read.
            let part = format!("peer={}", encode(peer).replace("%3A", ":"));
            if length(fixed_parts + peers.len() + 1, bytes + part.len()) > JOIN_URI_BYTES_MAX {
                break;
            }
            bytes += part.len();
            peers.push(part);
        }
        let all: Vec<&str> = room
            .iter()
            .chain(root.iter())
            .chain(peers.iter())
            .chain(id.iter())
            .map(String::as_str)
            .collect();
        format!("{prefix}{}", all.join("&"))
    }

    /// Parses a join link (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<JoinUri, JoinError> {
        let text = text.trim();
        if text.len() > JOIN_URI_BYTES_MAX {
            return Err(JoinError::TooLong {
                len: text.len(),
                max: JOIN_URI_BYTES_MAX,
            });
        }
        let url = Url::parse(text).map_err(|e| JoinError::NotAUri(e.to_string()))?;
        if url.scheme() != JOIN_SCHEME {
            return Err(JoinError::WrongScheme {
                scheme: url.scheme().to_string(),
            });
        }
        if url.host_str() != Some(JOIN_HOST) || !matches!(url.path(), "" | "/") {
            return Err(JoinError::NotAJoin);
        }
        let mut room = None;
        let mut node = None;
        let mut root = None;
        let mut peers = Vec::new();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "room" => {
                    if room.is_some() {
                        return Err(JoinError::Repeated("room"));
                    }
                    room = Some(RoomCode::parse(&value).map_err(JoinError::BadRoom)?);
                }
                "id" => {
                    if node.is_some() {
                        return Err(JoinError::Repeated("id"));
                    }
                    node = Some(NodeId::from_hex(&value).map_err(|source| JoinError::BadId {
                        id: value.to_string(),
                        source,
                    })?);
                }
                "root" => {
                    if root.is_some() {
                        return Err(JoinError::Repeated("root"));
                    }
                    root = Some(NodeId::from_hex(&value).map_err(|source| JoinError::BadId {
                        id: value.to_string(),
                        source,
                    })?);
                }
                "peer" => {
                    if peers.len() == JOIN_PEERS_MAX {
                        return Err(JoinError::TooManyPeers {
                            count: peers.len() + 1,
                            max: JOIN_PEERS_MAX,
                        });
                    }
                    peers.push(parse_peer(&value)?);
                }
                // Forward compatibility: later versions may add parameters.
                _ => {}
            }
        }
        if peers.is_empty() {
            return Err(JoinError::MissingPeer);
        }
        Ok(JoinUri {
            room,
            peers,
            node,
            root,
        })
    }
}

impl fmt::Display for JoinUri {
    /// The link itself, room code included (it is an invitation).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

impl std::str::FromStr for JoinUri {
    type Err = JoinError;
    fn from_str(s: &str) -> Result<JoinUri, JoinError> {
        JoinUri::parse(s)
    }
}

/// Checks a peer address, `host:port`: an IPv4 address, an IPv6 address in
/// brackets (`[fe80::1]:9000`), or a DNS name (letters, digits, `-`, `_`,
/// `.`), and a port in 1..=65535. IP addresses come back in their canonical
/// form; names as given.
pub fn parse_peer(text: &str) -> Result<String, JoinError> {
    let bad = |reason: &str| JoinError::BadPeer {
        peer: text.to_string(),
        reason: reason.to_string(),
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(bad("port 0 cannot be dialed"));
        }
        return Ok(addr.to_string());
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(bad("no :PORT"));
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if host.contains(':') || host.starts_with('[') {
        return Err(bad("an IPv6 address goes in brackets: [ADDR]:PORT"));
    }
    if host.len() > PEER_HOST_BYTES_MAX {
        return Err(bad("the host name is too long"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(bad("the host has a character a host name cannot have"));
    }
    match port.parse::<u16>() {
        Ok(0) => Err(bad("port 0 cannot be dialed")),
        Ok(_) => Ok(text.to_string()),
        Err(_) => Err(bad("the port is not a number in 1..=65535")),
    }
}

/// Modules of light margin around a QR code (the standard asks for 4).
pub const QR_QUIET_ZONE_MODULES: usize = 4;

/// Sets the colours a QR code is drawn in: black foreground (the dark
/// modules) on a bright white background (the light ones).
pub const QR_COLORS_SGR: &str = "\x1b[30;107m";
/// Restores the terminal's colours after each line of a QR code.
pub const QR_RESET_SGR: &str = "\x1b[0m";

/// Draws `data` as a QR code in terminal text that scans on dark and on
/// light terminal themes alike.
///
/// The choice: dark modules on an explicit light background, the polarity
/// the QR standard specifies, instead of leaning on the theme's default
/// colours (drawing light modules as blocks only works on light-on-dark
/// terminals, and the reverse only on dark-on-light ones). Each line
/// starts with [`QR_COLORS_SGR`] (black on bright white) and ends with
/// [`QR_RESET_SGR`], so the code and its quiet zone of
/// [`QR_QUIET_ZONE_MODULES`] light modules are drawn in those colours
/// whatever the theme. Two module rows per character: `█` both dark, `▀`
/// the upper dark, `▄` the lower dark, a space both light; a last odd row
/// pairs with a light one.
pub fn qr_text(data: &str) -> Result<String, JoinError> {
    let rows = qr_rows(data)?;
    let mut out = String::new();
    for row in rows {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(QR_COLORS_SGR);
        out.push_str(&row);
        out.push_str(QR_RESET_SGR);
    }
    Ok(out)
}

/// The rows of [`qr_text`] without the colour codes, for a caller that
/// sets the colours itself (the TUI draws them black on white).
pub fn qr_rows(data: &str) -> Result<Vec<String>, JoinError> {
    let code = QrCode::new(data.as_bytes()).map_err(|e| JoinError::Qr(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width + 2 * QR_QUIET_ZONE_MODULES;
    // Dark at (x, y) of the code with its quiet zone.
    let dark = |x: usize, y: usize| {
        let (Some(cx), Some(cy)) = (
            x.checked_sub(QR_QUIET_ZONE_MODULES),
            y.checked_sub(QR_QUIET_ZONE_MODULES),
        ) else {
            return false;
        };
        cx < width && cy < width && colors[cy * width + cx] == Color::Dark
    };
    Ok((0..side)
        .step_by(2)
        .map(|y| {
            (0..side)
                .map(|x| match (dark(x, y), dark(x, y + 1)) {
                    (true, true) => '\u{2588}',
                    (true, false) => '\u{2580}',
                    (false, true) => '\u{2584}',
                    (false, false) => ' ',
                })
                .collect()
        })
        .collect())
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn id() -> NodeId {
        NodeId([0xab; 32])
    }

    #[test]
    fn a_link_round_trips_with_a_generated_room_code() {
        let mut rng = crate::proto::EngineRng::seed_from_u64(3);
        let join = JoinUri {
            root: None,
            room: Some(RoomCode::generate(&mut rng)),
            peers: vec![
                "192.168.1.5:9000".into(),
                "[fe80::1]:9001".into(),
                "mesh-host.local:9002".into(),
            ],
            node: Some(id()),
        };
        let text = join.to_uri();
        let room = join.room.as_ref().map(|r| r.as_str()).unwrap_or_default();
        assert_eq!(
            text,
            format!(
                "flashmesh://join?room={room}&peer=192.168.1.5:9000\
                 &peer=%5Bfe80::1%5D:9001&peer=mesh-host.local:9002&id={}",
                id()
            )
        );
        assert_eq!(JoinUri::parse(&text), Ok(join.clone()));
        assert_eq!(join.to_string(), text);
        assert_eq!(text.parse::<JoinUri>(), Ok(join));
    }

    #[test]
    fn room_and_id_are_optional() {
        let join = JoinUri::parse("flashmesh://join?peer=10.0.0.2:9000").expect("parses");
        assert_eq!(
            join,
            JoinUri {
                root: None,
                room: None,
                peers: vec!["10.0.0.2:9000".into()],
                node: None,
            }
        );
        assert_eq!(join.to_uri(), "flashmesh://join?peer=10.0.0.2:9000");
    }

    #[test]
    fn a_room_with_spaces_and_unicode_is_percent_encoded_and_normalised() {
        let join = JoinUri::parse(
            "flashmesh://join/?room=Caf%C3%A9+Night%20%C3%9Cber&peer=10.0.0.2%3A9000",
        )
        .expect("parses");
        let room = join.room.clone().expect("a room");
        assert_eq!(room.as_str(), "café-night-über");
        let text = join.to_uri();
        assert_eq!(
            text,
            "flashmesh://join?room=caf%C3%A9-night-%C3%BCber&peer=10.0.0.2:9000"
        );
        assert_eq!(JoinUri::parse(&text), Ok(join));
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let join = JoinUri::parse("flashmesh://join?v=2&peer=h:1&colour=blue").expect("parses");
        assert_eq!(join.peers, vec!["h:1".to_string()]);
    }

    #[test]
    fn a_link_without_a_peer_is_refused() {
        assert_eq!(
            JoinUri::parse("flashmesh://join?room=abc"),
            Err(JoinError::MissingPeer)
        );
        assert_eq!(
            JoinUri::parse("flashmesh://join"),
            Err(JoinError::MissingPeer)
        );
        let err = JoinUri::parse("flashmesh://join?room=abc").expect_err("refused");
        assert!(err.to_string().contains("peer=HOST:PORT"), "{err}");
    }

    #[test]
    fn other_schemes_and_other_flashmesh_links_are_refused() {
        assert_eq!(
            JoinUri::parse("https://join?peer=h:1"),
            Err(JoinError::WrongScheme {
                scheme: "https".into()
            })
        );
        assert_eq!(
            JoinUri::parse("flashmesh://room?peer=h:1"),
            Err(JoinError::NotAJoin)
        );
        assert_eq!(
            JoinUri::parse("flashmesh:join?peer=h:1"),
            Err(JoinError::NotAJoin)
        );
        assert_eq!(
            JoinUri::parse("flashmesh://join/x?peer=h:1"),
            Err(JoinError::NotAJoin)
        );
        assert!(matches!(
            JoinUri::parse("amber otter"),
            Err(JoinError::NotAUri(_))
        ));
    }

    #[test]
    fn a_bad_id_or_room_is_refused_with_the_reason() {
        assert_eq!(
            JoinUri::parse("flashmesh://join?peer=h:1&id=abc"),
            Err(JoinError::BadId {
                id: "abc".into(),
                source: HexError::Length {
                    expected: 64,
                    got: 3
                }
            })
        );
        let bad_digit = format!("flashmesh://join?peer=h:1&id={}", "z".repeat(64));
        assert!(matches!(
            JoinUri::parse(&bad_digit),
            Err(JoinError::BadId { .. })
        ));
        assert_eq!(
            JoinUri::parse("flashmesh://join?peer=h:1&room=+-+"),
            Err(JoinError::BadRoom(RoomError::Empty))
        );
        assert_eq!(
            JoinUri::parse("flashmesh://join?peer=h:1&room=a%07b"),
            Err(JoinError::BadRoom(RoomError::ControlCharacter))
        );
        assert_eq!(
            JoinUri::parse("flashmesh://join?peer=h:1&room=a&room=b"),
            Err(JoinError::Repeated("room"))
        );
    }

    #[test]
    fn peers_are_checked() {
        for good in ["1.2.3.4:9000", "[::1]:1", "host:65535", "a_b.c-d:80"] {
            assert!(parse_peer(good).is_ok(), "{good}");
        }
        assert_eq!(parse_peer("[0:0::1]:9000"), Ok("[::1]:9000".into()));
        for bad in [
            "1.2.3.4",
            "1.2.3.4:0",
            "host:65536",
            "host:",
            ":9000",
            "fe80::1:9000",
            "[fe80::1:9000",
            "bad host:1",
            "h/x:1",
        ] {
            assert!(
                matches!(parse_peer(bad), Err(JoinError::BadPeer { .. })),
                "{bad}"
            );
        }
        assert!(parse_peer(&format!("{}:1", "a".repeat(PEER_HOST_BYTES_MAX))).is_ok());
        assert!(parse_peer(&format!("{}:1", "a".repeat(PEER_HOST_BYTES_MAX + 1))).is_err());
        assert!(matches!(
            JoinUri::parse("flashmesh://join?peer=nope"),
            Err(JoinError::BadPeer { .. })
        ));
    }

    #[test]
    fn limits_are_enforced_on_parse_and_respected_by_to_uri() {
        let many: Vec<String> = (1..=JOIN_PEERS_MAX + 1)
            .map(|i| format!("10.0.0.{i}:9000"))
            .collect();
        let text = format!("flashmesh://join?peer={}", many.join("&peer="));
        assert_eq!(
            JoinUri::parse(&text),
            Err(JoinError::TooManyPeers {
                count: JOIN_PEERS_MAX + 1,
                max: JOIN_PEERS_MAX
            })
        );
        let join = JoinUri {
            root: None,
            room: None,
            peers: many.clone(),
            node: None,
        };
        let written = JoinUri::parse(&join.to_uri()).expect("parses");
        assert_eq!(written.peers, many[..JOIN_PEERS_MAX].to_vec());

        let long = format!("flashmesh://join?peer=h:1&x={}", "a".repeat(2048));
        assert_eq!(
            JoinUri::parse(&long),
            Err(JoinError::TooLong {
                len: long.len(),
                max: JOIN_URI_BYTES_MAX
            })
        );
        // Long host names: to_uri keeps the peers that fit.
        let long_peers: Vec<String> = (0..JOIN_PEERS_MAX)
            .map(|i| format!("{}{i:02}.example:9000", "h".repeat(200)))
            .collect();
        let join = JoinUri {
            root: None,
            room: Some(RoomCode::parse(&"é".repeat(128)).expect("valid")),
            peers: long_peers.clone(),
            node: Some(id()),
        };
        let text = join.to_uri();
        assert!(text.len() <= JOIN_URI_BYTES_MAX, "{}", text.len());
        let back = JoinUri::parse(&text).expect("parses");
        assert!(!back.peers.is_empty() && back.peers.len() < JOIN_PEERS_MAX);
        assert_eq!(back.peers, long_peers[..back.peers.len()].to_vec());
        assert_eq!(back.room, join.room);
        assert_eq!(back.node, join.node);
    }

    /// Reads a drawn QR code back into modules (true: dark): each line
    /// must carry the explicit colours, each character two module rows.
    fn modules_of(text: &str) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in text.lines() {
            let inner = line
                .strip_prefix(QR_COLORS_SGR)
                .and_then(|l| l.strip_suffix(QR_RESET_SGR))
                .unwrap_or_else(|| panic!("a line without the QR colours: {line:?}"));
            let (mut upper, mut lower) = (Vec::new(), Vec::new());
            for c in inner.chars() {
                let (u, l) = match c {
                    '\u{2588}' => (true, true),
                    '\u{2580}' => (true, false),
                    '\u{2584}' => (false, true),
                    ' ' => (false, false),
                    other => panic!("not a QR character: {other:?}"),
                };
                upper.push(u);
                lower.push(l);
            }
            rows.push(upper);
            rows.push(lower);
        }
        rows
    }

    #[test]
    fn a_drawn_qr_code_decodes_back_to_the_link() {
        let link = JoinUri {
            root: None,
            room: Some(RoomCode::parse("amber-otter-lamp-mesa-quilt-river-4821").expect("a code")),
            peers: vec!["192.168.1.5:9000".into(), "[fe80::1]:9001".into()],
            node: Some(id()),
        }
        .to_uri();
        let modules = modules_of(&qr_text(&link).expect("fits"));
        // Each module as 4×4 pixels: dark modules black, light ones white.
        const PX: usize = 4;
        let (w, h) = (modules[0].len() * PX, modules.len() * PX);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
            if modules[y / PX][x / PX] { 0 } else { 255 }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the drawing");
        let (_, decoded) = grids[0].decode().expect("the drawing decodes");
        assert_eq!(decoded, link);
    }

    #[test]
    fn a_qr_code_is_drawn_with_its_quiet_zone_in_explicit_light_colours() {
        let data = "flashmesh://join?peer=192.168.1.5:9000";
        let text = qr_text(data).expect("fits");
        let width = QrCode::new(data.as_bytes()).expect("fits").width();
        let side = width + 2 * QR_QUIET_ZONE_MODULES;
        let rows = modules_of(&text);
        assert_eq!(text.lines().count(), side.div_ceil(2));
        assert!(rows.iter().all(|r| r.len() == side));
        // The quiet zone is light on every side (a last odd row pads light).
        let q = QR_QUIET_ZONE_MODULES;
        for (y, row) in rows.iter().enumerate() {
            for (x, dark) in row.iter().enumerate() {
                let inside = (q..q + width).contains(&x) && (q..q + width).contains(&y);
                assert!(
                    inside || !dark,
                    "a dark module at ({x}, {y}) in the quiet zone"
                );
            }
        }
        // The top-left finder pattern's corner is dark.
        assert!(rows[q][q]);
    }

    #[test]
    fn data_too_big_for_a_qr_code_is_refused() {
        assert!(matches!(qr_text(&"x".repeat(3000)), Err(JoinError::Qr(_))));
        // The longest join link still fits.
        assert!(qr_text(&"x".repeat(JOIN_URI_BYTES_MAX)).is_ok());
    }
}
