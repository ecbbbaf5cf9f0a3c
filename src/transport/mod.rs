//! What crosses the network: so far the sealed discovery beacon
//! ([`beacon`]) and the sans-IO link handshake ([`handshake`]). Sockets,
//! framing and per-link tasks come with the networked node.

pub mod beacon;
pub mod handshake;
pub mod link;
