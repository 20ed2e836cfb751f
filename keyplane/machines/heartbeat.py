"""A machine's heartbeat, derived from its last ping and its policy (never stored)."""

from __future__ import annotations

from datetime import datetime, timedelta

from keyplane.models import Machine, Policy

DEFAULT_DURATION = 600
"""Seconds a ping keeps a machine alive when the policy names no duration (Keygen's 10 min)."""
_REVIVE_WINDOWS = {
    "1_MINUTE_REVIVE": 60,
    "2_MINUTE_REVIVE": 120,
    "5_MINUTE_REVIVE": 300,
    "10_MINUTE_REVIVE": 600,
    "15_MINUTE_REVIVE": 900,
}


def duration(policy: Policy) -> timedelta:
    return timedelta(seconds=policy.heartbeat_duration or DEFAULT_DURATION)


def status(machine: Machine, policy: Policy, now: datetime) -> str:
    """``NOT_STARTED``, ``ALIVE`` or ``DEAD``."""
    if machine.last_heartbeat is None:
        # A machine that must send heartbeats and never did is dead once a whole duration
        # has passed since its activation (Keygen's rule, whatever the basis).
        if policy.require_heartbeat and machine.created_at + duration(policy) <= now:
            return "DEAD"
        return "NOT_STARTED"
    return "ALIVE" if machine.last_heartbeat + duration(policy) > now else "DEAD"


def next_heartbeat(machine: Machine, policy: Policy) -> datetime | None:
    return None if machine.last_heartbeat is None else machine.last_heartbeat + duration(policy)


def may_revive(machine: Machine, policy: Policy, now: datetime) -> bool:
    """Whether a dead machine's ping brings it back (the policy's resurrection strategy)."""
    strategy = policy.heartbeat_resurrection_strategy
    if strategy == "ALWAYS_REVIVE":
        return True
    window = _REVIVE_WINDOWS.get(strategy)
    if window is None or machine.last_heartbeat is None:
        return False
    died = machine.last_heartbeat + duration(policy)
    return now - died <= timedelta(seconds=window)


def culls(policy: Policy) -> bool:
    """Whether dead machines stop counting (and are removed) under this policy."""
    return policy.require_heartbeat and policy.heartbeat_cull_strategy == "DEACTIVATE_DEAD"
