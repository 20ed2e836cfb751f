"""Structured logs: one JSON object a line (or a readable text line), for Keyplane's own
records, uvicorn's (under ``keyplane serve``) and the access line of every request.

A record's message is its event name (``bus.disconnected``) and its ``extra`` becomes
fields. The access line is not a ``logging`` record: building a ``LogRecord`` and running
it through handlers costs several times what a lean verification costs, so the line is
formatted directly and the lines of one event-loop turn are written together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
import traceback
from typing import Any, TextIO

from keyplane.config import Settings
from keyplane.observe.exchange import current_id

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)
"""Attributes every record has (and uvicorn's terminal-coloured copy of its message); the
others came in through ``extra``."""
_HANDLER_MARK = "_keyplane_handler"


def json_wanted(settings: Settings, stream: TextIO | None = None) -> bool:
    """``log_format``, or json unless the stream (stderr) is a terminal."""
    if settings.log_format is not None:
        return settings.log_format == "json"
    stream = stream or sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


class _Stamp:
    """``2026-12-07T00:45:05.123Z``, made once a millisecond."""

    millisecond = -1
    text = ""

    @classmethod
    def now(cls) -> str:
        millisecond = int(time.time() * 1000)
        if millisecond != cls.millisecond:
            second, fraction = divmod(millisecond, 1000)
            cls.text = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(second))}.{fraction:03d}Z"
            cls.millisecond = millisecond
        return cls.text


stamp = _Stamp.now


_DETAIL = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)
"""PostgreSQL's DETAIL line, which quotes the row a statement broke a rule with (``Key
(lookup)=(...) already exists``): asyncpg puts it in its errors' text."""


def exception_text(exc_info: Any) -> str:
    """A traceback for a log record, with PostgreSQL's DETAIL lines left out: they may quote
    a credential's digest, a license key or any other value of the row at fault (the
    statement's own parameters are kept out by ``hide_parameters``)."""
    text = "".join(traceback.format_exception(*exc_info)).rstrip()
    return _DETAIL.sub(r"\1 (left out of the log: it may quote a stored value)", text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {name: value for name, value in record.__dict__.items() if name not in _STANDARD}
    request_id = current_id.get()
    if request_id is not None:
        fields.setdefault("requestId", request_id)
    return fields


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "event", ...extra, "requestId"?, "exception"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": stamp(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = exception_text(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger event key=value ...``, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{name}={value}" for name, value in _fields(record).items())
        line = f"{stamp()} {record.levelname:<7} {record.name} {record.getMessage()} {pairs}".rstrip()
        if record.exc_info:
            line += "\n" + exception_text(record.exc_info)
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # typeshed's generic is the stream's type
    """Writes to whatever ``sys.stderr`` is when a record comes (a test may capture it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return None


def formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if json_wanted(settings) else TextFormatter()


def install(settings: Settings) -> None:
    """Give the ``keyplane`` loggers one handler of Keyplane's format at ``log_level`` (the
    one installed before, if any, is replaced: one per process, whichever app came last)."""
    logger = logging.getLogger("keyplane")
    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(formatter(settings))
    logger.addHandler(handler)
    logger.setLevel(settings.log_level.upper())


def uvicorn_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``log_config``: its own records in Keyplane's format (its access log is off:
    Keyplane writes the access line)."""
    name = "json" if json_wanted(settings) else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {name: {"()": f"{__name__}.{type(formatter(settings)).__name__}"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": name, "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": settings.log_level.upper(), "propagate": False},
            "uvicorn.error": {"level": settings.log_level.upper()},
        },
    }


_Entry = tuple[str, str, str, int | None, float, str | None, str | None]
"""One request's access line before formatting: (request id, method, route, status,
seconds, account id, credential id)."""


class AccessLog:
    """The access line of every request, written to stderr once per event-loop turn.

    A request only queues its fields; the lines of a turn are formatted and written
    together when the turn ends, stamped with that instant (the same millisecond, or
    within the turn, as the requests ended). Formatting them one by one on the request's
    path cost twice as much, most of it in reading and formatting the clock."""

    def __init__(self, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stream = stream
        """Where lines go; None: ``sys.stderr`` as it is when they are written."""
        self._pending: list[_Entry] = []
        self._routes: dict[str, str] = {}

    def record(
        self,
        request_id: str,
        method: str,
        route: str,
        status: int | None,
        seconds: float,
        account: str | None,
        credential: str | None,
    ) -> None:
        """Queue one request's line. ``route`` is a template or a redacted path; the id and
        the method need no escaping (a sane id; an HTTP token)."""
        pending = self._pending
        if not pending:
            asyncio.get_running_loop().call_soon(self.flush)
        pending.append((request_id, method, route, status, seconds, account, credential))

    def flush(self) -> None:
        """Format and write every queued line at once."""
        if not self._pending:
            return
        entries, self._pending = self._pending, []
        text = "".join(self._json(entries) if self.as_json else self._text(entries))
        stream = self.stream or sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr loses the lines, not the requests
            return

    def _json(self, entries: list[_Entry]) -> list[str]:
        ts = stamp()
        routes = self._routes
        lines = []
        for request_id, method, route, status, seconds, account, credential in entries:
            quoted = routes.get(route)
            if quoted is None:
                quoted = json.dumps(route)
                if len(routes) < 4096:
                    routes[route] = quoted
            who = "null" if account is None else '"' + account + '"'
            used = "null" if credential is None else '"' + credential + '"'
            lines.append(
                f'{{"ts":"{ts}","level":"info","logger":"keyplane.access","event":"request",'
                f'"requestId":"{request_id}","method":"{method}","route":{quoted},'
                f'"status":{"null" if status is None else status},"durationMs":{seconds * 1000:.3f},'
                f'"account":{who},"credential":{used}}}\n'
            )
        return lines

    @staticmethod
    def _text(entries: list[_Entry]) -> list[str]:
        ts = stamp()
        return [
            f"{ts} INFO    keyplane.access {method} {route} {status} {seconds * 1000:.3f}ms "
            f"requestId={request_id} account={account} credential={credential}\n"
            for request_id, method, route, status, seconds, account, credential in entries
        ]
