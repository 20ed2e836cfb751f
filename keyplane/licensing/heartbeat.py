"""A machine's heartbeat, derived from its last ping and its policy (never stored)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from keyplane.models import Machine, Policy
from keyplane.models.policy import HeartbeatCullStrategy, HeartbeatResurrectionStrategy


class HeartbeatStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    ALIVE = "ALIVE"
    DEAD = "DEAD"
    RESURRECTED = "RESURRECTED"
    """Never derived: only in the answer to the ping that revived a dead machine."""


DEFAULT_DURATION = 600
"""Seconds a ping keeps a machine alive when the policy names no duration (Keygen's 10 min)."""
_REVIVE_WINDOWS = {
    HeartbeatResurrectionStrategy.REVIVE_1_MINUTE: 60,
    HeartbeatResurrectionStrategy.REVIVE_2_MINUTES: 120,
    HeartbeatResurrectionStrategy.REVIVE_5_MINUTES: 300,
    HeartbeatResurrectionStrategy.REVIVE_10_MINUTES: 600,
    HeartbeatResurrectionStrategy.REVIVE_15_MINUTES: 900,
}


def duration(policy: Policy) -> timedelta:
    return timedelta(seconds=policy.heartbeat_duration or DEFAULT_DURATION)


def status(machine: Machine, policy: Policy, now: datetime) -> HeartbeatStatus:
    """``NOT_STARTED``, ``ALIVE`` or ``DEAD``."""
    if machine.last_heartbeat is None:
        # A machine that must send heartbeats and never did is dead once a whole duration
        # has passed since its activation (Keygen's rule, whatever the basis).
        if policy.require_heartbeat and machine.created_at + duration(policy) <= now:
            return HeartbeatStatus.DEAD
        return HeartbeatStatus.NOT_STARTED
    alive = machine.last_heartbeat + duration(policy) > now
    return HeartbeatStatus.ALIVE if alive else HeartbeatStatus.DEAD


def next_heartbeat(machine: Machine, policy: Policy) -> datetime | None:
    return None if machine.last_heartbeat is None else machine.last_heartbeat + duration(policy)


def may_revive(machine: Machine, policy: Policy, now: datetime) -> bool:
    """Whether a dead machine's ping brings it back (the policy's resurrection strategy)."""
    return revives(machine.last_heartbeat, policy, now)


def revives(last_heartbeat: datetime | None, policy: Policy, now: datetime) -> bool:
    """Whether a ping now revives what died a heartbeat duration after ``last_heartbeat``
    (a machine or a process: the policy's resurrection strategy rules both)."""
    strategy = policy.heartbeat_resurrection_strategy
    if strategy == HeartbeatResurrectionStrategy.ALWAYS_REVIVE:
        return True
    window = _REVIVE_WINDOWS.get(strategy)
    if window is None or last_heartbeat is None:
        return False
    died = last_heartbeat + duration(policy)
    return now - died <= timedelta(seconds=window)


def culls(policy: Policy) -> bool:
    """Whether dead machines stop counting (and are removed) under this policy."""
    return (
        policy.require_heartbeat and policy.heartbeat_cull_strategy == HeartbeatCullStrategy.DEACTIVATE_DEAD
    )
