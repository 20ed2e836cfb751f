"""How many machines a license may hold: its policy's limit (or the license's own), with the
overage its policy allows, counted over the machines its ``machineLeasingStrategy`` names.
Shared by activation (``keyplane.machines``) and validation (``keyplane.licenses.validation``)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from typing import Protocol, TypeVar

from keyplane.models import License, Policy
from keyplane.models.policy import MachineLeasingStrategy, OverageStrategy

OVERAGE_FACTORS = {
    OverageStrategy.ALLOW_1_25X_OVERAGE: 1.25,
    OverageStrategy.ALLOW_1_5X_OVERAGE: 1.5,
    OverageStrategy.ALLOW_2X_OVERAGE: 2.0,
}
"""The bounded overages (ALWAYS_ALLOW_OVERAGE has no bound, NO_OVERAGE a factor of one)."""


def machine_limit(license: License, policy: Policy) -> int | None:
    """How many machines the license may hold, overage included (None: no limit)."""
    if policy.overage_strategy == OverageStrategy.ALWAYS_ALLOW_OVERAGE:
        return None
    base = 1 if not policy.floating else (license.max_machines or policy.max_machines)
    if base is None:
        return None
    return math.floor(base * OVERAGE_FACTORS.get(policy.overage_strategy, 1.0))


def process_limit(license: License, policy: Policy) -> int | None:
    """The license's ``maxProcesses`` (its own, else its policy's), which each of its machines
    shows as its own (Keygen's ``Machine#max_processes``); None: no limit."""
    return policy.max_processes if license.max_processes is None else license.max_processes


def per_user(policy: Policy) -> bool:
    """Whether the limits (machines, cores, memory, disk) hold per user of the license rather
    than for the license as a whole (Keygen's ``machine_lease_per_user?``): each user counts
    the machines it owns, and the machines without an owner count together as one more user
    (Keygen's ``license.machines.where(owner:)``, where "nil owner is significant")."""
    return policy.machine_leasing_strategy == MachineLeasingStrategy.PER_USER


def holder(policy: Policy) -> str:
    """Whom a limit is counted for, in the words of Keygen's refusals."""
    return "user" if per_user(policy) else "license"


class _Owned(Protocol):
    @property
    def owner_id(self) -> uuid.UUID | None: ...


M = TypeVar("M", bound=_Owned)


def leased(policy: Policy, machines: Iterable[M], owner_id: uuid.UUID | None) -> list[M]:
    """The machines counted against the limits for ``owner_id`` (None: the machines without
    an owner): under PER_USER that owner's, else all of the license's."""
    if not per_user(policy):
        return list(machines)
    return [machine for machine in machines if machine.owner_id == owner_id]
