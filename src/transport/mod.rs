//! What crosses the network: so far the sealed discovery beacon
//! ([`beacon`]). TCP links with Noise and framing, and the UDP socket, come
//! with the networked node.

pub mod beacon;
