"""A license's derived ``status``, in Keygen's order, and the same rule as SQL for filters.

Order: SUSPENDED, EXPIRED, EXPIRING (expires within 3 days), INACTIVE (older than 90 days
and not validated, checked in or checked out in 90 days), ACTIVE. (``BANNED`` needs
banned users, which Keyplane does not have.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, not_, or_

from keyplane.models import License

STATUSES = ("ACTIVE", "INACTIVE", "EXPIRING", "EXPIRED", "SUSPENDED", "BANNED")
EXPIRING_WITHIN = timedelta(days=3)
INACTIVE_AFTER = timedelta(days=90)


def status(license: License, now: datetime) -> str:
    if license.suspended:
        return "SUSPENDED"
    if license.expiry is not None and license.expiry <= now:
        return "EXPIRED"
    if license.expiry is not None and license.expiry <= now + EXPIRING_WITHIN:
        return "EXPIRING"
    cutoff = now - INACTIVE_AFTER
    events = (license.last_validated, license.last_check_in, license.last_check_out)
    if license.created_at < cutoff and all(event is None or event < cutoff for event in events):
        return "INACTIVE"
    return "ACTIVE"


def _quiet_since(cutoff: datetime) -> ColumnElement[bool]:
    events = (License.last_validated, License.last_check_in, License.last_check_out)
    return and_(License.created_at < cutoff, *(or_(event.is_(None), event < cutoff) for event in events))


def condition(wanted: str, now: datetime) -> ColumnElement[bool]:
    """SQL that holds exactly for licenses whose ``status(…, now)`` is ``wanted``."""
    suspended = License.suspended.is_(True)
    expired = and_(License.expiry.is_not(None), License.expiry <= now)
    expiring = and_(
        License.expiry.is_not(None), License.expiry > now, License.expiry <= now + EXPIRING_WITHIN
    )
    inactive = _quiet_since(now - INACTIVE_AFTER)
    match wanted:
        case "SUSPENDED":
            return suspended
        case "EXPIRED":
            return and_(not_(suspended), expired)
        case "EXPIRING":
            return and_(not_(suspended), expiring)
        case "INACTIVE":
            return and_(not_(suspended), not_(or_(expired, expiring)), inactive)
        case "ACTIVE":
            return and_(not_(suspended), not_(or_(expired, expiring)), not_(inactive))
    return false()
