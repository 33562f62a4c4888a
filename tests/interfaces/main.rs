//! The integration tests of gstarve's interfaces, one binary (one link) for all: the command
//! line's contracts and its handling of bad input ([`cli`]), `check` on zero strengths and
//! network systems ([`check`]), the figure subcommands
//! ([`commands`]), the figures and their data ([`figures`]), systems from a researcher's own
//! network ([`inputs`]), the real networks ([`network`]), the top-R truncation `--rank`
//! ([`rank`]), the two-moons experiments ([`moons`]), the CSV rule and output checks before any
//! work ([`input_rules`]) and the command line's numbers, names and flags ([`command_line`]).
//!
//! Run with `cargo test --release --test interfaces` (a module: `… --test interfaces cli::`).

mod check;
mod cli;
mod command_line;
mod commands;
mod figures;
mod input_rules;
mod inputs;
mod moons;
mod network;
mod rank;
mod support;
