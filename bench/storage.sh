#!/usr/bin/env bash
# Storage and query benchmark of the connection archive: generates realistic Conn records
# (thousands of hosts, a long tail of outside addresses in real country ranges, skewed ports and
# names, a day/night rhythm), archives them hour by hour as `vigil watch` does, and reports
# bytes per record, ingest records/s and the time of typical hunting queries.
#
#   bench/storage.sh [RECORDS] [DIR]     (default: 10000000 records in $TMPDIR/vigil-storage-bench)
#
# The query engine uses every core it is given; `taskset -c 0,1` pins it to two.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-10000000}"
dir="${2:-${TMPDIR:-/tmp}/vigil-storage-bench}"
target="${CARGO_TARGET_DIR:-$here/target}"
cd "$here"
CARGO_TARGET_DIR="$target" cargo build -q --release -p vigil-query --example storage_bench
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=(taskset -c 0,1); fi
"${pin[@]}" "$target/release/examples/storage_bench" "$n" "$dir"
du -sh "$dir/archive"
