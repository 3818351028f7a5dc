#!/usr/bin/env python3
"""Feeds damaged copies of the shared corpus to the `vigil` binary and reports any panic,
hang or unexpected exit code. Complements the fuzz targets: the whole command runs (import,
sort, detectors, output), on real files cut, altered and spliced.

Use a debug build, so that arithmetic overflow panics instead of wrapping:

    cargo build -p vigil
    fuzz/mutate-corpus.py --vigil target/debug/vigil --set pcaps --files 100 --seed 1

Sets: pcaps (`vigil conn` and `vigil hunt`), flows (`vigil hunt` over flows/ and zeek-logs/),
mail (`vigil mail scan`), creds (`vigil creds scan`), scans (`vigil exposure import` of nmap and
masscan outputs), vulns (the CVE, KEV and EPSS files as `--vulns`), intel (indicator files as
`vigil hunt --ioc`). Each file is fed truncated, with random
bytes changed and with a random splice (flows also with shuffled lines). A failing input is
kept under --keep for a unit test. Exit status 1 when any run failed.
"""
import argparse
import glob
import os
import random
import shutil
import subprocess
import sys
import tempfile

SETS = {
    "pcaps": (["pcaps"], (".pcap", ".pcapng", ".cap"), [["conn", "{in}", "-o", "{tmp}/out"], ["hunt", "{in}", "--no-store", "--format", "jsonl", "--output", "{tmp}/f.jsonl"]]),
    "flows": (["flows", "zeek-logs"], None, [["hunt", "{dir}", "--no-store", "--format", "jsonl", "--output", "{tmp}/f.jsonl"]]),
    "mail": (["mail/parser-corpus", "mail/spamassassin", "mail/auth"], None, [["mail", "scan", "{dir}"]]),
    "creds": (["creds/credsweeper"], None, [["creds", "scan", "{dir}"]]),
    # Data updates arrive as files too: scan outputs, vulnerability feeds, indicator lists.
    "scans": (["vulns/scans"], None, [["exposure", "import", "{dir}", "--no-store", "--format", "jsonl", "--output", "{tmp}/x.jsonl"]]),
    "vulns": (["vulns/nvd-cve-2.0", "vulns/nvd-api-2.0", "vulns/cisa-kev", "vulns/epss"], None,
              [["exposure", "import", "{data}/vulns/scans", "--vulns", "{dir}", "--no-store", "--format", "jsonl", "--output", "{tmp}/x.jsonl"]]),
    "intel": (["intel"], None, [["hunt", "{data}/pcaps/malware-c2/slips/test-cc-capture-2.pcap", "--ioc", "{in}", "--no-store", "--format", "jsonl", "--output", "{tmp}/f.jsonl"]]),
}
# Exit codes that mean "done" or "a clear error" (clap's usage error is 2).
OK_CODES = (0, 1, 2)
BYTES = [0, 0xFF, ord("\t"), ord("\n"), ord("-"), ord("9"), ord('"'), ord("{"), ord("="), ord(":"), ord("<")]


def mutations(data, rng, lines):
    kinds = ["trunc", "flip", "splice"] + (["lines"] if lines else [])
    for kind in kinds:
        d = bytearray(data)
        if kind == "trunc":
            d = d[: rng.randrange(1, len(d))]
        elif kind == "flip":
            for _ in range(rng.randrange(1, 40)):
                d[rng.randrange(len(d))] = rng.choice(BYTES + [rng.randrange(256)])
        elif kind == "splice":
            a, b = rng.randrange(len(d)), rng.randrange(len(d))
            d = d[:a] + d[b : b + rng.randrange(1, 5000)] + d[a:]
        else:
            parts = d.split(b"\n")
            rng.shuffle(parts)
            d = bytearray(b"\n".join(parts))
        yield kind, bytes(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default="target/debug/vigil")
    ap.add_argument("--data", default=os.environ.get("VIGIL_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")))
    ap.add_argument("--set", choices=sorted(SETS), required=True)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-size", type=int, default=3_000_000)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--keep", default=tempfile.gettempdir())
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        sys.exit(f"shared data not found at {a.data} (set --data or VIGIL_SHARED_DATA)")
    roots, exts, cmds = SETS[a.set]
    rng = random.Random(a.seed)
    files = sorted(f for r in roots for f in glob.glob(os.path.join(a.data, r, "**", "*"), recursive=True)
                   if os.path.isfile(f) and 50 < os.path.getsize(f) < a.max_size
                   and (exts is None or f.endswith(exts)) and not f.endswith((".md", ".txt", ".LICENSE")))
    rng.shuffle(files)
    runs = bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for f in files[: a.files]:
            data = open(f, "rb").read()
            for kind, d in mutations(data, rng, a.set == "flows"):
                indir = os.path.join(tmp, "in")
                shutil.rmtree(indir, ignore_errors=True)
                os.makedirs(indir)
                p = os.path.join(indir, os.path.basename(f))
                with open(p, "wb") as out:
                    out.write(d)
                for c in cmds:
                    argv = [a.vigil] + [x.format(**{"in": p, "dir": indir, "tmp": tmp, "data": a.data}) for x in c]
                    runs += 1
                    try:
                        r = subprocess.run(argv, capture_output=True, timeout=a.timeout)
                        failed = r.returncode not in OK_CODES or b"panicked" in r.stderr
                        why = f"exit {r.returncode}: {r.stderr[-300:].decode(errors='replace')}"
                    except subprocess.TimeoutExpired:
                        failed, why = True, f"no answer in {a.timeout} s"
                    if failed:
                        bad += 1
                        keep = os.path.join(a.keep, f"vigil-mutant-{bad}-{os.path.basename(f)}")
                        shutil.copy(p, keep)
                        print(f"FAILED {c[0]} {f} ({kind}) kept as {keep}\n  {why}", flush=True)
    print(f"{a.set}: {runs} runs over {min(len(files), a.files)} files, {bad} failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
