"""How many machines a license may hold: its policy's limit (or the license's own), with the
overage its policy allows. Shared by activation (``keyplane.machines``) and validation
(``keyplane.licenses.validation``)."""

from __future__ import annotations

import math

from keyplane.models import License, Policy
from keyplane.models.policy import OverageStrategy

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
