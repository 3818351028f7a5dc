#!/usr/bin/env bash
# Vigil's exposure scan against `nmap -sV` on the same loopback servers: identification
# agreement and scan time. Needs: openssh-server nginx redis-server nmap (apt).
# Usage: bench/exposure_vs_nmap.sh   (from the workspace root)
set -euo pipefail
T=$(mktemp -d); trap 'kill $(cat "$T"/pids) 2>/dev/null || true; rm -rf "$T"' EXIT
touch "$T/pids"
free_port() { python3 -c 'import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));print(s.getsockname()[1])' "$1"; }
SSH_IP=127.56.0.1 NGX_IP=127.56.0.2 RDS_IP=127.56.0.3
SSH_P=$(free_port $SSH_IP) NGX_P=$(free_port $NGX_IP) RDS_P=$(free_port $RDS_IP)
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"; mkdir -p /run/sshd
printf 'Port %s\nListenAddress %s\nHostKey %s\nPidFile %s/sshd.pid\nUsePAM no\nStrictModes no\n' $SSH_P $SSH_IP "$T/hostkey" "$T" > "$T/sshd_config"
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>/dev/null & echo $! >> "$T/pids"
mkdir -p "$T/logs"
cat > "$T/nginx.conf" <<NGX
daemon off; master_process off; pid $T/nginx.pid; error_log $T/logs/error.log;
events {}
http { access_log off; client_body_temp_path $T/cb; proxy_temp_path $T/px; fastcgi_temp_path $T/fc; uwsgi_temp_path $T/uw; scgi_temp_path $T/sc;
  server { listen $NGX_IP:$NGX_P; location / { default_type text/html; return 200 "<title>bench</title>"; } } }
NGX
/usr/sbin/nginx -p "$T" -c "$T/nginx.conf" -e "$T/logs/error.log" & echo $! >> "$T/pids"
redis-server --port $RDS_P --bind $RDS_IP --save '' --appendonly no --protected-mode no --dir "$T" >/dev/null & echo $! >> "$T/pids"
sleep 2
printf '%s ports=%s\n%s ports=%s\n%s ports=%s\n' $SSH_IP $SSH_P $NGX_IP $NGX_P $RDS_IP $RDS_P > "$T/scope"
echo "== truth"; /usr/sbin/sshd -V 2>&1 | head -1; /usr/sbin/nginx -v 2>&1; redis-server --version
echo "== vigil"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/targets/vigil-exposure} cargo run -q -p vigil-exposure --example exposure_scan -- "$T/scope"
echo "== nmap -sV"
start=$(date +%s.%N)
nmap -sV -Pn -n -p $SSH_P $SSH_IP -oG - | grep Ports || true
nmap -sV -Pn -n -p $NGX_P $NGX_IP -oG - | grep Ports || true
nmap -sV -Pn -n -p $RDS_P $RDS_IP -oG - | grep Ports || true
end=$(date +%s.%N)
echo "nmap elapsed $(echo "$end - $start" | bc)s"
