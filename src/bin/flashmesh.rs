//! The `flashmesh` command. Thin: flags are parsed and run by the library.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flashmesh::cli::run::RunArgs;
use flashmesh::cli::sim::SimArgs;

/// flashmesh: a pop-up mesh for events — no accounts, no servers.
///
/// With no subcommand: the full-screen client when stdin and stdout are a
/// terminal (and --json is not given), the line client otherwise.
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
    /// The line client (the scripting interface): plain lines are chat,
    /// /help lists the commands.
    Run(RunArgs),
    /// The full-screen client, even when it would not be picked.
    Tui(RunArgs),
    /// Simulate a room of N nodes with faults and print what it would do.
    Sim(SimArgs),
    /// The settings in force.
    Config {
        #[command(subcommand)]
        what: ConfigCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Every setting, its value and where it came from (default, the last
    /// run, the config file, the environment or a flag).
    Show(RunArgs),
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
        Some(Command::Config {
            what: ConfigCommand::Show(args),
        }) => match args.resolve() {
            Ok(resolved) => {
                print!("{}", resolved.show());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("flashmesh config: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Run(args)) => run(args, false),
        Some(Command::Tui(args)) => run(args, true),
        None => {
            let tui =
                !cli.run.json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
            run(cli.run, tui)
        }
    }
}

fn run(args: RunArgs, tui: bool) -> ExitCode {
    // The full-screen client owns the terminal: its logs go nowhere unless
    // RUST_LOG asks (then to stderr, which a person can redirect).
    let default_level = if tui && std::env::var_os("RUST_LOG").is_none() {
        "off"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
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
    let result = if tui {
        runtime.block_on(flashmesh::tui::run(args))
    } else {
        runtime.block_on(flashmesh::cli::run::run(args))
    };
    // Tasks still blocked (a read of the terminal) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flashmesh: {e}");
            ExitCode::from(2)
        }
    }
}
