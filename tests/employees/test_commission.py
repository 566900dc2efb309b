"""`commission`: the formula the metrics worker pays by, against hand-computed numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prm.employees.compensation import commission

D = Decimal


@pytest.mark.parametrize(
    ("revenue", "quota", "base", "accelerator", "cap", "currency", "expected"),
    [
        # below quota: 5 % of 80 000 = 4 000
        pytest.param("80000", "100000", "5", "3", None, "USD", "4000.00", id="below quota"),
        # exactly at quota: 5 % of 100 000
        pytest.param("100000", "100000", "5", "3", None, "USD", "5000.00", id="at quota"),
        # 5 % x 100 000 + 8 % x 50 000 = 5 000 + 4 000
        pytest.param("150000", "100000", "5", "3", None, "USD", "9000.00", id="above quota"),
        # 9 000 earned, capped at 7 500
        pytest.param("150000", "100000", "5", "3", "7500", "USD", "7500.00", id="capped"),
        # the cap does not bind: 4 000 < 7 500
        pytest.param("80000", "100000", "5", "3", "7500", "USD", "4000.00", id="under cap"),
        # no quota: base on everything, 5 % of 150 000
        pytest.param("150000", None, "5", "3", None, "USD", "7500.00", id="no quota"),
        # quota 0: all of it is above quota, 8 % of 1 000
        pytest.param("1000", "0", "5", "3", None, "USD", "80.00", id="zero quota"),
        # 2.5 % of 100.10 = 2.5025 → 2.50; 3.5 % of 0.90 = 0.0315 → total 2.534 → 2.53
        pytest.param("101.00", "100.10", "2.5", "1", None, "USD", "2.53", id="rounded once"),
        # 12.5 % of 1.00 = 0.125 → half-up 0.13
        pytest.param("1.00", None, "12.5", "0", None, "USD", "0.13", id="half up"),
        # JPY has no minor unit: 3 % of 12 345 = 370.35 → 370
        pytest.param("12345", None, "3", "0", None, "JPY", "370", id="yen"),
        # KWD has three: 1.5 % of 1 000.001 = 15.000015 → 15.000
        pytest.param("1000.001", None, "1.5", "0", None, "KWD", "15.000", id="dinar"),
        pytest.param("0", "100", "5", "3", None, "USD", "0.00", id="nothing won"),
        pytest.param("-50", None, "5", "3", None, "USD", "0.00", id="net negative"),
    ],
)
def test_commission(
    revenue: str,
    quota: str | None,
    base: str,
    accelerator: str,
    cap: str | None,
    currency: str,
    expected: str,
) -> None:
    earned = commission(
        D(revenue),
        D(quota) if quota is not None else None,
        D(base),
        D(accelerator),
        D(cap) if cap is not None else None,
        currency,
    )
    assert str(earned) == expected
