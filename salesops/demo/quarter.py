"""A quarter of the generated company's work, planned day by day, deterministic from a seed.

:func:`plan_quarter` returns a :class:`~salesops.demo.commands.QuarterPlan`: at the first
business instant the director, the managers and the group leads split the quarter's target
(with their reasons), each regional manager imports the region's customers from the CRM
(~90 distributors and thousands of hospitals and clinics, tiered, with estimated
contributions) and the ERP's open orders and invoices arrive. Then every working day each
rep follows customers up (most noting competitor news or a change in the decision chain),
moves decision states (intent confirmed calls the sales manager into the negotiation, who
joins in time or not), commits and completes next actions (some late, some never), files
progress reports (answered in time, late or not at all), plans tasks and proves them with
real files (EXIF-timed visit photos, PDFs named after customer and day, quotes of which some
concede over 12% and wait for the director), and requests samples that go through tech,
logistics and receipt (some stages late, a few stuck, so escalations fire and the SLA board
fills), rated afterwards (one department gets three low ratings in a row). The ERP publishes
orders, invoices and payments (natural, rebate, stock push) as they happen.

Outcomes are drawn from the seeded random source, except that the first draws of each kind
take every branch in turn: the first working day already shows every indicator, every
escalation and every kind of notification.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from salesops.demo import names
from salesops.demo.commands import (
    ERP_ACTOR,
    FINANCE_STORY,
    SETUP_STORY,
    Action,
    Command,
    CustomerSpec,
    QuarterPlan,
)
from salesops.demo.company import Company

#: The org's time zone (deploy/policy.yaml); business hours below are local.
TIMEZONE: Final = ZoneInfo("Asia/Shanghai")
#: Public holidays (no sales work) the demo knows; other days off are the weekends.
HOLIDAYS: Final = frozenset(
    date(2026, m, d)
    for m, days in (
        (1, (1, 2, 3)),
        (2, (15, 16, 17, 18, 19, 20, 21, 22, 23)),
        (4, (4, 5, 6)),
        (5, (1, 2, 3, 4, 5)),
        (6, (19, 20, 21)),
        (9, (25, 26, 27)),
        (10, (1, 2, 3, 4, 5, 6, 7, 8)),
    )
    for d in days
)
#: When the clock starts on the quarter's first working day (local): setup happens then
#: (business time waits there until the company is loaded), half an hour before work.
SETUP_TIME: Final = time(7, 30)
CENT: Final = Decimal("0.01")


@dataclass(frozen=True)
class Rates:
    """How busy people are, per rep and working day (or per event)."""

    follow_ups: float = 3.0
    tasks: float = 1.6
    progress_reports: float = 0.35
    tickets: float = 0.1
    #: Chance that a follow-up moves the key person's decision state.
    decision_change: float = 0.1
    #: Chance that a follow-up ends with a next action committed (when none is open).
    next_action: float = 0.55


DEFAULT_RATES: Final = Rates()

# Every outcome the plan can give something, and the order the first ones are forced in.
_FORCED: Final[dict[str, tuple[str, ...]]] = {
    "negotiation": ("on_time", "never", "late"),
    "next_action": ("on_time", "never", "late"),
    "report": ("on_time", "never", "late"),
    "visit": ("ok", "no_exif_first", "late", "stale_photo_first"),
    "proposal": ("ok", "wrong_date_first"),
    "quote": ("over", "normal", "over"),
    "concession": ("approve", "reject"),
    "tech": ("on_time", "late", "stuck", "needs_info"),
    "stocking": ("on_time", "late"),
    "receipt": ("on_time", "late", "stuck"),
    "invoice": ("on_time",),
}
_WEIGHTS: Final[dict[str, dict[str, float]]] = {
    "negotiation": {"on_time": 0.78, "late": 0.14, "never": 0.08},
    "next_action": {"on_time": 0.73, "late": 0.16, "never": 0.11},
    "report": {"on_time": 0.78, "late": 0.12, "never": 0.10},
    "visit": {
        "ok": 0.86,
        "no_exif_first": 0.04,
        "stale_photo_first": 0.03,
        "late": 0.05,
        "never": 0.02,
    },
    "proposal": {"ok": 0.88, "wrong_date_first": 0.05, "late": 0.05, "never": 0.02},
    "quote": {"normal": 0.88, "over": 0.12},
    "concession": {"approve": 0.65, "reject": 0.35},
    "tech": {"on_time": 0.79, "needs_info": 0.1, "late": 0.07, "stuck": 0.04},
    "stocking": {"on_time": 0.87, "late": 0.09, "stuck": 0.04},
    "receipt": {"on_time": 0.8, "late": 0.16, "stuck": 0.04},
    "invoice": {"on_time": 0.7, "late": 0.12, "split": 0.08, "rebate": 0.05, "unpaid": 0.05},
}
_TRANSITIONS: Final[dict[str | None, tuple[tuple[str, float], ...]]] = {
    None: (("needs_tech_validation", 0.5), ("budget_pending", 0.3), ("intent_confirmed", 0.2)),
    "needs_tech_validation": (
        ("intent_confirmed", 0.5),
        ("budget_pending", 0.3),
        ("chose_competitor", 0.2),
    ),
    "budget_pending": (
        ("intent_confirmed", 0.5),
        ("needs_tech_validation", 0.2),
        ("chose_competitor", 0.3),
    ),
    "intent_confirmed": (
        ("budget_pending", 0.4),
        ("needs_tech_validation", 0.4),
        ("chose_competitor", 0.2),
    ),
}
_TASK_KINDS: Final[dict[str, float]] = {
    "visit": 0.5,
    "proposal": 0.22,
    "quote": 0.22,
    "other": 0.06,
}
_FOLLOW_UP_KINDS: Final[dict[str, float]] = {
    "visit": 3,
    "call": 3,
    "meeting": 1,
    "message": 2,
    "email": 1,
}


def quarter_days(period: str) -> tuple[date, ...]:
    """Every calendar day of a quarter such as ``2026-Q2``."""
    year, quarter = int(period[:4]), int(period[-1])
    first = date(year, 3 * quarter - 2, 1)
    last = date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1)
    return tuple(first + timedelta(days=n) for n in range((last - first).days))


def is_workday(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def local(day: date, hours: float) -> datetime:
    """``day`` at a fractional local hour (9.5 is 09:30), in UTC."""
    minutes = round(hours * 60)
    moment = datetime.combine(day, time(0), tzinfo=TIMEZONE) + timedelta(minutes=minutes)
    return moment.astimezone(UTC)


def _hour(moment: datetime) -> float:
    at = moment.astimezone(TIMEZONE)
    return at.hour + at.minute / 60 + at.second / 3600


def _money(value: float | Decimal, step: int = 100) -> Decimal:
    """Rounded to ``step`` yuan, as people quote amounts."""
    return (Decimal(str(value)) / step).quantize(Decimal(1), ROUND_HALF_UP) * step


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_LONG_AGO: Final = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class _Customer:
    spec: CustomerSpec
    weight: float
    state: str | None = None
    last_contact_ts: float = 0.0
    #: No new next action before this (one is open) / no decision change (negotiation).
    next_action_free: datetime = _LONG_AGO
    decision_free: datetime = _LONG_AGO
    ordered: bool = False


@dataclass
class _Distributor:
    customer: _Customer
    cycle_days: int
    next_order: date


@dataclass
class _Planner:
    company: Company
    seed: int
    period: str
    rates: Rates
    days: tuple[date, ...]
    rng: random.Random
    start: datetime
    #: The whole quarter's working days (month ends are judged on them, not on ``days``).
    quarter_workdays: tuple[date, ...]
    commands: list[Command] = field(default_factory=list)
    _seq: Iterator[int] = field(default_factory=itertools.count)
    _drawn: Counter[str] = field(default_factory=Counter)
    _keys: Counter[str] = field(default_factory=Counter)

    @property
    def workdays(self) -> list[date]:
        return [d for d in self.days if is_workday(d)]

    def add(
        self,
        at: datetime,
        actor: str,
        action: Action,
        story: str,
        params: Mapping[str, Any],
        *,
        expect: int | None = None,
    ) -> None:
        self.commands.append(Command(at, next(self._seq), actor, action, story, params, expect))

    def key(self, prefix: str) -> str:
        self._keys[prefix] += 1
        return f"{prefix}{self._keys[prefix]:06d}"

    def fate(self, kind: str) -> str:
        """The outcome of the next ``kind`` thing: the forced ones first, then by weight."""
        n = self._drawn[kind]
        self._drawn[kind] += 1
        forced = _FORCED.get(kind, ())
        if n < len(forced):
            return forced[n]
        weights = _WEIGHTS[kind]
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def count(self, rate: float) -> int:
        whole = int(rate)
        return whole + (1 if self.rng.random() < rate - whole else 0)

    def next_workday(self, day: date) -> date:
        nxt = day + timedelta(days=1)
        while not is_workday(nxt):
            nxt += timedelta(days=1)
        return nxt

    def respond(
        self, after: datetime, hours: tuple[float, float], *, opens: float, closes: float
    ) -> datetime:
        """When someone reacts ``hours`` (a range) after ``after``, within their working
        hours: what would fall outside them waits for the next working morning."""
        at = after + timedelta(hours=self.rng.uniform(*hours))
        day = at.astimezone(TIMEZONE).date()
        if is_workday(day) and opens <= _hour(at) <= closes:
            return at
        if not (is_workday(day) and _hour(at) < opens):
            day = self.next_workday(day)
        return local(day, opens + self.rng.uniform(0.05, 0.9))


def plan_quarter(
    company: Company,
    *,
    seed: int | None = None,
    period: str = "2026-Q2",
    days: int | None = None,
    rates: Rates = DEFAULT_RATES,
) -> QuarterPlan:
    """The quarter ``period`` of ``company`` (its first ``days`` calendar days, if given).

    ``seed`` defaults to the company's; the same company, seed, period and days give the
    same plan, command for command.
    """
    seed = company.seed if seed is None else seed
    all_days = quarter_days(period)
    chosen = all_days[:days] if days is not None else all_days
    workdays = [d for d in chosen if is_workday(d)]
    if not workdays:
        raise ValueError(f"the first {days} days of {period} hold no working day")
    start = local(workdays[0], SETUP_TIME.hour + SETUP_TIME.minute / 60)
    planner = _Planner(
        company,
        seed,
        period,
        rates,
        chosen,
        random.Random(f"salesops-demo-quarter:{seed}:{period}"),
        start,
        tuple(d for d in all_days if is_workday(d)),
    )
    customers = _customers(company, planner.rng, start)
    book = {c.external_key: _Customer(c, _weight(c)) for c in customers}
    for c in book.values():
        c.last_contact_ts = c.spec.last_contact_at.timestamp()
    targets = _targets(planner, company, customers, start)
    _import(planner, company, customers, start)
    distributors = _finance_backlog(planner, book, start)
    diligence = {rep: planner.rng.uniform(0.7, 1.0) for rep in company.reps}
    by_rep: dict[str, list[_Customer]] = {rep: [] for rep in company.reps}
    for c in book.values():
        by_rep[c.spec.owner].append(c)
    for day in workdays:
        for rep in company.reps:
            _rep_day(planner, day, rep, by_rep[rep], diligence[rep])
        if day == workdays[0]:
            _bad_day_for_engineering(planner, day, by_rep)
        _finance_day(planner, day, distributors, book)
    commands = tuple(sorted(planner.commands, key=lambda c: c.sort_key))
    return QuarterPlan(
        company=company,
        seed=seed,
        period=period,
        start=start,
        days=chosen,
        customers=tuple(customers),
        commands=commands,
        targets=targets,
    )


# -- the customers of table 1 ------------------------------------------------------------------


def _weight(c: CustomerSpec) -> float:
    # Reps work their A customers hardest (the article: A-tier follow-ups 2.1 -> 5.8 a month).
    return {"A": 6.0, "B": 2.5, "C": 1.0}[c.tier] * (1.5 if c.distributor else 1.0)


def _split(total: int, parts: Sequence[int]) -> list[int]:
    """``total`` shared in proportion to ``parts`` (largest remainders), summing exactly."""
    weight = sum(parts)
    raw = [total * p / weight for p in parts]
    shares = [int(x) for x in raw]
    order = sorted(range(len(parts)), key=lambda i: raw[i] - shares[i], reverse=True)
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _customers(company: Company, rng: random.Random, start: datetime) -> list[CustomerSpec]:
    shape = company.shape
    reps_per_region = [len(region.reps) for region in company.regions]
    distributors = _split(shape.distributors, reps_per_region)
    end_customers = _split(shape.end_customers, reps_per_region)
    group_of = {rep: group.id for group in company.groups for rep in group.reps}
    taken: set[str] = set()
    found: list[CustomerSpec] = []

    def unique(candidates: Iterator[str]) -> str:
        # Names repeat across a few thousand hospitals; a number tells the rare clash apart.
        for candidate in itertools.islice(candidates, 50):
            if candidate not in taken:
                break
        else:
            candidate = f"{candidate}{len(taken)}"
        taken.add(candidate)
        return candidate

    def distributor_names(city: str) -> Iterator[str]:
        while True:
            word = rng.choice(names.DISTRIBUTOR_WORDS)
            yield f"{city}{word}{rng.choice(names.DISTRIBUTOR_SUFFIXES)}"

    def hospital_names(city: str) -> Iterator[str]:
        while True:
            yield rng.choice(names.HOSPITAL_KINDS).format(
                city=city,
                n=names.NUMERALS[rng.randrange(9)],
                branch=rng.choice(names.BRANCHES),
                word=rng.choice(names.HOSPITAL_WORDS),
                district=rng.choice(names.DISTRICTS),
            )

    def contact(days: tuple[float, float]) -> datetime:
        back = timedelta(days=rng.uniform(*days), hours=rng.uniform(0, 9))
        return (start - back).replace(microsecond=0)

    def add(owner: str, city: str, tier: str, amount: tuple[int, int], **rest: Any) -> None:
        found.append(
            CustomerSpec(
                tier=tier,
                owner=owner,
                org_unit=group_of[owner],
                estimated_contribution=_money(rng.uniform(*amount) * 1000, 1000),
                city=city,
                **rest,
            )
        )

    serial = {True: 0, False: 0}
    for region, n_dist, n_end in zip(company.regions, distributors, end_customers, strict=True):
        reps = list(region.reps)
        rng.shuffle(reps)
        for i in range(n_dist):
            serial[True] += 1
            city = rng.choice(region.cities)
            tier = "A" if rng.random() < 0.65 else "B"
            add(
                reps[i % len(reps)],
                city,
                tier,
                (300, 1200) if tier == "A" else (120, 400),
                external_key=f"KT-D{serial[True]:04d}",
                name=unique(distributor_names(city)),
                distributor=True,
                last_contact_at=contact((0.5, 9)),
            )
        for _ in range(n_end):
            serial[False] += 1
            city = rng.choice(region.cities)
            roll = rng.random()
            tier = "A" if roll < 0.1 else "B" if roll < 0.4 else "C"
            add(
                rng.choice(reps),
                city,
                tier,
                {"A": (80, 250), "B": (20, 80), "C": (3, 20)}[tier],
                external_key=f"KT-E{serial[False]:05d}",
                name=unique(hospital_names(city)),
                distributor=False,
                last_contact_at=contact({"A": (0.5, 8), "B": (1, 12), "C": (2, 20)}[tier]),
            )
    return found


def _targets(
    p: _Planner, company: Company, customers: Sequence[CustomerSpec], at: datetime
) -> dict[str, Decimal]:
    """The quarter's target split HQ -> regions -> groups -> reps, each with its reason.

    A rep's target is their customer pool's estimated contribution times a stretch: most near
    the pool, some stretched well past it (their coverage shows it), a few below (new reps).
    Amounts are whole ten-thousands; each parent's target is its children's sum, exactly.
    """
    pool: Counter[str] = Counter()
    for c in customers:
        pool[c.owner] += int(c.estimated_contribution)
    stretch: dict[str, tuple[float, str]] = {}
    for rep in company.reps:
        roll = p.rng.random()
        if roll < 0.15:
            why = "新开发区域，目标高于现有客户池，需开拓新客户"
            stretch[rep] = (p.rng.uniform(1.25, 1.45), why)
        elif roll < 0.25:
            stretch[rep] = (p.rng.uniform(0.8, 0.9), "新人保护期，目标低于客户池")
        else:
            stretch[rep] = (p.rng.uniform(0.95, 1.12), "按个人客户池预估贡献额分配")
    target = {rep: _money(max(pool[rep], 10_000) * stretch[rep][0], 10_000) for rep in company.reps}
    for group in company.groups:
        target[group.id] = sum((target[r] for r in group.reps), Decimal(0))
    for region in company.regions:
        target[region.id] = sum((target[g.id] for g in region.groups), Decimal(0))
    target["hq"] = sum((target[r.id] for r in company.regions), Decimal(0))

    def wan(amount: Decimal) -> str:
        return f"{amount / 10_000:,.0f}万"

    def allocate(actor: str, parent: str, children: Sequence[str], why: str) -> None:
        p.add(
            at,
            actor,
            Action.ALLOCATE_TARGET,
            SETUP_STORY,
            {
                "period": p.period,
                "parent_id": parent,
                "parent_amount": str(target[parent]) if parent == "hq" else None,
                "shares": [{"node_id": c, "amount": str(target[c])} for c in children],
                "rationale": why,
            },
        )

    largest = max(company.regions, key=lambda r: target[r.id])
    allocate(
        company.sales_director,
        "hq",
        [r.id for r in company.regions],
        f"{p.period}总目标{wan(target['hq'])}，按各大区客户池预估贡献和二级经销商数量分配；"
        f"{largest.name}客户池最大，承担{wan(target[largest.id])}",
    )
    for region in company.regions:
        allocate(
            region.manager,
            region.id,
            [g.id for g in region.groups],
            f"{region.name}{wan(target[region.id])}，按各组客户池与人员配置拆分",
        )
    for group in company.groups:
        stretched = sum(1 for r in group.reps if stretch[r][0] > 1.2)
        note = f"，其中{stretched}人承担开拓目标" if stretched else ""
        allocate(
            group.lead,
            group.id,
            list(group.reps),
            f"{group.name}{wan(target[group.id])}：按个人客户池分配{note}；"
            + "；".join(sorted({stretch[r][1] for r in group.reps})),
        )
    return target


def _import(p: _Planner, company: Company, customers: Sequence[CustomerSpec], at: datetime) -> None:
    """Each regional manager imports the region's customers (the CRM's export), then the
    player learns the ids the service gave them."""
    region_of = {rep: region.id for region in company.regions for rep in region.reps}
    for region in company.regions:
        rows = [
            {
                "external_key": c.external_key,
                "name": c.name,
                "tier": c.tier,
                "owner_id": c.owner,
                "org_unit_id": c.org_unit,
                "estimated_contribution": str(c.estimated_contribution),
                "last_contact_at": _iso(c.last_contact_at),
            }
            for c in customers
            if region_of[c.owner] == region.id
        ]
        p.add(at, region.manager, Action.IMPORT_CUSTOMERS, SETUP_STORY, {"rows": rows})
    p.add(
        at,
        company.sales_director,
        Action.SYNC_CUSTOMERS,
        SETUP_STORY,
        {"owners": list(company.reps), "count": len(customers)},
    )


# -- a rep's working day ----------------------------------------------------------------------


def _pick(p: _Planner, pool: Sequence[_Customer], at: datetime) -> _Customer:
    # Like the table's sort: the longer since the last contact, the likelier the next one.
    # (Timestamps as floats: this runs for every follow-up, task and ticket of the quarter.)
    overdue = at.timestamp() - 5 * 86_400
    weights = [
        c.weight
        * (3.0 if c.last_contact_ts < overdue else 1.0)
        * (0.2 if c.state == "chose_competitor" else 1.0)
        for c in pool
    ]
    return p.rng.choices(pool, weights=weights)[0]


def _rep_day(p: _Planner, day: date, rep: str, pool: list[_Customer], diligence: float) -> None:
    if not pool:
        return
    times = sorted(p.rng.uniform(9.0, 18.5) for _ in range(p.count(p.rates.follow_ups)))
    for hours in times:
        _follow_up(p, local(day, hours), rep, _pick(p, pool, local(day, hours)), diligence)
    if p.rng.random() < p.rates.progress_reports:
        at = local(day, p.rng.uniform(10.0, 17.5))
        _progress_report(p, at, rep, _pick(p, [c for c in pool if c.spec.tier != "C"] or pool, at))
    for hours in sorted(p.rng.uniform(9.5, 17.0) for _ in range(p.count(p.rates.tasks))):
        at = local(day, hours)
        _task(p, day, at, rep, _pick(p, pool, at), diligence)
    if p.rng.random() < p.rates.tickets:
        at = local(day, p.rng.uniform(9.0, 14.5))
        _ticket(p, at, rep, _pick(p, [c for c in pool if c.spec.tier != "C"] or pool, at))


def _follow_up(p: _Planner, at: datetime, rep: str, c: _Customer, diligence: float) -> None:
    story = f"customer:{c.spec.external_key}"
    traced = p.rng.random() < 0.55 + 0.45 * diligence
    competitor = chain = None
    if traced:
        if p.rng.random() < 0.75:
            competitor = p.rng.choice(names.COMPETITOR_NOTES)
        if competitor is None or p.rng.random() < 0.25:
            chain = p.rng.choice(names.DECISION_CHAIN_CHANGES)
    p.add(
        at,
        rep,
        Action.LOG_FOLLOW_UP,
        story,
        {
            "customer": c.spec.external_key,
            "kind": p.rng.choices(list(_FOLLOW_UP_KINDS), weights=list(_FOLLOW_UP_KINDS.values()))[
                0
            ],
            "contacted_at": _iso(at - timedelta(minutes=p.rng.randrange(5, 40))),
            "notes": p.rng.choice(names.FOLLOW_UP_NOTES),
            "competitor_notes": competitor,
            "decision_chain_change": chain,
        },
    )
    c.last_contact_ts = at.timestamp()
    if at >= c.decision_free and c.state != "chose_competitor":
        first_state = c.state is None and p.rng.random() < 0.2
        if first_state or p.rng.random() < p.rates.decision_change:
            _decision(p, at + timedelta(minutes=5), rep, c)
    if at >= c.next_action_free and p.rng.random() < p.rates.next_action:
        _next_action(p, at + timedelta(minutes=10), rep, c)


def _decision(p: _Planner, at: datetime, rep: str, c: _Customer) -> None:
    options = _TRANSITIONS[c.state]
    state = p.rng.choices([s for s, _ in options], weights=[w for _, w in options])[0]
    story = f"customer:{c.spec.external_key}"
    p.add(
        at,
        rep,
        Action.CHANGE_DECISION_STATE,
        story,
        {"customer": c.spec.external_key, "state": state},
    )
    c.state = state
    if state != "intent_confirmed":
        return
    manager = p.company.region_of(rep).manager
    due = at + timedelta(hours=24)
    fate = p.fate("negotiation")
    if fate == "on_time":
        confirm = p.respond(at, (0.5, 6), opens=8.0, closes=21.0)
    else:
        confirm = p.respond(due, (2, 20), opens=8.0, closes=21.0)
    if fate != "never":
        p.add(
            confirm,
            manager,
            Action.CONFIRM_NEGOTIATION_JOIN,
            story,
            {"customer": c.spec.external_key, "late": confirm > due},
        )
    # No new decision while the manager is (or should be) on the way.
    c.decision_free = max(confirm, due) + timedelta(hours=1)
    if not c.spec.distributor and not c.ordered and p.rng.random() < 0.5:
        # A hospital that confirmed its intent places its first order a few days later.
        c.ordered = True
        day = at.astimezone(TIMEZONE).date()
        for _ in range(p.rng.randrange(2, 8)):
            day = p.next_workday(day)
        if day in p.days:
            _order(p, local(day, p.rng.uniform(10, 16.5)), c, first=True)


def _next_action(p: _Planner, at: datetime, rep: str, c: _Customer) -> None:
    kind = p.rng.choice(list(names.NEXT_ACTION_TEXT))
    day = at.astimezone(TIMEZONE).date()
    for _ in range(p.rng.randrange(1, 5)):
        day = p.next_workday(day)
    due = local(day, p.rng.uniform(10, 17.5))
    story = f"customer:{c.spec.external_key}"
    p.add(
        at,
        rep,
        Action.COMMIT_NEXT_ACTION,
        story,
        {
            "customer": c.spec.external_key,
            "kind": kind,
            "description": names.NEXT_ACTION_TEXT[kind].format(
                product=p.rng.choice(names.PRODUCTS).split()[0]
            ),
            "due_at": _iso(due),
        },
    )
    quick = p._drawn["next_action"] == 0 or p.rng.random() < 0.3
    fate = p.fate("next_action")
    done: datetime | None = None
    if fate == "on_time" and quick:
        # Sending a comparison sheet takes an afternoon, not the days allowed for it.
        done = p.respond(at, (1, 4), opens=8.5, closes=20)
    elif fate == "on_time":
        span = (due - at).total_seconds() / 3600
        done = p.respond(at, (min(1.0, span / 2), max(1.0, span - 0.5)), opens=8.5, closes=20)
        if done > due:
            done = due - timedelta(minutes=p.rng.randrange(5, 25))
    elif fate == "late":
        done = p.respond(due, (2, 30), opens=8.5, closes=20)
    if done is not None:
        p.add(
            done,
            rep,
            Action.COMPLETE_NEXT_ACTION,
            story,
            {"customer": c.spec.external_key, "late": done > due},
        )
    c.next_action_free = (done or due) + timedelta(minutes=30)


def _progress_report(p: _Planner, at: datetime, rep: str, c: _Customer) -> None:
    key = p.key("R")
    story = f"report:{key}"
    lead = p.company.group_of(rep).lead
    p.add(
        at,
        rep,
        Action.FILE_PROGRESS_REPORT,
        story,
        {
            "report": key,
            "customer": c.spec.external_key,
            "key_action": p.rng.choice(
                ["contract_signed", "sample_sent", "quoted", "visit_scheduled"]
            ),
            "obstacle": p.rng.choice(
                [
                    "budget_frozen",
                    "tech_params_unconfirmed",
                    "competitor_price_pressure",
                    "internal_process_blocked",
                ]
            ),
            "support_needed": p.rng.choice(names.SUPPORT_NEEDED),
        },
    )
    due = at + timedelta(hours=4)
    fate = p.fate("report")
    answer = p.rng.choices(["coordinated", "need_more_info"], weights=[0.7, 0.3])[0]
    if fate == "on_time":
        when, who = p.respond(at, (0.3, 3.5), opens=8.5, closes=20.0), lead
    elif fate == "late":
        when, who = p.respond(due, (0.5, 16), opens=8.5, closes=20.0), lead
    else:
        # Escalated to the lead's manager when overdue; most of them answer it later.
        if p.rng.random() > 0.7:
            return
        when = p.respond(due, (1, 6), opens=8.0, closes=21.0)
        who = p.company.region_of(rep).manager
    p.add(
        when,
        who,
        Action.ANSWER_PROGRESS_REPORT,
        story,
        {"report": key, "answer": answer, "note": None, "late": when > due},
    )


# -- table 2: tasks and their evidence -------------------------------------------------------


def _device(rep: str) -> str:
    return f"KT-{abs(hash_text(rep)) % 10**8:08d}"


def hash_text(text: str) -> int:
    """A stable hash (Python's own changes per process)."""
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) % (2**61 - 1)
    return value


def _task(
    p: _Planner, day: date, scheduled: datetime, rep: str, c: _Customer, diligence: float
) -> None:
    kind = p.rng.choices(list(_TASK_KINDS), weights=list(_TASK_KINDS.values()))[0]
    key = p.key("T")
    story = f"task:{key}"
    titles = {
        "visit": f"拜访{c.spec.name}",
        "proposal": f"提交{c.spec.name}解决方案",
        "quote": f"{c.spec.name}报价",
        "other": p.rng.choice(names.OTHER_TASK_NOTES),
    }
    planned = local(day, p.rng.uniform(8.0, 8.9))
    p.add(
        planned,
        rep,
        Action.PLAN_TASK,
        story,
        {
            "task": key,
            "customer": c.spec.external_key,
            "kind": kind,
            "title": titles[kind],
            "scheduled_at": _iso(scheduled),
        },
    )
    submit = scheduled + timedelta(hours=p.rng.uniform(0.5, 2.5))
    base = {"task": key}
    if kind == "other":
        p.add(submit, rep, Action.SUBMIT_TASK, story, {**base, "note": titles[kind]})
        return
    if kind == "quote":
        _quote(p, submit, rep, story, base)
        return
    fate = p.fate(kind)
    if fate == "never" or (fate == "ok" and p.rng.random() > 0.9 + 0.1 * diligence):
        return  # the card at 18:00, then the supervisor at 21:00, will hear of it
    if fate == "late":
        submit = local(p.next_workday(day), p.rng.uniform(8.3, 10.5))
    if kind == "visit":
        captured = scheduled + timedelta(minutes=p.rng.randrange(-20, 60))
        photo = {"captured_at": _iso(captured), "device": _device(rep), "label": key}
        if fate in ("no_exif_first", "stale_photo_first"):
            # A first photo the checks refuse (no capture time, or hours before the
            # visit), then the right one a little later.
            if fate == "no_exif_first":
                refused, retry = None, 15
            else:
                refused, retry = _iso(scheduled - timedelta(hours=p.rng.uniform(5, 30))), 20
            p.add(
                submit,
                rep,
                Action.SUBMIT_TASK,
                story,
                {**base, "photo": {**photo, "captured_at": refused}},
                expect=422,
            )
            submit += timedelta(minutes=retry)
        final = {**base, "photo": photo, "late": fate == "late"}
        p.add(submit, rep, Action.SUBMIT_TASK, story, final)
        return
    from salesops.demo.evidence import proposal_file_name

    on_day = scheduled.astimezone(TIMEZONE).date()
    pdf = {
        "file_name": proposal_file_name(c.spec.name, on_day),
        "title": f"{c.spec.name} 解决方案",
        "lines": [
            "Kangtuo Medical - solution proposal",
            f"Customer {c.spec.external_key}, {on_day:%Y-%m-%d}",
            f"Products: {p.rng.choice(names.PRODUCTS).split()[0]}",
        ],
    }
    if fate == "wrong_date_first":
        wrong = proposal_file_name(c.spec.name, on_day - timedelta(days=1))
        p.add(
            submit,
            rep,
            Action.SUBMIT_TASK,
            story,
            {**base, "pdf": {**pdf, "file_name": wrong}},
            expect=422,
        )
        submit += timedelta(minutes=10)
    p.add(submit, rep, Action.SUBMIT_TASK, story, {**base, "pdf": pdf, "late": fate == "late"})


def _quote(p: _Planner, at: datetime, rep: str, story: str, base: dict[str, Any]) -> None:
    target = _money(p.rng.uniform(60, 1500) * 1000)

    def concession(low: float, high: float) -> Decimal:
        return Decimal(str(round(p.rng.uniform(low, high), 1)))

    if p.fate("quote") == "over":
        pct = concession(12.5, 20.0)
    else:
        pct = concession(0, 8) if p.rng.random() < 0.8 else concession(8, 11.9)
    deal = (target * (100 - pct) / 100).quantize(CENT)
    p.add(at, rep, Action.SUBMIT_TASK, story, _quote_params(base, target, deal))
    if pct <= 12:
        return
    director = p.company.sales_director
    decided = p.respond(at, (0.3, 5), opens=8.0, closes=21.0)
    decision = p.fate("concession")
    p.add(
        decided,
        director,
        Action.DECIDE_CONCESSION,
        story,
        {**base, "decision": decision, "reason": p.rng.choice(names.CONCESSION_REASONS[decision])},
    )
    if decision == "reject":
        again = concession(9, 11.9)
        deal = (target * (100 - again) / 100).quantize(CENT)
        resubmit = p.respond(decided, (0.5, 3), opens=8.5, closes=20.0)
        p.add(resubmit, rep, Action.SUBMIT_TASK, story, _quote_params(base, target, deal))


def _quote_params(base: dict[str, Any], target: Decimal, deal: Decimal) -> dict[str, Any]:
    pct = ((target - deal) / target * 100).quantize(CENT, ROUND_HALF_UP)
    return {
        **base,
        "target_price": str(target),
        "deal_price": str(deal),
        "concession_pct": str(pct),
    }


# -- table 3: sample requests ------------------------------------------------------------------


def _documents(p: _Planner) -> list[str]:
    # A few documents make most of the requests (the article: 73% of repeats).
    docs = [doc for doc, _, _ in names.DOCUMENT_TYPES]
    weights = [1 / (i + 1) ** 1.3 for i in range(len(docs))]
    wanted = p.rng.choices([1, 2, 3], weights=[0.55, 0.33, 0.12])[0]
    chosen: list[str] = []
    while len(chosen) < wanted:
        doc = p.rng.choices(docs, weights=weights)[0]
        if doc not in chosen:
            chosen.append(doc)
    return chosen


@dataclass(frozen=True)
class _Streak:
    """A ticket made to go badly for tech-engineering: its stars and when they are given."""

    stars: int
    rated_at: datetime


#: No other rating on the first day falls this close to the streak's (so none breaks it).
_STREAK_GUARD: Final = timedelta(minutes=10)


def _ticket(
    p: _Planner,
    at: datetime,
    rep: str,
    c: _Customer,
    *,
    docs: list[str] | None = None,
    streak: _Streak | None = None,
) -> None:
    key = p.key("K")
    story = f"ticket:{key}"
    docs = docs or _documents(p)
    groups = {g.id: g for g in p.company.tech_groups}
    owner_of = {doc: g.id for g in p.company.tech_groups for doc in g.document_types}
    routed = list(dict.fromkeys(owner_of[d] for d in docs))
    # Every fate first, so the request can say which stages will be left overdue for days.
    fates = {team: "on_time" if streak else p.fate("tech") for team in routed}
    stocking = "on_time" if streak else p.fate("stocking")
    receipt = "on_time" if streak else p.fate("receipt")
    stuck = [team for team, fate in fates.items() if fate == "stuck"]
    stuck += [
        stage
        for stage, fate in (("stocking_start", stocking), ("receipt_confirmation", receipt))
        if fate == "stuck"
    ]
    p.add(
        at,
        rep,
        Action.SUBMIT_TICKET,
        story,
        {
            "ticket": key,
            "customer": c.spec.external_key,
            "product": p.rng.choice(names.PRODUCTS),
            "quantity": p.rng.randrange(1, 4),
            "document_types": docs,
            "note": p.rng.choice(names.TICKET_NOTES),
            "stuck": stuck,
        },
    )

    def days_later(
        due: datetime, opens: float, closes: float, days: tuple[float, float] = (1.5, 4)
    ) -> datetime:
        # Left lying for days, escalated every window up to the end of the chain, until
        # someone finally does it: what keeps the SLA board from ever being empty.
        return p.respond(
            due + timedelta(days=p.rng.uniform(*days)), (0, 0.5), opens=opens, closes=closes
        )

    complete = at
    for team, fate in fates.items():
        group = groups[team]
        people = list(group.engineers) or [group.lead]
        due = at + timedelta(hours=2)
        answered_from = at
        if fate == "needs_info":
            asked = p.respond(at, (0.2, 1.2), opens=8.5, closes=18.5)
            p.add(
                asked,
                p.rng.choice(people),
                Action.ANSWER_TICKET,
                story,
                {
                    "ticket": key,
                    "team": team,
                    "answer": "needs_info",
                    "missing_items": p.rng.sample(names.MISSING_ITEMS, 2),
                },
            )
            supplied = p.respond(asked, (0.3, 2.0), opens=8.5, closes=19.0)
            p.add(
                supplied,
                rep,
                Action.SUPPLY_INFO,
                story,
                {"ticket": key, "team": team, "info": names.INFO_SUPPLIED},
            )
            # The tech clock paused while sales had the question; it resumes where it was.
            answered_from, due = supplied, supplied + max(timedelta(0), due - asked)
        if fate in ("late", "stuck"):
            # Timed out and escalated up the group's chain: the lead answers it.
            if fate == "late":
                answered = p.respond(due, (0.5, 5), opens=8.5, closes=19.0)
            else:
                answered = days_later(due, 8.5, 19.0)
            who = group.lead
        else:
            hours = (0.2, 0.6) if streak else (0.2, 1.8)
            answered = p.respond(answered_from, hours, opens=8.5, closes=18.5)
            who = p.rng.choice(people)
        p.add(
            answered,
            who,
            Action.ANSWER_TICKET,
            story,
            {
                "ticket": key,
                "team": team,
                "answer": "provided",
                "missing_items": [],
                "late": answered > due,
            },
        )
        complete = max(complete, answered)
    logistics = list(p.company.logistics) or [p.company.logistics_lead]
    window = complete + timedelta(hours=4)
    if stocking == "stuck":
        stocked, stocker = days_later(window, 8.5, 19.0), p.company.logistics_lead
    else:
        hours = (0.3, 0.8) if streak else (0.3, 3.3) if stocking == "on_time" else (4.5, 9)
        stocked, stocker = p.respond(complete, hours, opens=8.5, closes=19.0), logistics[0]
    p.add(
        stocked,
        stocker,
        Action.START_STOCKING,
        story,
        {"ticket": key, "late": stocked > window},
    )
    shipped = p.respond(stocked, (0.5, 1) if streak else (1, 5), opens=8.5, closes=19.0)
    p.add(
        shipped,
        p.rng.choice(logistics),
        Action.SHIP_TICKET,
        story,
        {"ticket": key, "tracking": f"SF{hash_text(key) % 10**12:012d}"},
    )
    if receipt == "stuck":
        # Reported every hour it stays open (the receipt's window): a day is plenty.
        received = days_later(shipped + timedelta(hours=1), 8.0, 21.0, (0.5, 1.5))
    else:
        hours = (0.15, 0.9) if receipt == "on_time" else (1.3, 5)
        received = shipped + timedelta(hours=p.rng.uniform(*hours))
    p.add(
        received,
        rep,
        Action.CONFIRM_RECEIPT,
        story,
        {"ticket": key, "late": received > shipped + timedelta(hours=1)},
    )
    if streak is not None:
        stars, rated = streak.stars, max(streak.rated_at, received + timedelta(minutes=5))
    elif p.rng.random() < 0.9:
        stars = p.rng.choices([5, 4, 3, 2, 1], weights=[0.45, 0.33, 0.12, 0.07, 0.03])[0]
        rated = received + timedelta(hours=p.rng.uniform(0.2, 3))
        if rated.astimezone(TIMEZONE).date() == p.workdays[0]:
            guard_from = local(p.workdays[0], _STREAK_HOUR) - _STREAK_GUARD
            if guard_from <= rated <= guard_from + 3 * _STREAK_GUARD:
                rated = guard_from + 3 * _STREAK_GUARD
    else:
        return
    comment = p.rng.choice(names.RATING_COMMENTS_LOW) if stars < 3 else None
    p.add(
        rated, rep, Action.RATE_TICKET, story, {"ticket": key, "stars": stars, "comment": comment}
    )


#: When (local, first day) the three low ratings are given, a minute apart.
_STREAK_HOUR: Final = 15.5


def _bad_day_for_engineering(p: _Planner, day: date, by_rep: Mapping[str, list[_Customer]]) -> None:
    """Three samples that need installation drawings go badly on the first day: rated below
    3 stars in a row, they send installation & engineering's head (and logistics', whose
    stage each had too) the improvement list the same afternoon."""
    engineering = next((g for g in p.company.tech_groups if g.id == "tech-engineering"), None)
    team = engineering or p.company.tech_groups[0]
    reps = [rep for rep in p.company.reps if by_rep[rep]]
    for n, stars in enumerate((2, 1, 2)):
        rep = reps[n % len(reps)]
        customer = max(by_rep[rep], key=lambda c: c.spec.estimated_contribution)
        at = local(day, 8.75 + n / 6)
        rated = local(day, _STREAK_HOUR + n / 60)
        _ticket(p, at, rep, customer, docs=[team.document_types[0]], streak=_Streak(stars, rated))


# -- finance: what the ERP publishes -----------------------------------------------------------


def _finance(p: _Planner, at: datetime, event: str, key: str, c: _Customer, **data: Any) -> None:
    p.add(
        at,
        ERP_ACTOR,
        Action.FINANCE_EVENT,
        # The ERP's backlog arrives with the setup; the rest as it happens.
        SETUP_STORY if at == p.start else FINANCE_STORY,
        {"type": event, "key": key, "customer": c.spec.external_key, "data": data},
    )


def _order(
    p: _Planner, at: datetime, c: _Customer, *, first: bool, stock_push: bool = False
) -> None:
    """An order and its invoice; payments follow on the invoice's fate."""
    share = p.rng.uniform(0.2, 0.35) if stock_push else p.rng.uniform(0.3, 0.5)
    amount = _money(c.spec.estimated_contribution * Decimal(str(share)))
    if stock_push:
        margin_pct = p.rng.uniform(0.02, 0.08)
    elif p.rng.random() < 0.08:
        margin_pct = p.rng.uniform(-0.04, 0.02)  # sold below cost to win or keep the account
    else:
        margin_pct = p.rng.uniform(0.1, 0.32) if first else p.rng.uniform(0.08, 0.25)
    margin = (amount * Decimal(str(margin_pct))).quantize(CENT)
    order = p.key("SO-")
    _finance(
        p,
        at,
        "OrderPlaced",
        order,
        c,
        order_id=f"KT-{order}",
        amount=str(amount),
        gross_margin=str(margin),
        placed_at=_iso(at),
    )
    invoice = p.key("INV-")
    days = 90 if stock_push else (30 if p.rng.random() < 0.7 else 60)
    due = at + timedelta(days=days)
    _finance(
        p,
        at + timedelta(minutes=30),
        "InvoiceIssued",
        invoice,
        c,
        invoice_id=f"KT-{invoice}",
        amount=str(amount),
        issued_at=_iso(at),
        due_at=_iso(due),
    )
    if stock_push:
        # Collected at once: the distributor takes the stock against the promise of a rebate.
        _payment(p, at + timedelta(hours=2), c, invoice, amount, "stock_push")
        return
    _payments(p, c, invoice, amount, due)


def _payment(
    p: _Planner, at: datetime, c: _Customer, invoice: str, amount: Decimal, kind: str
) -> None:
    if at.astimezone(TIMEZONE).date() > p.days[-1]:
        return  # after the quarter
    payment = p.key("PAY-")
    _finance(
        p,
        at,
        "PaymentReceived",
        payment,
        c,
        payment_id=f"KT-{payment}",
        invoice_id=f"KT-{invoice}",
        amount=str(amount),
        kind=kind,
        received_at=_iso(at),
    )


def _payments(p: _Planner, c: _Customer, invoice: str, amount: Decimal, due: datetime) -> None:
    fate = p.fate("invoice")

    def around(days: tuple[float, float]) -> datetime:
        at = due + timedelta(days=p.rng.uniform(*days))
        day = at.astimezone(TIMEZONE).date()
        while not is_workday(day):
            day += timedelta(days=1)
        return local(day, p.rng.uniform(9.5, 16.5))

    first_day = p.workdays[0]
    if fate == "on_time":
        at = around((-6, 2))
        if at < local(first_day, 9):  # the day's first payments, not yesterday's
            at = local(first_day, p.rng.uniform(9.5, 15))
        _payment(p, at, c, invoice, amount, "natural")
    elif fate == "late":
        _payment(p, around((5, 20)), c, invoice, amount, "natural")
    elif fate == "split":
        half = _money(amount / 2)
        _payment(p, around((-3, 3)), c, invoice, half, "natural")
        _payment(p, around((6, 15)), c, invoice, amount - half, "rebate")
    elif fate == "rebate":
        _payment(p, around((-2, 6)), c, invoice, amount, "rebate")


def _finance_backlog(
    p: _Planner, book: Mapping[str, _Customer], start: datetime
) -> list[_Distributor]:
    """What the ERP already holds for each distributor: the last quarter's orders, their
    invoices (some falling due now) and the payments received before the quarter began."""
    distributors = [c for c in book.values() if c.spec.distributor]
    found: list[_Distributor] = []
    first_day = p.workdays[0]
    for index, c in enumerate(distributors):
        cycle = p.rng.randrange(25, 50)
        # The first few fall due on the first day, so the day's collections are not empty.
        last = first_day - timedelta(days=30 if index < 3 else p.rng.randrange(1, cycle))
        c.ordered = True
        placed = last
        history: list[date] = []
        while placed > first_day - timedelta(days=100):
            history.append(placed)
            placed -= timedelta(days=cycle + p.rng.randrange(-4, 5))
        for order_day in sorted(history):
            at = local(order_day, p.rng.uniform(10, 16))
            amount = _money(c.spec.estimated_contribution * Decimal(str(p.rng.uniform(0.3, 0.5))))
            margin = (amount * Decimal(str(p.rng.uniform(0.08, 0.25)))).quantize(CENT)
            order, invoice = p.key("SO-"), p.key("INV-")
            days = 30 if order_day == last or p.rng.random() < 0.7 else 60
            due = at + timedelta(days=days)
            _finance(
                p,
                start,
                "OrderPlaced",
                order,
                c,
                order_id=f"KT-{order}",
                amount=str(amount),
                gross_margin=str(margin),
                placed_at=_iso(at),
            )
            _finance(
                p,
                start,
                "InvoiceIssued",
                invoice,
                c,
                invoice_id=f"KT-{invoice}",
                amount=str(amount),
                issued_at=_iso(at),
                due_at=_iso(due),
            )
            if due < start:
                paid = min(start - timedelta(hours=1), due + timedelta(days=p.rng.uniform(-5, 6)))
                payment = p.key("PAY-")
                _finance(
                    p,
                    start,
                    "PaymentReceived",
                    payment,
                    c,
                    payment_id=f"KT-{payment}",
                    invoice_id=f"KT-{invoice}",
                    amount=str(amount),
                    kind="natural",
                    received_at=_iso(paid),
                )
            else:
                _payments(p, c, invoice, amount, due)
        found.append(_Distributor(c, cycle, last + timedelta(days=cycle)))
    return found


def _finance_day(
    p: _Planner, day: date, distributors: Sequence[_Distributor], book: Mapping[str, _Customer]
) -> None:
    first = day == p.workdays[0]
    for d in distributors:
        if d.next_order <= day or (first and d is distributors[-1]):
            _order(p, local(day, p.rng.uniform(10, 16.5)), d.customer, first=False)
            d.next_order = day + timedelta(days=d.cycle_days + p.rng.randrange(-4, 5))
    later = [x for x in p.quarter_workdays if x.month == day.month and x > day]
    if len(later) < 3:
        # Month end: some distributors are pushed to take stock (the unsustainable part).
        for d in distributors:
            if p.rng.random() < 0.12:
                at = local(day, p.rng.uniform(14, 18))
                _order(p, at, d.customer, first=False, stock_push=True)
    if first:
        # Two hospitals won last quarter place their first orders on day one.
        fresh = [c for c in book.values() if not c.spec.distributor and not c.ordered]
        for c in sorted(fresh, key=lambda x: -x.spec.estimated_contribution)[:2]:
            c.ordered = True
            _order(p, local(day, p.rng.uniform(9.5, 10.5)), c, first=True)
