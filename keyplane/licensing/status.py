"""A license's derived ``status``, in Keygen's order, and the same rule as SQL for filters.

Order: SUSPENDED, EXPIRED, EXPIRING (expires within 3 days), INACTIVE (older than 90 days
and not validated, checked in or checked out in 90 days), ACTIVE. (``BANNED`` needs
banned users, which Keyplane does not have.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import assert_never

from sqlalchemy import ColumnElement, and_, false, not_, or_

from keyplane.kit.instants import add_months
from keyplane.licensing.vocab import LicenseStatus
from keyplane.models import License, Policy
from keyplane.models.policy import CheckInInterval

STATUSES = tuple(LicenseStatus)
EXPIRING_WITHIN = timedelta(days=3)
INACTIVE_AFTER = timedelta(days=90)


def status(license: License, now: datetime, *, validating: bool = False) -> LicenseStatus:
    """``validating``: the status shown in the answer to a validation, which is activity
    now (``lastValidated``), so never INACTIVE whatever ``license.last_validated`` says."""
    if license.suspended:
        return LicenseStatus.SUSPENDED
    if license.expiry is not None and license.expiry <= now:
        return LicenseStatus.EXPIRED
    if license.expiry is not None and license.expiry <= now + EXPIRING_WITHIN:
        return LicenseStatus.EXPIRING
    if validating:
        return LicenseStatus.ACTIVE
    cutoff = now - INACTIVE_AFTER
    events = (license.last_validated, license.last_check_in, license.last_check_out)
    if license.created_at < cutoff and all(event is None or event < cutoff for event in events):
        return LicenseStatus.INACTIVE
    return LicenseStatus.ACTIVE


def _quiet_since(cutoff: datetime) -> ColumnElement[bool]:
    events = (License.last_validated, License.last_check_in, License.last_check_out)
    return and_(License.created_at < cutoff, *(or_(event.is_(None), event < cutoff) for event in events))


def has_expired(now: datetime) -> ColumnElement[bool]:
    """SQL for an expiry that has passed (whatever else holds: Keygen's ``expired`` filter)."""
    return and_(License.expiry.is_not(None), License.expiry <= now)


def is_expiring(now: datetime) -> ColumnElement[bool]:
    """SQL for an expiry within ``EXPIRING_WITHIN`` from now (Keygen's ``expiring`` filter)."""
    return and_(License.expiry.is_not(None), License.expiry > now, License.expiry <= now + EXPIRING_WITHIN)


def condition(wanted: LicenseStatus, now: datetime) -> ColumnElement[bool]:
    """SQL that holds exactly for licenses whose ``status(…, now)`` is ``wanted``."""
    suspended = License.suspended.is_(True)
    expired = has_expired(now)
    expiring = is_expiring(now)
    inactive = _quiet_since(now - INACTIVE_AFTER)
    match wanted:
        case LicenseStatus.SUSPENDED:
            return suspended
        case LicenseStatus.EXPIRED:
            return and_(not_(suspended), expired)
        case LicenseStatus.EXPIRING:
            return and_(not_(suspended), expiring)
        case LicenseStatus.INACTIVE:
            return and_(not_(suspended), not_(or_(expired, expiring)), inactive)
        case LicenseStatus.ACTIVE:
            return and_(not_(suspended), not_(or_(expired, expiring)), not_(inactive))
        case LicenseStatus.BANNED:
            return false()
        case _:
            assert_never(wanted)


def _shifted(when: datetime, interval: CheckInInterval, count: int) -> datetime:
    """``when`` moved by ``count`` intervals (negative: back) as ActiveSupport moves a time
    by ``count.days``/``.weeks``/``.months``/``.years``: months and years land on the same
    day of the month, clamped to the month's last."""
    match interval:
        case CheckInInterval.DAY:
            return when + timedelta(days=count)
        case CheckInInterval.WEEK:
            return when + timedelta(weeks=count)
        case CheckInInterval.MONTH:
            return add_months(when, count)
        case CheckInInterval.YEAR:
            return add_months(when, 12 * count)
        case _:
            assert_never(interval)


def check_in_due(license: License, policy: Policy) -> datetime | None:
    """When the next check-in is due: an interval after the last one (or after creation)."""
    if not policy.require_check_in or policy.check_in_interval is None:
        return None
    since = license.last_check_in or license.created_at
    return _shifted(since, policy.check_in_interval, policy.check_in_interval_count or 1)


def next_check_in(license: License, policy: Policy) -> datetime | None:
    """``nextCheckIn`` as Keygen shows it: none until the first check-in."""
    return None if license.last_check_in is None else check_in_due(license, policy)


def overdue(license: License, policy: Policy, now: datetime) -> bool:
    """Keygen's ``check_in_overdue?``: the last check-in (or the creation) is before the
    interval counted back from now (``last_check_in_at < 1.month.ago``), which is not always
    the same as the interval counted on from it (a month back from Mar 30 is Feb 28)."""
    if not policy.require_check_in or policy.check_in_interval is None:
        return False
    since = license.last_check_in or license.created_at
    return since < _shifted(now, policy.check_in_interval, -(policy.check_in_interval_count or 1))


def protected(license: License, policy: Policy) -> bool:
    """A protected license is managed by staff alone: its own setting, else its policy's."""
    return policy.protected if license.protected is None else license.protected
