"""Faults to put Keyplane through, on real servers: a TCP proxy that freezes, cuts and
restores the connections it carries, and a ``redis-server`` of a test's own to stop and kill.

The shared PostgreSQL and Redis servers are never stopped: a test puts a ``Proxy`` in front
of one (Keyplane connects to the proxy), or starts its own ``RedisServer`` on a spare port.
"""

from __future__ import annotations

import contextlib
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.live import free_port

_LINGER_RESET = struct.pack("ii", 1, 0)
"""``SO_LINGER`` on, zero seconds: ``close()`` sends an RST instead of a FIN."""


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    with contextlib.suppress(OSError):
        sock.close()


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``(host, target_port)``, in a thread of its own.

    - ``freeze()``: bytes stop moving both ways, and new connections are accepted but carry
      nothing; every socket stays open (a frozen server, or a network partition: no RST).
    - ``cut()``: every connection is reset, and new ones are reset as soon as they arrive (a
      server that went away).
    - ``restore()``: connections carry bytes again (those a cut reset stay closed).
    """

    def __init__(self, host: str, target_port: int) -> None:
        self.target = (host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._state = "open"
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    def freeze(self) -> None:
        with self._lock:
            self._state = "frozen"

    def cut(self) -> None:
        with self._lock:
            self._state = "cut"
            for sock in list(self._peers):
                self._drop(sock)

    def restore(self) -> None:
        with self._lock:
            self._state = "open"

    def close(self) -> None:
        self._stopped = True
        self._thread.join(timeout=5)
        with self._lock:
            for sock in list(self._peers):
                self._drop(sock)
        self._selector.close()
        self._listener.close()

    def _drop(self, sock: socket.socket) -> None:
        other = self._peers.pop(sock, None)
        for each in (sock, other):
            if each is None:
                continue
            self._peers.pop(each, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(each)
            _reset(each)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self._state == "cut":
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._selector.register(sock, selectors.EVENT_READ)
        self._peers[client] = upstream
        self._peers[upstream] = client

    def _forward(self, sock: socket.socket) -> None:
        other = self._peers.get(sock)
        if other is None:
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self._drop(sock)

    def _run(self) -> None:
        while not self._stopped:
            events = self._selector.select(timeout=0.05)
            with self._lock:
                for key, _ in events:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept()
                    elif self._state == "open":
                        self._forward(sock)
                frozen = self._state == "frozen"
            if frozen:
                # Nothing is read while frozen, so readable sockets would wake select at once.
                time.sleep(0.05)


@contextlib.contextmanager
def proxy(host: str, port: int) -> Iterator[Proxy]:
    made = Proxy(host, port)
    try:
        yield made
    finally:
        made.close()


class RedisServer:
    """A ``redis-server`` of this test's own on a spare loopback port, nothing kept on disk."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        self._binary = binary
        self._workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - the system's redis-server, fixed arguments
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets open and answers nothing."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: the kernel closes its sockets; ``start()`` brings a new one on the same port."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        self.kill()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
