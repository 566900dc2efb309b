"""The `catalog.associations` job: a tenant's `product_associations`, recomputed whole.

What it counts (`won deals` below are the tenant's CLOSED_WON opportunities that have an
ACCEPTED quote; of a deal with several, the last accepted one, which is the one it closed
on). A deal's products are the distinct products of that quote's lines; a bundle line
counts as the bundle product itself (not its items: the customer bought the bundle).

BOUGHT_TOGETHER (cross-sell), for each ordered pair product → related of distinct
products held by the same won deal:

- `deals` = won deals holding both;
- `support` = deals / won deals;
- `confidence` = deals / won deals holding the product (P(related | product));
- `lift` = confidence / (won deals holding the related product / won deals): above 1 the
  pair is bought together more often than chance.

Only pairs held by at least `MIN_DEALS` deals are kept (one deal is an anecdote, not a
rule), and only the `TOP_PER_PRODUCT` best per product (confidence, then support, then
lift, then the related product's id so ties are stable).

UPGRADE (up-sell), for each product with a list price → every *active* product of the
same (non-null) family with a higher list price. The list price is the unit price of
the smallest volume break in the tenant's DEFAULT price book in the tenant's default
currency that is active and valid now; products without one are left out (a price in
another currency or a partner's book is not comparable). The heuristic:

- `deals` = won deals holding the pricier product;
- `support` = deals / won deals (0 when there are none);
- `confidence` = deals / won deals holding any product of the family: how often the
  family's buyers chose the pricier one (0 when the family has never been bought, so an
  untried upgrade is still offered, after the proven ones);
- `lift` is null (there is no rule to compare with chance).

No minimum applies to upgrades; the `TOP_PER_PRODUCT` kept per product are the most
chosen, then the cheapest step up, then by id.

The rows are replaced whole (DELETE then two INSERT … SELECT) in the job's transaction:
readers keep the previous set until commit, a worker killed midway leaves it, and a
recompute over the same data writes the same rows (only `computed_at` moves). A
transaction-scoped advisory lock serialises two recomputes of one tenant, which would
otherwise collide on the primary key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.locks import LockSpace, lock_keys_sync

ASSOCIATIONS = "catalog.associations"
MIN_DEALS = 2
"""A BOUGHT_TOGETHER pair must be held by at least this many won deals."""
TOP_PER_PRODUCT = 20
"""At most this many associations of each kind are kept per product."""

_WON_ITEMS = """
won AS (
    SELECT DISTINCT ON (q.opportunity_id) q.opportunity_id AS deal_id, q.id AS quote_id
    FROM quotes q
    JOIN opportunities o ON o.tenant_id = q.tenant_id AND o.id = q.opportunity_id
    WHERE q.tenant_id = :tenant_id AND q.status = 'ACCEPTED' AND o.stage = 'CLOSED_WON'
    ORDER BY q.opportunity_id, q.accepted_at DESC NULLS LAST, q.id DESC
),
items AS (
    SELECT DISTINCT won.deal_id, l.product_id
    FROM won
    JOIN quote_lines l ON l.tenant_id = :tenant_id AND l.quote_id = won.quote_id
),
total AS (
    SELECT count(*)::float8 AS n FROM won
),
per_product AS (
    SELECT product_id, count(*) AS n FROM items GROUP BY product_id
)"""

_DELETE = text("DELETE FROM product_associations WHERE tenant_id = :tenant_id")

_BOUGHT_TOGETHER = text(
    f"""
WITH
{_WON_ITEMS},
pairs AS (
    SELECT a.product_id, b.product_id AS related_product_id, count(*) AS n
    FROM items a
    JOIN items b ON b.deal_id = a.deal_id AND b.product_id <> a.product_id
    GROUP BY a.product_id, b.product_id
    HAVING count(*) >= :min_deals
),
scored AS (
    SELECT
        pairs.product_id,
        pairs.related_product_id,
        pairs.n AS deals,
        pairs.n / total.n AS support,
        pairs.n::float8 / p.n AS confidence,
        (pairs.n::float8 / p.n) / (r.n / total.n) AS lift
    FROM pairs
    CROSS JOIN total
    JOIN per_product p ON p.product_id = pairs.product_id
    JOIN per_product r ON r.product_id = pairs.related_product_id
),
ranked AS (
    SELECT
        scored.*,
        row_number() OVER (
            PARTITION BY product_id
            ORDER BY confidence DESC, support DESC, lift DESC, related_product_id
        ) AS position
    FROM scored
)
INSERT INTO product_associations (
    tenant_id, kind, product_id, related_product_id, support, confidence, lift, deals,
    computed_at
)
SELECT :tenant_id, 'BOUGHT_TOGETHER', product_id, related_product_id, support, confidence,
       lift, deals, :now
FROM ranked
WHERE position <= :top
"""  # noqa: S608 - a constant CTE only
)

_UPGRADE = text(
    f"""
WITH
{_WON_ITEMS},
book AS (
    SELECT b.id
    FROM price_books b
    JOIN tenants t ON t.id = b.tenant_id
    WHERE b.tenant_id = :tenant_id
      AND b.scope = 'DEFAULT'
      AND b.active
      AND b.currency = t.default_currency
      AND (b.valid_from IS NULL OR b.valid_from <= :now)
      AND (b.valid_until IS NULL OR b.valid_until > :now)
),
list_price AS (
    SELECT DISTINCT ON (e.product_id) e.product_id, e.unit_price
    FROM price_book_entries e
    JOIN book ON book.id = e.price_book_id
    WHERE e.tenant_id = :tenant_id
    ORDER BY e.product_id, e.min_quantity, e.unit_price DESC
),
priced AS (
    SELECT p.id, p.family, p.active, lp.unit_price
    FROM products p
    JOIN list_price lp ON lp.product_id = p.id
    WHERE p.tenant_id = :tenant_id AND p.family IS NOT NULL
),
family_deals AS (
    SELECT p.family, count(DISTINCT items.deal_id) AS n
    FROM items
    JOIN products p ON p.tenant_id = :tenant_id AND p.id = items.product_id
    WHERE p.family IS NOT NULL
    GROUP BY p.family
),
scored AS (
    SELECT
        a.id AS product_id,
        b.id AS related_product_id,
        b.unit_price,
        coalesce(r.n, 0) AS deals,
        coalesce(r.n / nullif(total.n, 0), 0) AS support,
        coalesce(r.n::float8 / nullif(f.n, 0), 0) AS confidence
    FROM priced a
    JOIN priced b ON b.family = a.family AND b.unit_price > a.unit_price AND b.active
    CROSS JOIN total
    LEFT JOIN per_product r ON r.product_id = b.id
    LEFT JOIN family_deals f ON f.family = a.family
),
ranked AS (
    SELECT
        scored.*,
        row_number() OVER (
            PARTITION BY product_id
            ORDER BY confidence DESC, unit_price, related_product_id
        ) AS position
    FROM scored
)
INSERT INTO product_associations (
    tenant_id, kind, product_id, related_product_id, support, confidence, lift, deals,
    computed_at
)
SELECT :tenant_id, 'UPGRADE', product_id, related_product_id, support, confidence, NULL,
       deals, :now
FROM ranked
WHERE position <= :top
"""  # noqa: S608 - a constant CTE only
)


def compute_associations(session: Session, principal: Principal) -> dict[str, object]:
    """Replace the tenant's product associations (see the module doc); returns how many
    of each kind were written. Runs as the `catalog.associations` job."""
    tenant_id = principal.tenant_id
    now = datetime.now(UTC)
    lock_keys_sync(session, LockSpace.PRODUCT_ASSOCIATIONS, [f"product_associations:{tenant_id}"])
    session.execute(_DELETE, {"tenant_id": tenant_id})
    params = {"tenant_id": tenant_id, "now": now, "top": TOP_PER_PRODUCT}
    together = session.execute(_BOUGHT_TOGETHER, {**params, "min_deals": MIN_DEALS})
    upgrades = session.execute(_UPGRADE, params)
    return {
        "boughtTogether": int(getattr(together, "rowcount", 0) or 0),
        "upgrades": int(getattr(upgrades, "rowcount", 0) or 0),
    }
