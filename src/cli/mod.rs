//! Command-line front ends. The binaries are thin: they parse flags here and
//! call into the library.

pub mod applets;
pub mod command;
pub mod run;
pub mod sim;
