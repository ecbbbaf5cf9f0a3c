//! The shared UDP socket of discovery and the broadcast addresses it sends to.
//!
//! Every node on a host binds the same discovery port with `SO_REUSEADDR` and
//! `SO_REUSEPORT`, so several nodes (processes, or tasks of one process) can
//! run side by side. On Linux every socket sharing the port receives each
//! broadcast datagram (limited `255.255.255.255`, loopback `127.255.255.255`
//! and a subnet's broadcast address alike), whereas a unicast datagram to the
//! port reaches only one of them: discovery therefore only ever broadcasts.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};

/// Broadcast address of the loopback network (`127.0.0.0/8`).
pub const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// Binds a UDP socket on `ip:port` that other sockets may share and that may
/// send broadcasts: `SO_REUSEADDR`, `SO_REUSEPORT` (where the platform has
/// it), `SO_BROADCAST`, non-blocking. Must be called inside a tokio runtime.
///
/// Bind `0.0.0.0` to receive broadcasts: on Linux a socket bound to a unicast
/// address does not receive datagrams sent to a broadcast address.
pub fn bind_shared(ip: Ipv4Addr, port: u16) -> io::Result<tokio::net::UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(
        unix,
        not(any(
            target_os = "solaris",
            target_os = "illumos",
            target_os = "cygwin",
            target_os = "nuttx",
            target_os = "wasi"
        ))
    ))]
    socket.set_reuse_port(true)?;
    socket.set_broadcast(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(ip, port)).into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Where discovery sends by default: `255.255.255.255:port` first, then the
/// broadcast address of every IPv4 interface that is up (`127.255.255.255`
/// for loopback), deduplicated, in ascending order. Interfaces without a
/// broadcast address (point-to-point links) are skipped. If the interfaces
/// cannot be listed, only the limited broadcast address is returned.
pub fn default_broadcast_addrs(port: u16) -> Vec<SocketAddr> {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_else(|e| {
        tracing::warn!(
            "cannot list network interfaces ({e}); broadcasting to 255.255.255.255 only"
        );
        Vec::new()
    });
    let mut broadcasts = BTreeSet::new();
    for interface in interfaces {
        if !interface.is_oper_up() {
            continue;
        }
        let if_addrs::IfAddr::V4(v4) = interface.addr else {
            continue;
        };
        let broadcast = if v4.ip.is_loopback() {
            Some(LOOPBACK_BROADCAST)
        } else {
            v4.broadcast
        };
        // A /32 or /31 "broadcast" would be a unicast address: never
        // unicast to the shared port (only one listener would get it).
        if let Some(b) = broadcast
            && b != v4.ip
            && b != Ipv4Addr::BROADCAST
            && !b.is_unspecified()
        {
            broadcasts.insert(b);
        }
    }
    std::iter::once(Ipv4Addr::BROADCAST)
        .chain(broadcasts)
        .map(|ip| SocketAddr::new(IpAddr::V4(ip), port))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    /// A port that was free a moment ago (bind port 0, read it, drop it).
    fn free_udp_port() -> u16 {
        let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0));
        probe
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot probe a free UDP port: {e}"))
    }

    #[tokio::test]
    async fn two_shared_sockets_both_receive_a_loopback_broadcast() {
        let port = free_udp_port();
        let a = bind_shared(Ipv4Addr::UNSPECIFIED, port).expect("first bind");
        let b = bind_shared(Ipv4Addr::UNSPECIFIED, port).expect("second bind on the same port");
        let target = SocketAddr::from((LOOPBACK_BROADCAST, port));
        a.send_to(b"hello", target).await.expect("broadcast");
        for socket in [&a, &b] {
            let mut buf = [0u8; 16];
            let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
                .await
                .expect("broadcast arrives before the deadline")
                .expect("recv");
            assert_eq!(&buf[..n], b"hello");
        }
    }

    #[test]
    fn default_broadcast_addrs_start_with_the_limited_broadcast_and_have_no_duplicates() {
        let addrs = default_broadcast_addrs(4242);
        assert_eq!(
            addrs.first(),
            Some(&SocketAddr::from((Ipv4Addr::BROADCAST, 4242)))
        );
        let unique: BTreeSet<_> = addrs.iter().collect();
        assert_eq!(unique.len(), addrs.len());
        assert!(addrs.iter().all(|a| a.port() == 4242));
        // Linux hosts (and CI) always have loopback up.
        #[cfg(target_os = "linux")]
        assert!(addrs.contains(&SocketAddr::from((LOOPBACK_BROADCAST, 4242))));
        assert_eq!(addrs, default_broadcast_addrs(4242), "deterministic");
    }
}
