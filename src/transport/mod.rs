//! What crosses the network: the sealed discovery beacon ([`beacon`]), the
//! shared UDP socket ([`udp`]) and the discovery task that broadcasts and
//! hears beacons ([`discovery`]), and the sans-IO link handshake
//! ([`handshake`]). Framing and per-link tasks come with the networked node.

pub mod beacon;
pub mod discovery;
pub mod handshake;
pub mod udp;
