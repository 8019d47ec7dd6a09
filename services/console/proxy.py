"""``/api/<service>/<path>``: forward a call to the service, stream the answer back.

The browser talks to one address; the console passes each call on unchanged (method,
query, body, the person's ``Authorization`` header, ``traceparent``) and streams the answer
back, server-sent events included. Hop-by-hop headers stay on their own hop (RFC 9110 §7.6.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from salesops.problems import problem

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


_IDEMPOTENT = frozenset({"GET", "HEAD"})


#: Set again by the console's own server on the answer it sends; passed on, they would
#: appear twice ("server: uvicorn, uvicorn").
_SET_BY_THIS_SERVER = frozenset({"date", "server"})


def _forwardable(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


def _answer_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in _forwardable(headers).items() if k.lower() not in _SET_BY_THIS_SERVER}


class Forwarder:
    """Forwards calls to the upstream services named in the settings."""

    def __init__(self, upstreams: Mapping[str, str], client: httpx.AsyncClient) -> None:
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        self.client = client

    async def forward(self, service: str, path: str, request: Request) -> Response:
        base = self.upstreams.get(service)
        if base is None:
            known = ", ".join(sorted(self.upstreams)) or "none"
            return problem(
                404,
                "not-found",
                "No such service",
                f"no service {service!r} behind this console; known: {known}",
                instance=request.url.path,
            )
        headers = _forwardable(request.headers)
        client_host = request.client.host if request.client else "unknown"
        headers["x-forwarded-for"] = client_host
        headers["x-forwarded-host"] = request.headers.get("host", "")
        headers["x-forwarded-proto"] = request.url.scheme
        outgoing = self.client.build_request(
            request.method,
            f"{base}/{path}",
            params=str(request.query_params),
            headers=headers,
            content=_body(request) if _has_body(request) else None,
        )
        try:
            try:
                upstream = await self.client.send(outgoing, stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                # A kept-alive connection the service closed as it was reused: a read
                # can safely go again on a new one (a write's body was streamed: no).
                if request.method not in _IDEMPOTENT or _has_body(request):
                    raise
                upstream = await self.client.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            return problem(
                502,
                "upstream-unavailable",
                "The service does not answer",
                f"the {service} service at {base} does not answer: {type(exc).__name__}",
                instance=request.url.path,
            )
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers=_answer_headers(upstream.headers),
            background=BackgroundTask(upstream.aclose),
        )


def _has_body(request: Request) -> bool:
    return "content-length" in request.headers or "transfer-encoding" in request.headers


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk
