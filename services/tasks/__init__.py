"""Table 2 — daily task list with evidence (销售日清任务表): tasks, evidence checks, concessions
over the threshold, approvals, the 18:00 card.

Not built yet: the service joins `salesops up`, compose and the catalog
(salesops/catalog.py) in its own issue. Its events are declared in contracts/.
"""
