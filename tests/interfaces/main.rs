//! The integration tests of gstarve's interfaces, one binary (one link) for all: the command
//! line's contracts and its handling of bad input ([`cli`]), `check` on zero strengths and
//! network systems ([`check`]), the figure subcommands
//! ([`commands`]), the figures and their data ([`figures`]), their size, resolution and PDF
//! export, and phase diagrams of a user's system ([`figure_sizes`]), systems from a researcher's own
//! network ([`inputs`]), the real networks ([`network`]), the top-R truncation `--rank`
//! ([`rank`]) and the two-moons experiments ([`moons`]).
//!
//! Run with `cargo test --release --test interfaces` (a module: `… --test interfaces cli::`).

mod check;
mod cli;
mod commands;
mod figure_sizes;
mod figures;
mod inputs;
mod moons;
mod network;
mod rank;
mod support;
