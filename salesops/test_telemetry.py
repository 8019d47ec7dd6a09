"""JSON logs carry the service and, inside a trace, its ids; traceparent round-trips."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from salesops.telemetry import configure_logging, context_from_traceparent, current_traceparent


@pytest.fixture
def sdk_tracer() -> trace.Tracer:
    # A local provider: the test does not depend on (or change) the process-wide one.
    return TracerProvider().get_tracer("test")


def test_a_log_line_is_json_with_the_service_and_the_trace_ids(
    capsys: pytest.CaptureFixture[str], sdk_tracer: trace.Tracer
) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("customers", "INFO")
        with sdk_tracer.start_as_current_span("command") as span:
            logging.getLogger("salesops.test").info("客户已登记 %s", "cus-1")
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)

    assert line["message"] == "客户已登记 cus-1"
    assert line["service"] == "customers"
    assert line["level"] == "INFO"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_the_traceparent_of_a_span_continues_in_a_new_context(sdk_tracer: trace.Tracer) -> None:
    with sdk_tracer.start_as_current_span("command") as command:
        traceparent = current_traceparent()
    assert traceparent is not None
    with sdk_tracer.start_as_current_span(
        "consumer", context=context_from_traceparent(traceparent)
    ) as consumer:
        pass
    assert consumer.get_span_context().trace_id == command.get_span_context().trace_id
    assert isinstance(consumer, ReadableSpan)
    assert consumer.parent is not None
    assert consumer.parent.span_id == command.get_span_context().span_id


def test_no_traceparent_means_a_new_trace() -> None:
    assert current_traceparent() is None
    assert context_from_traceparent(None) == {}
