#!/usr/bin/env python3
"""latchkey's authentication benchmark.

Starts a release build of `latchkey serve`, stores many tokens, and measures
with wrk, in one run, requests per second and p50/p99 latency of:

  1. GET /healthz                      the no-authentication baseline
  2. GET /api/v1/user with a PAT
  3. GET /api/v1/user with an API key
  4. GET /api/v1/user with a wrong (well-formed, unknown) token
  5. POST /api/v1/auth/verify          (a PAT, cached), and with a scope
                                       on a project (`projectUuid`)
  6. a session: GET /api/v1/user/me/personal-access-tokens, and the
     token page GET /settings/tokens
  7. POST /api/v1/auth/verify, cold:   the cache off, random tokens of the
                                       N stored, every request a database read
  8. POST /api/v1/auth/verify, warm:   the cache on, random tokens of the
                                       N stored (fills up to --sample entries)
  9. GET /auth/forward                 what a reverse proxy asks (a PAT,
                                       cached, a scope on a project)
 10. POST /oauth2/introspect           (a PAT, cached) by a resource server
                                       (Basic), made by the operator command
 11. nginx in front of an app:         GET / through nginx to a trivial
                                       upstream (a) without authentication
                                       and (b) with `auth_request` to
                                       /auth/forward, the users' configuration
                                       examples/nginx/latchkey.conf; b / a is
                                       what putting latchkey in front costs

and prints each against the baseline, plus the servers' peak memory.

Before a scenario is timed, a sample request must get its expected answer
(200 and the expected principal, the PAT in the list and on the page, 401
`invalid_token` for the wrong token, `valid: true` and `allowed: true` from
verify, an empty 200 naming the PAT's owner in `X-Latchkey-Principal-Id` from
forward auth, and `valid: true` for 20 of the seeded tokens on the server that
scenario uses; through nginx, the app's 200 without authentication, the app's
200 naming the PAT's owner with it, and 401 without a token); after each wrk
run, every response must be of the expected class (refused, for the wrong
token). Otherwise the run exits non-zero naming the scenario and what came
back.

    bench/auth_bench.py                        # 1,000,000 tokens, SQLite
    bench/auth_bench.py --tokens 100000 --duration 5 --connections 32
    bench/auth_bench.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    bench/auth_bench.py --smoke                # seconds; what CI runs

Only the standard library; wrk comes from Debian (installed when missing).
nginx must be installed (Debian's, /usr/sbin/nginx; `--nginx` for another):
without it the run fails.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ADMIN_EMAIL = "bench@latchkey.test"
ADMIN_PASSWORD = "bench-admin-password"
# Seeded tokens verified one by one before the scenarios that send them.
SEEDED_CHECKS = 20
VERIFY_LUA = """
local body = os.getenv("LATCHKEY_VERIFY_BODY")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body
"""
WALK_VERIFY_LUA = """
local tokens = {}
for line in io.lines(os.getenv("LATCHKEY_TOKENS_FILE")) do tokens[#tokens + 1] = line end
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  n = id
  step = tonumber(os.getenv("LATCHKEY_WRK_THREADS"))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local t = tokens[(n % #tokens) + 1]
  n = n + step
  return wrk.format(nil, "/api/v1/auth/verify", nil, '{"token":"' .. t .. '"}')
end
"""
RANDOM_VERIFY_LUA = """
local tokens = {}
for line in io.lines(os.getenv("LATCHKEY_TOKENS_FILE")) do tokens[#tokens + 1] = line end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format(nil, "/api/v1/auth/verify", nil, '{"token":"' .. t .. '"}')
end
"""


FORWARD = "GET /auth/forward, PAT, scope + project"


def log(msg):
    print(f"== {msg}", file=sys.stderr, flush=True)


def make_token(prefix):
    """latchkey's token format: prefix, 32 base62, 6 base62 of the CRC32."""
    body = prefix + "".join(secrets.choice(BASE62) for _ in range(32))
    crc = zlib.crc32(body.encode())
    check = ""
    for _ in range(6):
        check = BASE62[crc % 62] + check
        crc //= 62
    return body + check


def ensure_wrk():
    if shutil.which("wrk"):
        return
    log("installing wrk from Debian")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)
INTROSPECT_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("LATCHKEY_INTROSPECT_AUTH")
wrk.body = "token=" .. os.getenv("LATCHKEY_INTROSPECT_TOKEN")
"""


def introspection_scenario(binary, data, env, base, pat, owner, work):
    """POST /oauth2/introspect of a cached PAT by a resource server that
    `latchkey resource-servers create` makes. Its sample request must say
    `active: true` with the PAT's owner as `sub`, or the run fails. Returns
    an entry of the cached scenarios."""
    name = "POST /oauth2/introspect, PAT, resource server (Basic)"
    out = subprocess.run([binary, "resource-servers", "create", "bench", "--data-dir", str(data)],
                         env=dict(os.environ, **env), capture_output=True, text=True)
    if out.returncode != 0:
        fail(name, f"creating the resource server failed: {out.stderr[:300]}")
    lines = out.stdout.splitlines()
    secret = lines[-1].strip()
    client_id = next(l.split(": ", 1)[1] for l in lines if l.startswith("clientId: "))
    auth = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    req = urllib.request.Request(base + "/oauth2/introspect", data=f"token={pat}".encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "Authorization": auth})
    try:
        with _opener.open(req, timeout=30) as resp:
            status, answer = resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read().decode(errors="replace")[:300]
    if status != 200 or field(answer, "active") is not True or field(answer, "sub") != owner:
        fail(name, f"expected 200 with active: true and sub {owner}; the sample request got {status}: {answer}")
    lua = Path(work) / "introspect.lua"
    lua.write_text(INTROSPECT_LUA)
    return (name, "/oauth2/introspect",
            {"script": str(lua), "env": {"LATCHKEY_INTROSPECT_AUTH": auth, "LATCHKEY_INTROSPECT_TOKEN": pat}}, None)


def request(base, method, path, body=None, headers=None):
    """One request, redirects not followed: (status, headers, body bytes)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with _opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http(base, method, path, body=None, headers=None):
    status, headers, raw = request(base, method, path, body, headers)
    try:
        return status, headers, json.loads(raw or b"null")
    except ValueError:
        return status, headers, raw.decode(errors="replace")[:300]


def fail(name, what):
    sys.exit(f"auth_bench: {name}: {what}")


def expect_json(name, base, method, path, body, headers, status, check, what):
    """The sample request of a scenario, before it is timed: its status and
    `check(body)` must hold, or the run fails naming the scenario."""
    got, _, answer = http(base, method, path, body, headers)
    if got != status or not check(answer):
        fail(name, f"expected {status} with {what}; the sample request got {got}: {json.dumps(answer)[:500]}")


def expect_forward(name, base, path, token, owner):
    """The sample request of the forward-auth scenario: an empty 200 whose
    X-Latchkey-Principal-Id is the token's owner."""
    got, headers, raw = request(base, "GET", path, None, {"Authorization": f"Bearer {token}"})
    seen = {k.lower(): v for k, v in headers.items()}.get("x-latchkey-principal-id")
    if got != 200 or raw or seen != owner:
        fail(name, f"expected an empty 200 with X-Latchkey-Principal-Id {owner}; "
                   f"the sample request got {got}, {seen!r}: {raw[:300]!r}")


def field(answer, *path):
    for k in path:
        answer = answer.get(k) if isinstance(answer, dict) else None
    return answer


class Server:
    def __init__(self, binary, data_dir, port, env):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        full_env = dict(os.environ, LATCHKEY_LOG="warn", **env)
        self.log = open(Path(data_dir).parent / f"server-{port}.log", "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
            env=full_env, stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                if http(self.base, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit(f"latchkey exited; see {self.log.name}")
            time.sleep(0.1)
        sys.exit("latchkey did not become ready")

    def peak_rss_mib(self):
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        return kib / 1024

    def rss_mib(self):
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What examples/nginx/latchkey.conf says, replaced as the proxy tests replace
# it (crates/server/tests/proxies/nginx.rs and harness.rs).
EXAMPLE_LISTEN = "listen 8000;"
EXAMPLE_LATCHKEY = "127.0.0.1:8080"
EXAMPLE_APP = "127.0.0.1:3000"
NGINX_PLAIN = "nginx -> app, no authentication"
NGINX_AUTH = "nginx -> app, auth_request /auth/forward, PAT"
# The app behind nginx: the second server block of the same process, an
# immediate 200 that says which principal nginx passed on.
NGINX_APP_BODY = "app\n"
NGINX_SEEN = "X-Bench-Principal-Id"


def nginx_binary(given):
    """nginx is required: the run fails, never skips, without it."""
    path = given or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else shutil.which("nginx"))
    if not path or not os.access(path, os.X_OK):
        sys.exit(f"auth_bench: nginx is not installed ({given or '/usr/sbin/nginx'} not found): the nginx scenarios "
                 "need it; install Debian's (apt-get install nginx, as .ci/run does) or name one with --nginx")
    return path


def render(text, replacements):
    for old, new in replacements:
        if old not in text:
            sys.exit(f"auth_bench: {old!r} is not in examples/nginx/latchkey.conf")
        text = text.replace(old, new)
    return text


class Nginx:
    """One nginx process (`daemon off; master_process off;`, as the proxy
    tests run it), a child of the benchmark with everything below `work`:
    examples/nginx/latchkey.conf in front of a trivial app, the same app
    behind a plain proxy, and the app itself, each on a free port."""

    def __init__(self, binary, work, latchkey_port):
        self.dir = Path(work) / "nginx"
        self.dir.mkdir()
        d = self.dir
        ports = {latchkey_port}
        while len(ports) < 4:
            ports.add(free_port())
        self.auth_port, self.plain_port, app_port = sorted(ports - {latchkey_port})
        self.auth_base = f"http://127.0.0.1:{self.auth_port}"
        self.plain_base = f"http://127.0.0.1:{self.plain_port}"
        site = render((ROOT / "examples" / "nginx" / "latchkey.conf").read_text(), [
            (EXAMPLE_LISTEN, f"listen 127.0.0.1:{self.auth_port};"),
            (EXAMPLE_LATCHKEY, f"127.0.0.1:{latchkey_port}"),
            (EXAMPLE_APP, f"127.0.0.1:{app_port}"),
        ])
        (d / "latchkey.conf").write_text(site)
        (d / "nginx.conf").write_text(f"""daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  include {d}/latchkey.conf;
  # The app: answered at once, naming the principal it was told of.
  server {{
    listen 127.0.0.1:{app_port};
    location / {{
      add_header {NGINX_SEEN} $http_x_latchkey_principal_id always;
      return 200 "{NGINX_APP_BODY}";
    }}
  }}
  # The same app behind nginx alone: the example's location without
  # auth_request.
  server {{
    listen 127.0.0.1:{self.plain_port};
    location / {{
      proxy_set_header Host $host;
      proxy_pass http://app;
    }}
  }}
}}
""")
        self.log = open(d / "nginx.out", "w")
        self.proc = subprocess.Popen([binary, "-p", str(d), "-e", str(d / "error.log"), "-c", str(d / "nginx.conf")],
                                     stdout=self.log, stderr=self.log)
        for _ in range(100):
            if self.proc.poll() is not None:
                self.log.flush()
                sys.exit(f"auth_bench: nginx exited ({self.proc.returncode}): {self.errors()}")
            try:
                request(self.plain_base, "GET", "/")
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"auth_bench: nginx did not answer on 127.0.0.1:{self.plain_port}: {self.errors()}")

    def errors(self):
        text = ""
        for name in ("nginx.out", "error.log"):
            f = self.dir / name
            if f.exists():
                text += f.read_text(errors="replace")
        return text[-1500:] or "(nothing logged)"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def expect_nginx(name, base, headers, status, owner=None):
    """The sample request through nginx: the app's answer (naming `owner`
    as the principal nginx passed on, when given), or nginx's refusal."""
    got, seen, raw = request(base, "GET", "/", None, headers)
    seen = {k.lower(): v for k, v in seen.items()}
    principal = seen.get(NGINX_SEEN.lower())
    if status == 200:
        if got != 200 or raw.decode(errors="replace") != NGINX_APP_BODY or (owner and principal != owner):
            fail(name, f"expected the app's 200{f' naming {owner}' if owner else ''}; the sample request got "
                       f"{got}, {NGINX_SEEN} {principal!r}: {raw[:300]!r}")
    elif got != status:
        fail(name, f"expected {status}; the sample request got {got}: {raw[:300]!r}")


def seed_sqlite(db_path, key, org, owner, count, sample_file, sample_size):
    """Stores `count` PATs of `owner` the way latchkey does (only the keyed
    hash), and writes `sample_size` of the secrets to `sample_file`."""
    conn = sqlite3.connect(db_path, timeout=30)
    now = int(time.time())
    sample = []
    batch = []
    every = max(1, count // sample_size)
    for i in range(count):
        token = make_token("lkpat_")
        if i % every == 0 and len(sample) < sample_size:
            sample.append(token)
        digest = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
        batch.append((str(uuid.uuid4()), org, owner, f"bench {i}", digest, token[:10], now, owner))
        if len(batch) == 50_000:
            insert_batch(conn, batch)
            batch = []
    if batch:
        insert_batch(conn, batch)
    # Fold the write-ahead log into the database file, as a long-running
    # server would have by now.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    Path(sample_file).write_text("\n".join(sample) + "\n")


def insert_batch(conn, rows):
    conn.executemany(
        "INSERT INTO credentials (uuid, kind, org_uuid, owner_uuid, name, token_hash, display_prefix, "
        "created_at, created_by_type, created_by_uuid, created_by_name) "
        "VALUES (?, 'pat', ?, ?, ?, ?, ?, ?, 'user', ?, 'bench')", rows)
    conn.commit()


def seed_postgres(url, key, org, owner, count, sample_file, sample_size, workdir):
    csv = Path(workdir) / "credentials.csv"
    now = int(time.time())
    sample = []
    every = max(1, count // sample_size)
    with open(csv, "w") as f:
        for i in range(count):
            token = make_token("lkpat_")
            if i % every == 0 and len(sample) < sample_size:
                sample.append(token)
            digest = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
            f.write(f"{uuid.uuid4()},pat,{org},{owner},bench {i},{digest},{token[:10]},{now},user,{owner},bench\n")
    subprocess.run(
        ["psql", url, "-q", "-c",
         f"\\copy credentials (uuid, kind, org_uuid, owner_uuid, name, token_hash, display_prefix, created_at, "
         f"created_by_type, created_by_uuid, created_by_name) FROM '{csv}' CSV"],
        check=True)
    subprocess.run(["psql", url, "-q", "-c", "ANALYZE credentials"], check=True)
    Path(sample_file).write_text("\n".join(sample) + "\n")


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(name, url, args, headers=(), script=None, env=None, connections=None, duration=None, refused=False):
    """One wrk run; fails the benchmark unless every response it counted was
    of the expected class: 2xx or 3xx, or with `refused` 4xx or 5xx. (wrk
    counts a 3xx as a success: the sample requests before the runs rule out a
    redirect, such as a session sent to the sign-in page.)"""
    cmd = ["wrk", "-t", str(args.threads), "-c", str(connections or args.connections),
           "-d", f"{duration or args.duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True, env=dict(os.environ, **(env or {}))).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[int(pct)] = float(value) * UNIT[unit]
    total = int(re.search(r"^\s*(\d+) requests in ", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(errors.group(1)) if errors else 0
    if total == 0:
        fail(name, f"wrk counted no response:\n{out}")
    if refused and non2xx != total:
        fail(name, f"{total - non2xx} of {total} responses were 2xx or 3xx, every one should be refused:\n{out}")
    if not refused and non2xx:
        fail(name, f"{non2xx} of {total} responses were not 2xx or 3xx:\n{out}")
    return {"rps": rps, "p50": lat.get(50), "p99": lat.get(99), "requests": total}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=1_000_000, help="tokens stored (default 1,000,000)")
    p.add_argument("--sample", type=int, default=100_000, help="distinct stored tokens the random scenarios use")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario (per round for the cached ones)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds of the cached scenarios; medians are reported, so drift on a "
                        "shared machine hits every scenario alike")
    p.add_argument("--cold-connections", type=int, default=4,
                   help="connections for the cold scenario: its latency, not queueing for the pool")
    p.add_argument("--database-url", help="PostgreSQL server to create a bench database on (default: SQLite)")
    p.add_argument("--binary", help="latchkey binary (default: build and use target/release/latchkey)")
    p.add_argument("--nginx", help="nginx binary for the scenarios behind a proxy (default: /usr/sbin/nginx, "
                                   "else nginx on PATH); required")
    p.add_argument("--smoke", action="store_true", help="seconds, not minutes: 2,000 tokens, 1 s per scenario, debug build")
    args = p.parse_args()
    if args.smoke:
        args.tokens, args.sample, args.duration, args.connections, args.cold_connections = 2_000, 500, 1, 8, 2
        args.rounds = 1
    nginx = nginx_binary(args.nginx)
    ensure_wrk()
    # Stopped by a signal, the servers are still stopped (below, `finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("auth_bench: terminated"))

    binary = args.binary
    if not binary:
        profile = "dev" if args.smoke else "release"
        log(f"building latchkey ({profile})")
        subprocess.run(["cargo", "build", "-q", "--profile", profile, "-p", "latchkey"], cwd=ROOT, check=True)
        binary = str(ROOT / "target" / ("debug" if args.smoke else "release") / "latchkey")

    work = tempfile.mkdtemp(prefix="latchkey-bench-")
    data = Path(work) / "data"
    env = {"LATCHKEY_SETUP_ORG_NAME": "Bench", "LATCHKEY_SETUP_ADMIN_EMAIL": ADMIN_EMAIL,
           "LATCHKEY_SETUP_ADMIN_PASSWORD": ADMIN_PASSWORD, "LATCHKEY_LAST_USED_FLUSH_SECS": "60"}
    pg_db = None
    if args.database_url:
        pg_db = f"latchkey_bench_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", args.database_url, "-q", "-c", f"CREATE DATABASE {pg_db}"], check=True)
        pg_url = args.database_url.rsplit("/", 1)[0] + "/" + pg_db
        env["LATCHKEY_DATABASE_URL"] = pg_url
        env["LATCHKEY_SECRET_KEY"] = secrets.token_hex(32)
    servers = []
    try:
        server = Server(binary, data, free_port(), env)
        servers.append(server)
        base = server.base

        # A session, a PAT and an API key, through the API.
        req = urllib.request.Request(base + "/api/v1/login", method="POST",
                                     data=json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            login = json.loads(resp.read())["results"]
            cookie = resp.headers["Set-Cookie"].split(";")[0]
        session = {"Cookie": cookie, "X-CSRF-Token": login["csrfToken"]}
        org, owner = login["org"]["uuid"], login["user"]["uuid"]
        status, _, created = http(base, "POST", "/api/v1/user/me/personal-access-tokens", {"name": "bench"}, session)
        if status != 201:
            fail("setup", f"creating the PAT got {status}: {created}")
        pat, pat_uuid = created["results"]["token"], created["results"]["uuid"]
        status, _, created = http(base, "POST", "/api/v1/org/api-keys", {"name": "bench", "role": "admin"}, session)
        if status != 201:
            fail("GET /api/v1/user, API key", f"creating the API key got {status}: {created}")
        api_key, api_key_uuid = created["results"]["token"], created["results"]["uuid"]
        status, _, created = http(base, "POST", "/api/v1/org/projects", {"name": "bench"}, session)
        if status != 201:
            fail("setup", f"creating the project got {status}: {created}")
        project = created["results"]["projectUuid"]

        # A session's pages, before the admin owns the stored tokens (the
        # personal list and its page show every one of them).
        def pats_listed(answer):
            listed = field(answer, "results")
            return isinstance(listed, list) and pat_uuid in [t.get("uuid") for t in listed]

        def page_lists_pat(name):
            status, headers, body = request(base, "GET", "/settings/tokens", headers={"Cookie": cookie})
            page = body.decode(errors="replace")
            if (status != 200 or '<table id="tokens">' not in page
                    or f'<tr data-token="{pat_uuid}"' not in page):
                where = f" (Location: {headers.get('location') or headers.get('Location')})" if 300 <= status < 400 else ""
                fail(name, f"expected 200 with the token table listing the PAT {pat_uuid}; the sample request "
                           f"got {status}{where}: {page[:300]!r}")

        results = []
        sessions = [
            ("GET /api/v1/user/me/personal-access-tokens, session", "/api/v1/user/me/personal-access-tokens",
             lambda name: expect_json(name, base, "GET", "/api/v1/user/me/personal-access-tokens", None,
                                      {"Cookie": cookie}, 200, pats_listed, f"a JSON list holding the PAT {pat_uuid}")),
            ("GET /settings/tokens (page), session", "/settings/tokens", page_lists_pat),
        ]
        for name, path, sample in sessions:
            sample(name)
            runs = []
            for i in range(args.rounds):
                log(f"{name} (round {i + 1} of {args.rounds})")
                runs.append(run_wrk(name, base + path, args, headers=[f"Cookie: {cookie}"]))
            median = lambda key: sorted(r[key] or 0 for r in runs)[len(runs) // 2]
            results.append({"name": name, "rps": median("rps"), "p50": median("p50"), "p99": median("p99")})

        log(f"storing {args.tokens:,} tokens")
        t0 = time.time()
        sample_file = Path(work) / "tokens.txt"
        key_bytes = (env.get("LATCHKEY_SECRET_KEY") or (data / "secret.key").read_text().strip()).encode()
        if pg_db:
            seed_postgres(env["LATCHKEY_DATABASE_URL"], key_bytes, org, owner, args.tokens, sample_file, args.sample, work)
        else:
            seed_sqlite(data / "latchkey.db", key_bytes, org, owner, args.tokens, sample_file, args.sample)
        log(f"stored in {time.time() - t0:.1f} s")
        seeded = sample_file.read_text().split()

        def seeded_verify(name, base):
            # Every seeded token the random scenarios send must be one the
            # server knows: an unknown one is answered 200 `valid: false`.
            step = max(1, len(seeded) // SEEDED_CHECKS)
            for token in seeded[::step][:SEEDED_CHECKS]:
                expect_json(name, base, "POST", "/api/v1/auth/verify", {"token": token}, None, 200,
                            lambda a: field(a, "results", "valid") is True
                            and field(a, "results", "principal", "uuid") == owner
                            and field(a, "results", "credential", "kind") == "pat",
                            f"valid: true for the seeded token {token[:10]}… of {owner}")

        wrong = make_token("lkpat_")

        def scenario(name, path, **kw):
            log(name)
            r = run_wrk(name, base + path, args, **kw)
            r["name"] = name
            results.append(r)
            return r

        def warm_up(name, path, script, env):
            # Walk every sample token once (unmeasured) so the cache holds them.
            seconds = max(2, args.sample // 5_000)
            log(f"warming the cache with {args.sample:,} tokens ({seconds} s)")
            run_wrk(f"{name} (warming up)", base + path, args, script=script, env=env, duration=seconds)

        def user_is(kind, uuid):
            return lambda a: (field(a, "results", "principal", "uuid") == uuid
                              and field(a, "results", "credential", "kind") == kind)

        def verify_allowed(a):
            return field(a, "results", "valid") is True and field(a, "results", "allowed") is True

        lua = Path(work) / "verify.lua"
        lua.write_text(VERIFY_LUA)
        verify_body = {"token": pat, "scope": "content:read"}
        project_body = {"token": pat, "scope": "content:read", "projectUuid": project}
        # (name, path, wrk arguments, the sample request's expected status, check and description)
        cached = [
            ("GET /healthz (baseline)", "/healthz", {}, None),
            ("GET /api/v1/user, PAT", "/api/v1/user", {"headers": [f"Authorization: ApiKey {pat}"]},
             ("GET", None, {"Authorization": f"ApiKey {pat}"}, 200, user_is("pat", owner), f"the user {owner}")),
            ("GET /api/v1/user, API key", "/api/v1/user", {"headers": [f"Authorization: ApiKey {api_key}"]},
             ("GET", None, {"Authorization": f"ApiKey {api_key}"}, 200, user_is("api_key", api_key_uuid),
              f"the API key {api_key_uuid}")),
            ("GET /api/v1/user, wrong token (401)", "/api/v1/user",
             {"headers": [f"Authorization: ApiKey {wrong}"], "refused": True},
             ("GET", None, {"Authorization": f"ApiKey {wrong}"}, 401,
              lambda a: field(a, "error", "code") == "invalid_token", "code invalid_token")),
            ("POST /api/v1/auth/verify, PAT", "/api/v1/auth/verify", {
                "script": str(lua), "env": {"LATCHKEY_VERIFY_BODY": json.dumps(verify_body)}},
             ("POST", verify_body, None, 200, verify_allowed, "valid: true, allowed: true")),
            ("POST /api/v1/auth/verify, PAT, scope + projectUuid", "/api/v1/auth/verify", {
                "script": str(lua), "env": {"LATCHKEY_VERIFY_BODY": json.dumps(project_body)}},
             ("POST", project_body, None, 200, verify_allowed, "valid: true, allowed: true")),
            (FORWARD, f"/auth/forward?scope=content:read&project={project}",
             {"headers": [f"Authorization: Bearer {pat}"]}, None),
        ]
        cached.append(introspection_scenario(binary, data, env, base, pat, owner, work))
        proxy = Nginx(nginx, work, server.port)
        servers.append(proxy)
        expect_nginx(NGINX_PLAIN, proxy.plain_base, None, 200)
        expect_nginx(NGINX_AUTH, proxy.auth_base, {"Authorization": f"Bearer {pat}"}, 200, owner)
        expect_nginx(f"{NGINX_AUTH} (no token)", proxy.auth_base, None, 401)
        cached += [(NGINX_PLAIN, proxy.plain_base + "/", {}, None),
                   (NGINX_AUTH, proxy.auth_base + "/", {"headers": [f"Authorization: Bearer {pat}"]}, None)]
        for name, path, _, sample in cached:
            if sample:
                method, body, headers, status, check, what = sample
                expect_json(name, base, method, path, body, headers, status, check, what)
        expect_forward(FORWARD, base, f"/auth/forward?scope=content:read&project={project}", pat, owner)
        rounds = {name: [] for name, _, _, _ in cached}
        for i in range(args.rounds):
            for name, path, kw, _ in cached:
                log(f"{name} (round {i + 1} of {args.rounds})")
                url = path if path.startswith("http") else base + path
                rounds[name].append(run_wrk(name, url, args, **kw))
        for name, _, _, _ in cached:
            runs = rounds[name]
            median = lambda key: sorted(r[key] or 0 for r in runs)[len(runs) // 2]
            results.append({"name": name, "rps": median("rps"), "p50": median("p50"), "p99": median("p99")})
        random_lua = Path(work) / "random.lua"
        random_lua.write_text(RANDOM_VERIFY_LUA)
        walk_lua = Path(work) / "walk.lua"
        walk_lua.write_text(WALK_VERIFY_LUA)
        warm_name = f"POST /api/v1/auth/verify, {args.sample:,} random tokens, cache on"
        seeded_verify(warm_name, base)
        warm_up(warm_name, "/api/v1/auth/verify", str(walk_lua),
                {"LATCHKEY_TOKENS_FILE": str(sample_file), "LATCHKEY_WRK_THREADS": str(args.threads)})
        scenario(warm_name, "/api/v1/auth/verify", script=str(random_lua), env={"LATCHKEY_TOKENS_FILE": str(sample_file)})
        warm_rss = server.rss_mib()
        warm_peak = server.peak_rss_mib()
        proxy.stop()
        servers.remove(proxy)
        server.stop()
        servers.remove(server)

        # The same data with the cache off: every verification reads the database.
        cold_server = Server(binary, data, free_port(), dict(env, LATCHKEY_AUTH_CACHE_CAPACITY="0"))
        servers.append(cold_server)
        base = cold_server.base
        cold_name = f"POST /api/v1/auth/verify, {args.sample:,} random tokens, cache off (cold)"
        seeded_verify(cold_name, base)
        scenario(f"{cold_name}, {args.cold_connections} conns", "/api/v1/auth/verify", connections=args.cold_connections,
                 script=str(random_lua), env={"LATCHKEY_TOKENS_FILE": str(sample_file)})
        scenario(f"{cold_name}, {args.connections} conns", "/api/v1/auth/verify",
                 script=str(random_lua), env={"LATCHKEY_TOKENS_FILE": str(sample_file)})
        cold_peak = cold_server.peak_rss_mib()
    finally:
        for s in servers:
            s.stop()
        if pg_db:
            subprocess.run(["psql", args.database_url, "-q", "-c", f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"])
        shutil.rmtree(work, ignore_errors=True)

    baseline = next(r["rps"] for r in results if r["name"] == "GET /healthz (baseline)")
    backend = "PostgreSQL" if pg_db else "SQLite"
    print()
    print(f"latchkey authentication benchmark: {backend}, {args.tokens:,} tokens stored, "
          f"{args.connections} connections, {args.threads} wrk threads, {args.duration} s each, "
          f"cached scenarios: median of {args.rounds} interleaved rounds, {os.cpu_count()} CPUs")
    print(f"{'scenario':<78} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs /healthz':>12}")
    for r in results:
        ratio = r["rps"] / baseline if baseline else 0
        print(f"{r['name']:<78} {r['rps']:>10,.0f} {r['p50'] or 0:>8.3f} {r['p99'] or 0:>8.3f} {ratio:>11.2f}x")
    by = {r["name"]: r for r in results}
    pat_r = by.get("GET /api/v1/user, PAT")
    key_r = by.get("GET /api/v1/user, API key")
    if pat_r and key_r:
        print(f"PAT / API key throughput: {pat_r['rps'] / key_r['rps']:.2f}")
    for a, b in [("POST /api/v1/auth/verify, PAT, scope + projectUuid", "POST /api/v1/auth/verify, PAT"),
                 (FORWARD, "POST /api/v1/auth/verify, PAT, scope + projectUuid"),
                 ("POST /oauth2/introspect, PAT, resource server (Basic)", "POST /api/v1/auth/verify, PAT"),
                 (NGINX_AUTH, NGINX_PLAIN),
                 ("GET /settings/tokens (page), session", "GET /api/v1/user/me/personal-access-tokens, session")]:
        if by.get(a) and by.get(b) and by[b]["rps"]:
            print(f"{a} / {b}: {by[a]['rps'] / by[b]['rps']:.2f}")
    print(f"server memory: {warm_rss:.0f} MiB resident after the warm run "
          f"(peak {warm_peak:.0f} MiB, cache up to {args.sample:,} of {args.tokens:,} tokens); "
          f"peak {cold_peak:.0f} MiB with the cache off")


if __name__ == "__main__":
    main()
