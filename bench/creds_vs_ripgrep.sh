#!/usr/bin/env bash
# Throughput of `vigil creds scan` (library path: walk + every detector, 2 threads) against
# ripgrep with an equivalent pattern set and against detect-secrets, on the same tree, in the
# same run. Prints wall seconds, CPU seconds and MB/s for each, and the ratios.
#
#   bench/creds_vs_ripgrep.sh [TREE]
#
# Without TREE a bench tree is assembled in a temp dir: the shared credential corpus
# (../shared/data/creds) plus the first 120 crates (sorted by name) of the local cargo
# registry — source, docs and test data, a stand-in for a developer workstation.
# Needs `rg` (apt-get install ripgrep); detect-secrets (pip install detect-secrets) is optional.
# The equivalent pattern set comes from `--example patterns` (Vigil's own rule regexes, the
# keyword-assignment and command-line regexes, private-key and store markers); ripgrep gets
# it with `-f`. A 6-keyword ripgrep run is printed as the floor (matching only).
# VIGIL_BENCH_WORKSPACE=DIR builds from another checkout of the workspace; VIGIL_BENCH_NO_PEER=1
# skips detect-secrets.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-/work/targets/vigil-creds}"
threads=2
tree="${1:-}"
if [ -z "$tree" ]; then
  data="${VIGIL_SHARED_DATA:-$here/../shared/data}"
  reg="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ 2>/dev/null | head -1)"
  tree="$(mktemp -d /tmp/vigil-creds-bench.XXXXXX)"
  trap 'rm -rf "$tree"' EXIT
  [ -d "$data/creds" ] && cp -r "$data/creds" "$tree/creds"
  if [ -n "$reg" ]; then
    mapfile -t crates < <(ls "$reg" | sort)
    for c in "${crates[@]:0:120}"; do cp -r "$reg/$c" "$tree/"; done
  fi
fi
mb=$(du -sb "$tree" | awk '{printf "%.1f", $1/1e6}')
files=$(find "$tree" -type f | wc -l)
echo "tree: $tree ($files files, $mb MB); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

(cd "${VIGIL_BENCH_WORKSPACE:-$here}" && CARGO_TARGET_DIR="$target" cargo build -q --release -p vigil-creds --example scan_dir --example patterns)
bin="$target/release/examples"
pat="$(mktemp /tmp/vigil-creds-patterns.XXXXXX)"
"$bin/patterns" > "$pat"
find "$tree" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache for everyone

run() { # label, command...: prints "label wall cpu"
  local label="$1"; shift
  local out tf
  tf="$(mktemp /tmp/vigil-creds-time.XXXXXX)"
  /usr/bin/time -o "$tf" -f "%e %U %S" "$@" > /dev/null 2>&1 || true
  out=$(tail -1 "$tf"); rm -f "$tf"
  awk -v l="$label" -v mb="$mb" '{printf "%-34s %7.2f s wall %7.2f s cpu %8.2f MB/s\n", l, $1, $2+$3, mb/($1>0?$1:0.001)}' <<< "$out"
  echo "$out" | awk '{print $1}' > "/tmp/vigil-creds-bench.$label"
}
run vigil "$bin/scan_dir" --threads "$threads" "$tree"
run rg_equivalent rg -uuu -c -j "$threads" -f "$pat" "$tree"
run rg_keywords rg -uuu -c -i -j "$threads" 'password|passwd|secret|token|api_key|private key' "$tree"
# detect-secrets takes ~20 minutes on the default tree here; VIGIL_BENCH_NO_PEER=1 skips it.
if [ "${VIGIL_BENCH_NO_PEER:-0}" = 1 ]; then
  echo "peer comparison skipped (VIGIL_BENCH_NO_PEER=1)"
elif command -v detect-secrets >/dev/null; then
  # -C: detect-secrets only scans below its working directory.
  run detect_secrets detect-secrets -c "$threads" -C "$tree" scan --all-files .
else
  echo "detect-secrets not installed (pip install detect-secrets); peer comparison skipped"
fi
v=$(cat /tmp/vigil-creds-bench.vigil)
for p in rg_equivalent rg_keywords detect_secrets; do
  [ -f "/tmp/vigil-creds-bench.$p" ] || continue
  o=$(cat "/tmp/vigil-creds-bench.$p")
  awk -v p="$p" -v v="$v" -v o="$o" 'BEGIN{printf "vigil speed relative to %-16s %6.0f %%\n", p, 100*o/(v>0?v:0.001)}'
  rm -f "/tmp/vigil-creds-bench.$p"
done
rm -f /tmp/vigil-creds-bench.vigil "$pat"
