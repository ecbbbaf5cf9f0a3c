//! `flashmesh sim`: size an event before it happens.

use std::time::Duration;

use clap::Args;

use crate::config::Profile;
use crate::sim::{self, CountAt, LatencyRange, PartitionSpec, SimConfig, spec};

/// Flags of `flashmesh sim`.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Number of broadcasts, from random nodes, spread over the run.
    #[arg(long, default_value_t = 100)]
    pub broadcasts: usize,
    /// Number of ops from random nodes, spread over the same window; each
    /// node then hosts an op-log with anti-entropy.
    #[arg(long, default_value_t = 0)]
    pub ops: usize,
    /// Which ops: `all` (every built-in applet: chat, announcements, polls,
    /// queues, lost+found, requests, roster) or `chat` (chat lines only).
    #[arg(long, default_value = "all")]
    pub op_mix: crate::sim::OpMix,
    /// Seed of the run: the same seed and flags give the same figures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Chance that a message is lost (0.0..1.0).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Chance that a message is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// Chance that a message overtakes earlier ones on its link.
    #[arg(long, default_value_t = 0.0)]
    pub reorder: f64,
    /// One-way latency in ms: each link's base latency is drawn uniformly
    /// from MIN..MAX once per run.
    #[arg(long, default_value = "1..10", value_parser = parse_latency)]
    pub latency_ms: LatencyRange,
    /// Each message adds up to this fraction of its link's base latency.
    #[arg(long, default_value_t = 0.2)]
    pub jitter: f64,
    /// Links per node, at least (default: from the profile).
    #[arg(long)]
    pub degree_min: Option<usize>,
    /// Links per node, at most (default: from the profile).
    #[arg(long)]
    pub degree_max: Option<usize>,
    /// Engine defaults: small (up to 50 nodes), large, or auto (by
    /// --nodes: small up to 50, large above).
    #[arg(long, value_enum, default_value_t = ProfileArg::Auto)]
    pub profile: ProfileArg,
    /// N@T: N random nodes crash silently at virtual time T (repeatable).
    #[arg(long, value_parser = parse_count_at)]
    pub crash: Vec<CountAt>,
    /// N@T: N crashed nodes restart at T with the same id (repeatable).
    #[arg(long, value_parser = parse_count_at)]
    pub restart: Vec<CountAt>,
    /// N@T: N of the nodes join late, at T (repeatable).
    #[arg(long, value_parser = parse_count_at)]
    pub join: Vec<CountAt>,
    /// G@T..T2: split into G random groups from T until T2 (repeatable).
    #[arg(long, value_parser = parse_partition)]
    pub partition: Vec<PartitionSpec>,
    /// Virtual length of the run (default: long enough for the faults).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Size of each broadcast payload (and op chat line) in bytes.
    #[arg(long, default_value_t = 64)]
    pub payload_bytes: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_latency(s: &str) -> Result<LatencyRange, spec::SpecError> {
    s.parse()
}
fn parse_count_at(s: &str) -> Result<CountAt, spec::SpecError> {
    s.parse()
}
fn parse_partition(s: &str) -> Result<PartitionSpec, spec::SpecError> {
    s.parse()
}
fn parse_duration(s: &str) -> Result<Duration, spec::SpecError> {
    spec::parse_duration(s)
}

/// `--profile` values: a [`Profile`], or `auto` ([`Profile::for_nodes`]).
/// (Each value's doc is its `--help` text.)
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileArg {
    /// Small up to 50 nodes, large above.
    Auto,
    /// The small room: up to 50 nodes.
    Small,
    /// The large room: above 50 nodes, sized for 1000.
    Large,
}

impl ProfileArg {
    /// The profile a room of `nodes` runs with.
    pub fn profile(self, nodes: usize) -> Profile {
        match self {
            ProfileArg::Auto => Profile::for_nodes(nodes),
            ProfileArg::Small => Profile::Small,
            ProfileArg::Large => Profile::Large,
        }
    }
}

impl SimArgs {
    /// The simulator configuration these flags describe.
    pub fn to_config(&self) -> SimConfig {
        let mut cfg = SimConfig::new(self.nodes, self.broadcasts, self.seed);
        cfg.set_profile(self.profile.profile(self.nodes));
        cfg.ops = self.ops;
        cfg.op_mix = self.op_mix;
        cfg.loss = self.loss;
        cfg.duplicate = self.duplicate;
        cfg.reorder = self.reorder;
        cfg.latency = self.latency_ms;
        cfg.jitter = self.jitter;
        cfg.crashes = self.crash.clone();
        cfg.restarts = self.restart.clone();
        cfg.joins = self.join.clone();
        cfg.partitions = self.partition.clone();
        cfg.duration = self.duration;
        cfg.payload_bytes = self.payload_bytes;
        if let Some(d) = self.degree_min {
            cfg.topology.degree_min = d;
        }
        if let Some(d) = self.degree_max {
            cfg.topology.degree_max = d;
            cfg.topology.degree_hard_max = cfg.topology.degree_hard_max.max(d + d / 2);
        }
        cfg
    }

    /// Runs the simulation and renders its report; the error says which
    /// flag's value cannot work.
    pub fn run(&self) -> Result<String, String> {
        let report = sim::run(self.to_config())?;
        Ok(if self.json {
            report.to_json()
        } else {
            report.to_table()
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn config(args: &[&str]) -> SimConfig {
        let cmd = Cmd::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))
            .expect("parses");
        cmd.sim.to_config()
    }

    #[test]
    fn profile_small_large_and_auto_pick_the_engine_defaults() {
        let small = Profile::Small.engines();
        let large = Profile::Large.engines();
        for (args, profile) in [
            (&["--nodes", "12"][..], Profile::Small),
            (&["--nodes", "50", "--profile", "auto"], Profile::Small),
            (&["--nodes", "51"], Profile::Large),
            (&["--nodes", "12", "--profile", "large"], Profile::Large),
            (&["--nodes", "500", "--profile", "small"], Profile::Small),
        ] {
            let cfg = config(args);
            let engines = if profile == Profile::Small {
                &small
            } else {
                &large
            };
            assert_eq!(cfg.profile, profile, "{args:?}");
            assert_eq!(cfg.membership, engines.membership, "{args:?}");
            assert_eq!(cfg.topology, engines.topology, "{args:?}");
            assert_eq!(cfg.plumtree, engines.plumtree, "{args:?}");
        }
        assert!(Cmd::try_parse_from(["sim", "--profile", "medium"]).is_err());
    }

    #[test]
    fn a_bad_flag_value_is_refused_with_its_reason() {
        let err = Cmd::try_parse_from(["sim", "--crash", "20"])
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("--crash")),
            "{err:?}"
        );
        let run = Cmd::try_parse_from(["sim", "--nodes", "1"])
            .expect("parses")
            .sim
            .run();
        assert_eq!(run, Err("--nodes must be at least 2, got 1".to_string()));
    }
}
