#!/usr/bin/env python3
"""Writes a pcap of sFlow v5 export datagrams for benchmarking: N datagrams of 8 expanded flow
samples each (sampled Ethernet/IPv4 TCP or UDP headers, 1 in 1000), drawn from a pool of flows
in both directions, one datagram per millisecond."""
import random, struct, sys
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
out = sys.argv[1]
random.seed(42)
flows = []
for i in range(20_000):
    a = bytes([10, random.randrange(256), random.randrange(256), random.randrange(1, 255)])
    b = bytes([random.choice([23, 45, 91, 151, 185, 203]), random.randrange(256), random.randrange(256), random.randrange(1, 255)])
    proto = 6 if random.random() < 0.8 else 17
    flows.append((a, b, random.randrange(1024, 65535), random.choice([443, 80, 53, 22, 8443, 3389]), proto))
def header(src, dst, sp, dp, proto, iplen):
    eth = bytes([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00])
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, iplen, 0, 0x4000, 64, proto, 0, src, dst)
    if proto == 6:
        l4 = struct.pack('>HHIIBBHHH', sp, dp, 1, 1, 0x50, 0x18, 0, 0, 0)
    else:
        l4 = struct.pack('>HHHH', sp, dp, max(iplen - 20, 8), 0) + bytes(12)
    return eth + ip + l4
def xdr_opaque(b):
    return struct.pack('>I', len(b)) + b + bytes((4 - len(b) % 4) % 4)
frames = []
seq = 0
for d in range(n):
    samples = b''
    for s in range(8):
        a, b, sp, dp, proto = random.choice(flows[:2000] if random.random() < 0.7 else flows)
        if random.random() < 0.5:
            a, b, sp, dp = b, a, dp, sp
        iplen = random.choice([52, 60, 576, 1400, 1500])
        h = header(a, b, sp, dp, proto, iplen)
        rec = struct.pack('>IIII', 1, iplen + 18, 4, len(h)) + h + bytes((4 - len(h) % 4) % 4)
        seq += 1
        body = struct.pack('>IIIIIIIIIIII', seq, 0, 1, 1000, seq * 1000, 0, 0, 1, 0, 2, 1, 1) + struct.pack('>I', len(rec)) + rec
        samples += struct.pack('>I', 3) + xdr_opaque(body)
    dg = struct.pack('>II4sIIII', 5, 1, bytes([192, 0, 2, 1]), 0, d, d, 8) + samples
    udp = struct.pack('>HHHH', 50000, 6343, 8 + len(dg), 0) + dg
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + udp
    frame = bytes([0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]) + ip
    t = 1_700_000_000_000 + d  # milliseconds
    frames.append(struct.pack('<IIII', t // 1000, (t % 1000) * 1000, len(frame), len(frame)) + frame)
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for fr in frames:
        f.write(fr)
