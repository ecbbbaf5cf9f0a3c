//! What crosses the network: the sealed discovery beacon ([`beacon`]), the
//! UDP sockets and the discovery task ([`udp`], [`discovery`]), the sans-IO
//! link handshake ([`handshake`]), and framing with per-link encryption
//! ([`link`]). The per-link tasks and the link table live in
//! [`crate::actors::transport`].

pub mod beacon;
pub mod discovery;
pub mod handshake;
pub mod link;
pub mod udp;
