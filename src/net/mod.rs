//! What crosses the network, without tasks: the sealed discovery beacon
//! ([`beacon`]), the UDP sockets ([`udp`]), the sans-IO link handshake
//! ([`handshake`]), and framing with per-link encryption ([`link`]). The
//! tasks live in [`crate::actors`]: the beacon task
//! ([`crate::actors::beacon`]) and the transport (listener, dialer, per-link
//! tasks, [`crate::actors::transport`]).

pub mod beacon;
pub mod handshake;
pub mod link;
pub mod links;
pub mod udp;
