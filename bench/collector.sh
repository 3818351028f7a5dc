#!/usr/bin/env bash
# NetFlow v9 / IPFIX collector benchmark: Vigil's UDP collector against nfcapd (nfdump) and
# nfacctd (pmacct), in the same run, each receiving the same generated export stream over
# 127.0.0.1 at rising record rates. Per receiver and rate: records received vs sent (loss) and
# records per CPU-second (user + system of the receiver process, /usr/bin/time).
#
#   bench/collector.sh                  3-s bursts at 0.5, 1, 2, 3 M records/s and flat out
#   SUSTAINED=1 bench/collector.sh      10 s per rate at 1, 2, 3 M records/s
#   env: PROTO=v9|ipfix (v9)  RATES="records/s ..." (0 = as fast as the sender goes)
#        SECS=seconds per rate (3; 10 with SUSTAINED=1)  RCVBUF=bytes of SO_RCVBUF asked by
#        every receiver (32 MiB)  BUFFER=equal|forced (equal)  PORT=UDP port (29995)
#        PER_PACKET=records per datagram (30)  RECEIVERS="vigil nfcapd nfacctd"
#        SINK=example name of Vigil's side (netflow_sink)  PROFILE=cargo profile (perf)
#        EXAMPLES=directory of prebuilt netflow_replay and sink (skips the build)
#        VIGIL_ARGS="extra sink options"
#
# The sender (crates/vigil-import/examples/netflow_replay.rs) exports direction pairs of distinct
# 5-tuples with packets = 1 per record, the template in the first datagram and every 20th.
# Vigil's side (examples/netflow_sink.rs) is the collector `vigil watch --netflow` runs: decode,
# stitch both directions into one Conn, hand Conns to a consumer. nfcapd decodes and writes
# nfdump files; nfacctd decodes and aggregates (print plugin). Every receiver asks for the same
# receive buffer. BUFFER=equal (the default, the fair comparison): Vigil sets it with plain
# SO_RCVBUF like the peers, so every socket is capped alike at net.core.rmem_max (doubled by
# the kernel). BUFFER=forced: Vigil uses SO_RCVBUFFORCE when privileged and gets the full
# request, which the peers cannot. The buffer each receiver's socket really has (`ss -m`, rb)
# is printed per row.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTO=${PROTO:-v9}
if [ -n "${SUSTAINED:-}" ]; then
    RATES=${RATES:-"1000000 2000000 3000000"}
    SECS=${SECS:-10}
fi
RATES=${RATES:-"500000 1000000 2000000 3000000 0"}
SECS=${SECS:-3}
BUFFER=${BUFFER:-equal}
PROFILE=${PROFILE:-perf}
RCVBUF=${RCVBUF:-33554432}
PORT=${PORT:-29995}
PER_PACKET=${PER_PACKET:-30}
RECEIVERS=${RECEIVERS:-vigil nfcapd nfacctd}
SINK=${SINK:-netflow_sink}
has() { case " $RECEIVERS " in *" $1 "*) command -v "$2" >/dev/null || [ "$1" = vigil ] ;; *) return 1 ;; esac; }
if [ -z "${EXAMPLES:-}" ]; then
    cargo build --profile "$PROFILE" -p vigil-import --example netflow_replay --example "$SINK" >/dev/null
    EXAMPLES=${CARGO_TARGET_DIR:-target}/$PROFILE/examples
fi
OUT=${BENCH_OUT:-$(mktemp -d)}
cleanup() {
    # Only the receivers this script started, by their recorded process ids.
    for f in "$OUT"/*.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    [ -n "${BENCH_OUT:-}" ] || rm -rf "$OUT"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); net.core.rmem_max=$(cat /proc/sys/net/core/rmem_max)"
echo "stream: $PROTO, $PER_PACKET records per datagram, $SECS s per rate, SO_RCVBUF asked: $RCVBUF, buffers: $BUFFER"
case "$BUFFER" in
    equal) VIGIL_BUF=--no-force ;;
    forced) VIGIL_BUF= ;;
    *) echo "BUFFER=$BUFFER: equal or forced" >&2; exit 2 ;;
esac
printf '%-9s %-8s %10s %10s %8s %8s %14s %9s\n' rate receiver sent received loss% cpu-s "records/cpu-s" rcvbuf

udp_listening() {
    grep -q ":$(printf '%04X' "$PORT") " /proc/net/udp 2>/dev/null
}

wait_listening() {
    for _ in $(seq 100); do
        # Bound is not yet reading: give every receiver the same second to finish starting.
        udp_listening && { sleep 1; socket_rb; return 0; }
        sleep 0.05
    done
    echo "receiver did not start listening on $PORT" >&2
    return 1
}

# Receive buffer of the socket bound to $PORT as the kernel accounts it (ss -m: rb, bytes).
RB=?
socket_rb() {
    RB=$(ss -u -a -m -n "sport = :$PORT" 2>/dev/null | sed -n 's/.*skmem:([^)]*,rb\([0-9]*\),.*/\1/p' | head -1)
    RB=${RB:-?}
}

wait_closed() {
    for _ in $(seq 200); do
        udp_listening || return 0
        sleep 0.05
    done
}

# CPU seconds (user + system) of every live process in process group $1, from /proc: nfacctd
# is a core process plus plugin processes, which /usr/bin/time would not all see.
group_cpu() {
    local tck; tck=$(getconf CLK_TCK)
    for st in /proc/[0-9]*/stat; do
        sed 's/^.*) //' "$st" 2>/dev/null || true
    done | awk -v g="$1" -v t="$tck" '$3 == g { s += $12 + $13 } END { printf "0 %.2f 0 0\n", s / t }'
}

send() {
    local n=$1 rate=$2
    "$EXAMPLES/netflow_replay" --to "127.0.0.1:$PORT" --proto "$PROTO" --records "$n" --rate "$rate" \
        --per-packet "$PER_PACKET" | sed -n 's/.*sent_records=\([0-9]*\).*/\1/p'
}

report() {
    local rate=$1 name=$2 sent=$3 got=$4 tfile=$5
    local user sys
    read -r _ user sys _ <"$tfile" || true
    awk -v r="$rate" -v n="$name" -v s="$sent" -v g="$got" -v u="${user:-0}" -v y="${sys:-0}" -v rb="$RB" 'BEGIN {
        cpu = u + y; if (cpu <= 0) cpu = 0.001;
        loss = s > 0 ? 100 * (s - g) / s : 0; if (loss < 0) loss = 0;
        printf "%-9s %-8s %10d %10d %7.2f%% %8.2f %14.0f %9s\n", (r == 0 ? "max" : r), n, s, g, loss, cpu, g / cpu, rb }'
}

for rate in $RATES; do
    if [ "$rate" = 0 ]; then n=$((3000000 / PER_PACKET * PER_PACKET)); else n=$((rate * SECS / PER_PACKET * PER_PACKET)); fi

    if has vigil "$SINK"; then
        # Vigil: the sink exits on its own once the stream has been idle for 1.5 s.
        wait_closed
        /usr/bin/time -f '%e %U %S %M' -o "$OUT/vigil.time" "$EXAMPLES/$SINK" --listen "127.0.0.1:$PORT" \
            --idle-secs 1.5 --rcvbuf "$RCVBUF" $VIGIL_BUF ${VIGIL_ARGS:-} >"$OUT/vigil.out" 2>"$OUT/vigil.err" &
        echo $! >"$OUT/vigil.pid"
        wait_listening
        sent=$(send "$n" "$rate")
        wait "$(cat "$OUT/vigil.pid")" || true
        rm -f "$OUT/vigil.pid"
        got=$(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$OUT/vigil.out")
        granted=$(sed -n 's/.*rcvbuf=\([0-9]*\).*/\1/p' "$OUT/vigil.out")
        forced=$(sed -n 's/.*rcvbuf_forced=\([a-z]*\).*/\1/p' "$OUT/vigil.out")
        report "$rate" vigil "$sent" "${got:-0}" "$OUT/vigil.time"
        # Where Vigil's losses happened (datagrams): its own queue, the kernel's socket buffer.
        sed -n 's/.*\(dropped_queue=[0-9]*\).*\(kernel_drops=[0-9]*\).*/          vigil: \1 \2/p' "$OUT/vigil.out"
    fi

    if has nfcapd nfcapd; then
        wait_closed
        rm -rf "$OUT/nf"; mkdir -p "$OUT/nf"
        /usr/bin/time -f '%e %U %S %M' -o "$OUT/nfcapd.time" nfcapd -w "$OUT/nf" -b 127.0.0.1 -p "$PORT" \
            -B "$RCVBUF" -t 3600 -P "$OUT/nfcapd.pid" >"$OUT/nfcapd.out" 2>&1 &
        tpid=$!
        wait_listening
        sent=$(send "$n" "$rate")
        sleep 1.5
        kill -TERM "$(cat "$OUT/nfcapd.pid")" 2>/dev/null || true
        wait "$tpid" || true
        rm -f "$OUT/nfcapd.pid"
        got=$(nfdump -R "$OUT/nf" -q -o 'fmt:%pkt' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
        report "$rate" nfcapd "$sent" "$got" "$OUT/nfcapd.time"
    fi

    if has nfacctd nfacctd; then
        wait_closed
        rm -f "$OUT/nfacctd.csv"
        cat >"$OUT/nfacctd.conf" <<EOF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $PORT
nfacctd_pipe_size: $RCVBUF
plugin_pipe_size: 268435456
plugin_buffer_size: 65536
pidfile: $OUT/nfacctd.pid
logfile: $OUT/nfacctd.log
plugins: print
aggregate: proto
print_output: csv
print_output_file: $OUT/nfacctd.csv
print_output_file_append: true
print_refresh_time: 1
EOF
        # Own session: on SIGTERM nfacctd signals its whole process group, which would include us.
        setsid nfacctd -f "$OUT/nfacctd.conf" >"$OUT/nfacctd.out" 2>&1 &
        tpid=$!
        wait_listening
        sent=$(send "$n" "$rate")
        sleep 2.5
        group_cpu "$tpid" >"$OUT/nfacctd.time"
        # The core passes SIGTERM to its plugins (which purge their caches to the file) and
        # needs a second one to exit itself.
        # (Quietly: the shell reports the KILL of a stuck core as "Killed" when it reaps it.)
        {
            for sig in TERM TERM KILL; do
                kill -0 "$tpid" || break
                kill -"$sig" -- "-$tpid" || true
                sleep 1
            done
            wait "$tpid" || true
        } 2>/dev/null
        rm -f "$OUT/nfacctd.pid"
        # Every record carries packets = 1: the PACKETS total is the record count.
        got=$(awk -F, 'NR == 1 || /^[A-Z_,]+$/ { for (i = 1; i <= NF; i++) if ($i == "PACKETS") c = i; next } c { s += $c } END { print s + 0 }' "$OUT/nfacctd.csv" 2>/dev/null || echo 0)
        report "$rate" nfacctd "$sent" "$got" "$OUT/nfacctd.time"
    fi
done
echo "receive buffer granted to vigil's socket: ${granted:-?} bytes (SO_RCVBUFFORCE: ${forced:-?})"
