"""Shared runtime of the Sales Action Engine services.

Event store, outbox relay, consumers, durable timers, clock, settings, telemetry,
authentication and the service chassis. Services import from here and from
``contracts``; they never import each other.
"""
