//! # flashmesh
//!
//! A mesh service for "flash institutions": the temporary, ownerless network
//! a hackathon, a festival or a pop-up clinic needs. Nodes that share a room
//! code find each other, form a self-healing mesh, and carry chat and
//! coordination applets; everything is signed and sealed by the room.
//!
//! ## Layout
//!
//! * [`id`]: `NodeId`, `MessageId` and hex helpers.
//! * [`proto`]: the sans-IO engines — membership (Scuttlebutt + phi accrual),
//!   topology (degree-constrained links), plumtree (broadcast) — and the
//!   [`proto::wire::Wire`] message enum. Nothing in `proto` touches tokio,
//!   sockets, the clock or a global RNG: time and randomness are inputs.
//! * [`codec`]: the single encoder/decoder for everything on the wire.
//! * [`sim`]: a deterministic simulator running many nodes' engines in one
//!   thread over a faulty virtual network (`flashmesh sim`).
//! * [`crypto`]: room codes and keys, the persisted identity, sealed direct
//!   messages.
//! * [`net`]: the sealed beacon, UDP sockets, the Noise link handshake,
//!   framing.
//! * [`store`]: one room's crash-safe op-log database (redb): ops, heads,
//!   equivocation proofs, snapshots, the address book.
//! * [`actors`]: the thin tokio actors around the engines, the transport
//!   (links), the beacon task (LAN discovery) and the router; [`node`]: [`Node`], the public handle;
//!   [`config`], [`event`], [`error`]: what it takes, says and returns.
//! * [`join`]: `flashmesh://join` links and their QR codes; [`cli`]: the
//!   line client (`flashmesh run`, the scripting interface), the settings
//!   both clients share, and `flashmesh sim`; [`tui`]: the full-screen
//!   client; [`present`]: how both clients word what the node says.
//! * [`proto::oplog`]: the durable op-log (signed per-author logs, the fold
//!   into applet state, anti-entropy); [`applets`]: the built-in applets
//!   (chat, direct messages, announcements, polls, queues, lost+found,
//!   resource requests, the roster).
//!
//! ## Example: size a room before the event
//!
//! ```
//! use flashmesh::sim::{self, SimConfig};
//!
//! let mut cfg = SimConfig::new(12, 5, 42); // 12 nodes, 5 broadcasts, seed 42
//! cfg.loss = 0.05;
//! let report = sim::run(cfg).expect("a valid configuration");
//! assert_eq!(report.delivered_ratio_reachable, 1.0);
//! println!("{}", report.to_table());
//! ```

#![warn(missing_docs)]

pub mod actors;
pub mod applets;
pub mod cli;
pub mod codec;
pub mod config;
pub mod crypto;
pub mod error;
pub mod event;
pub mod id;
pub mod join;
pub mod net;
pub mod node;
pub mod present;
pub mod proto;
pub mod sim;
pub mod store;
pub mod tui;

pub use config::{Config, IdentitySource, Profile, Room};
pub use crypto::room::RoomCode;
pub use error::Error;
pub use event::{Delivery, Event, Member, PeerInfo, StateMark, Status};
pub use id::{MessageId, NodeId};
pub use node::{Node, NodeStats};
