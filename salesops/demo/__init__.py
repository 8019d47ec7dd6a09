"""A realistic company, generated: the demo of ``salesops up --demo`` and the benchmark's load.

* :func:`~salesops.demo.company.generate_company` — the org directory of a company like the
  article's (137 people, 6 regions), deterministic from a seed;
* :func:`~salesops.demo.quarter.plan_quarter` — a quarter of its work as time-ordered
  :class:`~salesops.demo.commands.Command` s (customers, targets, follow-ups, decisions,
  tasks with evidence, tickets, ratings, finance events);
* :class:`~salesops.demo.player.Player` — plays them through the services' HTTP APIs (and
  NATS, for finance) on an accelerated or manual clock.

For a benchmark::

    company = generate_company(seed=7)
    plan = plan_quarter(company, days=14)
    for command in plan.commands:  # or Player(clients, mint, pacer).play(plan.commands)
        request = request_for(command, records, now)
"""

from salesops.demo.commands import Action, Command, CustomerSpec, QuarterPlan
from salesops.demo.company import FULL, SMALL, Company, CompanyShape, generate_company
from salesops.demo.player import (
    ClockPacer,
    FinancePublisher,
    HttpRequest,
    ManualPacer,
    Player,
    PlayStats,
    Records,
    request_for,
)
from salesops.demo.quarter import Rates, plan_quarter

__all__ = [
    "FULL",
    "SMALL",
    "Action",
    "ClockPacer",
    "Command",
    "Company",
    "CompanyShape",
    "CustomerSpec",
    "FinancePublisher",
    "HttpRequest",
    "ManualPacer",
    "PlayStats",
    "Player",
    "QuarterPlan",
    "Rates",
    "Records",
    "generate_company",
    "plan_quarter",
    "request_for",
]
