//! The membership actor: owns the Scuttlebutt + phi-accrual engine.
//!
//! Engine events become topology inputs (alive → dial candidate, dead →
//! reconnect candidate, left → forget: [`crate::proto::route::verdict`]),
//! address hints for the transport (the `addr` key), and bus events
//! (liveness, nick changes).
//!
//! ## The keys this node publishes
//!
//! * `nick`: UTF-8, 1..=32 characters ([`crate::config::check_nick`]).
//! * `addr`: `ip:port` entries separated by single spaces, at most
//!   [`ADDRS_PUBLISHED_MAX`]: where this node accepts links.
//! * `state`: the op-log state mark, `<16 hex digits> <ops>` (the first 8
//!   bytes of the state hash and the ops held), written by the op-log
//!   actor at most every [`crate::actors::oplog::STATE_PUBLISH_INTERVAL`]
//!   and only when it changed: nodes with equal marks agree.
//!
//! Kept outside the engine, for a restart after a panic: the neighbours,
//! this node's own keys, whether it left, and its generation (a restarted
//! engine takes a higher one, so the room sees a restart, not a stale node).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::topology::TopologyCtl;
use super::transport::TransportCmd;
use super::{Clock, Routes, Supervised, Timers, fresh_rng, sleep_until};
use crate::event::{Event, Member, StateMark};
use crate::id::NodeId;
use crate::proto::membership::{self, Membership, Status};
use crate::proto::route::{self, Effect};

/// The key holding a node's nick.
pub const NICK_KEY: &str = "nick";
/// The key holding a node's link addresses.
pub const ADDR_KEY: &str = "addr";
pub use crate::proto::route::STATE_KEY;
/// Most addresses a node publishes (and that are read from another's).
pub const ADDRS_PUBLISHED_MAX: usize = 8;

/// What the membership actor hears besides peers' messages.
#[derive(Debug)]
pub(crate) enum MembershipCtl {
    Input(membership::Input),
    /// Writes a key of this node's namespace.
    Set {
        key: String,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Graceful leave; the reply comes once the `Leave` messages are queued
    /// for the transport.
    Leave(oneshot::Sender<()>),
    Members(oneshot::Sender<Vec<Member>>),
    /// The nick of one node (this one included).
    Nick(NodeId, oneshot::Sender<Option<String>>),
    /// Test hook: panic while handling this.
    Panic,
}

pub(crate) struct MembershipActor {
    pub(crate) me: NodeId,
    pub(crate) config: membership::Config,
    pub(crate) generation: u64,
    pub(crate) engine: Membership,
    pub(crate) clock: Clock,
    pub(crate) timers: Timers<membership::Timer>,
    pub(crate) net: mpsc::Receiver<membership::Input>,
    pub(crate) ctl: mpsc::UnboundedReceiver<MembershipCtl>,
    pub(crate) transport: mpsc::UnboundedSender<TransportCmd>,
    /// Topology: where verdicts go.
    routes: Routes,
    pub(crate) bus: broadcast::Sender<Event>,
    pub(crate) cancel: CancellationToken,
    started: bool,
    left: bool,
    neighbors: BTreeSet<NodeId>,
    own: BTreeMap<String, Vec<u8>>,
}

/// Formats addresses for the `addr` key.
pub fn format_addrs(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .take(ADDRS_PUBLISHED_MAX)
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads an `addr` value; entries that do not parse are skipped.
pub fn parse_addrs(value: &[u8]) -> Vec<SocketAddr> {
    String::from_utf8_lossy(value)
        .split(' ')
        .filter_map(|s| s.parse().ok())
        .take(ADDRS_PUBLISHED_MAX)
        .collect()
}

impl MembershipActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        me: NodeId,
        config: membership::Config,
        generation: u64,
        clock: Clock,
        net: mpsc::Receiver<membership::Input>,
        ctl: mpsc::UnboundedReceiver<MembershipCtl>,
        transport: mpsc::UnboundedSender<TransportCmd>,
        topology: mpsc::UnboundedSender<TopologyCtl>,
        bus: broadcast::Sender<Event>,
        cancel: CancellationToken,
    ) -> MembershipActor {
        let engine = Membership::new(me, generation, config.clone(), fresh_rng());
        MembershipActor {
            me,
            config,
            generation,
            engine,
            clock,
            timers: Timers::new(),
            net,
            ctl,
            transport,
            routes: Routes {
                topology: Some(topology),
                ..Routes::default()
            },
            bus,
            cancel,
            started: false,
            left: false,
            neighbors: BTreeSet::new(),
            own: BTreeMap::new(),
        }
    }

    fn feed(&mut self, input: membership::Input) {
        match &input {
            membership::Input::NeighborUp(p) => {
                self.neighbors.insert(*p);
            }
            membership::Input::NeighborDown(p) => {
                self.neighbors.remove(p);
            }
            membership::Input::Command(membership::Command::Set { key, value }) => {
                self.own.insert(key.clone(), value.clone());
            }
            membership::Input::Command(membership::Command::Leave) => self.left = true,
            _ => {}
        }
        let now = self.clock.now();
        self.engine.handle(now, input);
        self.drain();
    }

    fn nick_of(&self, node: &NodeId) -> Option<String> {
        self.engine
            .get(node, NICK_KEY)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn drain(&mut self) {
        let now = self.clock.now();
        let mut effects = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            route::membership(out, &mut effects);
        }
        // Address hints go out before the topology inputs of the same batch,
        // so that a dial caused by `MemberAlive` finds the address.
        let mut topo = Vec::new();
        for effect in effects {
            match effect {
                Effect::Send { to, wire } => {
                    let _ = self.transport.send(TransportCmd::Send(to, wire));
                }
                Effect::SetTimer {
                    after,
                    timer: route::Timer::Membership(timer),
                } => self.timers.set(now + after, timer),
                Effect::Member(ev) => self.on_event(ev),
                Effect::Input(input) => topo.push(input),
                other => tracing::debug!(?other, "not a membership effect"),
            }
        }
        for input in topo {
            self.routes.carry(input);
        }
    }

    /// Tells the application (and the transport, of addresses) what a
    /// membership event says; what it means for topology is the routing
    /// layer's.
    fn on_event(&mut self, ev: membership::Event) {
        use membership::Event as E;
        let status = match ev {
            E::Alive { node } => Some((node, Status::Alive)),
            E::Suspect { node } => Some((node, Status::Suspect)),
            E::Dead { node } => Some((node, Status::Dead)),
            E::Left { node } => Some((node, Status::Left)),
            E::Forgotten { .. } => None,
            E::Updated { node, key, value } => {
                if key == ADDR_KEY {
                    let _ = self.transport.send(TransportCmd::AddrHint {
                        node,
                        addrs: parse_addrs(&value),
                        observed: false,
                    });
                } else if key == NICK_KEY {
                    let _ = self.bus.send(Event::Nick {
                        node,
                        nick: String::from_utf8_lossy(&value).into_owned(),
                    });
                }
                None
            }
        };
        if let Some((node, status)) = status {
            tracing::info!(node = %node.fmt_short(), ?status, "member");
            let _ = self.bus.send(Event::Member {
                node,
                status,
                nick: self.nick_of(&node),
            });
        }
    }

    fn members(&self) -> Vec<Member> {
        self.engine
            .members()
            .into_iter()
            .map(|m| Member {
                node: m.node,
                status: m.status,
                nick: self.nick_of(&m.node),
                addrs: self
                    .engine
                    .get(&m.node, ADDR_KEY)
                    .map(parse_addrs)
                    .unwrap_or_default(),
                generation: m.generation,
                heartbeat: m.heartbeat,
                state: self
                    .engine
                    .get(&m.node, STATE_KEY)
                    .and_then(StateMark::decode),
            })
            .collect()
    }

    fn on_ctl(&mut self, ctl: MembershipCtl) {
        match ctl {
            MembershipCtl::Input(input) => self.feed(input),
            MembershipCtl::Set { key, value, reply } => {
                let result = if self.engine.entry_fits(&key, &value) {
                    self.feed(membership::Input::Command(membership::Command::Set {
                        key,
                        value,
                    }));
                    Ok(())
                } else {
                    Err(format!("the value of {key} is too large to gossip"))
                };
                let _ = reply.send(result);
            }
            MembershipCtl::Leave(reply) => {
                self.feed(membership::Input::Command(membership::Command::Leave));
                let _ = reply.send(());
            }
            MembershipCtl::Members(reply) => {
                let _ = reply.send(self.members());
            }
            MembershipCtl::Nick(node, reply) => {
                let _ = reply.send(self.nick_of(&node));
            }
            MembershipCtl::Panic => panic!("injected panic (test hook)"),
        }
    }
}

impl Supervised for MembershipActor {
    const NAME: &'static str = "membership";

    async fn run(&mut self) {
        if !self.started {
            self.started = true;
            self.feed(membership::Input::Start);
        }
        loop {
            let deadline = self.timers.next();
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return,
                ctl = self.ctl.recv() => match ctl {
                    None => return,
                    Some(ctl) => self.on_ctl(ctl),
                },
                msg = self.net.recv() => match msg {
                    None => return,
                    Some(input) => self.feed(input),
                },
                _ = sleep_until(self.clock, deadline) => {
                    let now = self.clock.now();
                    while let Some(timer) = self.timers.pop_due(now) {
                        self.feed(membership::Input::Timer(timer));
                    }
                }
            }
        }
    }

    fn restart(&mut self) {
        self.generation = self.generation.max(crate::node::unix_micros()) + 1;
        self.engine = Membership::new(self.me, self.generation, self.config.clone(), fresh_rng());
        self.timers.clear();
        self.started = true;
        let own = std::mem::take(&mut self.own);
        let neighbors = std::mem::take(&mut self.neighbors);
        let left = self.left;
        self.feed(membership::Input::Start);
        for (key, value) in own {
            self.feed(membership::Input::Command(membership::Command::Set {
                key,
                value,
            }));
        }
        for p in neighbors {
            self.feed(membership::Input::NeighborUp(p));
        }
        if left {
            self.feed(membership::Input::Command(membership::Command::Leave));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_the_addr_key_and_bad_entries_are_skipped() {
        let a: SocketAddr = "10.1.2.3:9000".parse().expect("addr");
        let b: SocketAddr = "[::1]:9001".parse().expect("addr");
        let text = format_addrs(&[a, b]);
        assert_eq!(text, "10.1.2.3:9000 [::1]:9001");
        assert_eq!(parse_addrs(text.as_bytes()), vec![a, b]);
        assert_eq!(parse_addrs(b"junk 10.1.2.3:9000 1.2.3.4"), vec![a]);
    }
}
