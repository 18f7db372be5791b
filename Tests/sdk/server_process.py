"""Starts and stops a real `cyberdesk-server` for the SDK compatibility suite.

The server contract this relies on:

* `cyberdesk-server serve --host 127.0.0.1 --port 0 --data-dir DIR` binds an
  ephemeral port and prints exactly `cyberdesk-server listening on http://127.0.0.1:PORT`
  on stdout once the listener is bound. Logs go to stderr.
* On first start it writes the admin API key to `DIR/admin-api-key` (0600, key + newline).
* `cyberdesk-server keys create --data-dir DIR --org NAME [--name N]` prints a new key
  as the only stdout line and works while the server runs.
* SIGTERM stops the server.

No fixed sleeps: startup waits on the stdout line with a deadline, and every failure
message carries the tail of the server's stderr.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING_LINE = re.compile(r"^cyberdesk-server listening on (http://127\.0\.0\.1:(\d+))$")
START_TIMEOUT_SECONDS = float(os.environ.get("CYBERDESK_SERVER_START_TIMEOUT", "60"))
STOP_TIMEOUT_SECONDS = 15.0
CLI_TIMEOUT_SECONDS = 60.0


class ServerStartError(RuntimeError):
    """The server binary is missing, exited early, or never printed its listening line."""


def server_binary() -> Path:
    """`$CYBERDESK_SERVER_BIN` if set, else the debug build in this repository."""
    configured = os.environ.get("CYBERDESK_SERVER_BIN")
    if configured:
        return Path(configured).expanduser().resolve()
    return REPO_ROOT / ".build" / "debug" / "cyberdesk-server"


def tail_of_file(path: Path, lines: int = 60, max_bytes: int = 64 * 1024) -> str:
    """The last `lines` lines of a (possibly large, possibly missing) log file."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return "(no stderr file)"
    text = data.decode("utf-8", errors="replace")
    selected = text.splitlines()[-lines:]
    return "\n".join(selected) if selected else "(stderr is empty)"


@dataclass
class RunningServer:
    binary: Path
    data_dir: Path
    stderr_path: Path
    process: subprocess.Popen
    url: str = ""
    port: int = 0
    admin_key: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    _stderr_file: Optional[object] = None
    _reader: Optional[threading.Thread] = None

    # ----- inspection -------------------------------------------------------------

    @property
    def admin_key_path(self) -> Path:
        return self.data_dir / "admin-api-key"

    def read_admin_key(self, timeout: float = 10.0) -> str:
        """Reads `DIR/admin-api-key`, polling briefly in case it lands just after the listening line."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                key = self.admin_key_path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                key = ""
            if key:
                return key
            if time.monotonic() >= deadline or not self.is_running():
                raise ServerStartError(
                    self.describe_failure(f"{self.admin_key_path} is missing or empty after startup")
                )
            time.sleep(0.05)

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self, lines: int = 60) -> str:
        return tail_of_file(self.stderr_path, lines)

    def describe_failure(self, headline: str) -> str:
        stdout = "\n".join(self.stdout_lines[-20:]) or "(nothing)"
        if self.admin_key:
            stdout = stdout.replace(self.admin_key, "<admin key>")
        return (
            f"{headline}\n"
            f"  binary:   {self.binary}\n"
            f"  data dir: {self.data_dir}\n"
            f"  exit code: {'still running' if self.process.poll() is None else self.process.returncode}\n"
            f"--- server stdout (last lines) ---\n{stdout}\n"
            f"--- server stderr ({self.stderr_path}, last lines) ---\n{self.stderr_tail()}"
        )

    # ----- command-line subcommands ----------------------------------------------

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
        """Runs `cyberdesk-server ARGS...` (e.g. `keys list --data-dir DIR`), on this server's
        database when it is PostgreSQL."""
        if "--data-dir" in args:
            args = (*args, *database_arguments(self.data_dir))
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def create_api_key(self, org: str, name: Optional[str] = None) -> str:
        """`keys create --data-dir DIR --org ORG [--name N]`; returns the printed key."""
        args = ["keys", "create", "--data-dir", str(self.data_dir), "--org", org]
        if name:
            args += ["--name", name]
        result = self.cli(*args)
        if result.returncode != 0:
            raise AssertionError(
                f"`cyberdesk-server {' '.join(args)}` exited {result.returncode}\n"
                f"stderr:\n{result.stderr}"
            )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise AssertionError(
                f"`keys create` must print the key as the only stdout line, got {len(lines)} lines"
            )
        return lines[0].strip()

    # ----- lifecycle --------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> Optional[int]:
        """SIGTERM, wait; SIGKILL if it does not stop. Returns the exit code, or None if killed."""
        exit_code: Optional[int]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                exit_code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
                exit_code = None
        else:
            exit_code = self.process.returncode
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        return exit_code


def _pump_stdout(proc: subprocess.Popen, lines: list[str], ready: "queue.Queue[Optional[str]]") -> None:
    """Reads the server's stdout until EOF so the pipe never fills up; reports the URL line."""
    assert proc.stdout is not None
    announced = False
    for raw in proc.stdout:
        line = raw.rstrip("\r\n")
        lines.append(line)
        if not announced:
            match = LISTENING_LINE.match(line)
            if match:
                announced = True
                ready.put(match.group(1))
    ready.put(None)


def database_arguments(data_dir: Path) -> list:
    """`--database` for PostgreSQL runs of the suite (CYBERDESK_SDK_POSTGRES_URL set): one
    schema per data directory, so a server restarted on the same data directory finds its
    data again and every other server starts empty."""
    url = os.environ.get("CYBERDESK_SDK_POSTGRES_URL")
    if not url:
        return []
    schema = "sdk_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE SCHEMA IF NOT EXISTS {schema}"],
        check=True,
        capture_output=True,
    )
    separator = "&" if "?" in url else "?"
    return ["--database", f"{url}{separator}search_path={schema}"]


def start_server(data_dir: Path, log_dir: Path, *, log_name: str = "server-stderr.log") -> RunningServer:
    """Starts `cyberdesk-server serve` on an ephemeral port and waits for its listening line."""
    binary = server_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise ServerStartError(
            f"cyberdesk-server binary not found or not executable at {binary}.\n"
            "Build it first (`swift build --product cyberdesk-server`) or set CYBERDESK_SERVER_BIN."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / log_name
    stderr_file = open(stderr_path, "ab")
    env = dict(os.environ)
    env.setdefault("NO_COLOR", "1")
    proc = subprocess.Popen(
        [str(binary), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
        + database_arguments(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        env=env,
    )
    server = RunningServer(
        binary=binary, data_dir=data_dir, stderr_path=stderr_path, process=proc, _stderr_file=stderr_file
    )
    ready: "queue.Queue[Optional[str]]" = queue.Queue()
    reader = threading.Thread(
        target=_pump_stdout, args=(proc, server.stdout_lines, ready), name="cyberdesk-server-stdout", daemon=True
    )
    reader.start()
    server._reader = reader

    try:
        url = ready.get(timeout=START_TIMEOUT_SECONDS)
    except queue.Empty:
        message = server.describe_failure(
            f"cyberdesk-server did not print 'cyberdesk-server listening on http://127.0.0.1:PORT' "
            f"within {START_TIMEOUT_SECONDS:.0f} s (set CYBERDESK_SERVER_START_TIMEOUT to wait longer)"
        )
        server.stop()
        raise ServerStartError(message) from None
    if url is None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        message = server.describe_failure(
            "cyberdesk-server closed its stdout (or exited) before printing its listening line"
        )
        server.stop()
        raise ServerStartError(message)

    server.url = url
    server.port = int(url.rsplit(":", 1)[1])
    return server
