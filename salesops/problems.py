"""Errors as values the caller can act on, served as RFC 9457 problem responses.

Domain code raises :class:`DomainError` subclasses naming the field and the reason; the
chassis turns them, request validation errors and concurrency conflicts into
``application/problem+json`` bodies with the right 4xx status.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesops.eventstore import ConcurrencyConflict
from salesops.inputs import refuse_unstorable_text

PROBLEM_MEDIA_TYPE = "application/problem+json"


class DomainError(Exception):
    """A command the rules refuse. ``field`` names the input at fault, if one is."""

    status = 422
    kind = "rule-violated"
    title = "The command breaks a business rule"

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class NotFound(DomainError):
    status = 404
    kind = "not-found"
    title = "No such record"


class Forbidden(DomainError):
    status = 403
    kind = "forbidden"
    title = "Your role does not allow this"


class PayloadTooLarge(DomainError):
    status = 413
    kind = "payload-too-large"
    title = "The request body is too large"

    def __init__(self, limit_bytes: int, *, field: str = "body") -> None:
        super().__init__(f"the {field} may be at most {limit_bytes:,} bytes", field=field)


class StateConflict(DomainError):
    """The record is in a state where this command does not apply (e.g. a locked task)."""

    status = 409
    kind = "state-conflict"
    title = "The record's state does not allow this"


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """An RFC 9457 problem response."""
    body: dict[str, Any] = {
        "type": f"urn:salesops:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({key: value for key, value in extensions.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(location: tuple[Any, ...]) -> str:
    # FastAPI locations start with where the value came from: body, query, path, header.
    parts = [str(part) for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        return problem(
            400,
            "malformed-json",
            "The request body is not valid JSON",
            str(detail.get("ctx", {}).get("error", detail.get("msg"))),
            instance=request.url.path,
        )
    fields = [
        {"field": _field_path(tuple(error["loc"])), "reason": _reason(error)} for error in errors
    ]
    summary = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
    return problem(
        422,
        "invalid-request",
        "The request has invalid fields",
        summary,
        instance=request.url.path,
        errors=fields,
    )


def _reason(error: Any) -> str:
    if error.get("type") == "extra_forbidden":
        return "is not a known field"
    if error.get("type") == "missing":
        return "is required"
    return str(error.get("msg", "is invalid"))


def _domain_response(exc: DomainError, path: str) -> JSONResponse:
    errors = [{"field": exc.field, "reason": exc.reason}] if exc.field else None
    return problem(exc.status, exc.kind, exc.title, exc.reason, instance=path, errors=errors)


async def _domain_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return _domain_response(exc, request.url.path)


async def _conflict_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConcurrencyConflict)
    return problem(
        409,
        "version-conflict",
        "The record changed since you read it",
        str(exc),
        instance=request.url.path,
        expected_version=exc.expected,
        current_version=exc.actual,
    )


async def _http_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    if exc.status_code == 413 and isinstance(limit, int):
        # An operation's max_body_size stopped reading the body; say what the limit is.
        return _domain_response(PayloadTooLarge(limit), request.url.path)
    kind = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}
    return problem(
        exc.status_code,
        kind.get(exc.status_code, "http-error"),
        str(exc.detail) if exc.status_code != 404 else "Not found",
        str(exc.detail),
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _unexpected_problem(request: Request, exc: Exception) -> JSONResponse:
    # The last resort: a bug. Starlette re-raises the exception after this answer, so the
    # server logs its traceback; the caller learns nothing of the internals.
    return problem(
        500,
        "internal-error",
        "The server could not handle this request",
        "an unexpected error occurred; it has been logged for the operators",
        instance=request.url.path,
    )


class _TooLargeAsProblem:
    """Serves Starlette's own plain-text 413 as the problem a too-large body gets.

    A declared ``Content-Length`` over an operation's ``max_body_size`` is answered by
    Starlette itself, past the exception handlers, whatever the app had answered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_as_problem(message: Message) -> None:
            nonlocal replaced
            if replaced:  # the plain-text body of the answer replaced
                return
            limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
            if (
                message["type"] == "http.response.start"
                and message["status"] == 413
                and isinstance(limit, int)
                and dict(message.get("headers", [])).get(b"content-type", b"").startswith(b"text/")
            ):
                replaced = True
                response = _domain_response(PayloadTooLarge(limit), scope.get("path", ""))
                await response(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, send_as_problem)


def install_problem_handlers(app: FastAPI) -> None:
    """Serve every error this system raises as a problem response.

    Call it before the routers are included: it also makes every operation refuse text
    the database cannot store (:func:`salesops.inputs.refuse_unstorable_text`) as a 422
    problem, instead of failing on it with a 500.
    """
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(DomainError, _domain_problem)
    app.add_exception_handler(ConcurrencyConflict, _conflict_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(Exception, _unexpected_problem)
    app.add_middleware(_TooLargeAsProblem)
    app.router.dependencies.append(Depends(refuse_unstorable_text))
