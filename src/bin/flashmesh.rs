//! The `flashmesh` command. Thin: flags are parsed and run by the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flashmesh::cli::sim::SimArgs;

/// flashmesh: a pop-up mesh for events — no accounts, no servers.
#[derive(Parser, Debug)]
#[command(name = "flashmesh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a room of N nodes with faults and print what it would do.
    Sim(SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => match args.run() {
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
    }
}
