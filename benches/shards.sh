#!/usr/bin/env bash
# Four shards run one after another plus `gstarve merge`, against the unsharded run of the same
# phase diagram: wall time of whole commands, PAIRS pairs back to back (unsharded, then sharded,
# alternating, so a drift in the machine's speed hits both alike), the ratio pair by pair, and
# the merged CSV compared byte for byte with the unsharded one. docs/benchmarks.md, "Sharded
# phase diagrams".
#
#   benches/shards.sh [GSTARVE] [PAIRS] [-- PHASE-DIAGRAM OPTIONS]
#
# GSTARVE defaults to target/release/gstarve (cargo build --release), PAIRS to 3, the options to
# --measure elasticity --grid 512.
set -euo pipefail

gstarve=${1:-target/release/gstarve}
pairs=${2:-3}
shift $(($# < 2 ? $# : 2))
[[ ${1:-} == -- ]] && shift
options=("$@")
((${#options[@]})) || options=(--measure elasticity --grid 512)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

echo "gstarve: $("$gstarve" --version); options: ${options[*]}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %12s %12s %8s %s\n' pair unsharded_s sharded_s ratio csv
for ((p = 1; p <= pairs; p++)); do
    rm -rf "$work/whole" "$work/parts"
    t0=$(now)
    "$gstarve" phase-diagram "${options[@]}" --out "$work/whole" 2>/dev/null
    t1=$(now)
    for i in 1 2 3 4; do
        "$gstarve" phase-diagram "${options[@]}" --out "$work/parts" --shard "$i/4" 2>/dev/null
    done
    "$gstarve" merge "$work/parts" 2>/dev/null
    t2=$(now)
    same=differs
    for csv in "$work"/whole/*.csv; do
        cmp -s "$csv" "$work/parts/${csv##*/}" && same=identical
    done
    awk -v p="$p" -v a="$t0" -v b="$t1" -v c="$t2" -v s="$same" \
        'BEGIN { printf "%-5s %12.3f %12.3f %8.3f %s\n", p, b - a, c - b, (c - b) / (b - a), s }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
