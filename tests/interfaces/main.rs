//! The integration tests of gstarve's interfaces, one binary (one link) for all: the command
//! line's contracts and its handling of bad input ([`cli`], and case by case [`bad_input`]),
//! `check` on zero strengths and network systems ([`check`]), the figure subcommands
//! ([`commands`]), the figures and their data ([`figures`]), their size, resolution and PDF
//! export, and phase diagrams of a user's system ([`figure_sizes`]), systems from a researcher's own
//! network ([`inputs`]), the real networks ([`network`]), the top-R truncation `--rank`
//! ([`rank`]), the two-moons experiments ([`moons`]), what every output promises: provenance,
//! plain CSV, no silent replacement, all-or-nothing writes under kills ([`outputs`]), the CSV
//! rule and output checks before any work ([`input_rules`]), the command line's numbers, names
//! and flags ([`command_line`]), multi-class systems ([`multiclass`]), sharded sweeps
//! ([`shards`]), the paper's remedies, its Figure 3 ([`remedies`]), and the out-of-distribution
//! experiment ([`ood`]).
//!
//! Run with `cargo test --release --test interfaces` (a module: `… --test interfaces cli::`).

mod bad_input;
mod check;
mod cli;
mod command_line;
mod commands;
mod ensemble;
mod figure_sizes;
mod figures;
mod input_rules;
mod inputs;
mod max_margin;
mod moons;
mod moons_paper;
mod multiclass;
mod multiclass_figures;
mod network;
mod ood;
mod outputs;
mod rank;
mod remedies;
mod shards;
mod support;
