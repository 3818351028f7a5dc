#!/usr/bin/env bash
# Compare `vigil mail` triage with SpamAssassin and rspamd on the same messages in one run:
# detection on phishing_pot, false positives on SpamAssassin ham (easy and hard), and messages
# per CPU-second (one core) and per wall second.
#
#   bench/mail_bench.sh [DATA_DIR]      (default: $VIGIL_SHARED_DATA/mail or ../shared/data/mail)
#
# Needs `spamassassin` and `rspamd` (Debian packages) for the comparison; each is skipped with a
# message when absent. Both run on 127.0.0.1 only with one scanning process, so their rate is
# per core, and with network tests off: spamd -L; rspamd with its DNS pointed at a closed local
# port (every RBL/URIBL/SURBL lookup fails at once), no Redis (no Bayes, no reputation) and no
# fuzzy check. This is the isolated-network case Vigil is built for.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-${VIGIL_SHARED_DATA:-$here/../shared/data}/mail}"
target="${CARGO_TARGET_DIR:-/work/targets/vigil-mail}"
tick=$(getconf CLK_TCK)

# CPU clock ticks (user+system) used so far by a process, its reaped children (spamd recycles
# its child after a number of messages) and its live children.
cpu_tree() {
  local total p
  total=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat")
  for p in $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$total"
}
report() { # name pot_hit pot ham_hit ham spam_hit spam wall_seconds cpu_ticks
  awk -v name="$1" -v ph="$2" -v p="$3" -v hh="$4" -v h="$5" -v sh="$6" -v s="$7" -v w="$8" -v c="$9" -v t="$tick" 'BEGIN {
    n = p + h + s; cpu = c / t
    printf "%s: phishing_pot %d/%d (%.1f %%); ham %d/%d (%.1f %%); spam %d/%d\n", name, ph, p, 100 * ph / p, hh, h, 100 * hh / h, sh, s
    printf "%s: %d messages in %.1f s wall (%.1f/s), %.1f CPU-s in the scanner (%.0f messages per CPU-second)\n", name, n, w, n / w, cpu, (cpu > 0 ? n / cpu : 0) }'
}
mapfile -t pot < <(ls "$data"/phishing_pot/*.eml)
ham=(); spam=()
while IFS=, read -r file label _; do
  [ "$file" = file ] && continue
  if [ "$label" = ham ]; then ham+=("$data/spamassassin/$file"); else spam+=("$data/spamassassin/$file"); fi
done < "$data/spamassassin/labels.csv"

echo "== vigil-mail (release, one thread, messages in memory, default configuration)"
CARGO_TARGET_DIR="$target" cargo run -q --release -p vigil-mail --example mail_throughput -- \
  "$data/phishing_pot" "$data/spamassassin/ham" "$data/spamassassin/spam"

if command -v spamd >/dev/null; then
  port=17830
  spamd -L -i 127.0.0.1 -p "$port" --max-children 1 --min-children 1 -u nobody -x -r /tmp/vigil-spamd.pid -d
  trap 'kill "$(cat /tmp/vigil-spamd.pid)" 2>/dev/null || true' EXIT
  for _ in $(seq 1 60); do spamc -p "$port" -K >/dev/null 2>&1 && break; sleep 1; done
  spid=$(cat /tmp/vigil-spamd.pid)
  judge() { if spamc -p "$port" -c < "$1" >/dev/null 2>&1; then echo 0; else echo 1; fi; }
  count() { local n=0 f; for f in "$@"; do n=$((n + $(judge "$f"))); done; echo "$n"; }
  c0=$(cpu_tree "$spid"); t0=$(date +%s.%N)
  ph=$(count "${pot[@]}"); hh=$(count "${ham[@]}"); sh=$(count "${spam[@]}")
  t1=$(date +%s.%N); c1=$(cpu_tree "$spid")
  echo "== SpamAssassin $(spamassassin -V | head -1 | awk '{print $3}') (spamd -L, 1 child, threshold 5)"
  report spamassassin "$ph" "${#pot[@]}" "$hh" "${#ham[@]}" "$sh" "${#spam[@]}" "$(echo "$t1 - $t0" | bc)" "$((c1 - c0))"
  kill "$spid" 2>/dev/null || true
  trap - EXIT
else
  echo "spamassassin not installed; skipping it"
fi

if command -v rspamd >/dev/null && command -v rspamc >/dev/null; then
  rd=$(mktemp -d /tmp/vigil-rspamd.XXXXXX)
  mkdir -p "$rd/local/local.d" "$rd/local/override.d" "$rd/db" "$rd/run" "$rd/log"
  echo 'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 0; }' > "$rd/local/local.d/options.inc"
  printf 'bind_socket = "127.0.0.1:17833";\ncount = 1;\n' > "$rd/local/local.d/worker-normal.inc"
  printf 'bind_socket = "127.0.0.1:17834";\ncount = 1;\n' > "$rd/local/override.d/worker-controller.inc"
  printf 'bind_socket = "127.0.0.1:17835";\ncount = 1;\n' > "$rd/local/override.d/worker-proxy.inc"
  echo 'level = "error";' > "$rd/local/local.d/logging.inc"
  echo 'enabled = false;' > "$rd/local/local.d/fuzzy_check.conf"
  chown -R _rspamd:_rspamd "$rd" 2>/dev/null || true
  rspamd -f -u _rspamd -g _rspamd --var="LOCAL_CONFDIR=$rd/local" --var="DBDIR=$rd/db" --var="RUNDIR=$rd/run" --var="LOGDIR=$rd/log" >/dev/null 2>&1 &
  rpid=$!
  trap 'kill "$rpid" 2>/dev/null || true; [ -n "${rpid_main:-}" ] && kill "$rpid_main" 2>/dev/null; sleep 1; rm -rf "$rd" 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do rspamc -h 127.0.0.1:17833 stat >/dev/null 2>&1 && break; sleep 1; done
  # Warm up (maps and rules compile on first use), then measure.
  rspamc -h 127.0.0.1:17833 "${ham[0]}" >/dev/null 2>&1 || true
  # Flagged = any action other than "no action" and "greylist" (default thresholds: add header 6, reject 15).
  rcount() { rspamc -h 127.0.0.1:17833 -n 1 "$@" 2>/dev/null | awk '/^Action:/ { if ($0 !~ /no action|greylist/) n++ } END { print n + 0 }'; }
  # rspamd may re-spawn its main process at start; take the one that owns the worker socket.
  mpid=$(cat "$rd/run/rspamd.pid" 2>/dev/null || true)
  if [ -z "$mpid" ]; then
    wpid=$(ss -ltnpH 'sport = :17833' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    mpid=$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$wpid/stat")
  fi
  rpid_main="$mpid"
  c0=$(cpu_tree "$rpid_main"); t0=$(date +%s.%N)
  ph=$(rcount "${pot[@]}"); hh=$(rcount "${ham[@]}"); sh=$(rcount "${spam[@]}")
  t1=$(date +%s.%N); c1=$(cpu_tree "$rpid_main")
  echo "== rspamd $(rspamd --version | head -1 | awk '{print $4}') (1 normal worker, no network, no Redis)"
  report rspamd "$ph" "${#pot[@]}" "$hh" "${#ham[@]}" "$sh" "${#spam[@]}" "$(echo "$t1 - $t0" | bc)" "$((c1 - c0))"
else
  echo "rspamd not installed; skipping it"
fi
