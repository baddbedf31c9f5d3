"""Starting and watching one `latchkey serve` for the abuse scripts."""

import os
import re
import resource
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
ADMIN_EMAIL = "bench@latchkey.test"
ADMIN_PASSWORD = "bench-admin-password"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def raise_own_fd_limit():
    """This script opens thousands of sockets itself."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """`latchkey serve` on 127.0.0.1 with a temporary data directory.

    `nofile` sets the child's soft and hard RLIMIT_NOFILE (like `ulimit -n`
    in its shell), to reproduce a small limit."""

    def __init__(self, binary, env=None, nofile=None):
        self.dir = tempfile.TemporaryDirectory(prefix="latchkey-abuse-")
        full_env = dict(os.environ)
        for k in list(full_env):
            if k.startswith("LATCHKEY_"):
                del full_env[k]
        full_env.update(
            {
                "LATCHKEY_LOG": "info",
                "LATCHKEY_SETUP_ORG_NAME": "Bench",
                "LATCHKEY_SETUP_ADMIN_EMAIL": ADMIN_EMAIL,
                "LATCHKEY_SETUP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            }
        )
        full_env.update(env or {})

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.log_lines = []
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--bind", "127.0.0.1:0", "--data-dir", self.dir.name + "/data"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=limit,
            text=True,
            errors="replace",
        )
        self._addr = None
        self._ready = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._ready.wait(60):
            self.stop()
            raise RuntimeError("the server did not start:\n" + "\n".join(self.log_lines[-20:]))
        host, port = self._addr.rsplit(":", 1)
        self.host, self.port = host, int(port)

    def _read_log(self):
        for line in self.proc.stdout:
            line = ANSI.sub("", line.rstrip("\n"))
            self.log_lines.append(line)
            m = re.search(r"addr=(\S+)", line)
            if m and not self._ready.is_set():
                self._addr = m.group(1)
                self._ready.set()

    def status(self, field):
        """A `/proc/<pid>/status` figure in kB (VmRSS, VmHWM), or None."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def open_fds(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return None

    def threads(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/task"))
        except OSError:
            return None

    def log_count(self, pattern):
        return sum(1 for line in self.log_lines if pattern in line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def default_binary():
    return ROOT / "target" / "release" / "latchkey"


def mb(kb):
    return "?" if kb is None else f"{kb / 1024:.0f} MB"


def now():
    return time.monotonic()
