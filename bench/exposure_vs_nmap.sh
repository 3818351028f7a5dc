#!/usr/bin/env bash
# Vigil's exposure scan against `nmap -sV` on the same real Debian servers in the same run:
# identification agreement and scan time. The servers and the scan are those of
# crates/vigil-exposure/tests/live_servers.rs (openssh-server, nginx HTTP + TLS-1.3-only HTTPS,
# apache2, vsftpd, postfix x2, redis-server, mariadb-server on 127.55.0.x, random ports, configs
# in a temp dir); VIGIL_BENCH_NMAP=1 makes that test also run one `nmap -sV` per host, all in
# parallel, and print a table and both times. Needs those packages and nmap (apt), as root.
# Usage: bench/exposure_vs_nmap.sh [--release]   (from the workspace root)
set -euo pipefail
PROFILE=()
[ "${1:-}" = "--release" ] && PROFILE=(--release)
echo "machine load before: $(cut -d' ' -f1-3 /proc/loadavg)"
VIGIL_BENCH_NMAP=1 CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/targets/vigil-exposure} \
    cargo test -q "${PROFILE[@]}" -p vigil-exposure --test live_servers -- --nocapture 2>&1 \
    | grep -E '^(scan:|per-target:|\||agreement:|test result)'
