//! The Plumtree actor: owns the Plumtree engine, and opens what it
//! delivers.
//!
//! Every broadcast payload is one encoded [`Envelope`]: the application's
//! bytes signed by this node (published by the receivers as
//! `Event::Message`, whose `from` is the signer), a sealed direct message
//! that every node relays and only its recipient opens (published as
//! `Event::Direct`), or an op. Direct messages that arrive over a link
//! (`Wire::Direct`) are opened here too.
//!
//! A peer's `Gossip` passes [`Admission`] before the engine takes it: an
//! application broadcast whose signature does not verify for its claimed
//! author is dropped and counted (`bad_signatures`), so it is neither
//! delivered nor relayed. A payload that is not an `Envelope`, or a sealed
//! message that does not open, is dropped and counted too, but only on
//! delivery: it was still relayed (Plumtree does not look inside).
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
use crate::crypto::broadcast::SignedBroadcast;
use crate::crypto::dm;
use crate::crypto::identity::Identity;
use crate::crypto::room::ROOM_TAG_BYTES;
use crate::event::Event;
use crate::id::{MessageId, NodeId};
use crate::proto::plumtree::{self, Plumtree};
use crate::proto::route::{self, Admission, Content, Effect};
use crate::proto::wire::Envelope;

/// Counters of what the Plumtree actor dropped.
#[derive(Debug, Default)]
pub struct BroadcastStats {
    /// Delivered payloads that were not one canonical `Envelope`.
    pub bad_envelopes: AtomicU64,
    /// Peers' broadcasts whose signature did not verify for their claimed
    /// author; dropped before the engine (not delivered, not relayed).
    pub bad_signatures: AtomicU64,
    /// Sealed messages addressed to this node that did not open.
    pub bad_direct: AtomicU64,
    /// Sealed messages that arrived over a link but were not for this node.
    pub misdirected: AtomicU64,
}

/// What the Plumtree actor hears besides peers' messages.
#[derive(Debug)]
pub(crate) enum BroadcastCtl {
    Input(plumtree::Input),
    /// Sign the application's payload as this node's next broadcast and
    /// send it; the reply carries its message id.
    Broadcast {
        payload: Vec<u8>,
        reply: oneshot::Sender<Result<MessageId, String>>,
    },
    /// Broadcast an envelope as it is (a direct message, an op); the reply
    /// carries its message id.
    Publish {
        envelope: Envelope,
        reply: oneshot::Sender<Result<MessageId, String>>,
    },
    /// Test hook: panic while handling this.
    Panic,
}

pub(crate) struct PlumtreeActor {
    pub(crate) identity: Arc<Identity>,
    /// The room's tag, which this node's broadcast signatures name.
    room_tag: [u8; ROOM_TAG_BYTES],
    /// What a peer's Plumtree message passes before the engine takes it.
    admission: Admission,
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
        room_tag: [u8; ROOM_TAG_BYTES],
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
            room_tag,
            admission: Admission::new(room_tag),
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
        if let Err(e) = self.admission.admit(&self.engine, &input) {
            self.stats.bad_signatures.fetch_add(1, Ordering::Relaxed);
            if let plumtree::Input::Message {
                from,
                msg: plumtree::Message::Gossip(g),
            } = &input
            {
                tracing::warn!(
                    from = %from.fmt_short(),
                    author = %g.author.fmt_short(),
                    error = %e,
                    "a broadcast's signature does not verify; dropped, not relayed"
                );
            }
            return None;
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
            BroadcastCtl::Broadcast { payload, reply } => {
                // The engine numbers the broadcast `next_seq()` (rule 4 of
                // "Broadcast rules"); nothing else reaches it in between on
                // this task, so this is the seq the message goes out with.
                let seq = self.engine.next_seq();
                let signed = SignedBroadcast::sign(&self.identity, &self.room_tag, seq, payload);
                let _ = reply.send(self.publish(&Envelope::Broadcast(signed)));
            }
            BroadcastCtl::Publish { envelope, reply } => {
                let _ = reply.send(self.publish(&envelope));
            }
            BroadcastCtl::Panic => panic!("injected panic (test hook)"),
        }
    }

    /// Encodes `envelope` and broadcasts it; its message id, or why not.
    fn publish(&mut self, envelope: &Envelope) -> Result<MessageId, String> {
        match codec::encode_value(envelope) {
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::proto::wire::Wire;

    const ROOM: [u8; ROOM_TAG_BYTES] = [0x33; ROOM_TAG_BYTES];

    /// One node's Plumtree actor, driven by hand (its task is not
    /// spawned), with what it sends and publishes.
    struct Node {
        actor: PlumtreeActor,
        sent: mpsc::UnboundedReceiver<TransportCmd>,
        events: broadcast::Receiver<Event>,
        _oplog: mpsc::UnboundedReceiver<OpLogCtl>,
    }

    impl Node {
        fn new(identity: Identity, neighbors: &[NodeId]) -> Node {
            let (_, net) = mpsc::channel(1);
            let (_, ctl) = mpsc::unbounded_channel();
            let (transport, sent) = mpsc::unbounded_channel();
            let (oplog, oplog_rx) = mpsc::unbounded_channel();
            let (bus, events) = broadcast::channel(16);
            let mut actor = PlumtreeActor::new(
                Arc::new(identity),
                ROOM,
                plumtree::Config::default(),
                1,
                Clock::new(),
                net,
                ctl,
                transport,
                oplog,
                bus,
                Arc::new(BroadcastStats::default()),
                CancellationToken::new(),
            );
            actor.feed(plumtree::Input::Start);
            for &n in neighbors {
                actor.feed(plumtree::Input::NeighborUp(n));
            }
            Node {
                actor,
                sent,
                events,
                _oplog: oplog_rx,
            }
        }

        fn receive(&mut self, from: NodeId, g: plumtree::Gossip) {
            self.actor
                .on_net(BroadcastNet::Plumtree(plumtree::Input::Message {
                    from,
                    msg: plumtree::Message::Gossip(g),
                }));
        }

        /// The `Gossip`s sent since the last call, with their recipients.
        fn gossip_sent(&mut self) -> Vec<(NodeId, plumtree::Gossip)> {
            let mut out = Vec::new();
            while let Ok(cmd) = self.sent.try_recv() {
                if let TransportCmd::Send(to, Wire::Plumtree(plumtree::Message::Gossip(g))) = cmd {
                    out.push((to, g));
                }
            }
            out
        }

        /// The room messages published since the last call.
        fn messages(&mut self) -> Vec<(NodeId, MessageId, Vec<u8>)> {
            let mut out = Vec::new();
            while let Ok(ev) = self.events.try_recv() {
                if let Event::Message { from, id, payload } = ev {
                    out.push((from, id, payload));
                }
            }
            out
        }

        fn bad_signatures(&self) -> u64 {
            self.actor.stats.bad_signatures.load(Ordering::Relaxed)
        }
    }

    fn identities<const N: usize>() -> [Identity; N] {
        let mut rng = crate::proto::EngineRng::seed_from_u64(3);
        std::array::from_fn(|_| Identity::generate_with(&mut rng))
    }

    use crate::proto::route::tests::gossip;

    #[test]
    fn a_broadcast_is_signed_and_delivered_by_another_node_as_from_its_signer() {
        let [alice, bob, carol] = identities::<3>();
        let (a, b, c) = (alice.node_id(), bob.node_id(), carol.node_id());
        let mut alice = Node::new(alice, &[b]);
        let mut bob = Node::new(bob, &[a, c]);
        let (reply, mut answer) = oneshot::channel();
        alice.actor.on_ctl(BroadcastCtl::Broadcast {
            payload: b"hello".to_vec(),
            reply,
        });
        let id = answer.try_recv().expect("answered").expect("accepted");
        let pushed = alice.gossip_sent();
        let [(to, g)] = &pushed[..] else {
            panic!("one push to bob: {pushed:?}");
        };
        assert_eq!((*to, g.id, g.author), (b, id, a));
        // The envelope carries alice's signature for this seq and room.
        let Ok(Envelope::Broadcast(signed)) = codec::decode_value::<Envelope>(&g.payload) else {
            panic!("a broadcast envelope");
        };
        assert_eq!(signed.payload, b"hello");
        assert_eq!(signed.verify(&ROOM, &a, g.seq), Ok(()));
        assert_eq!(
            g.payload.len(),
            4 + 8 + 5 + crate::crypto::broadcast::SIGNATURE_OVERHEAD_BYTES
        );

        bob.receive(a, g.clone());
        assert_eq!(bob.messages(), vec![(a, id, b"hello".to_vec())]);
        let relayed: Vec<NodeId> = bob.gossip_sent().into_iter().map(|(to, _)| to).collect();
        assert_eq!(relayed, vec![c]);
        assert_eq!(bob.bad_signatures(), 0);
    }

    #[test]
    fn a_broadcast_not_signed_by_its_claimed_author_is_counted_and_neither_delivered_nor_relayed() {
        let [alice, bob, mallory] = identities::<3>();
        let (a, m) = (alice.node_id(), mallory.node_id());
        let carol = NodeId([7; 32]);
        let mut bob = Node::new(bob, &[a, m, carol]);
        let signed = SignedBroadcast::sign(&alice, &ROOM, 9, b"lunch at noon".to_vec());
        let forged = [
            // Mallory's words under Alice's name.
            gossip(
                a,
                9,
                &Envelope::Broadcast(SignedBroadcast::sign(
                    &mallory,
                    &ROOM,
                    9,
                    b"lunch is cancelled".to_vec(),
                )),
            ),
            // Alice's signature over Mallory's words.
            gossip(
                a,
                9,
                &Envelope::Broadcast(SignedBroadcast {
                    payload: b"lunch is cancelled".to_vec(),
                    sig: signed.sig.clone(),
                }),
            ),
            // Alice's broadcast passed off as Mallory's.
            gossip(m, 9, &Envelope::Broadcast(signed.clone())),
            // Signed for another room.
            gossip(
                a,
                9,
                &Envelope::Broadcast(SignedBroadcast::sign(
                    &alice,
                    &[0; ROOM_TAG_BYTES],
                    9,
                    b"lunch at noon".to_vec(),
                )),
            ),
        ];
        for (k, g) in forged.into_iter().enumerate() {
            let id = g.id;
            bob.receive(m, g);
            assert_eq!(bob.messages(), vec![], "forgery {k} is not delivered");
            assert_eq!(bob.gossip_sent(), vec![], "forgery {k} is not relayed");
            assert_eq!(bob.bad_signatures(), k as u64 + 1, "forgery {k} is counted");
            assert!(!bob.actor.engine.has_seen(&id), "forgery {k}");
        }
        // The real one, relayed by Mallory, is delivered from Alice.
        let genuine = gossip(a, 9, &Envelope::Broadcast(signed));
        let id = genuine.id;
        bob.receive(m, genuine);
        assert_eq!(bob.messages(), vec![(a, id, b"lunch at noon".to_vec())]);
        let mut relayed: Vec<NodeId> = bob.gossip_sent().into_iter().map(|(to, _)| to).collect();
        relayed.sort();
        let mut want = vec![a, carol];
        want.sort();
        assert_eq!(relayed, want);
        assert_eq!(bob.bad_signatures(), 4);
    }
}
