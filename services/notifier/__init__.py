"""Fans events out to people on DingTalk, WeCom, Feishu, e-mail and webhooks.

Not built yet: the service joins `salesops up`, compose and the catalog
(salesops/catalog.py) in its own issue. Its events are declared in contracts/.
"""
