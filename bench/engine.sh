#!/usr/bin/env bash
# Traffic-engine benchmark: vigil conn (all application metadata on) against the peers on the
# same capture, in the same run: nfpcapd (flows only), argus (flows only), tshark (full
# dissection to conn-like output), Suricata when installed.
#
#   bench/engine.sh [PCAP]      default: /tmp/vigil-bench.pcap (built by shared/bench/make-bench-pcap.sh)
#
# Prints, per tool and run: wall and CPU seconds, Gbit/s and packets/s per CPU-second, peak RSS;
# then the median run of each tool over BENCH_ROUNDS rounds (default 3; the tools take turns
# within a round, so a change in the machine's load hits them alike) and Vigil's speed relative
# to nfpcapd per CPU-second. Runs of a second or so vary by 10-15 % on a shared machine: compare
# medians, not single runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PCAP=${1:-/tmp/vigil-bench.pcap}
if [ ! -f "$PCAP" ]; then
    ../shared/bench/make-bench-pcap.sh "$PCAP" "${BENCH_MIB:-1024}"
fi
# VIGIL=path/to/vigil uses an existing build instead of building the perf profile.
if [ -z "${VIGIL:-}" ]; then
    cargo build --profile perf -p vigil >/dev/null
    VIGIL=${CARGO_TARGET_DIR:-target}/perf/vigil
fi
BYTES=$(stat -c %s "$PCAP")
PKTS=$(capinfos -Mc "$PCAP" | awk -F'\t|: *' '/Number of packets/ {gsub(/[^0-9]/,"",$NF); print $NF}')
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

run() {
    local name=$1; shift
    local t="$OUT/$name.time"
    if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >/dev/null 2>"$OUT/$name.err"; then
        echo "$name: failed ($(tail -1 "$OUT/$name.err"))"; return
    fi
    read -r wall user sys rss <"$t"
    echo "$name $wall $user $sys $rss" >>"$OUT/runs"
    awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v b="$BYTES" -v p="$PKTS" 'BEGIN {
        cpu = u + s; if (cpu <= 0) cpu = 0.001;
        printf "%-10s wall %7.2fs  cpu %7.2fs  %6.2f Gbit/s/cpu-s  %7.2f Mpkt/s/cpu-s  peak %6.0f MiB\n",
            n, w, cpu, b * 8 / cpu / 1e9, p / cpu / 1e6, r / 1024 }'
}

echo "capture: $PCAP ($BYTES bytes, $PKTS packets)"
ROUNDS=${BENCH_ROUNDS:-3}
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS"
    rm -rf "$OUT/vigil" "$OUT/vigil-base" "$OUT/nf" "$OUT/argus.out" "$OUT/suricata"
    run vigil "$VIGIL" conn --output "$OUT/vigil" "$PCAP"
    # VIGIL_BASE=path/to/older/vigil times a second build in the same run (before/after figures).
    [ -n "${VIGIL_BASE:-}" ] && run vigil-base "$VIGIL_BASE" conn --output "$OUT/vigil-base" "$PCAP"
    command -v nfpcapd >/dev/null && { mkdir -p "$OUT/nf"; run nfpcapd nfpcapd -r "$PCAP" -w "$OUT/nf"; }
    command -v argus >/dev/null && run argus argus -r "$PCAP" -w "$OUT/argus.out"
    command -v tshark >/dev/null && run tshark tshark -n -r "$PCAP" -q -z conv,tcp
    command -v suricata >/dev/null && { mkdir -p "$OUT/suricata"; run suricata suricata -r "$PCAP" -l "$OUT/suricata" -k none; }
done
[ -f "$OUT/runs" ] || exit 0
echo "median of $ROUNDS rounds (by CPU seconds):"
awk -v b="$BYTES" -v p="$PKTS" '
    { cpu = $3 + $4; if (cpu <= 0) cpu = 0.001; if (!($1 in n)) tools[++k] = $1; n[$1]++; c[$1, n[$1]] = cpu; r[$1, n[$1]] = $5 }
    END {
        for (q = 1; q <= k; q++) {
            t = tools[q]
            # insertion sort of the runs by CPU, keeping the RSS of each run with it
            for (i = 2; i <= n[t]; i++) for (j = i; j > 1 && c[t, j] < c[t, j-1]; j--) {
                x = c[t, j]; c[t, j] = c[t, j-1]; c[t, j-1] = x
                x = r[t, j]; r[t, j] = r[t, j-1]; r[t, j-1] = x
            }
            m = int((n[t] + 1) / 2); med[t] = c[t, m]
            printf "%-10s cpu %7.2fs (%.2f-%.2f)  %6.2f Gbit/s/cpu-s  %7.2f Mpkt/s/cpu-s  peak %6.0f MiB\n",
                t, c[t, m], c[t, 1], c[t, n[t]], b * 8 / c[t, m] / 1e9, p / c[t, m] / 1e6, r[t, m] / 1024
        }
        if (("vigil" in med) && ("nfpcapd" in med))
            printf "vigil / nfpcapd per CPU-second: %.2fx\n", med["nfpcapd"] / med["vigil"]
    }' "$OUT/runs"
