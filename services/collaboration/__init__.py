"""Table 3 — cross-department collaboration (跨部门协同响应表): tickets, stage SLAs, escalation
chains, ratings.

Not built yet: the service joins `salesops up`, compose and the catalog
(salesops/catalog.py) in its own issue. Its events are declared in contracts/.
"""
