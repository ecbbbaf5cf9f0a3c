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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sim::{CountAt, PartitionSpec, SimConfig};

    fn refused(change: impl FnOnce(&mut SimConfig)) -> SimConfigError {
        let mut cfg = SimConfig::new(10, 5, 1);
        change(&mut cfg);
        cfg.validate().expect_err("refused")
    }

    #[test]
    fn each_rule_has_its_own_error_naming_the_flag() {
        assert_eq!(SimConfig::new(10, 5, 1).validate(), Ok(()));
        let e = refused(|c| c.nodes = 1);
        assert_eq!(e, SimConfigError::TooFewNodes { nodes: 1 });
        assert_eq!(e.to_string(), "--nodes must be at least 2, got 1");
        let e = refused(|c| c.loss = 1.0);
        assert_eq!(
            e,
            SimConfigError::OutOfRange {
                flag: "--loss",
                value: 1.0
            }
        );
        assert_eq!(e.to_string(), "--loss must be in [0, 1), got 1");
        assert!(matches!(
            refused(|c| c.joins = vec![CountAt {
                count: 10,
                at: Duration::from_secs(1)
            }]),
            SimConfigError::TooManyLate {
                late: 10,
                nodes: 10
            }
        ));
        assert!(matches!(
            refused(|c| c.payload_bytes = usize::MAX),
            SimConfigError::PayloadTooLarge { .. }
        ));
        let secs = Duration::from_secs;
        assert_eq!(
            refused(|c| c.broadcast_window = Some((secs(5), secs(1)))),
            SimConfigError::BroadcastWindow {
                start: secs(5),
                end: secs(1)
            }
        );
        assert_eq!(
            refused(|c| {
                c.broadcast_window = Some((secs(1), secs(100)));
                c.duration = Some(secs(50));
            }),
            SimConfigError::BroadcastsAfterEnd {
                last: secs(100),
                end: secs(50)
            }
        );
        assert_eq!(
            refused(|c| {
                c.broadcasts = 0;
                c.ops = 3;
                c.broadcast_window = Some((secs(1), secs(100)));
                c.duration = Some(secs(50));
            }),
            SimConfigError::OpsAfterEnd {
                last: secs(100),
                end: secs(50)
            }
        );
        let split = |from, until| PartitionSpec {
            groups: 2,
            from: secs(from),
            until: secs(until),
        };
        assert_eq!(
            refused(|c| c.partitions = vec![split(10, 20), split(15, 30)]),
            SimConfigError::PartitionsOverlap
        );
        let e = refused(|c| c.topology.degree_min = 0);
        assert!(
            matches!(&e, SimConfigError::Engine(c) if c.field == "topology.degree_min"),
            "{e:?}"
        );
        assert_eq!(
            String::from(e),
            "invalid configuration: topology.degree_min: must be at least 1"
        );
    }
}
