//! LAN discovery: one tokio task that broadcasts this node's sealed beacon
//! and reports the beacons of the same room it hears.
//!
//! Why: nodes of a room on one LAN (or one host) find each other with no
//! configuration. The beacon ([`crate::net::beacon`]) is sealed with the room's
//! beacon key, so other rooms' nodes neither read nor forge it.
//!
//! What the task does:
//! * binds the shared discovery port ([`crate::net::udp::bind_shared`]);
//! * sends one beacon at start, then one every [`DiscoveryConfig::interval`]
//!   ± [`DiscoveryConfig::jitter`], the same datagram to every broadcast
//!   target; an error sending to one target is counted and skipped;
//! * when it hears a node it has not heard from recently (a newcomer), sends
//!   an extra beacon after a random delay of at most
//!   [`NEWCOMER_REPLY_DELAY_MAX_MS`], at most one extra beacon per
//!   [`EXTRA_BEACON_SPACING_MIN_MS`], so a node that starts finds everyone
//!   within about a second rather than a whole interval;
//! * reports every accepted beacon as [`Found`] (the datagram's source IP
//!   and the beacon's TCP port); drops and counts own beacons, replays and
//!   stale beacons, other rooms' beacons and garbage;
//! * tells a node that hears beacons it cannot open while it has no link
//!   that its room code may be wrong: [`Event::OtherRoomBeacons`] on the
//!   bus, at most once per [`OTHER_ROOM_REPORT_INTERVAL_MS`] (30 s), with
//!   the address of the last such beacon and how many it heard since the
//!   last report (see [`OtherRoom`]). A node with links hears other rooms
//!   quietly (several rooms may share a LAN).
//!
//! The task runs under the node's supervisor: after a panic it carries on
//! with the same socket, counters and replay window, sends a beacon at
//! once, and the restart is reported as `Event::ActorRestarted`
//! (`discovery`).
//!
//! It never unicasts to the shared port: only one of the sockets sharing it
//! would receive the datagram.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::{StdRng, SysRng};
use rand::{Rng, RngExt, SeedableRng};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::actors::{Supervised, supervise};
use crate::event::Event;
use crate::id::NodeId;
use crate::net::beacon::{
    self, BEACON_NONCE_BYTES, BEACON_VERSION, Beacon, BeaconError, BeaconOpener,
};
use crate::net::udp::{bind_shared, default_broadcast_addrs};

/// The discovery port unless configured otherwise.
pub const DISCOVERY_PORT_DEFAULT: u16 = 9999;
/// Time between regular beacons unless configured otherwise.
pub const BEACON_INTERVAL_DEFAULT_MS: u64 = 5_000;
/// Shortest interval accepted (a zero interval would spin).
pub const BEACON_INTERVAL_MIN_MS: u64 = 50;
/// Jitter unless configured otherwise: each interval is drawn uniformly
/// from `interval × [1 − jitter, 1 + jitter]`.
pub const BEACON_JITTER_DEFAULT: f64 = 0.2;
/// Largest jitter accepted.
pub const BEACON_JITTER_MAX: f64 = 0.5;
/// An extra beacon answering a newcomer (or [`Discovery::announce_now`]) goes
/// out after a uniformly random delay in `[0, this]`, so that the nodes
/// answering one newcomer do not all send at once.
pub const NEWCOMER_REPLY_DELAY_MAX_MS: u64 = 250;
/// At most one extra beacon per this time; requests within it are deferred
/// to its end, not dropped.
pub const EXTRA_BEACON_SPACING_MIN_MS: u64 = 1_000;
/// A node unheard for this many intervals counts as a newcomer again (it may
/// have restarted and lost its peers).
pub const NEWCOMER_FORGET_INTERVALS: u32 = 3;
/// Nodes remembered for newcomer detection; when full, the one heard least
/// recently is forgotten.
pub const NEWCOMERS_KNOWN_MAX: usize = 1024;
/// Receive buffer: larger than any beacon, so an oversized datagram is seen
/// as such rather than cut to beacon size.
pub const DATAGRAM_BUF_BYTES: usize = 2048;
/// Send errors are logged at `warn` at most once per this time (the rest at
/// `debug`).
pub const SEND_ERROR_WARN_INTERVAL_MS: u64 = 60_000;
/// Pause after a failed receive, so a persistent socket error cannot spin.
pub const RECV_ERROR_BACKOFF_MS: u64 = 100;
/// At most one [`Event::OtherRoomBeacons`] per this time per node: often
/// enough to be seen by someone waiting for a link, rarely enough not to
/// flood a client on a LAN with other rooms.
pub const OTHER_ROOM_REPORT_INTERVAL_MS: u64 = 30_000;

/// How discovery runs.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoveryConfig {
    /// Address to bind; `0.0.0.0` to receive broadcasts (a socket bound to a
    /// unicast address receives none on Linux).
    pub bind_ip: Ipv4Addr,
    /// The shared discovery port.
    pub port: u16,
    /// Where beacons go. Empty: [`default_broadcast_addrs`] of `port`,
    /// re-read before every beacon so interfaces coming up are picked up.
    pub broadcast_addrs: Vec<SocketAddr>,
    /// Mean time between regular beacons.
    pub interval: Duration,
    /// Relative jitter of the interval, in `[0, BEACON_JITTER_MAX]`.
    pub jitter: f64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            bind_ip: Ipv4Addr::UNSPECIFIED,
            port: DISCOVERY_PORT_DEFAULT,
            broadcast_addrs: Vec::new(),
            interval: Duration::from_millis(BEACON_INTERVAL_DEFAULT_MS),
            jitter: BEACON_JITTER_DEFAULT,
        }
    }
}

/// Why a [`DiscoveryConfig`] is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryConfigError {
    /// `interval` is below [`BEACON_INTERVAL_MIN_MS`].
    #[error("discovery interval {interval_ms} ms is shorter than {BEACON_INTERVAL_MIN_MS} ms")]
    IntervalTooShort {
        /// The interval given, in milliseconds.
        interval_ms: u128,
    },
    /// `jitter` (carried here) is outside `[0, BEACON_JITTER_MAX]`, or NaN.
    #[error("discovery jitter {0} is not between 0 and {BEACON_JITTER_MAX}")]
    Jitter(f64),
}

impl DiscoveryConfig {
    /// Checks the interval and jitter.
    pub fn validate(&self) -> Result<(), DiscoveryConfigError> {
        if self.interval < Duration::from_millis(BEACON_INTERVAL_MIN_MS) {
            return Err(DiscoveryConfigError::IntervalTooShort {
                interval_ms: self.interval.as_millis(),
            });
        }
        if !(0.0..=BEACON_JITTER_MAX).contains(&self.jitter) {
            return Err(DiscoveryConfigError::Jitter(self.jitter));
        }
        Ok(())
    }
}

/// A node of this room was heard: dial `addr` to link to `node`.
///
/// Sent for every accepted beacon (about once per interval per node, plus
/// extra beacons), not only the first: the receiver deduplicates (e.g. skips
/// nodes it is linked or dialling to). `node` is what the beacon claims; any
/// room member could claim any id, so only the link handshake proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The node id the beacon claims; proven only by the link handshake.
    pub node: NodeId,
    /// The datagram's source IP and the beacon's TCP port.
    pub addr: SocketAddr,
}

/// Counters of one discovery task (relaxed atomics: monitoring only).
/// `received = found + dropped_bad + dropped_replay + dropped_own`;
/// `other_room` counts a part of `dropped_bad`.
#[derive(Debug, Default)]
pub struct DiscoveryStats {
    /// Datagrams sent (one per target per beacon).
    pub sent: AtomicU64,
    /// Sends that failed (target skipped).
    pub send_errors: AtomicU64,
    /// Datagrams received.
    pub received: AtomicU64,
    /// Beacons accepted and reported as [`Found`].
    pub found: AtomicU64,
    /// Wrong size, not sealed with this room's key (other rooms, garbage),
    /// malformed, other version, or TCP port 0.
    pub dropped_bad: AtomicU64,
    /// Duplicates (the same beacon via several targets, or a replay) and
    /// beacons outside the time window.
    pub dropped_replay: AtomicU64,
    /// This node's own beacons.
    pub dropped_own: AtomicU64,
    /// Of `dropped_bad`: beacon-sized datagrams that do not open with this
    /// room's beacon key (another room's beacons, or a wrong room code).
    pub other_room: AtomicU64,
}

/// A copy of [`DiscoveryStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryCounts {
    /// Copy of [`DiscoveryStats::sent`].
    pub sent: u64,
    /// Copy of [`DiscoveryStats::send_errors`].
    pub send_errors: u64,
    /// Copy of [`DiscoveryStats::received`].
    pub received: u64,
    /// Copy of [`DiscoveryStats::found`].
    pub found: u64,
    /// Copy of [`DiscoveryStats::dropped_bad`].
    pub dropped_bad: u64,
    /// Copy of [`DiscoveryStats::dropped_replay`].
    pub dropped_replay: u64,
    /// Copy of [`DiscoveryStats::dropped_own`].
    pub dropped_own: u64,
    /// Copy of [`DiscoveryStats::other_room`].
    pub other_room: u64,
}

impl DiscoveryStats {
    /// The current values.
    pub fn snapshot(&self) -> DiscoveryCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DiscoveryCounts {
            sent: get(&self.sent),
            send_errors: get(&self.send_errors),
            received: get(&self.received),
            found: get(&self.found),
            dropped_bad: get(&self.dropped_bad),
            dropped_replay: get(&self.dropped_replay),
            dropped_own: get(&self.dropped_own),
            other_room: get(&self.other_room),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Handle of a running discovery task.
///
/// The task ends when the `cancel` token given to [`Discovery::spawn`] is
/// cancelled ([`Discovery::join`] waits for that), or is aborted when this
/// handle is dropped: keep the handle as long as discovery should run.
#[must_use = "dropping the handle stops discovery"]
pub struct Discovery {
    stats: Arc<DiscoveryStats>,
    announce: Arc<Notify>,
    panic_hook: Arc<AtomicBool>,
    local_addr: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Discovery {
    /// Validates `cfg`, binds the discovery socket and spawns the task.
    /// Errors (`InvalidInput` for a bad config, else the bind's error) are
    /// returned for the caller to report; nothing is spawned then. Must be
    /// called inside a tokio runtime.
    ///
    /// `beacon_key` is the room's beacon key, `me` this node (its own
    /// beacons are dropped), `tcp_port` the port peers should dial; `links`
    /// is the node's link count (other rooms' beacons are reported only
    /// while it is 0); a restart after a panic and
    /// [`Event::OtherRoomBeacons`] are reported on `bus`.
    #[allow(clippy::too_many_arguments)]
    pub async fn spawn(
        cfg: DiscoveryConfig,
        beacon_key: [u8; 32],
        me: NodeId,
        tcp_port: u16,
        found: UnboundedSender<Found>,
        links: watch::Receiver<usize>,
        cancel: CancellationToken,
        bus: broadcast::Sender<Event>,
    ) -> io::Result<Discovery> {
        cfg.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut rng = StdRng::try_from_rng(&mut SysRng).map_err(io::Error::other)?;
        let socket = bind_shared(cfg.bind_ip, cfg.port)?;
        let local_addr = socket.local_addr()?;
        let stats = Arc::new(DiscoveryStats::default());
        let announce = Arc::new(Notify::new());
        let panic_hook = Arc::new(AtomicBool::new(false));
        let now = Instant::now();
        let task = Task {
            cancel,
            announce: announce.clone(),
            panic_hook: panic_hook.clone(),
            socket,
            key: beacon_key,
            me,
            tcp_port,
            targets: if cfg.broadcast_addrs.is_empty() {
                Targets::InterfaceDefaults(cfg.port)
            } else {
                Targets::Fixed(cfg.broadcast_addrs.clone())
            },
            opener: BeaconOpener::new(beacon_key, me),
            found,
            stats: stats.clone(),
            schedule: Schedule::new(now, cfg.interval, cfg.jitter),
            heard: Heard::new(cfg.interval * NEWCOMER_FORGET_INTERVALS),
            last_send_warn: None,
            found_closed: false,
            rng: StdRng::from_rng(&mut rng),
            links,
            other_room: OtherRoom::default(),
            bus: bus.clone(),
        };
        tracing::debug!(%local_addr, "discovery listening");
        let handle = tokio::spawn(supervise(task, bus));
        Ok(Discovery {
            stats,
            announce,
            panic_hook,
            local_addr,
            task: Some(handle),
        })
    }

    /// The task's counters.
    pub fn stats(&self) -> Arc<DiscoveryStats> {
        self.stats.clone()
    }

    /// Asks the task to send a beacon soon (e.g. after losing a link), within
    /// [`NEWCOMER_REPLY_DELAY_MAX_MS`] unless an extra beacon went out less
    /// than [`EXTRA_BEACON_SPACING_MIN_MS`] ago.
    pub fn announce_now(&self) {
        self.announce.notify_one();
    }

    /// Test hook: makes the task panic, to exercise supervision.
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        self.panic_hook.store(true, Ordering::SeqCst);
        self.announce.notify_one();
    }

    /// The bound socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for the task to end (after its `cancel` token is cancelled).
    pub async fn join(mut self) {
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
            && e.is_panic()
        {
            tracing::error!("discovery task panicked: {e}");
        }
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `interval` scaled by a uniform factor in `[1 − jitter, 1 + jitter]`.
fn jittered<R: Rng + ?Sized>(interval: Duration, jitter: f64, rng: &mut R) -> Duration {
    interval.mul_f64(1.0 + rng.random_range(-jitter..=jitter))
}

/// When the next beacons go out: regular ones on a jittered interval, and at
/// most one pending extra one, spaced by [`EXTRA_BEACON_SPACING_MIN_MS`].
#[derive(Debug)]
struct Schedule {
    interval: Duration,
    jitter: f64,
    next_regular: Instant,
    extra_at: Option<Instant>,
    last_extra: Option<Instant>,
}

impl Schedule {
    /// The first regular beacon is due at `now`.
    fn new(now: Instant, interval: Duration, jitter: f64) -> Schedule {
        Schedule {
            interval,
            jitter,
            next_regular: now,
            extra_at: None,
            last_extra: None,
        }
    }

    /// When to wake up next.
    fn deadline(&self) -> Instant {
        self.extra_at
            .map_or(self.next_regular, |at| at.min(self.next_regular))
    }

    /// Asks for an extra beacon `delay` from `now`, deferred to keep the
    /// spacing; nothing if one is pending or the regular beacon comes first.
    fn request_extra(&mut self, now: Instant, delay: Duration) {
        if self.extra_at.is_some() {
            return;
        }
        let mut at = now + delay;
        if let Some(last) = self.last_extra {
            at = at.max(last + Duration::from_millis(EXTRA_BEACON_SPACING_MIN_MS));
        }
        if at < self.next_regular {
            self.extra_at = Some(at);
        }
    }

    /// Whether a beacon is due at `now`; if so, books it as sent. A regular
    /// beacon also serves a pending extra one.
    fn take_due<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) -> bool {
        if now >= self.next_regular {
            self.next_regular = now + jittered(self.interval, self.jitter, rng);
            self.extra_at = None;
            return true;
        }
        if self.extra_at.is_some_and(|at| now >= at) {
            self.extra_at = None;
            self.last_extra = Some(now);
            return true;
        }
        false
    }
}

/// When each node was last heard, to tell newcomers (bounded).
#[derive(Debug)]
struct Heard {
    forget_after: Duration,
    last: BTreeMap<NodeId, Instant>,
}

impl Heard {
    fn new(forget_after: Duration) -> Heard {
        Heard {
            forget_after,
            last: BTreeMap::new(),
        }
    }

    /// Records that `node` was heard at `now`; true if it is a newcomer
    /// (never heard, or not for `forget_after`).
    fn heard(&mut self, node: NodeId, now: Instant) -> bool {
        if let Some(last) = self.last.get_mut(&node) {
            let newcomer = now.saturating_duration_since(*last) > self.forget_after;
            *last = now;
            return newcomer;
        }
        if self.last.len() >= NEWCOMERS_KNOWN_MAX
            && let Some(oldest) = self
                .last
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(node, _)| *node)
        {
            self.last.remove(&oldest);
        }
        self.last.insert(node, now);
        true
    }
}

/// When to tell of beacons this node cannot open (another room's, or its
/// own room code is wrong): while it has no link, at most once per
/// [`OTHER_ROOM_REPORT_INTERVAL_MS`], the first at once.
#[derive(Debug, Default)]
pub struct OtherRoom {
    /// Heard since the last report (or the start).
    unreported: u64,
    last_report: Option<Instant>,
}

impl OtherRoom {
    /// Records one beacon this node could not open, heard at `now` with
    /// `links` links; returns the count to report (those heard since the
    /// last report, this one included), or `None` when the node has a link
    /// or reported less than [`OTHER_ROOM_REPORT_INTERVAL_MS`] ago.
    pub fn heard(&mut self, now: Instant, links: usize) -> Option<u64> {
        self.unreported = self.unreported.saturating_add(1);
        if links > 0 {
            return None;
        }
        let spacing = Duration::from_millis(OTHER_ROOM_REPORT_INTERVAL_MS);
        if self
            .last_report
            .is_some_and(|at| now.saturating_duration_since(at) < spacing)
        {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Where beacons go.
#[derive(Debug)]
enum Targets {
    Fixed(Vec<SocketAddr>),
    /// [`default_broadcast_addrs`] of this port, re-read per beacon.
    InterfaceDefaults(u16),
}

/// The discovery task's state.
struct Task {
    cancel: CancellationToken,
    announce: Arc<Notify>,
    panic_hook: Arc<AtomicBool>,
    socket: UdpSocket,
    key: [u8; 32],
    me: NodeId,
    tcp_port: u16,
    targets: Targets,
    opener: BeaconOpener,
    found: UnboundedSender<Found>,
    stats: Arc<DiscoveryStats>,
    schedule: Schedule,
    heard: Heard,
    last_send_warn: Option<Instant>,
    /// The [`Found`] receiver is gone (beacons keep going out).
    found_closed: bool,
    rng: StdRng,
    /// The node's link count.
    links: watch::Receiver<usize>,
    other_room: OtherRoom,
    bus: broadcast::Sender<Event>,
}

impl Supervised for Task {
    const NAME: &'static str = "discovery";

    async fn run(&mut self) {
        let cancel = self.cancel.clone();
        let announce = self.announce.clone();
        let mut buf = vec![0u8; DATAGRAM_BUF_BYTES];
        loop {
            let deadline = self.schedule.deadline();
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = tokio::time::sleep_until(deadline) => {
                    if self.schedule.take_due(Instant::now(), &mut self.rng) {
                        self.send_beacon().await;
                    }
                }
                () = announce.notified() => {
                    if self.panic_hook.swap(false, Ordering::SeqCst) {
                        panic!("injected panic (test hook)");
                    }
                    self.request_extra();
                }
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => self.on_datagram(&buf[..n], from),
                    Err(e) => {
                        tracing::debug!("discovery receive failed: {e}");
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            () = tokio::time::sleep(Duration::from_millis(RECV_ERROR_BACKOFF_MS)) => {}
                        }
                    }
                },
            }
        }
        tracing::debug!("discovery stopped");
    }

    /// Beacons go out again at once (the socket, counters, replay window
    /// and the record of who was heard are kept).
    fn restart(&mut self) {
        let now = Instant::now();
        self.schedule = Schedule::new(now, self.schedule.interval, self.schedule.jitter);
    }
}

impl Task {
    fn request_extra(&mut self) {
        let delay = Duration::from_millis(self.rng.random_range(0..=NEWCOMER_REPLY_DELAY_MAX_MS));
        self.schedule.request_extra(Instant::now(), delay);
    }

    /// Seals one beacon and sends the same datagram to every target (so a
    /// receiver reached via several targets drops the copies as duplicates).
    async fn send_beacon(&mut self) {
        let mut nonce = [0u8; BEACON_NONCE_BYTES];
        self.rng.fill_bytes(&mut nonce);
        let sealed = beacon::seal(
            &self.key,
            nonce,
            &Beacon {
                version: BEACON_VERSION,
                node: self.me,
                tcp_port: self.tcp_port,
                sent_ms: unix_ms(),
            },
        );
        let targets = match &self.targets {
            Targets::Fixed(addrs) => addrs.clone(),
            Targets::InterfaceDefaults(port) => default_broadcast_addrs(*port),
        };
        for target in targets {
            match self.socket.send_to(&sealed, target).await {
                Ok(_) => bump(&self.stats.sent),
                Err(e) => {
                    bump(&self.stats.send_errors);
                    let now = Instant::now();
                    let quiet = self.last_send_warn.is_some_and(|at| {
                        now.saturating_duration_since(at)
                            < Duration::from_millis(SEND_ERROR_WARN_INTERVAL_MS)
                    });
                    if quiet {
                        tracing::debug!(%target, "discovery beacon not sent: {e}");
                    } else {
                        self.last_send_warn = Some(now);
                        tracing::warn!(%target, "discovery beacon not sent (skipping this target): {e}");
                    }
                }
            }
        }
    }

    fn on_datagram(&mut self, datagram: &[u8], from: SocketAddr) {
        bump(&self.stats.received);
        let beacon = match self.opener.open(datagram, unix_ms()) {
            Ok(beacon) => beacon,
            Err(e) => {
                let counter = match e {
                    BeaconError::Own => &self.stats.dropped_own,
                    BeaconError::Duplicate | BeaconError::OutOfWindow { .. } => {
                        &self.stats.dropped_replay
                    }
                    BeaconError::Size(_)
                    | BeaconError::WrongRoom
                    | BeaconError::Malformed(_)
                    | BeaconError::Version(_) => &self.stats.dropped_bad,
                };
                bump(counter);
                tracing::trace!(%from, "datagram dropped: {e}");
                if matches!(e, BeaconError::WrongRoom) {
                    bump(&self.stats.other_room);
                    let links = *self.links.borrow();
                    if let Some(count) = self.other_room.heard(Instant::now(), links) {
                        tracing::info!(%from, count, "beacons this room code cannot open, and no link");
                        let _ = self.bus.send(Event::OtherRoomBeacons { from, count });
                    }
                }
                return;
            }
        };
        if beacon.tcp_port == 0 {
            bump(&self.stats.dropped_bad);
            tracing::debug!(%from, node = %beacon.node.fmt_short(), "beacon with TCP port 0 dropped");
            return;
        }
        if self.heard.heard(beacon.node, Instant::now()) {
            tracing::debug!(%from, node = %beacon.node.fmt_short(), "newcomer heard; answering with a beacon");
            self.request_extra();
        }
        bump(&self.stats.found);
        let found = Found {
            node: beacon.node,
            addr: SocketAddr::new(from.ip(), beacon.tcp_port),
        };
        if self.found.send(found).is_err() && !self.found_closed {
            self.found_closed = true;
            tracing::debug!("nobody listens to discovery results any more");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;

    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    use crate::net::beacon::BEACON_BYTES;
    use crate::net::udp::LOOPBACK_BROADCAST;

    /// Generous: the machine running the tests may be busy.
    const DEADLINE: Duration = Duration::from_secs(10);
    const POLL: Duration = Duration::from_millis(20);

    /// A port that was free a moment ago (bind port 0, read it, drop it).
    fn free_udp_port() -> u16 {
        std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot probe a free UDP port: {e}"))
    }

    fn loopback_cfg(port: u16, interval: Duration) -> DiscoveryConfig {
        DiscoveryConfig {
            port,
            broadcast_addrs: vec![SocketAddr::from((LOOPBACK_BROADCAST, port))],
            interval,
            ..DiscoveryConfig::default()
        }
    }

    struct Node {
        id: NodeId,
        tcp_port: u16,
        found: UnboundedReceiver<Found>,
        discovery: Discovery,
        cancel: CancellationToken,
    }

    async fn node(n: u8, key: [u8; 32], cfg: DiscoveryConfig) -> Node {
        let (tx, found) = unbounded_channel();
        let cancel = CancellationToken::new();
        let id = NodeId([n; 32]);
        let tcp_port = 40_000 + u16::from(n);
        let discovery = Discovery::spawn(
            cfg,
            key,
            id,
            tcp_port,
            tx,
            watch::channel(0).1,
            cancel.clone(),
            broadcast::channel(16).0,
        )
        .await
        .expect("discovery starts");
        Node {
            id,
            tcp_port,
            found,
            discovery,
            cancel,
        }
    }

    impl Node {
        /// Waits for a [`Found`] naming `node`; returns it and everything
        /// else reported meanwhile.
        async fn wait_found(&mut self, node: NodeId) -> (Found, Vec<Found>) {
            let mut others = Vec::new();
            let started = Instant::now();
            loop {
                let left = DEADLINE.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, self.found.recv()).await {
                    Ok(Some(f)) if f.node == node => return (f, others),
                    Ok(Some(f)) => others.push(f),
                    Ok(None) => panic!("discovery channel closed"),
                    Err(_) => panic!(
                        "{} did not find {} within {DEADLINE:?}; stats {:?}",
                        self.id.fmt_short(),
                        node.fmt_short(),
                        self.counts()
                    ),
                }
            }
        }

        fn counts(&self) -> DiscoveryCounts {
            self.discovery.stats().snapshot()
        }

        /// Everything reported so far, without waiting.
        fn drain(&mut self) -> Vec<Found> {
            std::iter::from_fn(|| self.found.try_recv().ok()).collect()
        }
    }

    /// Polls `condition` on the nodes' counters until it holds.
    async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        let started = Instant::now();
        while !condition() {
            assert!(
                started.elapsed() < DEADLINE,
                "{what}: not within {DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn loopback_found(node: &Node) -> Found {
        Found {
            node: node.id,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, node.tcp_port)),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_of_the_same_room_find_each_other() {
        let port = free_udp_port();
        let interval = Duration::from_millis(BEACON_INTERVAL_DEFAULT_MS);
        let mut a = node(1, [7; 32], loopback_cfg(port, interval)).await;
        let mut b = node(2, [7; 32], loopback_cfg(port, interval)).await;
        let (found_b, _) = a.wait_found(b.id).await;
        let (found_a, _) = b.wait_found(a.id).await;
        assert_eq!(found_b, loopback_found(&b));
        assert_eq!(found_a, loopback_found(&a));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_newcomer_finds_an_existing_node_long_before_the_next_interval() {
        let port = free_udp_port();
        // Regular beacons cannot help within the deadline: only the answer
        // to the newcomer can.
        let interval = Duration::from_secs(600);
        let mut a = node(1, [7; 32], loopback_cfg(port, interval)).await;
        wait_until("a sent its first beacon", || a.counts().sent >= 1).await;
        let mut b = node(2, [7; 32], loopback_cfg(port, interval)).await;
        a.wait_found(b.id).await;
        b.wait_found(a.id).await;
        // One regular and one extra beacon each, no storm.
        wait_until("a answered", || a.counts().sent == 2).await;
        assert!(b.counts().sent <= 2, "{:?}", b.counts());
    }

    #[test]
    fn other_room_beacons_are_reported_without_links_at_most_once_per_interval() {
        let mut other = OtherRoom::default();
        let t0 = Instant::now();
        let spacing = Duration::from_millis(OTHER_ROOM_REPORT_INTERVAL_MS);
        assert_eq!(other.heard(t0, 0), Some(1), "the first at once");
        assert_eq!(other.heard(t0 + Duration::from_secs(1), 0), None);
        assert_eq!(other.heard(t0 + Duration::from_secs(2), 0), None);
        // Linked meanwhile: counted, not reported.
        assert_eq!(other.heard(t0 + spacing, 1), None);
        // Unlinked again after the interval: everything since the last report.
        assert_eq!(other.heard(t0 + spacing, 0), Some(4));
        assert_eq!(other.heard(t0 + spacing + Duration::from_secs(29), 0), None);
        assert_eq!(other.heard(t0 + spacing * 2, 0), Some(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_of_another_room_is_never_reported() {
        let port = free_udp_port();
        let interval = Duration::from_millis(200);
        let mut a = node(1, [7; 32], loopback_cfg(port, interval)).await;
        let mut b = node(2, [7; 32], loopback_cfg(port, interval)).await;
        let mut c = node(3, [8; 32], loopback_cfg(port, interval)).await;
        let (_, a_other) = a.wait_found(b.id).await;
        let (_, b_other) = b.wait_found(a.id).await;
        // Several of c's beacons reached a and b (and theirs c) and were dropped.
        wait_until("other room's beacons dropped", || {
            a.counts().dropped_bad >= 3
                && b.counts().dropped_bad >= 3
                && c.counts().dropped_bad >= 6
        })
        .await;
        for f in a_other
            .iter()
            .chain(&b_other)
            .chain(&a.drain())
            .chain(&b.drain())
        {
            assert_ne!(f.node, c.id, "the other room's node was reported");
        }
        assert_eq!(c.drain(), vec![]);
        assert_eq!(c.counts().found, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_datagrams_are_counted_and_discovery_keeps_working() {
        let port = free_udp_port();
        let interval = Duration::from_millis(BEACON_INTERVAL_DEFAULT_MS);
        let mut a = node(1, [7; 32], loopback_cfg(port, interval)).await;
        let sender = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        sender.set_broadcast(true).expect("broadcast");
        let garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0xab; BEACON_BYTES - 1],
            vec![0xab; BEACON_BYTES],
            vec![0xcd; BEACON_BYTES + 1],
            vec![0xef; 1400],
        ];
        for g in &garbage {
            sender
                .send_to(g, (LOOPBACK_BROADCAST, port))
                .expect("send garbage");
        }
        wait_until("garbage counted", || {
            a.counts().dropped_bad >= garbage.len() as u64
        })
        .await;
        assert_eq!(a.counts().found, 0);
        let mut b = node(2, [7; 32], loopback_cfg(port, interval)).await;
        a.wait_found(b.id).await;
        b.wait_found(a.id).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn own_beacons_are_dropped_and_not_reported() {
        let port = free_udp_port();
        let mut a = node(1, [7; 32], loopback_cfg(port, Duration::from_millis(100))).await;
        wait_until("own beacons came back", || a.counts().dropped_own >= 3).await;
        assert_eq!(a.drain(), vec![]);
        let c = a.counts();
        assert_eq!(c.found, 0);
        assert_eq!(c.send_errors, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replayed_beacon_is_reported_once_and_counted_as_a_replay() {
        let port = free_udp_port();
        let mut a = node(1, [7; 32], loopback_cfg(port, Duration::from_secs(600))).await;
        // After the start beacon, so that the answer to the newcomer is an
        // extra one (a newcomer heard before it is answered by it).
        wait_until("first beacon", || a.counts().sent >= 1).await;
        let sealed = beacon::seal(
            &[7; 32],
            [5; BEACON_NONCE_BYTES],
            &Beacon {
                version: BEACON_VERSION,
                node: NodeId([9; 32]),
                tcp_port: 4321,
                sent_ms: unix_ms(),
            },
        );
        let sender = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        sender.set_broadcast(true).expect("broadcast");
        for _ in 0..3 {
            sender
                .send_to(&sealed, (LOOPBACK_BROADCAST, port))
                .expect("send");
        }
        let (found, _) = a.wait_found(NodeId([9; 32])).await;
        assert_eq!(found.addr, SocketAddr::from((Ipv4Addr::LOCALHOST, 4321)));
        wait_until("replays counted", || a.counts().dropped_replay >= 2).await;
        assert_eq!(a.counts().found, 1);
        // The unknown node was a newcomer: a answered with an extra beacon.
        wait_until("a answered the newcomer", || a.counts().sent >= 2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn announce_now_sends_a_beacon_before_the_interval() {
        let port = free_udp_port();
        let a = node(1, [7; 32], loopback_cfg(port, Duration::from_secs(600))).await;
        wait_until("first beacon", || a.counts().sent >= 1).await;
        a.discovery.announce_now();
        wait_until("announced beacon", || a.counts().sent >= 2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_the_token_ends_the_task() {
        let port = free_udp_port();
        let a = node(1, [7; 32], loopback_cfg(port, Duration::from_secs(600))).await;
        a.cancel.cancel();
        tokio::time::timeout(DEADLINE, a.discovery.join())
            .await
            .expect("the task ends when cancelled");
    }

    #[tokio::test]
    async fn a_bad_config_is_refused_before_binding() {
        let (tx, _rx) = unbounded_channel();
        let cfg = loopback_cfg(free_udp_port(), Duration::ZERO);
        let err = Discovery::spawn(
            cfg,
            [7; 32],
            NodeId([1; 32]),
            1,
            tx,
            watch::channel(0).1,
            CancellationToken::new(),
            broadcast::channel(16).0,
        )
        .await
        .err()
        .expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        for jitter in [-0.1, BEACON_JITTER_MAX + 0.01, f64::NAN] {
            let cfg = DiscoveryConfig {
                jitter,
                ..DiscoveryConfig::default()
            };
            assert!(matches!(
                cfg.validate(),
                Err(DiscoveryConfigError::Jitter(_))
            ));
        }
        assert_eq!(DiscoveryConfig::default().validate(), Ok(()));
    }

    #[test]
    fn jittered_intervals_stay_within_the_jitter_and_vary() {
        let mut rng = StdRng::seed_from_u64(1);
        let interval = Duration::from_millis(BEACON_INTERVAL_DEFAULT_MS);
        let lo = interval.mul_f64(1.0 - BEACON_JITTER_DEFAULT);
        let hi = interval.mul_f64(1.0 + BEACON_JITTER_DEFAULT);
        let draws: BTreeSet<Duration> = (0..1000)
            .map(|_| jittered(interval, BEACON_JITTER_DEFAULT, &mut rng))
            .collect();
        assert!(draws.iter().all(|d| (lo..=hi).contains(d)));
        assert!(draws.len() > 900);
        assert_eq!(jittered(interval, 0.0, &mut rng), interval);
    }

    #[test]
    fn the_first_beacon_is_due_at_start_then_one_per_jittered_interval() {
        let mut rng = StdRng::seed_from_u64(2);
        let t0 = Instant::now();
        let interval = Duration::from_secs(5);
        let mut s = Schedule::new(t0, interval, 0.2);
        assert_eq!(s.deadline(), t0);
        assert!(s.take_due(t0, &mut rng));
        assert!(!s.take_due(t0, &mut rng));
        let next = s.deadline();
        assert!(next >= t0 + Duration::from_secs(4) && next <= t0 + Duration::from_secs(6));
        assert!(s.take_due(next, &mut rng));
    }

    #[test]
    fn extra_beacons_are_spaced_and_deferred_not_dropped() {
        let mut rng = StdRng::seed_from_u64(3);
        let t0 = Instant::now();
        let spacing = Duration::from_millis(EXTRA_BEACON_SPACING_MIN_MS);
        let mut s = Schedule::new(t0, Duration::from_secs(60), 0.0);
        assert!(s.take_due(t0, &mut rng));
        let ms = Duration::from_millis;
        s.request_extra(t0 + ms(10), ms(100));
        // A second request while one is pending changes nothing.
        s.request_extra(t0 + ms(20), ms(0));
        assert_eq!(s.deadline(), t0 + ms(110));
        assert!(!s.take_due(t0 + ms(109), &mut rng));
        assert!(s.take_due(t0 + ms(110), &mut rng));
        // The next newcomer, right after: deferred to the spacing's end.
        s.request_extra(t0 + ms(120), ms(50));
        assert_eq!(s.deadline(), t0 + ms(110) + spacing);
        assert!(!s.take_due(t0 + ms(110) + spacing - ms(1), &mut rng));
        assert!(s.take_due(t0 + ms(110) + spacing, &mut rng));
        assert_eq!(s.deadline(), t0 + Duration::from_secs(60));
    }

    #[test]
    fn an_extra_beacon_after_the_next_regular_one_is_not_scheduled() {
        let mut rng = StdRng::seed_from_u64(4);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Schedule::new(t0, ms(1000), 0.0);
        assert!(s.take_due(t0, &mut rng));
        s.request_extra(t0 + ms(900), ms(200));
        assert_eq!(s.deadline(), t0 + ms(1000));
        // A regular beacon serves a pending extra one.
        s.request_extra(t0 + ms(1000) - ms(60), ms(50));
        assert!(s.take_due(t0 + ms(1000), &mut rng));
        assert_eq!(s.deadline(), t0 + ms(2000));
    }

    #[test]
    fn a_node_unheard_for_the_forget_time_is_a_newcomer_again() {
        let t0 = Instant::now();
        let forget = Duration::from_secs(15);
        let mut h = Heard::new(forget);
        assert!(h.heard(NodeId([1; 32]), t0));
        assert!(!h.heard(NodeId([1; 32]), t0 + forget));
        assert!(!h.heard(NodeId([1; 32]), t0 + forget * 2));
        assert!(h.heard(NodeId([1; 32]), t0 + forget * 3 + Duration::from_millis(1)));
    }

    #[test]
    fn the_newcomer_memory_is_bounded_and_forgets_the_least_recent() {
        let t0 = Instant::now();
        let mut h = Heard::new(Duration::from_secs(3600));
        let id = |i: usize| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            NodeId(b)
        };
        for i in 0..NEWCOMERS_KNOWN_MAX {
            assert!(h.heard(id(i), t0 + Duration::from_millis(i as u64)));
        }
        assert!(!h.heard(id(0), t0 + Duration::from_secs(10)));
        assert!(h.heard(id(NEWCOMERS_KNOWN_MAX), t0 + Duration::from_secs(11)));
        assert_eq!(h.last.len(), NEWCOMERS_KNOWN_MAX);
        // id(1) was the least recently heard; id(0) was refreshed.
        assert!(!h.heard(id(0), t0 + Duration::from_secs(12)));
        assert!(h.heard(id(1), t0 + Duration::from_secs(13)));
    }
}
