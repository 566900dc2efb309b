"""Product associations: the `catalog.associations` job counts BOUGHT_TOGETHER rules from
won deals' accepted quotes (support, confidence and lift checked against a count done
here by hand) and UPGRADE pairs within a family by default-book list price; recomputing
writes the same rows; the scheduler asks for it daily, once while one is pending."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from prm.catalog.models import Product, Quote, QuoteLine, QuoteStatus
from prm.catalog.recommendation_compute import ASSOCIATIONS, MIN_DEALS
from prm.catalog.recommendation_models import ProductAssociation
from prm.catalog.recommendation_schedule import enqueue_scheduled_associations
from prm.crm.models import Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.actors import run_job
from prm.workers.jobs import enqueue_job_sync
from prm.workers.models import Job, JobStatus, OutboxMessage
from prm.workers.scheduler import PRODUCT_ASSOCIATIONS, PRODUCT_ASSOCIATIONS_INTERVAL, Scheduler
from tests.catalog.factories import make_price_book, make_product
from tests.crm.factories import make_account
from tests.factories import TenantWithAdmin, make_tenant, unique

_numbers = itertools.count(1)

Key = tuple[str, uuid.UUID, uuid.UUID]
"""(kind, product, related product)."""


@dataclass(frozen=True)
class Figures:
    deals: int
    support: float
    confidence: float
    lift: float | None


@pytest.fixture(autouse=True)
def _drop_unsent_jobs(database: Database) -> Iterator[None]:
    """The jobs these tests ask for are run by hand; none should reach a later worker."""
    yield
    with database.sync_session() as session:
        session.execute(delete(OutboxMessage))


@dataclass
class Shop:
    """One tenant with an account, writing deals straight into the database."""

    database: Database
    tenant: TenantWithAdmin
    account_id: uuid.UUID
    products: dict[str, Product] = field(default_factory=dict)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    async def product(self, name: str, **kwargs: Any) -> Product:
        self.products[name] = await make_product(
            self.database, self.tenant_id, name=f"{name} {unique('p')}", **kwargs
        )
        return self.products[name]

    def ids(self, names: Sequence[str]) -> list[uuid.UUID]:
        return [self.products[name].id for name in names]

    def deal(
        self,
        *quotes: Sequence[str],
        stage: OpportunityStage = OpportunityStage.CLOSED_WON,
        status: QuoteStatus = QuoteStatus.ACCEPTED,
        account_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """An opportunity with one quote per argument (product names, accepted one hour
        apart in the order given)."""
        tenant_id = self.tenant_id
        with self.database.sync_session(tenant_id) as session:
            opportunity = Opportunity(
                tenant_id=tenant_id,
                account_id=account_id or self.account_id,
                name=unique("Deal"),
                stage=stage,
                probability=100 if stage is OpportunityStage.CLOSED_WON else 10,
                closed_at=datetime.now(UTC)
                if stage in (OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST)
                else None,
            )
            session.add(opportunity)
            session.flush()
            base = datetime.now(UTC) - timedelta(days=1)
            for index, names in enumerate(quotes):
                quote = Quote(
                    tenant_id=tenant_id,
                    number=next(_numbers),
                    status=status,
                    opportunity_id=opportunity.id,
                    account_id=account_id or self.account_id,
                    currency="USD",
                    accepted_at=base + timedelta(hours=index)
                    if status is QuoteStatus.ACCEPTED
                    else None,
                )
                session.add(quote)
                session.flush()
                for position, product_id in enumerate(self.ids(names), start=1):
                    session.add(
                        QuoteLine(
                            tenant_id=tenant_id,
                            quote_id=quote.id,
                            position=position,
                            product_id=product_id,
                            sku=unique("SKU"),
                            product_name="Widget",
                            quantity=1,
                            list_unit_price=10,
                            unit_price=10,
                            total=10,
                        )
                    )
        return opportunity.id

    def retire(self, name: str) -> None:
        with self.database.sync_session(self.tenant_id) as session:
            session.execute(
                update(Product)
                .where(Product.id == self.products[name].id)
                .values(active=False, retired_at=datetime.now(UTC))
            )

    def recompute(self) -> dict[str, object]:
        """Ask for the job as the API would and run it as a worker would."""
        from prm.auth.principal import Principal

        with self.database.sync_session(self.tenant_id) as session:
            job = enqueue_job_sync(session, Principal.system(self.tenant_id), ASSOCIATIONS)
        assert run_job(self.database, ASSOCIATIONS, self.tenant_id, job.id) is JobStatus.SUCCEEDED
        with self.database.sync_session(self.tenant_id) as session:
            done = session.get(Job, (self.tenant_id, job.id))
            assert done is not None
            assert done.result is not None
            return dict(done.result)

    def rows(self) -> dict[Key, Figures]:
        with self.database.sync_session(self.tenant_id) as session:
            found = session.scalars(
                select(ProductAssociation).where(ProductAssociation.tenant_id == self.tenant_id)
            ).all()
        return {
            (row.kind.value, row.product_id, row.related_product_id): Figures(
                row.deals, row.support, row.confidence, row.lift
            )
            for row in found
        }


async def make_shop(database: Database) -> Shop:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    return Shop(database, tenant, account.id)


def rules_by_hand(deals: Sequence[set[uuid.UUID]], min_deals: int) -> dict[Key, Figures]:
    """Association rules counted in Python: each deal is the set of products it holds."""
    total = len(deals)
    holding = {p: sum(1 for d in deals if p in d) for d in deals for p in d}
    expected: dict[Key, Figures] = {}
    for a, b in itertools.permutations(holding, 2):
        both = sum(1 for d in deals if a in d and b in d)
        if both < min_deals:
            continue
        confidence = Fraction(both, holding[a])
        lift = confidence / Fraction(holding[b], total)
        expected[("BOUGHT_TOGETHER", a, b)] = Figures(
            both, float(Fraction(both, total)), float(confidence), float(lift)
        )
    return expected


def assert_figures(actual: dict[Key, Figures], expected: dict[Key, Figures]) -> None:
    assert set(actual) == set(expected)
    for key, want in expected.items():
        got = actual[key]
        assert got.deals == want.deals, key
        assert got.support == pytest.approx(want.support), key
        assert got.confidence == pytest.approx(want.confidence), key
        if want.lift is None:
            assert got.lift is None, key
        else:
            assert got.lift == pytest.approx(want.lift), key


@pytest.mark.asyncio
async def test_bought_together_support_confidence_and_lift_by_hand(database: Database) -> None:
    shop = await make_shop(database)
    for name in ("X", "Y", "Z", "W"):
        await shop.product(name)
    await shop.product("Kit", bundle_items=[(shop.products["X"], 1)])
    other_account = (await make_account(database, shop.tenant_id)).id

    shop.deal(["X", "Y", "Kit"])
    shop.deal(["X", "Y", "Z", "Kit"], account_id=other_account)
    shop.deal(["X", "Z"])
    shop.deal(["Y"])
    # Two accepted quotes: the last one accepted (W alone) is what was bought.
    shop.deal(["X", "Y"], ["W"])
    # Not counted: a lost deal, a won deal whose quote was never accepted, a won deal
    # without a quote, and an open deal's accepted quote.
    shop.deal(["X", "Y", "Z"], stage=OpportunityStage.CLOSED_LOST)
    shop.deal(["X", "Y", "Z"], status=QuoteStatus.SENT)
    shop.deal()
    shop.deal(["X", "Y", "Z"], stage=OpportunityStage.NEGOTIATION)

    result = shop.recompute()

    x, y, z, w, kit = shop.ids(["X", "Y", "Z", "W", "Kit"])
    deals = [{x, y, kit}, {x, y, z, kit}, {x, z}, {y}, {w}]
    expected = rules_by_hand(deals, min_deals=2)
    assert MIN_DEALS == 2
    # The hand count, spelled out for two rules: 5 won deals; X in 3, Z in 2; X and Z in 2.
    # lift(X → Z) = (2/3) / (2/5) = 5/3; lift(Z → X) = 1 / (3/5) = 5/3.
    assert expected[("BOUGHT_TOGETHER", x, z)] == Figures(2, 2 / 5, 2 / 3, 5 / 3)
    assert expected[("BOUGHT_TOGETHER", z, x)] == Figures(2, 2 / 5, 1.0, 5 / 3)
    # Y and Z share one deal only: below the minimum, in neither direction. The bundle
    # counts as itself, beside X.
    assert ("BOUGHT_TOGETHER", y, z) not in expected
    assert ("BOUGHT_TOGETHER", kit, x) in expected
    actual = shop.rows()
    assert_figures(actual, expected)
    assert result == {"boughtTogether": len(expected), "upgrades": 0}


@pytest.mark.asyncio
async def test_recompute_is_idempotent_and_follows_the_data(database: Database) -> None:
    shop = await make_shop(database)
    for name in ("A", "B", "C"):
        await shop.product(name, family="Gear")
    await make_price_book(
        database, shop.tenant_id, [(shop.products[n], p) for n, p in (("A", "1"), ("B", "2"))]
    )
    shop.deal(["A", "B"])
    shop.deal(["A", "B", "C"])

    shop.recompute()
    first = shop.rows()
    assert first  # A↔B bought together, A → B an upgrade
    shop.recompute()
    assert shop.rows() == first

    # A third deal changes the figures: the rows are replaced, not added to.
    shop.deal(["A", "C"])
    shop.recompute()
    a, b, c = shop.ids(["A", "B", "C"])
    expected = rules_by_hand([{a, b}, {a, b, c}, {a, c}], min_deals=2)
    actual = {k: v for k, v in shop.rows().items() if k[0] == "BOUGHT_TOGETHER"}
    assert_figures(actual, expected)


@pytest.mark.asyncio
async def test_upgrades_within_a_family_by_default_book_list_price(database: Database) -> None:
    shop = await make_shop(database)
    r1 = await shop.product("R1", family="Router")
    r2 = await shop.product("R2", family="Router")
    r3 = await shop.product("R3", family="Router")  # pricier, but retired
    r5 = await shop.product("R5", family="Router")  # priced in EUR only
    r6 = await shop.product("R6", family="Router")  # never bought
    s1 = await shop.product("S1", family="Switch")  # pricier, other family
    loose = await shop.product("Loose")  # no family
    # R2's list price is its first break (200), not its volume price (90 from 10).
    usd: list[tuple[Product, str] | tuple[Product, str, int]] = [
        (r1, "100"), (r2, "200"), (r2, "90", 10), (r3, "300"), (r6, "250"), (s1, "900"),
        (loose, "5000"),
    ]  # fmt: skip
    await make_price_book(
        database,
        shop.tenant_id,
        usd,
    )
    await make_price_book(database, shop.tenant_id, [(r1, "1000"), (r5, "5000")], currency="EUR")
    # An expired default USD book would make R1 the dearest.
    await make_price_book(
        database,
        shop.tenant_id,
        [(r1, "9999")],
        valid_from=datetime.now(UTC) - timedelta(days=60),
        valid_until=datetime.now(UTC) - timedelta(days=30),
    )
    shop.retire("R3")
    shop.deal(["R1"])
    shop.deal(["R1"])
    shop.deal(["R2", "S1"])
    shop.deal(["S1"])

    result = shop.recompute()

    upgrades = {k: v for k, v in shop.rows().items() if k[0] == "UPGRADE"}
    # 4 won deals; 3 hold a Router (2 with R1, 1 with R2); R6 never bought.
    expected = {
        ("UPGRADE", r1.id, r2.id): Figures(1, 1 / 4, 1 / 3, None),
        ("UPGRADE", r1.id, r6.id): Figures(0, 0.0, 0.0, None),
        ("UPGRADE", r2.id, r6.id): Figures(0, 0.0, 0.0, None),
    }
    assert_figures(upgrades, expected)
    assert result["upgrades"] == 3


@pytest.mark.asyncio
async def test_the_scheduler_asks_daily_once_while_pending(
    settings: Settings, database: Database
) -> None:
    scheduler = Scheduler(settings, database, broker=None)  # type: ignore[arg-type]
    tasks = {task.name: task for task in scheduler.tasks}
    assert tasks[PRODUCT_ASSOCIATIONS].interval == PRODUCT_ASSOCIATIONS_INTERVAL
    assert PRODUCT_ASSOCIATIONS_INTERVAL.total_seconds() == 24 * 3600

    shop = await make_shop(database)
    await shop.product("A")
    await shop.product("B")
    shop.deal(["A", "B"])
    shop.deal(["A", "B"])
    empty = await make_shop(database)  # no products: nothing to compute

    def jobs(tenant_id: uuid.UUID) -> list[Job]:
        with database.sync_session(tenant_id) as session:
            return list(session.scalars(select(Job).where(Job.kind == ASSOCIATIONS)))

    tasks[PRODUCT_ASSOCIATIONS].run()
    asked = jobs(shop.tenant_id)
    assert len(asked) == 1
    assert jobs(empty.tenant_id) == []
    enqueue_scheduled_associations(database)
    assert len(jobs(shop.tenant_id)) == 1  # still pending: not asked twice

    assert run_job(database, ASSOCIATIONS, shop.tenant_id, asked[0].id) is JobStatus.SUCCEEDED
    a, b = shop.ids(["A", "B"])
    assert set(shop.rows()) == {("BOUGHT_TOGETHER", a, b), ("BOUGHT_TOGETHER", b, a)}
    enqueue_scheduled_associations(database)
    assert len(jobs(shop.tenant_id)) == 2  # done: the next day's pass asks again
