#!/usr/bin/env bash
# Runs every fuzz target under libFuzzer for SECONDS each (default 60), seeded from the shared
# corpus where one fits, and prints one Markdown row per target: runs, coverage, corpus, result.
# Needs nightly and cargo-fuzz. Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
# Env: VIGIL_SHARED_DATA (default ../shared/data), WORK (corpora and logs, default a temp dir),
# FUZZ_BIN_DIR (run binaries built earlier by `cargo fuzz build -O -a` instead of building). Built
# with debug assertions (-a), so an arithmetic overflow is a crash, as in the debug tests.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}; shift || true
data=${VIGIL_SHARED_DATA:-$(cd .. && pwd)/../shared/data}
work=${WORK:-$(mktemp -d)}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(ls fuzz_targets | sed 's/\.rs$//'))

seed() { # target dir: copies at most 300 seed files of at most 64 KiB
  local t=$1 dir=$2; shift 2
  mkdir -p "$dir"
  for src in "$@"; do
    [ -e "$src" ] || continue
    find "$src" -type f -size -64k 2>/dev/null | head -300 | while read -r f; do
      cp "$f" "$dir/$(echo "$f" | md5sum | cut -c1-16)" 2>/dev/null
    done
  done
}

echo "| target | seconds | runs | coverage (cov / ft) | corpus | result |"
echo "| --- | --- | --- | --- | --- | --- |"
for t in "${targets[@]}"; do
  corp="$work/corpus/$t"
  case $t in
    capture_*|flow_*|proto_session|bpf_program) seed "$t" "$corp" "$data/pcaps" ;;
    import_netflow) seed "$t" "$corp" "$data/flows/netflow-raw" ;;
    import_sflow) seed "$t" "$corp" "$data/flows/sflow-pcap" ;;
    import_zeek_tsv) seed "$t" "$corp" "$data/zeek-logs" ;;
    import_eve) seed "$t" "$corp" "$data/flows/suricata-eve" ;;
    mail_*) seed "$t" "$corp" "$data/mail/parser-corpus" "$data/mail/auth" ;;
    creds_*) seed "$t" "$corp" "$data/creds/credsweeper" ;;
    proto_tls|proto_quic) seed "$t" "$corp" ../crates/vigil-proto/testdata ;;
    exposure_vulndb) seed "$t" "$corp" "$data/vulns" ;;
    detect_ioc) seed "$t" "$corp" "$data/intel" ;;
    archive_spill_run) seed "$t" "$corp" ../crates/vigil-archive/testdata/spill-run-seed.bin ;;
    *) mkdir -p "$corp" ;;
  esac
  log="$work/$t.log"
  opts=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -max_len=65536 -print_final_stats=1)
  if [ -n "${FUZZ_BIN_DIR:-}" ]; then # binaries already built by `cargo fuzz build -O -a`
    (cd "$work" && "$FUZZ_BIN_DIR/$t" "${opts[@]}" "$corp") >"$log" 2>&1
  else
    cargo +nightly fuzz run --fuzz-dir . -O -a "$t" "$corp" -- "${opts[@]}" >"$log" 2>&1
  fi
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  corpn=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
  if [ $rc -eq 0 ]; then res=clean; else res="FAILED (rc $rc, see $log)"; fi
  echo "| $t | $secs | ${runs:-?} | ${cov:-?} / ${ft:-?} | ${corpn:-?} | $res |"
done
