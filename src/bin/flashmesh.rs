//! The `flashmesh` command. Thin: flags are parsed and run by the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flashmesh::cli::run::RunArgs;
use flashmesh::cli::sim::SimArgs;

/// flashmesh: a pop-up mesh for events — no accounts, no servers.
///
/// With no subcommand, runs a node (`flashmesh run`).
#[derive(Parser, Debug)]
#[command(
    name = "flashmesh",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node: plain lines are chat, /help lists the commands.
    Run(RunArgs),
    /// Simulate a room of N nodes with faults and print what it would do.
    Sim(SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sim(args)) => match args.run() {
            Ok(out) => {
                print!("{out}");
                if !out.ends_with('\n') {
                    println!();
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("flashmesh sim: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    }
}

fn run(args: RunArgs) -> ExitCode {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flashmesh: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(flashmesh::cli::run::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flashmesh: {e}");
            ExitCode::from(2)
        }
    }
}
