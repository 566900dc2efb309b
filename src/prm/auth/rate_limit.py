"""Throttling of failed password sign-ins, per account and per client address.

Every failed password grant records one `login_failures` row for the account
(`acct:<tenant slug>:<email>`, whether or not either exists, so throttling reveals
nothing) and one for the address (`addr:<ip>`; IPv6 by /64, what one host usually
controls). Once a key has `max_failures` rows inside the window, further attempts for it
are refused before the password is checked, with HTTP 429 and the OAuth error
`{"error": "invalid_grant", "error_description": "too many failed attempts, try later"}`
plus `Retry-After`; `invalid_grant` because RFC 6749 has no throttling code and clients
already treat it as "these credentials do not work now". A successful sign-in clears the
account's failures, not the address's (one good account must not unlock an address that
is guessing others). Behind a proxy, the address is what uvicorn's `--proxy-headers`
(`--forwarded-allow-ips`) reports.

The table stays bounded: a locked key gets no new rows, each failure deletes its keys'
rows that left the window, and `purge_login_failures` (for the scheduler) drops the rest.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from prm.auth.models import LoginFailure


def account_key(tenant_slug: str, email: str) -> str:
    return f"acct:{tenant_slug.strip().lower()}:{email.strip().lower()}"


def address_key(address: str | None) -> str | None:
    """The key of a client address; IPv6 addresses count per /64. None when unknown."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address[:100]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"addr:{ip}"


@dataclass(frozen=True)
class LoginThrottle:
    max_failures: int
    window: timedelta

    def retry_after(self, session: Session, keys: Sequence[str], *, now: datetime) -> int | None:
        """Seconds until the most limited of `keys` may try again; None if none is locked.

        A key is locked while its `max_failures`-th newest failure is inside the window,
        and it unlocks when that failure leaves it.
        """
        wait: float | None = None
        for key in keys:
            pivot = session.scalar(
                select(LoginFailure.created_at)
                .where(LoginFailure.key == key, LoginFailure.created_at > now - self.window)
                .order_by(LoginFailure.created_at.desc())
                .offset(self.max_failures - 1)
                .limit(1)
            )
            if pivot is not None:
                seconds = (pivot + self.window - now).total_seconds()
                wait = seconds if wait is None else max(wait, seconds)
        return None if wait is None else max(1, math.ceil(wait))

    def record_failure(self, session: Session, keys: Sequence[str], *, now: datetime) -> None:
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.key.in_(keys), LoginFailure.created_at <= now - self.window
            )
        )
        session.execute(insert(LoginFailure), [{"key": key, "created_at": now} for key in keys])

    def clear(self, session: Session, key: str) -> None:
        session.execute(delete(LoginFailure).where(LoginFailure.key == key))


def purge_login_failures(session: Session, older_than: datetime) -> int:
    """Delete failures recorded before `older_than` (call with now minus the window, or
    earlier); returns how many rows went. A platform table: any session may purge it."""
    result = session.execute(delete(LoginFailure).where(LoginFailure.created_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
