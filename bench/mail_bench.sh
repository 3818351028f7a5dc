#!/usr/bin/env bash
# Compare `vigil mail` triage with SpamAssassin on the same messages: detection on phishing_pot,
# false positives on SpamAssassin ham, and messages per second on one core.
#
#   bench/mail_bench.sh [DATA_DIR]      (default: $VIGIL_SHARED_DATA/mail or ../shared/data/mail)
#
# Needs `spamassassin` (Debian: apt-get install spamassassin) for the comparison; runs spamd on
# 127.0.0.1 only, with network tests off (-L), one child, so the rate is per core.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-${VIGIL_SHARED_DATA:-$here/../shared/data}/mail}"
target="${CARGO_TARGET_DIR:-/work/targets/vigil-mail}"

echo "== vigil-mail (release, one thread, messages in memory)"
CARGO_TARGET_DIR="$target" cargo run -q --release -p vigil-mail --example throughput -- "$data/phishing_pot" "$data/spamassassin"

if ! command -v spamd >/dev/null; then
  echo "spamassassin not installed; skipping the comparison"
  exit 0
fi
port=17830
spamd -L -i 127.0.0.1 -p "$port" --max-children 1 --min-children 1 -u nobody -x -r /tmp/vigil-spamd.pid -d
trap 'kill "$(cat /tmp/vigil-spamd.pid)" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do spamc -p "$port" -K >/dev/null 2>&1 && break; sleep 1; done

judge() { # prints 1 if SpamAssassin calls it spam
  if spamc -p "$port" -c < "$1" >/dev/null 2>&1; then echo 0; else echo 1; fi
}
pot=0; pot_hit=0; ham=0; ham_hit=0; spam=0; spam_hit=0
start=$(date +%s.%N)
for f in "$data"/phishing_pot/*.eml; do pot=$((pot+1)); pot_hit=$((pot_hit+$(judge "$f"))); done
while IFS=, read -r file label _; do
  [ "$file" = file ] && continue
  r=$(judge "$data/spamassassin/$file")
  if [ "$label" = ham ]; then ham=$((ham+1)); ham_hit=$((ham_hit+r)); else spam=$((spam+1)); spam_hit=$((spam_hit+r)); fi
done < "$data/spamassassin/labels.csv"
end=$(date +%s.%N)
n=$((pot+ham+spam))
echo "== SpamAssassin $(spamassassin -V | head -1 | awk '{print $3}') (spamd -L, 1 child)"
echo "phishing_pot: $pot_hit/$pot flagged; ham: $ham_hit/$ham flagged; spam: $spam_hit/$spam flagged"
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%d messages in %.1f s: %.1f messages/s on one core\n", n, e - s, n / (e - s) }'
