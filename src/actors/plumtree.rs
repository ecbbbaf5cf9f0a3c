//! The Plumtree actor: owns the Plumtree engine, and opens what it
//! delivers.
//!
//! Every broadcast payload is one encoded [`Envelope`]: the application's
//! bytes (published as `Event::Message`), or a sealed direct message that
//! every node relays and only its recipient opens (published as
//! `Event::Direct`). Direct messages that arrive over a link (`Wire::Direct`)
//! are opened here too. A payload that is not an `Envelope`, or a sealed
//! message that does not open, is dropped and counted; it was still relayed
//! (Plumtree does not look inside).
//!
//! Kept outside the engine, for a restart after a panic: the neighbours and
//! the next sequence number (a restarted engine must not reuse one: the
//! message id hashes it).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::oplog::OpLogCtl;
use super::router::BroadcastNet;
use super::transport::TransportCmd;
use super::{Clock, Routes, Supervised, Timers, sleep_until};
use crate::codec;
use crate::crypto::dm;
use crate::crypto::identity::Identity;
use crate::event::Event;
use crate::id::{MessageId, NodeId};
use crate::proto::plumtree::{self, Plumtree};
use crate::proto::route::{self, Content, Effect};
use crate::proto::wire::Envelope;

/// Counters of what the Plumtree actor dropped.
#[derive(Debug, Default)]
pub struct BroadcastStats {
    /// Delivered payloads that were not one canonical `Envelope`.
    pub bad_envelopes: AtomicU64,
    /// Sealed messages addressed to this node that did not open.
    pub bad_direct: AtomicU64,
    /// Sealed messages that arrived over a link but were not for this node.
    pub misdirected: AtomicU64,
}

/// What the Plumtree actor hears besides peers' messages.
#[derive(Debug)]
pub(crate) enum BroadcastCtl {
    Input(plumtree::Input),
    /// Broadcast an envelope; the reply carries its message id.
    Publish {
        envelope: Envelope,
        reply: oneshot::Sender<Result<MessageId, String>>,
    },
    /// Test hook: panic while handling this.
    Panic,
}

pub(crate) struct PlumtreeActor {
    pub(crate) identity: Arc<Identity>,
    pub(crate) config: plumtree::Config,
    pub(crate) engine: Plumtree,
    pub(crate) clock: Clock,
    pub(crate) timers: Timers<plumtree::Timer>,
    pub(crate) net: mpsc::Receiver<BroadcastNet>,
    pub(crate) ctl: mpsc::UnboundedReceiver<BroadcastCtl>,
    pub(crate) transport: mpsc::UnboundedSender<TransportCmd>,
    /// The op-log: where delivered ops go.
    routes: Routes,
    pub(crate) bus: broadcast::Sender<Event>,
    pub(crate) stats: Arc<BroadcastStats>,
    pub(crate) cancel: CancellationToken,
    started: bool,
    neighbors: BTreeSet<NodeId>,
}

impl PlumtreeActor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        identity: Arc<Identity>,
        config: plumtree::Config,
        seq_start: u64,
        clock: Clock,
        net: mpsc::Receiver<BroadcastNet>,
        ctl: mpsc::UnboundedReceiver<BroadcastCtl>,
        transport: mpsc::UnboundedSender<TransportCmd>,
        oplog: mpsc::UnboundedSender<OpLogCtl>,
        bus: broadcast::Sender<Event>,
        stats: Arc<BroadcastStats>,
        cancel: CancellationToken,
    ) -> PlumtreeActor {
        let engine = Plumtree::new(identity.node_id(), config.clone(), seq_start);
        PlumtreeActor {
            identity,
            config,
            engine,
            clock,
            timers: Timers::new(),
            net,
            ctl,
            transport,
            routes: Routes {
                oplog: Some(oplog),
                ..Routes::default()
            },
            bus,
            stats,
            cancel,
            started: false,
            neighbors: BTreeSet::new(),
        }
    }

    fn feed(&mut self, input: plumtree::Input) -> Option<MessageId> {
        match &input {
            plumtree::Input::NeighborUp(p) => {
                self.neighbors.insert(*p);
            }
            plumtree::Input::NeighborDown(p) => {
                self.neighbors.remove(p);
            }
            _ => {}
        }
        let now = self.clock.now();
        self.engine.handle(now, input);
        self.drain()
    }

    /// Handles the engine's outputs; returns the id of a message this node
    /// just sent, if any.
    fn drain(&mut self) -> Option<MessageId> {
        let now = self.clock.now();
        let mut effects = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            route::plumtree(out, &mut effects);
        }
        let mut sent = None;
        for effect in effects {
            match effect {
                Effect::Send { to, wire } => {
                    let _ = self.transport.send(TransportCmd::Send(to, wire));
                }
                Effect::SetTimer {
                    after,
                    timer: route::Timer::Plumtree(timer),
                } => self.timers.set(now + after, timer),
                Effect::Sent { id } => sent = Some(id),
                Effect::Delivered {
                    id,
                    author,
                    content,
                    ..
                } => self.on_delivered(id, author, content),
                // A delivered op, for the op-log.
                Effect::Input(input) => self.routes.carry(input),
                other => tracing::debug!(?other, "not a Plumtree effect"),
            }
        }
        sent
    }

    fn on_delivered(&mut self, id: MessageId, author: NodeId, content: Content) {
        match content {
            Content::Broadcast(bytes) => {
                let _ = self.bus.send(Event::Message {
                    from: author,
                    id,
                    payload: bytes,
                });
            }
            Content::Direct(sealed) => {
                if sealed.to == self.identity.node_id() {
                    self.open_direct(&sealed, false);
                }
            }
            Content::Op => {}
            Content::Malformed(e) => {
                self.stats.bad_envelopes.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(author = %author.fmt_short(), error = %e, "broadcast payload is not an envelope; dropped");
            }
        }
    }

    fn open_direct(&mut self, sealed: &dm::SealedDm, via_link: bool) {
        match dm::open(&self.identity, sealed) {
            Ok(opened) => {
                let _ = self.bus.send(Event::Direct {
                    from: opened.from,
                    payload: opened.body,
                    via_link,
                });
            }
            Err(e) => {
                self.stats.bad_direct.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "a direct message to this node did not open; dropped");
            }
        }
    }

    fn on_net(&mut self, msg: BroadcastNet) {
        match msg {
            BroadcastNet::Plumtree(input) => {
                self.feed(input);
            }
            BroadcastNet::Direct(from, sealed) => {
                if sealed.to == self.identity.node_id() {
                    self.open_direct(&sealed, true);
                } else {
                    self.stats.misdirected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(from = %from.fmt_short(), "a direct message for another node came over a link; dropped");
                }
            }
        }
    }

    fn on_ctl(&mut self, ctl: BroadcastCtl) {
        match ctl {
            BroadcastCtl::Input(input) => {
                self.feed(input);
            }
            BroadcastCtl::Publish { envelope, reply } => {
                let result = match codec::encode_value(&envelope) {
                    Err(e) => Err(e.to_string()),
                    Ok(bytes) if bytes.len() > self.config.payload_bytes_max => Err(format!(
                        "message too large: {} bytes encoded, at most {}",
                        bytes.len(),
                        self.config.payload_bytes_max
                    )),
                    Ok(bytes) => self
                        .feed(plumtree::Input::Command(plumtree::Command::Broadcast(
                            bytes,
                        )))
                        .ok_or_else(|| "the broadcast was not accepted".to_string()),
                };
                let _ = reply.send(result);
            }
            BroadcastCtl::Panic => panic!("injected panic (test hook)"),
        }
    }
}

impl Supervised for PlumtreeActor {
    const NAME: &'static str = "broadcast";

    async fn run(&mut self) {
        if !self.started {
            self.started = true;
            self.feed(plumtree::Input::Start);
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
                    Some(msg) => self.on_net(msg),
                },
                _ = sleep_until(self.clock, deadline) => {
                    let now = self.clock.now();
                    while let Some(timer) = self.timers.pop_due(now) {
                        self.feed(plumtree::Input::Timer(timer));
                    }
                }
            }
        }
    }

    fn restart(&mut self) {
        let seq = self.engine.next_seq();
        self.engine = Plumtree::new(self.identity.node_id(), self.config.clone(), seq);
        self.timers.clear();
        self.started = true;
        let neighbors = std::mem::take(&mut self.neighbors);
        self.feed(plumtree::Input::Start);
        for p in neighbors {
            self.feed(plumtree::Input::NeighborUp(p));
        }
    }
}
