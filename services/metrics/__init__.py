"""Projections of the action-certainty indicators and the health dashboard.

Not built yet: the service joins `salesops up`, compose and the catalog
(salesops/catalog.py) in its own issue. Its events are declared in contracts/.
"""
