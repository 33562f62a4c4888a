//! The integration tests of gstarve's interfaces, one binary (one link) for all: the command
//! line's contracts and its handling of bad input ([`cli`]), `check` on zero strengths and
//! network systems ([`check`]), the figure subcommands
//! ([`commands`]), the figures and their data ([`figures`]), systems from a researcher's own
//! network ([`inputs`]), the real networks ([`network`]), the top-R truncation `--rank`
//! ([`rank`]) and the two-moons experiments ([`moons`]).
//!
//! Run with `cargo test --release --test interfaces` (a module: `… --test interfaces cli::`).

mod check;
mod cli;
mod commands;
mod figures;
mod inputs;
mod max_margin;
mod moons;
mod network;
mod rank;
mod support;
