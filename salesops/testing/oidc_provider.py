"""A small OpenID Connect provider for tests: discovery, JWKS, authorization code with PKCE.

Real HTTP (served with ``salesops.testing.served.serving``), real RS256 signatures; the
person who "logs in" at ``/authorize`` is whoever the test names in ``next_login``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

from salesops.clock import Clock


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    subject: str


@dataclass
class FakeOidcProvider:
    clock: Clock
    client_id: str = "salesops-console"
    issuer: str = ""  # set once served: the provider's base URL
    next_login: str = "rep-zhang-wei"
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    kid: str = "key-1"
    _grants: dict[str, _Grant] = field(default_factory=dict)

    def mint(self, subject: str, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        """A token as the provider issues it (or, with ``key``, as a forger would)."""
        now = self.clock.now()
        body = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
            **claims,
        }
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, str]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

        @app.get("/authorize")
        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
                return RedirectResponse(f"{q['redirect_uri']}?error=unsupported_response_type")
            code = secrets.token_urlsafe(16)
            self._grants[code] = _Grant(
                q["client_id"], q["redirect_uri"], q["code_challenge"], self.next_login
            )
            query = urlencode({"code": code, "state": q.get("state", "")})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

        @app.post("/token", response_model=None)
        async def token(
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            client_id: str = Form(),
            code_verifier: str = Form(),
        ) -> dict[str, Any] | JSONResponse:
            grant = self._grants.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                grant_type != "authorization_code"
                or grant is None
                or (grant.client_id, grant.redirect_uri) != (client_id, redirect_uri)
                or grant.challenge != challenge
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            issued = self.mint(grant.subject)
            return {
                "id_token": issued,
                "access_token": issued,
                "token_type": "Bearer",
                "expires_in": 3600,
            }

        return app
