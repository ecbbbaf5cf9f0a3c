//! The router: hands each inbound `Wire` value to the actor that owns the
//! engine [`route::inbound`] names, already as that engine's input (the
//! mapping is the routing layer's, shared with the simulator).
//!
//! It is not a task of its own: every link's reader calls
//! `Router::dispatch`, which saves a hop per frame. The senders are bounded ([`super::ENGINE_NET_INBOX`]),
//! so a busy engine slows the readers that feed it.

use tokio::sync::mpsc;

use crate::crypto::dm::SealedDm;
use crate::id::NodeId;
use crate::proto::oplog::sync;
use crate::proto::route::{self, Inbound, Routed};
use crate::proto::wire::Wire;
use crate::proto::{membership, plumtree, topology};

/// What the Plumtree actor hears from links.
#[derive(Debug)]
pub(crate) enum BroadcastNet {
    /// A Plumtree message (`plumtree::Input::Message`).
    Plumtree(plumtree::Input),
    /// A sealed direct message sent over the link by `NodeId`.
    Direct(NodeId, SealedDm),
}

#[derive(Clone)]
pub(crate) struct Router {
    pub(crate) membership: mpsc::Sender<membership::Input>,
    pub(crate) topology: mpsc::Sender<topology::Input>,
    pub(crate) broadcast: mpsc::Sender<BroadcastNet>,
    pub(crate) oplog: mpsc::Sender<sync::Input>,
}

impl Router {
    /// Delivers one message from `from`; false once the node is stopping.
    pub(crate) async fn dispatch(&self, from: NodeId, wire: Wire) -> bool {
        match route::inbound(from, wire) {
            Inbound::Engine(Routed::Membership(input)) => self.membership.send(input).await.is_ok(),
            Inbound::Engine(Routed::Topology(input)) => self.topology.send(input).await.is_ok(),
            Inbound::Engine(Routed::Plumtree(input)) => self
                .broadcast
                .send(BroadcastNet::Plumtree(input))
                .await
                .is_ok(),
            Inbound::Engine(Routed::OpLog(input)) => self.oplog.send(input).await.is_ok(),
            Inbound::Direct(dm) => self
                .broadcast
                .send(BroadcastNet::Direct(from, dm))
                .await
                .is_ok(),
            // The link's reader ends the link on a goodbye before it gets
            // here; one that does is dropped.
            Inbound::Goodbye(_) => true,
        }
    }
}
