"""Throughput and latency benchmark of the Sales Action Engine (``python -m bench.run``).

Not a test: it measures the event store append, the customers HTTP slice and the outbox
relay against real PostgreSQL and NATS JetStream, and reports the figures against goals.
"""
