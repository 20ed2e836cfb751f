"""Every answer of the licensing API under ``/v1`` signed as Keygen signs them, so clients
that pin the account's public key accept it.

Headers: ``Date``, ``Digest: sha-256=<base64 SHA-256 of the body>``, their ``Keygen-``
twins, and ``Keygen-Signature: keyid="<account id>", algorithm="ed25519",
signature="<base64>", headers="(request-target) host date digest"``. The signed text is
those four lines, with the request target and the host exactly as the request sent them
(port included). ``Keygen-Accept-Signature`` may ask for ``ed25519``, the one algorithm an
account has; anything else is a 400 without a signature, and another account's ``keyid`` a
signed 400 (as Keygen answers both).
"""

from __future__ import annotations

import base64
import hashlib
from email.utils import formatdate
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.accounts.directory import AccountDirectory
from keyplane.accounts.signing import KeyRing, Signer
from keyplane.auth.principal import AccountRef
from keyplane.db import READ_METHODS, Database
from keyplane.error_handlers import outage_response, render
from keyplane.errors import ErrorItem
from keyplane.kit.families import is_signed, split
from keyplane.services import services_of

ALGORITHM = "ed25519"
SIGNED_HEADERS = "(request-target) host date digest"


def _params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def signing_text(method: str, target: str, host: str, date: str, digest: str) -> bytes:
    return (
        f"(request-target): {method.lower()} {target}\nhost: {host}\ndate: {date}\ndigest: {digest}".encode()
    )


def _dated(send: Send) -> Send:
    """Only the Date header, for answers outside the API (docs, OpenAPI)."""

    async def dated(message: Message) -> None:
        if message["type"] == "http.response.start":
            date = formatdate(usegmt=True).encode()
            message = {**message, "headers": [*message.get("headers", []), (b"date", date)]}
        await send(message)

    return dated


async def _unavailable(scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
    """Answer the 503 ``error`` calls for (``error_handlers.outage_response``), dated and unsigned (the
    signature needs what failed); any other error is raised again."""
    answer = outage_response(Request(scope), error)
    if answer is None:
        raise error
    await answer(scope, receive, _dated(send))


class Signatures:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _account(self, scope: Scope, *, wait: bool = True) -> AccountRef | None:
        """The account the request named (resolved by the route already, in most cases);
        with ``wait`` False, None rather than a database read."""
        state: dict[str, Any] = scope.setdefault("state", {})
        account: AccountRef | None = state.get("account")
        if account is not None:
            return account
        application = scope["app"]
        directory: AccountDirectory = services_of(application).accounts
        located = split(scope["path"])
        ref = None if located is None else located[0]
        known = directory.known(ref)
        if known is not None or not wait:
            return known
        database: Database = services_of(application).db
        async with database.reader() as session:
            return await (directory.named(session, ref) if ref is not None else directory.default(session))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        item = ErrorItem(detail, "SIGNATURE_INVALID", header="Keygen-Accept-Signature")
        await render(Request(scope), 400, [item])(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not is_signed(scope["path"]):
            await self.app(scope, receive, _dated(send))
            return
        # Created here so that inner layers that copy the scope still share it.
        scope.setdefault("state", {})
        headers = dict(scope["headers"])
        refusal: str | None = None
        asked = headers.get(b"keygen-accept-signature")
        if asked is not None:
            params = _params(asked.decode("latin-1"))
            if params.get("algorithm", "").lower() != ALGORITHM:
                # Dated but unsigned: like Keygen for an algorithm it cannot sign with.
                await self._refuse(
                    scope, receive, _dated(send), 'The only signature algorithm is algorithm="ed25519"'
                )
                return
            keyid = params.get("keyid")
            if keyid is not None:
                try:
                    account = await self._account(scope)
                except Exception as error:
                    await _unavailable(scope, receive, send, error)
                    return
                if account is None or keyid not in (account.id_text, account.slug):
                    refusal = "The keyid is not this account's"

        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            try:
                signature = await self._sign(scope, headers, body, wait=start["status"] != 503)
            except Exception as error:
                # The answer is ready but its signature needs the database, which is down,
                # or a key this process cannot open: the client gets the 503 it would get
                # from any request that needs them.
                await _unavailable(scope, receive, send, error)
                return
            await send({**start, "headers": [*start["headers"], *signature]})
            await send({"type": "http.response.body", "body": body})

        if refusal is not None:
            # Signed like any other answer, as Keygen signs it.
            await self._refuse(scope, receive, buffered, refusal)
            return
        if scope["method"] not in READ_METHODS:
            # A write commits before its answer is signed: the signing key is opened first,
            # so that a database lost (or a key this process cannot open) between the commit
            # and the signature never turns a committed write into a 503, which invites the
            # client to do it again. Once opened, a key stays in memory: this costs a read
            # per account and process.
            try:
                await self._signer(scope, wait=True)
            except Exception as error:
                await _unavailable(scope, receive, send, error)
                return
        await self.app(scope, receive, buffered)

    async def _signer(self, scope: Scope, *, wait: bool) -> tuple[AccountRef, Signer] | None:
        """The account the request names and its signing key, opened now if need be; with
        ``wait`` False only from what is at hand. None without an account (or the key)."""
        account = await self._account(scope, wait=wait)
        if account is None:
            return None
        keys: KeyRing = services_of(scope["app"]).keys
        key = keys.cached(account.id)
        if key is None and not wait:
            return None
        if key is None:
            database: Database = services_of(scope["app"]).db
            async with database.writer() as session:
                key = await keys.key(session, account.id)
                await session.commit()
        return account, key

    async def _sign(
        self, scope: Scope, headers: dict[bytes, bytes], body: bytes, *, wait: bool
    ) -> list[tuple[bytes, bytes]]:
        """The headers that sign ``body``; with ``wait`` False (the answer says the database
        is unavailable) only from what is at hand, without asking the database again."""
        date = formatdate(usegmt=True)
        found = await self._signer(scope, wait=wait)
        if found is None:
            return [(b"date", date.encode())]
        return signed(scope, headers, body, *found, date)


def signed(
    scope: Scope,
    headers: dict[bytes, bytes],
    body: bytes,
    account: AccountRef,
    key: Signer,
    date: str,
) -> list[tuple[bytes, bytes]]:
    """The headers that sign ``body`` as the answer to this request (``Date`` included)."""
    digest = "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    host = headers.get(b"host", b"").decode("latin-1")
    text = signing_text(scope["method"], target.decode("latin-1"), host, date, digest)
    signature = base64.b64encode(key.sign(text)).decode()
    account_id = account.id_text
    value = f'keyid="{account_id}", algorithm="{ALGORITHM}", signature="{signature}", '
    value += f'headers="{SIGNED_HEADERS}"'
    dated, digested = date.encode(), digest.encode()
    return [
        (b"date", dated),
        (b"digest", digested),
        (b"keygen-date", dated),
        (b"keygen-digest", digested),
        (b"keygen-signature", value.encode()),
        (b"keygen-account", account_id.encode()),
    ]
