"""Pricing and quoting over a seeded catalog: the pure pricing function's throughput, the
pricing loader for a whole quote, and `createQuote` over HTTP.

Large: 20,000 products (every 5th with a priced warranty option, every 50th a bundle of
2-3 others), a default USD book with three volume breaks for every product, a tier book
and a partner book covering some, 200 promotions (percent or amount, stackable or not,
targeted at everyone, a tier, a region, a partner or some products; a few ended, future,
used up or coded); small: a tenth of the products and promotions.

Prints (1) prices per second of `compute_price` alone over prepared requests; (2)
`price_lines` for 50 and 500 lines: latency and SQL statements; (3) `createQuote` with 50
and 500 lines through a real server: p50/p99 latency and the SQL statements per quote,
which must not grow with the line count.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from bench.harness import (
    PASSWORD,
    Figure,
    count_statements,
    load,
    make_bench_tenant,
    running_server,
)
from prm.app import create_app
from prm.auth.principal import Principal
from prm.catalog.price_context import LineRequest, price_lines
from prm.catalog.pricing import (
    Buyer,
    Component,
    Discount,
    OptionPrice,
    PriceRequest,
    PromotionRule,
    PromotionTerms,
    VolumeBreak,
    applicable_terms,
    compute_price,
)
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.graphql.relay import encode_global_id
from prm.settings import Settings

NAME = "catalog"
SIZES = {
    "small": {"products": 2_000, "promotions": 20},
    "large": {"products": 20_000, "promotions": 200},
}
LINE_COUNTS = (50, 500)
RUNS = 20
PREPARED = 5_000
CODE = "BENCH"
BREAKS = ((1, Decimal(1)), (10, Decimal("0.95")), (100, Decimal("0.85")))
"""Each product's volume breaks: (min quantity, share of its base price)."""

CREATE_QUOTE = """
mutation($input: CreateQuoteInput!) {
  createQuote(input: $input) {
    quote { id number lineCount total { amount currency } }
    errors { code field message }
  }
}
"""


@dataclass
class Seeded:
    """What was written, kept to build lines and pure pricing requests."""

    tenant_id: uuid.UUID
    tier_id: uuid.UUID
    partner_id: uuid.UUID
    products: list[uuid.UUID] = field(default_factory=list)
    bundles: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = field(default_factory=dict)
    bundle_percent: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    options: dict[uuid.UUID, list[tuple[uuid.UUID, str, Decimal]]] = field(default_factory=dict)
    books: list[dict[uuid.UUID, tuple[VolumeBreak, ...]]] = field(default_factory=list)
    """Partner, tier, default: the order a partner's price is looked up in."""
    rules: list[PromotionRule] = field(default_factory=list)


def _breaks(base: Decimal) -> tuple[VolumeBreak, ...]:
    return tuple(VolumeBreak(m, (base * share).quantize(Decimal("0.01"))) for m, share in BREAKS)


def seed(owner_url: str, tenant_id: uuid.UUID, counts: dict[str, int]) -> Seeded:
    """Bulk rows with COPY as the owner (a superuser here: RLS does not filter COPY)."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    seeded = Seeded(tenant_id, uuid.uuid4(), uuid.uuid4())
    other_partner = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(counts["products"])]
    seeded.products = ids
    singles = [pk for n, pk in enumerate(ids) if n % 50 != 49]
    default: dict[uuid.UUID, tuple[VolumeBreak, ...]] = {}
    tier: dict[uuid.UUID, tuple[VolumeBreak, ...]] = {}
    own: dict[uuid.UUID, tuple[VolumeBreak, ...]] = {}
    books = {"default": uuid.uuid4(), "tier": uuid.uuid4(), "partner": uuid.uuid4()}
    with psycopg.connect(libpq_dsn(owner_url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY partner_tiers (tenant_id, id, name, rank, discount_percent, lead_weight)"
            " FROM STDIN"
        ) as copy:
            copy.write_row((tenant_id, seeded.tier_id, "Gold", 1, Decimal(10), Decimal(1)))
        with cur.copy(
            "COPY partners (tenant_id, id, name, status, tier_id, country, region,"
            " postal_prefixes, capabilities, discount_percent) FROM STDIN"
        ) as copy:
            copy.write_row((tenant_id, seeded.partner_id, "Reseller", "ACTIVE", seeded.tier_id,
                            "US", "CA", [], [], Decimal("2.5")))  # fmt: skip
            copy.write_row((tenant_id, other_partner, "Other", "ACTIVE", None, "DE", "BY",
                            [], [], None))  # fmt: skip
        with cur.copy(
            "COPY products (tenant_id, id, sku, name, family, active, is_bundle,"
            " bundle_discount_percent) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(ids):
                is_bundle = n % 50 == 49
                percent = Decimal(rng.randrange(5, 16)) if is_bundle else None
                if is_bundle:
                    seeded.bundle_percent[pk] = Decimal(percent or 0)
                copy.write_row((tenant_id, pk, f"SKU-{n:06d}", f"Product {n}",
                                f"Family {n % 40}", True, is_bundle, percent))  # fmt: skip
        with cur.copy(
            "COPY product_bundle_items (tenant_id, id, bundle_id, item_id, quantity) FROM STDIN"
        ) as copy:
            for bundle in seeded.bundle_percent:
                items = rng.sample(singles, rng.randrange(2, 4))
                seeded.bundles[bundle] = [(item, rng.randrange(1, 4)) for item in items]
                for item, quantity in seeded.bundles[bundle]:
                    copy.write_row((tenant_id, uuid.uuid4(), bundle, item, quantity))
        groups: list[tuple[uuid.UUID, uuid.UUID]] = []
        with cur.copy(
            "COPY product_option_groups (tenant_id, id, product_id, position, name, required,"
            " min_choices, max_choices) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(singles):
                if n % 5 == 0:
                    group = uuid.uuid4()
                    groups.append((group, pk))
                    copy.write_row((tenant_id, group, pk, 1, "Warranty", False, 0, 1))
        with cur.copy(
            "COPY product_option_choices (tenant_id, id, group_id, product_id, position, name,"
            " price_deltas) FROM STDIN"
        ) as copy:
            for group, pk in groups:
                seeded.options[pk] = []
                for position, (name, delta) in enumerate(
                    (("1 year", "0"), ("3 years", "49.00"), ("5 years", "89.00"))
                ):
                    choice = uuid.uuid4()
                    seeded.options[pk].append((choice, name, Decimal(delta)))
                    copy.write_row((tenant_id, choice, group, pk, position, name,
                                    Jsonb({"USD": delta})))  # fmt: skip
        for n, pk in enumerate(singles):
            base = Decimal(rng.randrange(500, 500_000)) / 100
            default[pk] = _breaks(base)
            if n % 5 == 1:
                tier[pk] = _breaks(base * Decimal("0.97"))
            if n % 20 == 2:
                own[pk] = _breaks(base * Decimal("0.93"))
        with cur.copy(
            "COPY price_books (tenant_id, id, name, currency, scope, tier_id, partner_id,"
            " active, valid_from, valid_until, entry_count) FROM STDIN"
        ) as copy:
            for kind, entries, tier_id, partner_id in (
                ("default", default, None, None),
                ("tier", tier, seeded.tier_id, None),
                ("partner", own, None, seeded.partner_id),
            ):
                copy.write_row((tenant_id, books[kind], f"{kind} USD", "USD", kind.upper(),
                                tier_id, partner_id, True, None, None,
                                len(entries) * len(BREAKS)))  # fmt: skip
        with cur.copy(
            "COPY price_book_entries (tenant_id, id, price_book_id, product_id, min_quantity,"
            " unit_price) FROM STDIN"
        ) as copy:
            for kind, entries in (("default", default), ("tier", tier), ("partner", own)):
                for pk, breaks in entries.items():
                    for b in breaks:
                        copy.write_row((tenant_id, uuid.uuid4(), books[kind], pk,
                                        b.min_quantity, b.unit_price))  # fmt: skip
        seeded.books = [own, tier, default]
        with cur.copy(
            "COPY promotions (tenant_id, id, name, code, discount_percent, discount_amount,"
            " currency, tier_ids, regions, partner_ids, product_ids, starts_at, ends_at,"
            " stackable, usage_cap, usage_count) FROM STDIN"
        ) as copy:
            for n in range(counts["promotions"]):
                row = _promotion(n, rng, seeded, other_partner, now)
                copy.write_row((tenant_id, *row))
        with cur.copy(
            "COPY stock_levels (tenant_id, id, product_id, location, on_hand) FROM STDIN"
        ) as copy:
            for pk in singles:
                copy.write_row((tenant_id, uuid.uuid4(), pk, "WH1", rng.randrange(0, 2_000)))
        cur.execute("ANALYZE")
        conn.commit()
    return seeded


def _promotion(
    n: int, rng: random.Random, seeded: Seeded, other_partner: uuid.UUID, now: datetime
) -> tuple[Any, ...]:
    """One promotion's columns (after tenant_id); also kept as a `PromotionRule`."""
    pk = uuid.uuid4()
    amount = Decimal(rng.randrange(100, 2_000)) / 100 if n % 3 == 0 else None
    percent = None if amount is not None else Decimal(rng.randrange(100, 2_500)) / 100
    code = CODE if n == 0 else None
    tiers: list[uuid.UUID] = []
    regions: list[str] = []
    partners: list[uuid.UUID] = []
    products: list[uuid.UUID] = []
    match n % 8:
        case 2:
            tiers = [seeded.tier_id]
        case 3:
            regions = [rng.choice(["US", "CA", "FR"])]
        case 4:
            partners = [seeded.partner_id]
        case 5:
            products = rng.sample(seeded.products, 40)
        case 6:
            tiers, products = [seeded.tier_id], rng.sample(seeded.products, 40)
        case 7:
            partners = [other_partner]
    starts, ends = now - timedelta(days=1), now + timedelta(days=30)
    if n % 20 == 19:
        starts, ends = now - timedelta(days=30), now - timedelta(days=2)
    elif n % 20 == 18:
        starts, ends = now + timedelta(days=2), now + timedelta(days=30)
    cap, used = (5, 5) if n % 50 == 7 else (None, 0)
    stackable = n % 2 == 1
    name = f"Promotion {n}"
    seeded.rules.append(
        PromotionRule(
            terms=PromotionTerms(pk, name, percent=percent, amount=amount, stackable=stackable),
            starts_at=starts,
            ends_at=ends,
            code=code,
            currency="USD" if amount is not None else None,
            tier_ids=frozenset(tiers),
            regions=frozenset(regions),
            partner_ids=frozenset(partners),
            product_ids=frozenset(products),
            exhausted=cap is not None and used >= cap,
        )
    )
    return (pk, name, code, percent, amount, "USD" if amount is not None else None, tiers,
            regions, partners, products, starts, ends, stackable, cap, used)  # fmt: skip


@dataclass(frozen=True)
class Line:
    product_id: uuid.UUID
    quantity: int
    option_ids: tuple[uuid.UUID, ...]


def lines(seeded: Seeded, count: int, rng: random.Random) -> list[Line]:
    """`count` distinct products, at least one of them a bundle (so every size runs the
    same statements), quantities across the volume breaks, a warranty on half of those
    that offer one."""
    picks = rng.sample(seeded.products, count)
    if not any(pk in seeded.bundles for pk in picks):
        picks[0] = rng.choice([pk for pk in seeded.bundles if pk not in picks])
    chosen: list[Line] = []
    for pk in picks:
        options = seeded.options.get(pk, [])
        picked = (
            (options[rng.randrange(len(options))][0],) if options and rng.random() < 0.5 else ()
        )
        chosen.append(Line(pk, rng.choice([1, 3, 12, 40, 150]), picked))
    return chosen


def prepared_requests(seeded: Seeded, count: int) -> list[PriceRequest]:
    """What the loader would hand `compute_price` for the partner: its book chain, its tier
    (10%) and own (2.5%) discounts, the promotions that apply, options and bundles."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    buyer = Buyer(partner_id=seeded.partner_id, tier_id=seeded.tier_id, country="US", region="CA")
    chosen: list[Line] = []
    while len(chosen) < count:
        chosen += lines(seeded, min(count - len(chosen), len(seeded.products)), rng)
    requests: list[PriceRequest] = []
    for line in chosen:
        parts = seeded.bundles.get(line.product_id, [(line.product_id, 1)])
        components = tuple(
            Component(pk, quantity, next(book[pk] for book in seeded.books if pk in book))
            for pk, quantity in parts
        )
        options = {
            choice: (name, delta) for choice, name, delta in seeded.options.get(line.product_id, [])
        }
        percent = seeded.bundle_percent.get(line.product_id)
        requests.append(
            PriceRequest(
                currency="USD",
                quantity=line.quantity,
                components=components,
                options=tuple(
                    OptionPrice(c, options[c][0], options[c][1]) for c in line.option_ids
                ),
                tier=Discount("Gold tier 10%", Decimal(10)),
                partner=Discount("Partner discount 2.5%", Decimal("2.5")),
                promotions=applicable_terms(
                    seeded.rules,
                    buyer=buyer,
                    product_id=line.product_id,
                    at=now,
                    currency="USD",
                    code=CODE,
                ),
                bundle=Discount("Bundle saving", percent) if percent else None,
            )
        )
    return requests


def pure_throughput(seeded: Seeded) -> float:
    """Prices per second of `compute_price` alone: the best of three passes."""
    requests = prepared_requests(seeded, PREPARED)
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        for request in requests:
            compute_price(request)
        rates.append(len(requests) / (time.perf_counter() - started))
    return max(rates)


async def loader_figures(settings: Settings, seeded: Seeded) -> list[Figure]:
    """`price_lines` for a whole quote in one transaction: latency and statements."""
    db = Database.from_settings(settings)
    principal = Principal.system(seeded.tenant_id)
    rng = random.Random(3)
    figures: list[Figure] = []
    try:
        for count in LINE_COUNTS:
            requests = [
                LineRequest(line.product_id, line.quantity, line.option_ids, field=f"lines.{n}.")
                for n, line in enumerate(lines(seeded, count, rng))
            ]

            async def once(requests: list[LineRequest] = requests, count: int = count) -> int:
                async with db.session(seeded.tenant_id) as session:
                    with count_statements(db) as statements:
                        result = await price_lines(
                            session, principal, requests, partner_id=seeded.partner_id,
                            at=datetime.now(UTC), promotion_code=CODE,
                        )  # fmt: skip
                assert len(result.lines) == count
                return len(statements)

            await once()
            latencies = []
            for _ in range(RUNS):
                started = time.perf_counter()
                statements = await once()
                latencies.append(time.perf_counter() - started)
            figures += [
                Figure(
                    NAME,
                    f"price_lines {count} lines p50",
                    statistics.median(latencies) * 1000,
                    "ms",
                ),
                Figure(NAME, f"price_lines {count} lines max", max(latencies) * 1000, "ms"),
                Figure(NAME, f"SQL statements: price_lines {count} lines", statements, "stmts"),
            ]
    finally:
        await db.dispose()
    return figures


def _quote_body(seeded: Seeded, count: int, rng: random.Random) -> dict[str, Any]:
    return {
        "query": CREATE_QUOTE,
        "variables": {
            "input": {
                "partnerId": encode_global_id("Partner", seeded.partner_id),
                "currency": "USD",
                "promotionCode": CODE,
                "location": "WH1",
                "lines": [
                    {
                        "productId": encode_global_id("Product", line.product_id),
                        "quantity": line.quantity,
                        "optionIds": [
                            encode_global_id("ProductOptionChoice", c) for c in line.option_ids
                        ],
                    }
                    for line in lines(seeded, count, rng)
                ],
            }
        },
    }


def _check(response: httpx.Response, count: int) -> None:
    body = response.json()
    payload = (body.get("data") or {}).get("createQuote")
    if "errors" in body or payload is None or payload["errors"]:
        raise RuntimeError(f"createQuote failed: {response.text[:800]}")
    assert payload["quote"]["lineCount"] == count


def _token(base: str) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@bench.example",
            "password": PASSWORD,
            "tenant": "bench",
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _quote_statements(
    settings: Settings, token: str, body: dict[str, Any], count: int
) -> int:
    db = Database.from_settings(settings)
    app = create_app(settings, database=db)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
        ) as client:
            _check(await client.post("/graphql", json=body, headers=headers), count)
            with count_statements(db) as statements:
                response = await client.post("/graphql", json=body, headers=headers)
            _check(response, count)
    finally:
        await db.dispose()
    return len(statements)


def quote_figures(
    owner_url: str, settings: Settings, seeded: Seeded, workdir: Path
) -> list[Figure]:
    rng = random.Random(9)
    bodies = {count: _quote_body(seeded, count, rng) for count in LINE_COUNTS}
    figures: list[Figure] = []
    with running_server(owner_url, workdir) as base:
        token = _token(base)
        headers = {"Authorization": f"Bearer {token}"}
        for count, body in bodies.items():
            _check(httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=120), count)

            async def send(
                client: httpx.AsyncClient, body: dict[str, Any] = body
            ) -> httpx.Response:
                return await client.post("/graphql", json=body, headers=headers, timeout=120)

            result = asyncio.run(load(send, base_url=base, concurrency=1, total=RUNS, warmup=2))
            figures += [
                Figure(NAME, f"createQuote {count} lines p50", result.p50_ms, "ms"),
                Figure(NAME, f"createQuote {count} lines p99", result.p99_ms, "ms"),
                Figure(NAME, f"createQuote {count} lines errors", result.errors, "count"),
            ]
    for count, body in bodies.items():
        statements = asyncio.run(_quote_statements(settings, token, body, count))
        figures.append(
            Figure(NAME, f"SQL statements: createQuote {count} lines", statements, "stmts")
        )
    return figures


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = Settings(database_url=owner_url, data_dir=workdir, log_level="WARNING")
    tenant_id = asyncio.run(make_bench_tenant(settings))
    counts = SIZES[size]
    started = time.perf_counter()
    seeded = seed(owner_url, tenant_id, counts)
    figures = [
        Figure(NAME, "products seeded", counts["products"], "rows"),
        Figure(NAME, "promotions seeded", counts["promotions"], "rows"),
        Figure(NAME, "seeding", time.perf_counter() - started, "s"),
        Figure(NAME, "compute_price alone", pure_throughput(seeded), "prices/s"),
    ]
    figures += asyncio.run(loader_figures(settings, seeded))
    figures += quote_figures(owner_url, settings, seeded, workdir)
    return figures
