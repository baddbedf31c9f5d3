#!/usr/bin/env python3
"""What a flood of one revoked secret costs everybody else.

Starts `latchkey serve` (a release build) on 127.0.0.1 with SQLite in a
temporary directory, revokes a personal access token, and measures legitimate
write throughput (project creations per second with an admin PAT, a write
transaction and its audit event each) without a flood and while processes
hammer `GET /api/v1/user` with the revoked secret, in interleaved rounds.
Prints both, their ratio, the flood's rate and how many `auth.refused` rows
it wrote. Stops the server and removes the directory by itself.

    bench/abuse/refused_flood.py                      # builds target/release/latchkey
    bench/abuse/refused_flood.py --binary /tmp/latchkey-old --duration 5 --rounds 3

Only the standard library.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "bench@latchkey.test"
PASSWORD = "bench-admin-password"
PIPELINE = 64


def log(msg):
    print(f"== {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


def flood(port, token, stop, counter):
    """One process: the revoked secret as fast as the server answers, on one
    connection with pipelined requests (as an attacker's tool would; a
    request-response loop in Python would measure Python)."""
    request = (f"GET /api/v1/user HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()
    batch = request * PIPELINE
    n = 0
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                while not stop.is_set():
                    sock.sendall(batch)
                    seen, tail = 0, b""
                    while seen < PIPELINE:
                        chunk = sock.recv(1 << 16)
                        if not chunk:
                            raise OSError("closed")
                        # The 8 bytes kept are shorter than the marker:
                        # nothing is counted twice, nothing split is missed.
                        data = tail + chunk
                        seen += data.count(b"HTTP/1.1 ")
                        tail = data[-8:]
                    n += PIPELINE
        except OSError:
            continue
    with counter.get_lock():
        counter.value += n


def writes_per_second(port, token, seconds, writers, tag):
    """Project creations per second by `writers` threads for `seconds`."""
    done = []
    deadline = time.monotonic() + seconds

    def writer(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"ApiKey {token}", "Content-Type": "application/json"}
        n = 0
        while time.monotonic() < deadline:
            body = json.dumps({"name": f"{tag}-{i}-{n}"})
            conn.request("POST", "/api/v1/org/projects", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                sys.exit(f"project creation answered {resp.status}")
            n += 1
        done.append(n)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", help="latchkey binary (default: build and use target/release/latchkey)")
    p.add_argument("--duration", type=float, default=5, help="seconds per measurement (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    p.add_argument("--writers", type=int, default=4, help="threads creating projects (default 4)")
    p.add_argument("--flooders", type=int, default=3, help="processes sending the revoked secret (default 3)")
    args = p.parse_args()

    binary = args.binary
    if not binary:
        log("building latchkey (release)")
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "latchkey"], cwd=ROOT, check=True)
        binary = str(ROOT / "target" / "release" / "latchkey")

    work = Path(tempfile.mkdtemp(prefix="latchkey-flood-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, LATCHKEY_LOG="warn", LATCHKEY_SETUP_ORG_NAME="Bench",
               LATCHKEY_SETUP_ADMIN_EMAIL=EMAIL, LATCHKEY_SETUP_ADMIN_PASSWORD=PASSWORD)
    server_log = open(work / "server.log", "w")
    server = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", str(work / "data")],
                              env=env, stdout=server_log, stderr=server_log)
    try:
        for _ in range(300):
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                sys.exit(f"latchkey exited: {(work / 'server.log').read_text()}")
            time.sleep(0.1)
        else:
            sys.exit("latchkey did not become ready")

        status, headers, login = call(base, "POST", "/api/v1/login", {"email": EMAIL, "password": PASSWORD})
        assert status == 200, login
        session = {"Cookie": headers["Set-Cookie"].split(";")[0], "X-CSRF-Token": login["results"]["csrfToken"]}
        mint = lambda name: call(base, "POST", "/api/v1/user/me/personal-access-tokens", {"name": name}, session)
        status, _, admin = mint("writer")
        assert status == 201, admin
        admin = admin["results"]["token"]
        status, _, leaked = mint("leaked")
        assert status == 201, leaked
        leaked_uuid, leaked = leaked["results"]["uuid"], leaked["results"]["token"]
        status, _, _ = call(base, "DELETE", f"/api/v1/user/me/personal-access-tokens/{leaked_uuid}", None, session)
        assert status == 204

        quiet, flooded, rates = [], [], []
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}: no flood")
            quiet.append(writes_per_second(port, admin, args.duration, args.writers, f"quiet{r}"))
            log(f"round {r + 1}/{args.rounds}: flood of the revoked secret")
            stop = multiprocessing.Event()
            counter = multiprocessing.Value("q", 0)
            procs = [multiprocessing.Process(target=flood, args=(port, leaked, stop, counter))
                     for _ in range(args.flooders)]
            for proc in procs:
                proc.start()
            time.sleep(0.5)  # the flood at full speed before measuring
            t0 = time.monotonic()
            flooded.append(writes_per_second(port, admin, args.duration, args.writers, f"flood{r}"))
            stop.set()
            for proc in procs:
                proc.join()
            rates.append(counter.value / (time.monotonic() - t0 + 0.5))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
    db = sqlite3.connect(work / "data" / "latchkey.db")
    rows, = db.execute("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.refused'").fetchone()
    counts = [json.loads(d).get("count") for d, in
              db.execute("SELECT details FROM audit_events WHERE action = 'auth.refused'")]
    db.close()
    shutil.rmtree(work, ignore_errors=True)

    q, f, rate = statistics.median(quiet), statistics.median(flooded), statistics.median(rates)
    refusals = sum(c for c in counts if isinstance(c, int)) if any(isinstance(c, int) for c in counts) else None
    print(f"binary:                          {binary}")
    print(f"project creations/s, no flood:   {q:,.0f}   (rounds: {', '.join(f'{x:,.0f}' for x in quiet)})")
    print(f"project creations/s, flood:      {f:,.0f}   (rounds: {', '.join(f'{x:,.0f}' for x in flooded)})")
    print(f"ratio flood / no flood:          {f / q:.2f}")
    print(f"flood, revoked-secret requests/s: {rate:,.0f}")
    print(f"auth.refused rows written:       {rows:,}" +
          (f" (details.count adds up to {refusals:,})" if refusals is not None else " (no details.count)"))


if __name__ == "__main__":
    main()
