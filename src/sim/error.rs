//! [`SimConfigError`]: why a [`super::SimConfig`] cannot run.

use std::time::Duration;

use crate::config::ConfigError;

/// Why [`super::SimConfig::validate`] refused a configuration. Values are
/// named by their `flashmesh sim` flag; nothing was run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimConfigError {
    /// Fewer than two nodes: there is no room to simulate.
    #[error("--nodes must be at least 2, got {nodes}")]
    TooFewNodes {
        /// The nodes asked for.
        nodes: usize,
    },
    /// A chance (`--loss`, `--duplicate`, `--reorder`) or `--jitter` is
    /// outside `[0, 1)`.
    #[error("{flag} must be in [0, 1), got {value}")]
    OutOfRange {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: f64,
    },
    /// `--join` starts as many nodes late as there are nodes, or more: no
    /// node would start the room.
    #[error("--join starts {late} nodes late, but there are only {nodes} nodes")]
    TooManyLate {
        /// The nodes all `--join`s start late.
        late: usize,
        /// All the nodes.
        nodes: usize,
    },
    /// A broadcast payload is over the broadcast engine's limit.
    #[error("--payload-bytes {bytes} exceeds the broadcast limit of {max}")]
    PayloadTooLarge {
        /// The payload size asked for.
        bytes: usize,
        /// `plumtree.payload_bytes_max`.
        max: usize,
    },
    /// The broadcast window ends before it starts.
    #[error("the broadcast window must end after it starts ({start:?} to {end:?})")]
    BroadcastWindow {
        /// Its start.
        start: Duration,
        /// Its end.
        end: Duration,
    },
    /// Two `--partition` windows overlap.
    #[error("--partition windows must not overlap")]
    PartitionsOverlap,
    /// Broadcasts would still be sent after the run ends (`--duration` is
    /// too short for them).
    #[error("broadcasts run until {last:?}, after the end of the run ({end:?})")]
    BroadcastsAfterEnd {
        /// When the last broadcast is sent.
        last: Duration,
        /// When the run ends.
        end: Duration,
    },
    /// Ops would still be written after the run ends (`--duration` is too
    /// short for them).
    #[error("ops are written until {last:?}, after the end of the run ({end:?})")]
    OpsAfterEnd {
        /// When the last op is written.
        last: Duration,
        /// When the run ends.
        end: Duration,
    },
    /// An engine configuration (membership, topology, plumtree) cannot
    /// work; the error names its field.
    #[error(transparent)]
    Engine(#[from] ConfigError),
}

/// For callers that still report errors as text (`?` into `String`).
impl From<SimConfigError> for String {
    fn from(e: SimConfigError) -> String {
        e.to_string()
    }
}
