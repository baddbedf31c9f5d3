#!/usr/bin/env python3
"""Thousands of connections that send nothing.

Starts `latchkey serve` (a release build) on 127.0.0.1 with a temporary data
directory, opens --connections TCP connections to it that never send a
byte, and then:

  1. times GET /healthz from new clients (a new connection each) while they
     are open: every answer's latency, and how many did not come within 5 s;
  2. watches the silent connections until the server closes them (or
     --watch seconds pass): when the first and the last were closed;
  3. counts the server's log lines about accept errors.

    bench/abuse/silent_connections.py                        # 2,000, the limit as it is
    bench/abuse/silent_connections.py --nofile 1024 --connections 1100
    bench/abuse/silent_connections.py --binary /tmp/old/latchkey --nofile 1024 --connections 1100

--nofile sets the server's RLIMIT_NOFILE (soft and hard, like `ulimit -n`
in the shell that starts it). Only the standard library.
"""

import argparse
import http.client
import selectors
import socket
import sys
import time

from common import Server, default_binary, mb, percentile, now, raise_own_fd_limit


def open_silent(server, n, timeout):
    """Opens up to n connections; returns (sockets, how many failed)."""
    socks, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((server.host, server.port), timeout=timeout)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            failed += 1
    return socks, failed


def healthz_ms(server, timeout=5.0):
    started = now()
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return (now() - started) * 1000 if resp.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None


def watch_closed(socks, started, limit):
    """Seconds since `started` at which each socket was closed by the peer."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = []
    deadline = now() + limit
    while len(closed) < len(socks) and now() < deadline:
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed.append(now() - started)
                sel.unregister(key.fileobj)
    sel.close()
    return closed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(default_binary()))
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--nofile", type=int, help="the server's open-file limit")
    parser.add_argument("--probes", type=int, default=20, help="/healthz requests while they are open")
    parser.add_argument("--watch", type=float, default=30, help="seconds to wait for them to be closed")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    args = parser.parse_args()

    raise_own_fd_limit()
    env = dict(kv.split("=", 1) for kv in args.env)
    server = Server(args.binary, env=env, nofile=args.nofile)
    print(f"server pid {server.proc.pid} on {server.host}:{server.port}, nofile {args.nofile or 'as inherited'}")
    print(f"  {server.log_lines[-1] if server.log_lines else ''}")
    baseline = [h for h in (healthz_ms(server) for _ in range(5)) if h is not None]
    print(f"/healthz before: p50 {percentile(baseline, 50):.1f} ms")

    started = now()
    socks, failed = open_silent(server, args.connections, timeout=2)
    opened_in = now() - started
    print(f"opened {len(socks)} silent connections in {opened_in:.1f} s ({failed} could not connect within 2 s)")
    time.sleep(0.5)
    print(f"server: {server.open_fds()} open fds, RSS {mb(server.status('VmRSS'))}")

    probes = []
    for _ in range(args.probes):
        probes.append(healthz_ms(server))
        time.sleep(0.05)
    ok = [p for p in probes if p is not None]
    print(
        f"/healthz with them open: {len(ok)}/{len(probes)} answered within 5 s; "
        f"p50 {percentile(ok, 50):.1f} ms, p99 {percentile(ok, 99):.1f} ms, max {max(ok) if ok else float('nan'):.1f} ms"
    )

    closed = watch_closed(socks, started, args.watch)
    if closed:
        print(
            f"closed by the server: {len(closed)}/{len(socks)}; first after {min(closed):.1f} s, "
            f"last after {max(closed):.1f} s (since the first was opened)"
        )
    else:
        print(f"closed by the server: none within {args.watch:.0f} s")
    for s in socks:
        s.close()
    time.sleep(0.5)
    after = [h for h in (healthz_ms(server) for _ in range(5)) if h is not None]
    print(f"/healthz after: {len(after)}/5 answered, p50 {percentile(after, 50):.1f} ms")
    accept_lines = server.log_count("accept")
    print(f"log lines about accept errors: {accept_lines} (of {len(server.log_lines)} lines)")
    print(f"peak RSS (VmHWM): {mb(server.status('VmHWM'))}")
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
