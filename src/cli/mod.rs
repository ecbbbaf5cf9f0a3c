//! Command-line front ends. The binaries are thin: they parse flags here and
//! call into the library. [`launch`] and [`settings`] are shared by the line
//! client ([`run`]) and the full-screen client ([`crate::tui`]).

pub mod applets;
pub mod command;
pub mod launch;
pub mod run;
pub mod settings;
pub mod sim;
pub mod stdin;
