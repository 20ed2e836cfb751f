"""Which log format a process writes, and uvicorn's own records under ``keyplane serve``
(``keyplane.observe.logs``), in the test process: json unless stderr is a terminal or the
setting says otherwise; uvicorn's lines in the same format; the text access line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyplane.config import Settings
from keyplane.observe.logs import AccessLog, json_wanted, uvicorn_config


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_unless_stderr_is_a_terminal_or_the_setting_decides(tmp_path: Path) -> None:
    unset = Settings(data_dir=tmp_path)
    assert json_wanted(unset, io.StringIO()) is True  # a file, a pipe, a collector
    assert json_wanted(unset, _Terminal()) is False  # a person reading
    assert json_wanted(Settings(data_dir=tmp_path, log_format="json"), _Terminal()) is True
    assert json_wanted(Settings(data_dir=tmp_path, log_format="text"), io.StringIO()) is False


@pytest.fixture
def uvicorn_loggers() -> Iterator[None]:
    """uvicorn's loggers as they were, after a test gives them Keyplane's configuration."""
    saved = {
        name: (
            logging.getLogger(name).handlers[:],
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
        )
        for name in ("uvicorn", "uvicorn.error")
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("uvicorn_loggers")
def test_uvicorns_records_are_keyplanes_json_at_the_configured_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(
        uvicorn_config(Settings(data_dir=tmp_path, log_format="json", log_level="warning"))
    )
    logging.getLogger("uvicorn.error").info("Started server process")  # below the level
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["level"] == "warning"
    assert record["logger"] == "uvicorn.error"
    assert record["event"] == "Invalid HTTP request received."
    assert record["ts"].endswith("Z")


@pytest.mark.usefixtures("uvicorn_loggers")
def test_uvicorns_records_as_text_for_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(uvicorn_config(Settings(data_dir=tmp_path, log_format="text")))
    logging.getLogger("uvicorn.error").info("Application startup complete.", extra={"port": 8000})
    line = capsys.readouterr().err.strip()
    assert line.endswith("INFO    uvicorn.error Application startup complete. port=8000"), line


def test_the_text_access_line(tmp_path: Path) -> None:
    stream = io.StringIO()
    access = AccessLog(as_json=False, stream=stream)

    async def requests() -> None:
        access.record("req-1", "GET", "/v1/api-keys", 200, 0.0015, "acct-1", "cred-1")
        access.record("req-2", "POST", "/v1/api-keys/verify", None, 0.25, None, None)
        assert stream.getvalue() == ""  # written when the loop's turn ends
        await asyncio.sleep(0)

    asyncio.run(requests())
    first, second = stream.getvalue().splitlines()
    assert first.endswith(
        "keyplane.access GET /v1/api-keys 200 1.500ms requestId=req-1 account=acct-1 credential=cred-1"
    )
    assert " INFO " in first
    assert second.endswith(
        "keyplane.access POST /v1/api-keys/verify None 250.000ms requestId=req-2 account=None credential=None"
    )


def test_a_closed_stderr_loses_the_lines_not_the_request() -> None:
    stream = io.StringIO()
    stream.close()
    access = AccessLog(as_json=True, stream=stream)

    async def request() -> None:
        access.record("req-1", "GET", "/v1/ping", 200, 0.001, None, None)
        access.flush()  # what the loop's turn would call: no error reaches the request

    asyncio.run(request())
