"""Check-outs: a license file or a machine file for offline use, as Keygen makes them
(``checkouts_controller.rb``, ``*_checkout_service.rb``, ``license_policy.rb#check_out?``,
``machine_policy.rb#check_out?``).

Who may check out: staff but read-only, a product token (its product's records), a license
(itself and its machines), and an end customer (their own license and its machines, unless
the license is protected). The checks run in Keygen's order: the record (404), the right to
check it out (403), then the includes, the TTL and the algorithm (400). A check-out records
``lastCheckOut`` and its event (``license.checked-out`` / ``machine.checked-out``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.accounts.signing import KeyRing
from keyplane.auth.principal import Bearer
from keyplane.checkouts import certificate
from keyplane.checkouts.certificate import FileKind
from keyplane.checkouts.includes import LICENSE_INCLUDES, MACHINE_INCLUDES, Loader, Subject, checked, included
from keyplane.checkouts.schemas import CheckedOut, Options
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock
from keyplane.kit.ids import uuid7
from keyplane.kit.timefmt import iso, iso_or_none
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import license_resource
from keyplane.licensing.access import Action, authorize
from keyplane.licensing.machine_limits import process_limit
from keyplane.licensing.status import protected
from keyplane.machines import service as machines
from keyplane.machines.schemas import machine_resource
from keyplane.models import License, Policy


def _may_check_out(bearer: Bearer, kind: FileKind, license: License, policy: Policy) -> None:
    """403 unless the bearer may read the record and check it out. The record is in the
    bearer's view already, so a license acts on itself or its machine, and an end customer
    on their own license or its machine, which they may check out unless it is protected."""
    authorize(bearer, f"{kind.value}s", Action.READ)
    own = bearer.is_license or (bearer.user_id is not None and not protected(license, policy))
    authorize(bearer, f"{kind.value} files", Action.UPDATE, own=own)


async def _make(
    session: AsyncSession,
    keys: KeyRing,
    kind: FileKind,
    subject: Subject,
    data: dict[str, Any],
    options: Options,
    allowed: dict[str, Loader],
) -> CheckedOut:
    names = checked(options.include, allowed)
    certificate.check_ttl(options.ttl)
    chosen = certificate.algorithm(options.algorithm, encrypt=options.encrypt)
    issued = clock.now()
    expiry = None if options.ttl is None else certificate.expiry(issued, options.ttl)
    document: dict[str, Any] = {"data": data}
    extra = await included(session, subject, names, allowed)
    if extra:
        document["included"] = extra
    document["meta"] = {"issued": iso(issued), "expiry": iso_or_none(expiry), "ttl": options.ttl}
    machine = subject.machine
    key = certificate.secret_of(subject.license.key, None if machine is None else machine.fingerprint)
    signer = await keys.key(session, subject.license.account_id)
    return CheckedOut(
        id=uuid7(),
        account_id=subject.license.account_id,
        license_id=subject.license.id,
        machine_id=None if machine is None else machine.id,
        certificate=certificate.certificate(kind, document, chosen, signer, key),
        algorithm=str(chosen),
        includes=names,
        ttl=options.ttl,
        issued=issued,
        expiry=expiry,
    )


async def check_out_license(
    session: AsyncSession, bearer: Bearer, keys: KeyRing, ref: str, options: Options
) -> CheckedOut:
    """A license file of the license ``ref`` (id or key)."""
    license = await licenses.find(session, bearer, ref)
    policy = await session.get(Policy, license.policy_id)
    assert policy is not None  # the foreign key holds it
    _may_check_out(bearer, FileKind.LICENSE, license, policy)
    subject = Subject(license, policy)
    made = await _make(
        session, keys, FileKind.LICENSE, subject, license_resource(license, policy), options, LICENSE_INCLUDES
    )
    license.last_check_out = license.updated_at = made.issued
    await events.record(
        session, bearer, EventName.LICENSE_CHECKED_OUT, license.id, product=license.product_id
    )
    await session.flush()
    return made


async def check_out_machine(
    session: AsyncSession, bearer: Bearer, keys: KeyRing, ref: str, options: Options
) -> CheckedOut:
    """A machine file of the machine ``ref`` (id or fingerprint)."""
    machine, policy = await machines.find(session, bearer, ref)
    license = await licenses.of_record(session, machine.license_id)
    _may_check_out(bearer, FileKind.MACHINE, license, policy)
    subject = Subject(license, policy, machine)
    made = await _make(
        session,
        keys,
        FileKind.MACHINE,
        subject,
        machine_resource(machine, policy, max_processes=process_limit(license, policy)),
        options,
        MACHINE_INCLUDES,
    )
    machine.last_check_out = machine.updated_at = made.issued
    await events.record(
        session, bearer, EventName.MACHINE_CHECKED_OUT, machine.id, product=machine.product_id
    )
    await session.flush()
    return made
