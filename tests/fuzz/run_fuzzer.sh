#!/usr/bin/env bash
# ctest smoke run of one libFuzzer binary: fuzz a scratch copy of the seed
# corpus for N seconds (the committed corpus is never modified).
set -euo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
rm -rf "$work" && mkdir -p "$work"
cp -r "$seeds"/. "$work"/ 2>/dev/null || true
exec "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$work"
