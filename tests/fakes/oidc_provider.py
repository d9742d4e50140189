"""A small OpenID Connect provider (authorization code flow with PKCE) for the console tests.

Discovery (``/.well-known/openid-configuration``), ``/authorize`` (signs in ``user`` at once, as
a provider with a remembered session does), ``/token`` (client secret by HTTP Basic, single-use
codes bound to the redirect URI, PKCE S256 checked, RFC 7636 §4.6) and ``/jwks``. ID tokens are
RS256 JWTs made with PyJWT. ``rogue`` signs them with a key the JWKS does not publish.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Header, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OidcProvider:
    """The provider's clients, its signed-in user and the codes it issued."""

    client_id: str = "otj-console"
    client_secret: str = "provider-secret"
    user: str = "ana"
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    rogue: bool = False
    key: rsa.RSAPrivateKey = field(default_factory=_key)
    other_key: rsa.RSAPrivateKey = field(default_factory=_key)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0

    def app(self) -> FastAPI:
        api = FastAPI()

        def issuer(request: Request) -> str:
            return str(request.base_url).rstrip("/")

        @api.get("/.well-known/openid-configuration")
        def discovery(request: Request) -> dict[str, Any]:
            base = issuer(request)
            return {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }

        @api.get("/jwks")
        def jwks() -> dict[str, Any]:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

        @api.get("/authorize")
        def authorize(
            request: Request,
            client_id: str,
            redirect_uri: str,
            state: str,
            nonce: str,
            code_challenge: str,
            code_challenge_method: str,
            response_type: str = "code",
        ) -> Response:
            if client_id != self.client_id or response_type != "code":
                return JSONResponse({"error": "unauthorized_client"}, status_code=400)
            if code_challenge_method != "S256":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "redirect_uri": redirect_uri, "nonce": nonce, "challenge": code_challenge,
                "user": self.user, "issuer": issuer(request),
            }  # fmt: skip
            query = urlencode({"code": code, "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", status_code=303)

        @api.post("/token")
        def token(
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(),
            authorization: str = Header(default=""),
        ) -> Response:
            self.token_requests += 1
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if authorization != f"Basic {expected.decode()}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            issued = self.codes.pop(code, None)
            if grant_type != "authorization_code" or issued is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if redirect_uri != issued["redirect_uri"] or challenge != issued["challenge"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": issued["issuer"], "aud": self.client_id, "sub": f"id-{issued['user']}",
                "iat": now, "exp": now + 300, "nonce": issued["nonce"],
                "preferred_username": issued["user"],
                **self.claims.get(issued["user"], {}),
            }  # fmt: skip
            key = self.other_key if self.rogue else self.key
            id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
            return JSONResponse(
                {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                 "expires_in": 300, "id_token": id_token}
            )  # fmt: skip

        return api
