#!/usr/bin/env python3
"""Many concurrent unauthenticated password requests, sustained.

Starts `latchkey serve` (a release build) on 127.0.0.1 with a temporary data
directory, then for --duration seconds keeps --concurrency clients posting
a password, each on its own keep-alive connection:

  --endpoint invite   POST /api/v1/invites/<random code>  (the default; on
                      code that hashes before looking the code up, every
                      request is one argon2 hash)
  --endpoint login    POST /api/v1/login, an unknown email each time (the
                      dummy hash; sign-in throttling turns most away)

and prints the answers by status, hashes per second, latencies, /healthz
latency from a fresh connection during the flood, and the server's peak
memory (VmHWM in /proc/<pid>/status). It stops by itself, and kills the
server early if its memory passes --rss-limit-mb (the old code grows by
19 MiB per concurrent request).

    bench/abuse/password_flood.py                      # 64 clients, 30 s
    bench/abuse/password_flood.py --concurrency 16 --duration 10
    bench/abuse/password_flood.py --binary /tmp/old/latchkey --rss-limit-mb 4096

Only the standard library.
"""

import argparse
import collections
import http.client
import json
import secrets
import sys
import threading
import time

from common import Server, default_binary, mb, percentile, now


def worker(server, endpoint, deadline, results, lock):
    conn = None
    while now() < deadline:
        if conn is None:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        if endpoint == "invite":
            path = "/api/v1/invites/" + secrets.token_urlsafe(24)
            body = {"password": "a long enough password"}
        else:
            path = "/api/v1/login"
            body = {"email": secrets.token_hex(8) + "@nobody.test", "password": "not it"}
        started = now()
        try:
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            status = type(e).__name__
            conn.close()
            conn = None
        with lock:
            results.append((status, now() - started))


def healthz_ms(server, timeout=5.0):
    started = now()
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        conn.close()
        return (now() - started) * 1000
    except (OSError, http.client.HTTPException):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(default_binary()))
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--endpoint", choices=["invite", "login"], default="invite")
    parser.add_argument("--rss-limit-mb", type=int, default=4096)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    args = parser.parse_args()

    env = dict(kv.split("=", 1) for kv in args.env)
    server = Server(args.binary, env=env)
    print(f"server pid {server.proc.pid} on {server.host}:{server.port}, idle RSS {mb(server.status('VmRSS'))}")
    results, lock = [], threading.Lock()
    started = now()
    deadline = started + args.duration
    threads = [
        threading.Thread(target=worker, args=(server, args.endpoint, deadline, results, lock), daemon=True)
        for _ in range(args.concurrency)
    ]
    for t in threads:
        t.start()
    healthz, killed, max_threads = [], None, 0
    while now() < deadline and killed is None:
        max_threads = max(max_threads, server.threads() or 0)
        rss = server.status("VmRSS") or 0
        if rss / 1024 > args.rss_limit_mb:
            killed = (rss, now() - started, server.status("VmHWM"))
            server.proc.kill()
            break
        healthz.append(healthz_ms(server))
        time.sleep(0.5)
    for t in threads:
        t.join(timeout=70)
    elapsed = now() - started
    peak = killed[2] if killed else server.status("VmHWM")
    refused_log = server.log_count("database unreachable")
    server.stop()

    by_status = collections.Counter(s for s, _ in results)
    print(f"{args.concurrency} clients, {args.endpoint}, {elapsed:.1f} s: {len(results)} answers")
    for status, n in sorted(by_status.items(), key=lambda kv: str(kv[0])):
        lat = [d * 1000 for s, d in results if s == status]
        print(f"  {status}: {n:6d}  p50 {percentile(lat, 50):7.1f} ms  p99 {percentile(lat, 99):7.1f} ms  max {max(lat):7.1f} ms")
    hashed = sum(n for s, n in by_status.items() if s in (200, 401, 404))
    print(f"hashes answered: {hashed / elapsed:.1f}/s")
    ok = [h for h in healthz if h is not None]
    print(
        f"/healthz during the flood: {len(ok)}/{len(healthz)} answered, "
        f"p50 {percentile(ok, 50):.1f} ms, max {max(ok) if ok else float('nan'):.1f} ms"
    )
    if killed:
        print(f"KILLED: RSS passed {args.rss_limit_mb} MB ({mb(killed[0])}) after {killed[1]:.1f} s")
    print(f"peak RSS (VmHWM): {mb(peak)}; most threads seen: {max_threads}")
    if refused_log:
        print(f"'database unreachable' log lines: {refused_log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
