#!/usr/bin/env bash
# Zeek-log import benchmark: conn.log records turned into Vigil `Conn`s per CPU-second (TSV and
# JSON), against field-splitting floors on the same file in the same run: awk and Python's csv
# module reading two columns per row (no Zeek-log importer is packaged for Debian; RITA is GPL and
# not installed). The peers do far less than Vigil (no addresses, times or Community ID parsed),
# so they bound what "just reading the file" costs.
#
#   bench/zeek_import.sh [CONN_LOG]
#       default: ../shared/data/zeek-logs/stratosphere/001-zeek-scenario-malicious/conn.log
#       (a real Zeek conn.log whose data rows are repeated to BENCH_ROWS rows, default 1 000 000)
#
# CPU seconds are user + system of each process (/usr/bin/time), so the figure is per core and
# holds on a machine loaded by other work, where wall time does not.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/zeek-logs/stratosphere/001-zeek-scenario-malicious/conn.log}
ROWS=${BENCH_ROWS:-1000000}
[ -f "$SRC" ] || { echo "no Zeek conn.log at $SRC"; exit 1; }
if [ -z "${VIGIL_IMPORT_DUMP:-}" ]; then
    cargo build --release -p vigil-import --example vigil_import_dump >/dev/null
    VIGIL_IMPORT_DUMP=${CARGO_TARGET_DIR:-target}/release/examples/vigil_import_dump
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# The header of the real log, then its data rows repeated.
grep '^#' "$SRC" | grep -v '^#close' >"$OUT/conn.log"
grep -v '^#' "$SRC" >"$OUT/rows"
awk -v n="$ROWS" '{ r[NR] = $0 } END { for (i = 0; i < n; i++) print r[i % NR + 1] }' "$OUT/rows" >>"$OUT/conn.log"
mkdir -p "$OUT/json"
# The same rows as Zeek JSON lines (typed by the #types header, as Zeek's JSON writer types them).
python3 - "$OUT/conn.log" "$OUT/json/conn.log" <<'EOF'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
fields, types = [], []
with open(src) as f, open(dst, "w") as o:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#types"):
            types = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rec = {"_path": "conn"}
            for k, t, v in zip(fields, types, line.split("\t")):
                if v == "-":
                    continue
                if t in ("count", "port", "int"):
                    rec[k] = int(v)
                elif t in ("time", "interval", "double"):
                    rec[k] = float(v)
                elif t == "bool":
                    rec[k] = v == "T"
                elif t.startswith(("set", "vector")):
                    rec[k] = [] if v == "(empty)" else v.split(",")
                else:
                    rec[k] = v
            o.write(json.dumps(rec, separators=(",", ":")) + "\n")
EOF
BYTES=$(stat -c %s "$OUT/conn.log")
echo "input: $ROWS conn rows from $SRC ($BYTES bytes TSV, $(stat -c %s "$OUT/json/conn.log") bytes JSON)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

run() {
    local name=$1; shift
    local t="$OUT/$name.time"
    if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; then
        echo "$name: failed ($(tail -1 "$OUT/$name.err"))"; return
    fi
    local got
    got=$(awk '/conns:/ {print $4} /^rows / {print $2}' "$OUT/$name.out" | head -1)
    read -r wall user sys rss <"$t"
    awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v g="${got:-0}" 'BEGIN {
        cpu = u + s; if (cpu <= 0) cpu = 0.001;
        printf "%-12s rows %8d  wall %6.2fs  cpu %6.2fs  %6.2f M rows/cpu-s  peak %5.0f MiB\n",
            n, g, w, cpu, g / cpu / 1e6, r / 1024 }'
}

run vigil-tsv "$VIGIL_IMPORT_DUMP" "$OUT/conn.log"
run vigil-json "$VIGIL_IMPORT_DUMP" "$OUT/json/conn.log"
# Floors: split each row and sum orig_bytes/resp_bytes, nothing else.
run awk awk -F'\t' '!/^#/ { n++; b += $10 + $11 } END { print "rows " n " bytes " b }' "$OUT/conn.log"
run python-csv python3 -c '
import csv, sys
n = b = 0
with open(sys.argv[1], newline="") as f:
    for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
        if row and not row[0].startswith("#"):
            n += 1
            b += sum(int(x) for x in row[9:11] if x.isdigit())
print("rows", n, "bytes", b)' "$OUT/conn.log"
