//! The topology actor: owns the degree-constrained link engine, turns its
//! dials and disconnects into transport commands and its neighbour events
//! into inputs of the membership, Plumtree and op-log actors.
//!
//! Kept outside the engine, for a restart after a panic: the current links
//! (with direction) and what membership said of each member.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::membership::MembershipCtl;
use super::oplog::OpLogCtl;
use super::plumtree::BroadcastCtl;
use super::transport::TransportCmd;
use super::{Clock, Routes, Supervised, Timers, fresh_rng, sleep_until};
use crate::id::NodeId;
use crate::proto::route::{self, Effect};
use crate::proto::topology;

/// What the topology actor hears besides peers' messages.
#[derive(Debug)]
pub(crate) enum TopologyCtl {
    Input(topology::Input),
    /// Test hook: panic while handling this (see `Node::inject_panic`).
    Panic,
}

/// Membership's view of a member, as topology last heard it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Alive,
    Suspect,
    Dead,
}

pub(crate) struct TopologyActor {
    pub(crate) me: NodeId,
    pub(crate) config: topology::Config,
    pub(crate) engine: topology::Topology,
    pub(crate) clock: Clock,
    pub(crate) timers: Timers<topology::Timer>,
    pub(crate) net: mpsc::Receiver<topology::Input>,
    pub(crate) ctl: mpsc::UnboundedReceiver<TopologyCtl>,
    pub(crate) transport: mpsc::UnboundedSender<TransportCmd>,
    /// Membership, Plumtree and the op-log: where neighbour events go.
    routes: Routes,
    pub(crate) cancel: CancellationToken,
    started: bool,
    links: BTreeMap<NodeId, bool>,
    members: BTreeMap<NodeId, Seen>,
}

impl TopologyActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        me: NodeId,
        config: topology::Config,
        clock: Clock,
        net: mpsc::Receiver<topology::Input>,
        ctl: mpsc::UnboundedReceiver<TopologyCtl>,
        transport: mpsc::UnboundedSender<TransportCmd>,
        membership: mpsc::UnboundedSender<MembershipCtl>,
        broadcast: mpsc::UnboundedSender<BroadcastCtl>,
        oplog: mpsc::UnboundedSender<OpLogCtl>,
        cancel: CancellationToken,
    ) -> TopologyActor {
        let engine = topology::Topology::new(me, config.clone(), fresh_rng());
        TopologyActor {
            me,
            config,
            engine,
            clock,
            timers: Timers::new(),
            net,
            ctl,
            transport,
            routes: Routes {
                membership: Some(membership),
                plumtree: Some(broadcast),
                oplog: Some(oplog),
                topology: None,
            },
            cancel,
            started: false,
            links: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }

    fn feed(&mut self, input: topology::Input) {
        match &input {
            topology::Input::LinkUp { peer, outbound } => {
                self.links.insert(*peer, *outbound);
            }
            topology::Input::LinkDown(peer) => {
                self.links.remove(peer);
            }
            topology::Input::MemberAlive(n) => {
                self.members.insert(*n, Seen::Alive);
            }
            topology::Input::MemberSuspect(n) => {
                self.members.insert(*n, Seen::Suspect);
            }
            topology::Input::MemberDead(n) => {
                self.members.insert(*n, Seen::Dead);
            }
            topology::Input::MemberGone(n) => {
                self.members.remove(n);
            }
            _ => {}
        }
        let now = self.clock.now();
        self.engine.handle(now, input);
        self.drain();
    }

    fn drain(&mut self) {
        let now = self.clock.now();
        let mut effects = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            route::topology(out, &mut effects);
        }
        for effect in effects {
            match effect {
                Effect::Dial(peer) => {
                    let _ = self.transport.send(TransportCmd::Dial(peer));
                }
                Effect::Disconnect(peer) => {
                    let _ = self.transport.send(TransportCmd::Disconnect(peer));
                }
                Effect::Send { to, wire } => {
                    let _ = self.transport.send(TransportCmd::Send(to, wire));
                }
                Effect::SetTimer {
                    after,
                    timer: route::Timer::Topology(timer),
                } => self.timers.set(now + after, timer),
                Effect::Input(input) => self.routes.carry(input),
                other => tracing::debug!(?other, "not a topology effect"),
            }
        }
    }

    fn boot(&mut self) {
        self.started = true;
        self.feed(topology::Input::Start);
    }
}

impl Supervised for TopologyActor {
    const NAME: &'static str = "topology";

    async fn run(&mut self) {
        if !self.started {
            self.boot();
        }
        loop {
            let deadline = self.timers.next();
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return,
                ctl = self.ctl.recv() => match ctl {
                    None => return,
                    Some(TopologyCtl::Input(input)) => self.feed(input),
                    Some(TopologyCtl::Panic) => panic!("injected panic (test hook)"),
                },
                msg = self.net.recv() => match msg {
                    None => return,
                    Some(input) => self.feed(input),
                },
                _ = sleep_until(self.clock, deadline) => {
                    let now = self.clock.now();
                    while let Some(timer) = self.timers.pop_due(now) {
                        self.feed(topology::Input::Timer(timer));
                    }
                }
            }
        }
    }

    fn restart(&mut self) {
        self.engine = topology::Topology::new(self.me, self.config.clone(), fresh_rng());
        self.timers.clear();
        self.started = true;
        let links = std::mem::take(&mut self.links);
        let members = std::mem::take(&mut self.members);
        self.feed(topology::Input::Start);
        for (node, seen) in members {
            self.feed(match seen {
                Seen::Alive => topology::Input::MemberAlive(node),
                Seen::Suspect => topology::Input::MemberSuspect(node),
                Seen::Dead => topology::Input::MemberDead(node),
            });
        }
        for (peer, outbound) in links {
            self.feed(topology::Input::LinkUp { peer, outbound });
        }
    }
}
