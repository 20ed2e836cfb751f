"""Every example of the keys seed (001), run as written with curl against a live server.

Only the host, the account, the token and the example's record ids are changed; each
answer must have the status the seed names and be the seed's example document, with our
ids and timestamps.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyplane.config import Settings
from tests import factories
from tests import live as live_server
from tests.factories import Tenant

SEED = Path(__file__).parent / "seeds" / "001_f9a8774dccf82b20.txt"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# The example records' ids in the seed, and what each stands for.
SEED_POLICIES = ("4ba02145-d1e7-4443-8104-dd1e4236d869", "95981290-518b-4109-a611-c0001214b3c5")
SEED_KEYS = ("6e936a61-94ad-44d1-88ac-88da9f10eca7", "b18e3f3a-330c-4d8d-ae2e-014db21fa827")
SEED_PRODUCT = "1f286fb6-c9bb-498b-a4e7-6c67748b1f4f"

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(
    CURL is None, reason="the seed's examples are curl commands; curl is not installed"
)


@dataclass(frozen=True)
class Example:
    command: str
    status: int
    response: Any


def examples() -> list[Example]:
    """The curl requests of the seed with the status and body of the response after each."""
    text = SEED.read_text()
    found = []
    for match in re.finditer(r"^curl .*?(?=\n\n)", text, re.S | re.M):
        rest = text[match.end() :]
        heading = re.search(r"Example response / (\d{3})[^\n]*\n\n", rest)
        assert heading is not None
        body = rest[heading.end() :].split("\n\n", 1)[0].split("\nlink", 1)[0].strip()
        document = None
        if body != "No content":
            document = json.loads(re.sub(r",(\s*[\]}])", r"\1", body))  # the list example has a stray comma
        found.append(Example(match.group(0), int(heading.group(1)), document))
    return found


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``keyplane serve`` on the test's database (with the test's server secret)."""
    env = live_server.environment(settings.database_url or "", settings.secret_key or "", tmp_path / "live")
    with live_server.serve(env, tmp_path / "serve.log") as base:
        yield base


def _curl(command: str, replacements: dict[str, str]) -> tuple[int, Any]:
    for old, new in replacements.items():
        command = command.replace(old, new)
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "curl"
    done = subprocess.run(  # noqa: S603 - curl with the seed's own arguments
        [str(CURL), "-sS", "-w", "\n%{http_code}", *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body.strip() else None


def _expected(document: Any, replacements: dict[str, str]) -> Any:
    text = json.dumps(document)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


def _same(actual: Any, expected: Any, path: str = "") -> None:
    """The seed's document, with timestamps compared by format."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert set(actual) == set(expected), f"{path}: {sorted(actual)} != {sorted(expected)}"
        for name, value in expected.items():
            _same(actual[name], value, f"{path}/{name}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), path
        assert len(actual) == len(expected), path
        for index, (item, value) in enumerate(zip(actual, expected, strict=True)):
            _same(item, value, f"{path}/{index}")
    elif path.endswith(("/created", "/updated")):
        assert TIMESTAMP.match(actual), f"{path}: {actual}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def test_the_seed_has_every_example() -> None:
    assert [example.status for example in examples()] == [201, 200, 200, 204, 200]


async def test_every_keys_example_answers_as_the_seed_says(
    client: httpx.AsyncClient, acme: Tenant, live: str
) -> None:
    product = await factories.product(client, acme, name="Seeded")
    policy = await factories.policy(client, acme, product, usePool=True)
    create, retrieve, update, delete, listing = examples()
    replacements = {
        "https://api.keygen.sh": live,
        "{ACCOUNT}": str(acme.id),
        "{TOKEN}": acme.key,
        SEED_PRODUCT: product,
        **dict.fromkeys(SEED_POLICIES, policy),
    }

    status, created = _curl(create.command, replacements)
    assert status == create.status, created
    key_id = created["data"]["id"]
    replacements |= dict.fromkeys(SEED_KEYS, key_id)
    _same(created, _expected(create.response, replacements))

    for example in (retrieve, listing, update):
        status, answer = _curl(example.command, replacements)
        assert status == example.status, answer
        _same(answer, _expected(example.response, replacements))

    status, answer = _curl(delete.command, replacements)
    assert status == delete.status == 204
    assert answer is None
    gone = await client.get(f"{acme.base}/keys/{key_id}", headers={"Authorization": f"Bearer {acme.key}"})
    assert gone.status_code == 404
