"""A real ``keyplane serve`` (and ``keyplane`` commands) on a test's database, for tests that
talk HTTP over a socket: curl, the Keygen client libraries."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from keyplane.db import Database, async_url
from tests.rows import delete_every_row

KEYPLANE = Path(sys.executable).parent / "keyplane"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def environment(database_url: str, secret_key: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its ``KEYPLANE_*`` settings, plus the test's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
    env |= {
        "KEYPLANE_DATA_DIR": str(data_dir),
        "KEYPLANE_DATABASE_URL": database_url,
        "KEYPLANE_SECRET_KEY": secret_key,
    }
    return env | {f"KEYPLANE_{name.upper()}": value for name, value in extra.items()}


def run(env: Mapping[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``keyplane <args>`` to completion, its output captured."""
    return subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [str(KEYPLANE), *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def refused(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The one line a command that refused to start printed: exit status 1, nothing on stdout,
    one line on stderr (no traceback) holding every ``expected`` text."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for piece in expected:
        assert piece in line, line
    return line


def init(env: Mapping[str, str], account: str, email: str, password: str) -> dict[str, str]:
    """``keyplane init --json``: the new account's ids, admin API key and public key."""
    done = subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [str(KEYPLANE), "init", "--account", account, "--email", email, "--password", password, "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    made: dict[str, str] = json.loads(done.stdout)
    return made


def _open_files(limit: int | None) -> Callable[[], None] | None:
    """Set a child's soft limit on open files (a host's low default, for instance)."""
    if limit is None:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    return apply


def start(
    env: Mapping[str, str], log_path: Path, *, open_files: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``keyplane serve`` on a free port, once it answers: (the process, its base URL). The
    caller ends it (``serve`` does; a test that kills it mid-flight does so itself)."""
    port = free_port()
    with log_path.open("a") as log:
        server = subprocess.Popen(  # noqa: S603 - our own entry point with fixed arguments
            [str(KEYPLANE), "serve", "--port", str(port)],
            env=dict(env),
            stdout=log,
            stderr=log,
            preexec_fn=_open_files(open_files),  # only a setrlimit between fork and exec
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/v1/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "keyplane serve did not answer in time"
            time.sleep(0.1)
    except BaseException:
        stop(server)
        raise
    return server, base


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


@contextmanager
def serve(env: Mapping[str, str], log_path: Path, *, open_files: int | None = None) -> Iterator[str]:
    """``keyplane serve`` on a free port until the block ends; yields its base URL.
    ``open_files``: the soft limit on open files the server starts with."""
    log_path.write_text("")
    server, base = start(env, log_path, open_files=open_files)
    try:
        yield base
    finally:
        stop(server)


async def empty(database_url: str) -> None:
    """Delete every row a live server's test made (the schema stays)."""
    database = Database(async_url(database_url))
    try:
        await delete_every_row(database)
    finally:
        await database.dispose()
