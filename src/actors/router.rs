//! The router: hands each inbound `Wire` value to the actor its variant
//! names.
//!
//! It is not a task of its own: every link's reader calls
//! `Router::dispatch`, which saves a hop per frame while keeping one place
//! that knows the mapping. The senders are bounded ([`super::ENGINE_NET_INBOX`]),
//! so a busy engine slows the readers that feed it.

use tokio::sync::mpsc;

use crate::crypto::dm::SealedDm;
use crate::id::NodeId;
use crate::proto::oplog::sync;
use crate::proto::wire::Wire;
use crate::proto::{membership, plumtree, topology};

/// What the Plumtree actor hears from links.
#[derive(Debug)]
pub(crate) enum BroadcastNet {
    Plumtree(NodeId, plumtree::Message),
    Direct(NodeId, SealedDm),
}

#[derive(Clone)]
pub(crate) struct Router {
    pub(crate) membership: mpsc::Sender<(NodeId, membership::Message)>,
    pub(crate) topology: mpsc::Sender<(NodeId, topology::Message)>,
    pub(crate) broadcast: mpsc::Sender<BroadcastNet>,
    pub(crate) oplog: mpsc::Sender<(NodeId, sync::Message)>,
}

impl Router {
    /// Delivers one message from `from`; false once the node is stopping.
    pub(crate) async fn dispatch(&self, from: NodeId, wire: Wire) -> bool {
        match wire {
            Wire::Membership(msg) => self.membership.send((from, msg)).await.is_ok(),
            Wire::Topology(msg) => self.topology.send((from, msg)).await.is_ok(),
            Wire::Plumtree(msg) => self
                .broadcast
                .send(BroadcastNet::Plumtree(from, msg))
                .await
                .is_ok(),
            Wire::Direct(dm) => self
                .broadcast
                .send(BroadcastNet::Direct(from, dm))
                .await
                .is_ok(),
            Wire::OpLog(msg) => self.oplog.send((from, msg)).await.is_ok(),
        }
    }
}
