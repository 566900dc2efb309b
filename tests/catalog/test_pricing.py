"""The pricing function on its own: worked examples checked by hand, then properties over
generated requests, compared with a reference calculation written here from API.md's
rules (list price from the base entries and options; VOLUME, TIER, PARTNER, PROMOTION,
BUNDLE on the running unit price; half-up to the minor unit at each step)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prm.catalog.pricing import (
    Adjustment,
    AdjustmentKind,
    Component,
    Discount,
    NoPrice,
    OptionPrice,
    PriceBreakdown,
    PriceRequest,
    PromotionTerms,
    VolumeBreak,
    compute_price,
)
from prm.errors import InvalidInput

D = Decimal
VOLUME, TIER, PARTNER, PROMOTION, BUNDLE = (
    AdjustmentKind.VOLUME,
    AdjustmentKind.TIER,
    AdjustmentKind.PARTNER,
    AdjustmentKind.PROMOTION,
    AdjustmentKind.BUNDLE,
)
PROPERTIES = settings(max_examples=200, deadline=None, database=None)


def product(*breaks: tuple[int, str], quantity: int = 1) -> Component:
    """A component with (min quantity, unit price) entries."""
    return Component(uuid.uuid4(), quantity, tuple(VolumeBreak(m, D(price)) for m, price in breaks))


def promotion(
    name: str, *, percent: str | None = None, amount: str | None = None, stackable: bool = False
) -> PromotionTerms:
    return PromotionTerms(
        uuid.uuid4(),
        name,
        percent=D(percent) if percent else None,
        amount=D(amount) if amount else None,
        stackable=stackable,
    )


def price(
    *components: Component,
    quantity: int = 1,
    currency: str = "USD",
    options: tuple[OptionPrice, ...] = (),
    tier: Discount | None = None,
    partner: Discount | None = None,
    promotions: tuple[PromotionTerms, ...] = (),
    bundle: Discount | None = None,
) -> PriceBreakdown:
    return compute_price(
        PriceRequest(currency, quantity, components, options, tier, partner, promotions, bundle)
    )


def steps(breakdown: PriceBreakdown) -> list[tuple[str, str]]:
    """(kind, unit amount) of each adjustment, in order."""
    return [(a.kind.value, str(a.unit_amount)) for a in breakdown.adjustments]


# Worked examples ----------------------------------------------------------------------


def test_the_volume_break_is_the_largest_minimum_the_quantity_reaches() -> None:
    widget = product((1, "100.00"), (10, "90.00"), (50, "80.00"))
    below = price(widget, quantity=9)
    assert (below.list_unit_price, below.unit_price, below.total) == (D("100.00"),) * 2 + (
        D("900.00"),
    )
    assert below.adjustments == ()

    at_ten = price(widget, quantity=10)
    assert at_ten.list_unit_price == D("100.00")
    assert steps(at_ten) == [("VOLUME", "-10.00")]
    assert (at_ten.unit_price, at_ten.total) == (D("90.00"), D("900.00"))

    assert price(widget, quantity=75).unit_price == D("80.00")


def test_tier_then_partner_each_take_a_percentage_of_the_running_price() -> None:
    breakdown = price(
        product((1, "200.00")),
        quantity=2,
        tier=Discount("Gold", D("10")),
        partner=Discount("Partner", D("5")),
    )
    # 10% of 200.00 = 20.00 → 180.00; 5% of 180.00 = 9.00 → 171.00; x 2 = 342.00
    assert steps(breakdown) == [("TIER", "-20.00"), ("PARTNER", "-9.00")]
    assert (breakdown.unit_price, breakdown.total) == (D("171.00"), D("342.00"))
    assert [a.label for a in breakdown.adjustments] == ["Gold", "Partner"]


def test_each_step_rounds_half_up_to_the_minor_unit() -> None:
    # 2.5% of 85.50 = 2.1375 → 2.14; 83.36 x 3 = 250.08
    assert steps(price(product((1, "85.50")), partner=Discount("P", D("2.5")))) == [
        ("PARTNER", "-2.14")
    ]
    assert price(product((1, "85.50")), quantity=3, partner=Discount("P", D("2.5"))).total == D(
        "250.08"
    )
    # 5% of 10.10 = 0.505: half-up gives 0.51 (half-even would give 0.50)
    assert price(product((1, "10.10")), partner=Discount("P", D("5"))).unit_price == D("9.59")
    # 10% of 129.99 = 12.999 → 13.00, not truncated to 12.99
    tiered = price(product((1, "129.99")), tier=Discount("T", D("10")))
    assert tiered.unit_price == D("116.99")


def test_yen_has_no_decimals() -> None:
    # 1,255 JPY less 2.5% = 31.375 → 31 → 1,224; 5% of 1,010 = 50.5 → 51 → 959
    yen = price(product((1, "1255")), quantity=3, currency="JPY", partner=Discount("P", D("2.5")))
    assert steps(yen) == [("PARTNER", "-31")]
    assert (yen.unit_price, yen.total) == (D("1224"), D("3672"))
    assert price(product((1, "1010")), currency="JPY", tier=Discount("T", D("5"))).unit_price == D(
        "959"
    )


def test_stackable_promotions_stack_percentages_first_then_amounts() -> None:
    amount_off = promotion("Five off", amount="5.00", stackable=True)
    ten_percent = promotion("Ten percent", percent="10", stackable=True)
    breakdown = price(product((1, "100.00")), promotions=(amount_off, ten_percent))
    # 10% of 100.00 = 10.00 → 90.00, then 5.00 off → 85.00 (amount first would give 85.50)
    assert steps(breakdown) == [("PROMOTION", "-10.00"), ("PROMOTION", "-5.00")]
    assert [a.promotion_id for a in breakdown.adjustments] == [ten_percent.id, amount_off.id]
    assert breakdown.unit_price == D("85.00")


def test_the_stack_or_the_best_single_promotion_whichever_is_better_for_the_buyer() -> None:
    stack = (
        promotion("Ten percent", percent="10", stackable=True),
        promotion("Five off", amount="5.00", stackable=True),
    )
    # The stack takes 15.00; a single 12% takes 12.00: the stack wins.
    weaker = promotion("Twelve percent", percent="12")
    assert steps(price(product((1, "100.00")), promotions=(*stack, weaker))) == [
        ("PROMOTION", "-10.00"),
        ("PROMOTION", "-5.00"),
    ]
    # A single 20% takes 20.00: it replaces the stack.
    stronger = promotion("Twenty percent", percent="20")
    alone = price(product((1, "100.00")), promotions=(*stack, weaker, stronger))
    assert steps(alone) == [("PROMOTION", "-20.00")]
    assert alone.promotion_ids == (stronger.id,)
    # A single 15% ties with the stack: the single promotion wins the tie.
    tie = promotion("Fifteen percent", percent="15")
    assert price(product((1, "100.00")), promotions=(*stack, tie)).promotion_ids == (tie.id,)


def test_of_the_exclusive_promotions_the_best_for_the_buyer_wins() -> None:
    # On 150.00: 10% is 15.00, 20.00 off is 20.00.
    ten_percent = promotion("Ten percent", percent="10")
    twenty_off = promotion("Twenty off", amount="20.00")
    breakdown = price(product((1, "150.00")), promotions=(ten_percent, twenty_off))
    assert breakdown.promotion_ids == (twenty_off.id,)
    assert breakdown.unit_price == D("130.00")
    # Equal discounts: the first name alphabetically, whatever the creation order.
    beta, alpha = promotion("Beta", percent="10"), promotion("Alpha", percent="10")
    assert price(product((1, "50.00")), promotions=(beta, alpha)).promotion_ids == (alpha.id,)
    assert price(product((1, "50.00")), promotions=(alpha, beta)).promotion_ids == (alpha.id,)


def test_equal_stackable_promotions_apply_in_one_order_whatever_their_creation_order() -> None:
    beta = promotion("Beta", percent="10", stackable=True)
    alpha = promotion("Alpha", percent="10", stackable=True)
    # 10.00 then 10% of 90.00 = 9.00: which promotion gets which must not depend on order.
    first = price(product((1, "100.00")), promotions=(beta, alpha))
    assert first == price(product((1, "100.00")), promotions=(alpha, beta))
    assert first.promotion_ids == (alpha.id, beta.id)


def test_an_amount_off_never_takes_the_price_below_zero() -> None:
    breakdown = price(
        product((1, "30.00")),
        quantity=4,
        promotions=(promotion("Fifty off", amount="50.00"),),
        bundle=Discount("Bundle", D("10")),
    )
    assert steps(breakdown) == [("PROMOTION", "-30.00")]
    assert (breakdown.unit_price, breakdown.total) == (D("0.00"), D("0.00"))


def test_a_bundle_lists_at_its_items_and_saves_its_percentage_last() -> None:
    two_x = product((1, "50.00"), (4, "45.00"), quantity=2)
    one_y = product((1, "30.00"))
    single = price(two_x, one_y, bundle=Discount("Bundle saving 10%", D("10")))
    # 2 x 50.00 + 30.00 = 130.00; 10% = 13.00 → 117.00
    assert single.list_unit_price == D("130.00")
    assert steps(single) == [("BUNDLE", "-13.00")]
    assert single.unit_price == D("117.00")
    # Two bundles need 4 of X: its break at 4 saves 2 x 5.00 = 10.00 a bundle → 120.00;
    # 10% = 12.00 → 108.00; x 2 = 216.00
    double = price(two_x, one_y, quantity=2, bundle=Discount("Bundle saving 10%", D("10")))
    assert steps(double) == [("VOLUME", "-10.00"), ("BUNDLE", "-12.00")]
    assert (double.list_unit_price, double.unit_price, double.total) == (
        D("130.00"),
        D("108.00"),
        D("216.00"),
    )


def test_options_add_to_the_list_price_before_any_discount() -> None:
    options = (
        OptionPrice(uuid.uuid4(), "Extended warranty", D("25.00")),
        OptionPrice(uuid.uuid4(), "Rack kit", D("4.99")),
    )
    breakdown = price(
        product((1, "100.00")), quantity=2, options=options, tier=Discount("T", D("10"))
    )
    # 100.00 + 25.00 + 4.99 = 129.99; 10% = 12.999 → 13.00 → 116.99; x 2 = 233.98
    assert breakdown.list_unit_price == D("129.99")
    assert (breakdown.unit_price, breakdown.total) == (D("116.99"), D("233.98"))


def test_every_step_in_api_order() -> None:
    breakdown = price(
        product((1, "1000.00"), (5, "900.00")),
        quantity=5,
        tier=Discount("Tier", D("10")),
        partner=Discount("Partner", D("5")),
        promotions=(promotion("Launch", percent="2"),),
        bundle=Discount("Bundle", D("1")),
    )
    # 1000 → VOLUME -100 → 900 → TIER -90 → 810 → PARTNER -40.50 → 769.50
    # → PROMOTION 2% = 15.39 → 754.11 → BUNDLE 1% = 7.5411 → 7.54 → 746.57
    assert steps(breakdown) == [
        ("VOLUME", "-100.00"),
        ("TIER", "-90.00"),
        ("PARTNER", "-40.50"),
        ("PROMOTION", "-15.39"),
        ("BUNDLE", "-7.54"),
    ]
    assert (breakdown.unit_price, breakdown.total) == (D("746.57"), D("3732.85"))


def test_a_quantity_below_every_entry_has_no_price() -> None:
    with pytest.raises(NoPrice):
        price(product((5, "10.00"), (10, "9.00")), quantity=4)
    with pytest.raises(InvalidInput) as raised:
        price(product((1, "10.00")), quantity=0)
    assert raised.value.field == "quantity"


# Properties ---------------------------------------------------------------------------

MINOR_UNITS = {"USD": 2, "JPY": 0, "KWD": 3}
NAMES = ("Alpha", "Beta", "Gamma")


def to_minor(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Expected:
    list_unit_price: Decimal
    unit_price: Decimal
    total: Decimal
    adjustments: tuple[Adjustment, ...]


def reference(request: PriceRequest) -> Expected | None:
    """API.md's rules, step by step; None when a component has no entry the quantity
    reaches."""
    cur = request.currency
    listed = volume = Decimal(0)
    for part in request.components:
        needed = request.quantity * part.quantity
        entries = sorted(part.breaks, key=lambda b: b.min_quantity)
        if entries[0].min_quantity > needed:
            return None
        reached = [b for b in entries if b.min_quantity <= needed][-1]
        listed += entries[0].unit_price * part.quantity
        volume += max(entries[0].unit_price - reached.unit_price, Decimal(0)) * part.quantity
    list_unit = to_minor(listed + sum(o.unit_amount for o in request.options), cur)

    running = list_unit
    made: list[Adjustment] = []

    def take(
        kind: AdjustmentKind, label: str, amount: Decimal, pid: uuid.UUID | None = None
    ) -> None:
        nonlocal running
        amount = min(to_minor(amount, cur), running)
        if amount > 0:
            running -= amount
            made.append(Adjustment(kind, label, -amount, pid))

    take(VOLUME, "Volume break", volume)
    for kind, step in ((TIER, request.tier), (PARTNER, request.partner)):
        if step is not None:
            take(kind, step.label, running * step.percent / 100)

    def off(p: PromotionTerms, at: Decimal) -> Decimal:
        raw = at * p.percent / 100 if p.percent is not None else p.amount or Decimal(0)
        return min(to_minor(raw, cur), at)

    # Stack: percentages (largest first), then amounts (largest first); equal ones by name.
    stack = sorted(
        (p for p in request.promotions if p.stackable),
        key=lambda p: (p.percent is None, -(p.percent or p.amount or 0), p.name, p.id),
    )
    stacked: list[tuple[PromotionTerms, Decimal]] = []
    left = running
    for p in stack:
        stacked.append((p, off(p, left)))
        left -= stacked[-1][1]
    singles = [p for p in request.promotions if not p.stackable]
    best = min(singles, key=lambda p: (-off(p, running), p.name, p.id.int)) if singles else None
    if best is not None and off(best, running) > 0 and off(best, running) >= running - left:
        take(PROMOTION, best.name, off(best, running), best.id)
    else:
        for p, amount in stacked:
            take(PROMOTION, p.name, amount, p.id)
    if request.bundle is not None:
        take(BUNDLE, request.bundle.label, running * request.bundle.percent / 100)
    return Expected(list_unit, running, running * request.quantity, tuple(made))


@st.composite
def money_in(draw: st.DrawFn, currency: str, low: int, high: int) -> Decimal:
    """An amount of `low`..`high` whole units, with the currency's decimals."""
    minor = MINOR_UNITS[currency]
    return Decimal(draw(st.integers(low * 10**minor, high * 10**minor))).scaleb(-minor)


@st.composite
def components(draw: st.DrawFn, currency: str) -> Component:
    """Entries at distinct minimum quantities whose prices never rise with the minimum."""
    minimums = sorted(draw(st.sets(st.integers(1, 60), min_size=1, max_size=4)))
    prices = sorted((draw(money_in(currency, 0, 2_000)) for _ in minimums), reverse=True)
    return Component(
        draw(st.uuids()),
        draw(st.integers(1, 3)),
        tuple(VolumeBreak(m, p) for m, p in zip(minimums, prices, strict=True)),
    )


percents = st.integers(1, 10_000).map(lambda n: Decimal(n).scaleb(-2))
"""0.01 to 100.00."""


@st.composite
def promotion_terms(draw: st.DrawFn, currency: str) -> PromotionTerms:
    """Percent or amount off, stackable or not; few names and percentages, so ties occur."""
    percent = draw(st.none() | st.sampled_from([D(5), D(10), D("12.5")]) | percents)
    return PromotionTerms(
        draw(st.uuids()),
        draw(st.sampled_from(NAMES)),
        percent=percent,
        amount=None
        if percent is not None
        else draw(money_in(currency, 0, 500).filter(lambda a: a > 0)),
        stackable=draw(st.booleans()),
    )


def discounts(label: str) -> st.SearchStrategy[Discount | None]:
    return st.none() | st.builds(
        Discount, st.just(label), st.integers(1, 9_999).map(lambda n: Decimal(n).scaleb(-2))
    )


@st.composite
def requests(draw: st.DrawFn) -> PriceRequest:
    currency = draw(st.sampled_from(sorted(MINOR_UNITS)))
    parts = tuple(draw(st.lists(components(currency), min_size=1, max_size=3)))
    is_bundle = len(parts) > 1 or draw(st.booleans())
    return PriceRequest(
        currency=currency,
        quantity=draw(st.integers(1, 120)),
        components=parts,
        options=tuple(
            OptionPrice(draw(st.uuids()), f"Option {n}", draw(money_in(currency, 0, 300)))
            for n in range(draw(st.integers(0, 3)))
        ),
        tier=draw(discounts("Tier")),
        partner=draw(discounts("Partner")),
        promotions=tuple(
            draw(st.lists(promotion_terms(currency), max_size=5, unique_by=lambda p: p.id))
        ),
        bundle=draw(discounts("Bundle")) if is_bundle else None,
    )


def priced(request: PriceRequest) -> PriceBreakdown | None:
    try:
        return compute_price(request)
    except NoPrice:
        return None


@PROPERTIES
@given(requests())
def test_the_net_price_is_between_zero_and_the_list_price(request: PriceRequest) -> None:
    breakdown = priced(request)
    if breakdown is None:
        return
    assert Decimal(0) <= breakdown.unit_price <= breakdown.list_unit_price
    assert breakdown.total == breakdown.unit_price * request.quantity
    assert breakdown.list_unit_price + sum(a.unit_amount for a in breakdown.adjustments) == (
        breakdown.unit_price
    )
    assert all(a.unit_amount < 0 for a in breakdown.adjustments)
    order = list(AdjustmentKind)
    kinds = [order.index(a.kind) for a in breakdown.adjustments]
    assert kinds == sorted(kinds)


@PROPERTIES
@given(requests(), st.data())
def test_the_price_does_not_depend_on_creation_order(
    request: PriceRequest, data: st.DataObject
) -> None:
    shuffled = replace(
        request,
        components=tuple(
            replace(part, breaks=tuple(data.draw(st.permutations(part.breaks))))
            for part in data.draw(st.permutations(request.components))
        ),
        promotions=tuple(data.draw(st.permutations(request.promotions))),
    )
    assert priced(shuffled) == priced(request)


@PROPERTIES
@given(requests())
def test_the_price_follows_the_reference_calculation(request: PriceRequest) -> None:
    expected = reference(request)
    breakdown = priced(request)
    if expected is None:
        assert breakdown is None
        return
    assert breakdown is not None
    assert (
        breakdown.list_unit_price,
        breakdown.unit_price,
        breakdown.total,
        breakdown.adjustments,
    ) == (expected.list_unit_price, expected.unit_price, expected.total, expected.adjustments)
    assert breakdown.currency == request.currency
    assert breakdown.quantity == request.quantity
