"""``python -m bench``: Keyplane's hot paths against the raw-ASGI floor, under wrk.

Starts the floor app and Keyplane (SQLite in a scratch folder, one process each, the same
uvicorn settings), runs each load for a bounded time on 127.0.0.1 and prints requests/s,
p50, p99 and the ratio to the floor. Needs ``wrk`` (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

console = Console()
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds}s")


def _serve(app: str, port: int, env: dict[str, str], factory: bool) -> subprocess.Popen[bytes]:
    command = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--log-level", "warning", "--no-access-log", "--no-date-header"]
    if factory:
        command.append("--factory")
    return subprocess.Popen(command, env=env)


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(name: str, url: str, seconds: int, connections: int, script: Path | None) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _millis(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _millis(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        console.print(f"[yellow]{name}: socket errors: {socket_errors.group(1)}[/]")
    return Result(name, rps, p50, p99, int(bad.group(1)) if bad else 0)


def _lua(folder: Path, method: str, headers: dict[str, str], body: str | None) -> Path:
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    path = folder / f"{method.lower()}-{len(list(folder.iterdir()))}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def _license(api: str, auth: dict[str, str]) -> str:
    """A product, a node-locked policy and a license with one machine: what validate-key checks."""

    def made(path: str, type_: str, attributes: dict[str, object], **related: str) -> str:
        relationships = {
            name: {"data": {"type": kind, "id": id_}}
            for name, (kind, id_) in ((name, value.split(":", 1)) for name, value in related.items())
        }
        data: dict[str, object] = {"type": type_, "attributes": attributes}
        if relationships:
            data["relationships"] = relationships
        body = {"data": data}
        answer = httpx.post(f"{api}/{path}", json=body, headers=auth)
        answer.raise_for_status()
        return str(answer.json()["data"]["id"])

    product = made("products", "products", {"name": "Bench"})
    policy = made("policies", "policies", {"name": "Bench", "strict": True}, product=f"products:{product}")
    license_id = made("licenses", "licenses", {}, policy=f"policies:{policy}")
    made("machines", "machines", {"fingerprint": "bench-machine"}, license=f"licenses:{license_id}")
    answer = httpx.get(f"{api}/licenses/{license_id}", headers=auth)
    return str(answer.json()["data"]["attributes"]["key"])


def init_account(env: dict[str, str]) -> tuple[str, str]:
    """A fresh account for this run (a shared database may hold older ones): slug, admin key."""
    slug = f"bench-{secrets.token_hex(4)}"
    made = json.loads(
        subprocess.run(
            [
                str(BIN / "keyplane"),
                "init",
                "--account",
                slug,
                "--email",
                "bench@example.com",
                "--password",
                "bench-password",
                "--json",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return slug, str(made["apiKey"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of each load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--database-url",
        default="",
        help="an existing database to use (e.g. postgresql://postgres@127.0.0.1:5432/test); "
        "default: a scratch SQLite file",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as scratch:
        folder = Path(scratch)
        env = {**os.environ, "KEYPLANE_DATA_DIR": str(folder), "KEYPLANE_LOG_LEVEL": "warning"}
        env.pop("KEYPLANE_DATABASE_URL", None)
        if args.database_url:
            env["KEYPLANE_DATABASE_URL"] = args.database_url
        slug, admin_key = init_account(env)
        results: list[Result] = []

        port = _free_port()
        floor = _serve("bench.floor:app", port, env, factory=False)
        try:
            _wait(f"http://127.0.0.1:{port}/", floor)
            results.append(
                _wrk("floor (raw ASGI)", f"http://127.0.0.1:{port}/", args.seconds, args.connections, None)
            )
        finally:
            floor.terminate()
            floor.wait(10)

        port = _free_port()
        server = _serve("keyplane.app:create_app", port, env, factory=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/v1/ping", server)
            auth = {"Authorization": f"Bearer {admin_key}"}
            # The bench's own account: a shared database may hold older ones.
            api = f"{base}/v1/accounts/{slug}"
            key = httpx.post(f"{api}/api-keys", json={"name": "bench"}, headers=auth).json()
            get_script = _lua(folder, "GET", auth, None)
            results.append(
                _wrk(
                    "GET /v1/api-keys/{id}",
                    f"{api}/api-keys/{key['id']}",
                    args.seconds,
                    args.connections,
                    get_script,
                )
            )
            verify = _lua(
                folder, "POST", {**auth, "Content-Type": "application/json"}, json.dumps({"key": key["key"]})
            )
            results.append(
                _wrk(
                    "POST /v1/api-keys/verify",
                    f"{api}/api-keys/verify",
                    args.seconds,
                    args.connections,
                    verify,
                )
            )
            license_key = _license(api, auth)
            validate = _lua(
                folder,
                "POST",
                {"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"},
                json.dumps({"meta": {"key": license_key, "scope": {"fingerprint": "bench-machine"}}}),
            )
            results.append(
                _wrk(
                    "POST validate-key (signed)",
                    f"{api}/licenses/actions/validate-key",
                    args.seconds,
                    args.connections,
                    validate,
                )
            )
            results.append(_wrk("GET /v1/ping", f"{base}/v1/ping", args.seconds, args.connections, None))
        finally:
            server.terminate()
            server.wait(10)

    floor_rps = results[0].rps
    backend = args.database_url.partition(":")[0] if args.database_url else "SQLite"
    title = f"uvicorn, 1 worker, wrk -t1 -c{args.connections}, {args.seconds}s each, {backend}"
    table = Table(title=title)
    for column in ("target", "requests/s", "p50 ms", "p99 ms", "vs floor", "non-2xx"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for r in results:
        table.add_row(
            r.name,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.rps / floor_rps:.1%}",
            str(r.errors),
        )
    console.print(table)


if __name__ == "__main__":
    main()
