#!/usr/bin/env bash
# Fuzz gstarve's input parsers for a bounded time (docs/reliability.md, "Fuzzing"). Not run in CI.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]      (default: 240 s, every target in turn)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Targets run one at a
# time (one core each). Each input may take at most 10 s (-timeout: a hang is a finding) and the
# process at most 2048 MB (-rss_limit_mb: an input that makes gstarve allocate beyond it is a
# finding); inputs are at most 8192 bytes. The corpus grows in fuzz/corpus/TARGET; run
# `fuzz/run.sh cmin` afterwards to minimise it before committing. Findings land in
# fuzz/artifacts/TARGET (ignored by git): each becomes a regression test in the normal suite.
# Logs, with libFuzzer's final statistics (executions, corpus size), go to fuzz/logs/. A target's
# dictionary of format tokens (fuzz/dict/TARGET.dict), when there is one, guides the mutations.
set -euo pipefail
cd "$(dirname "$0")"

# Built without a sanitizer (gstarve is safe Rust; ASan would halve the executions) and with
# debug assertions, so that integer overflow and slice bounds panic as findings.
FLAGS=(--sanitizer none --debug-assertions --release)

targets() { cargo +nightly fuzz list; }

# Scratch files of the targets (each input is written to a file, as a user's would be): in
# memory when /dev/shm exists.
if [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

if [ "${1:-}" = cmin ]; then
    shift
    for t in ${@:-$(targets)}; do
        cargo +nightly fuzz cmin "${FLAGS[@]}" "$t" "corpus/$t" -- -max_len=8192 -timeout=10 -rss_limit_mb=2048
        rm -rf "${TMPDIR:-/tmp}"/gstarve-fuzz-*
    done
    exit 0
fi

seconds=${1:-240}
shift || true
cargo +nightly fuzz build "${FLAGS[@]}"
mkdir -p logs
for t in ${@:-$(targets)}; do
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds} s"
    dict=()
    if [ -f "dict/$t.dict" ]; then dict=(-dict="dict/$t.dict"); fi
    cargo +nightly fuzz run "${FLAGS[@]}" "$t" "corpus/$t" -- "${dict[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 2>&1 | tee "logs/$t.log" | grep -E "^#[0-9]+ +(DONE|pulse)|ERROR|panicked|Stat" || true
    rm -rf "${TMPDIR:-/tmp}"/gstarve-fuzz-*
done
