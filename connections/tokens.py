"""Cognito JWT verification: signatures with PyJWT against the pool's JWKS, claims in logic."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
import requests

from common.clock import Clock
from common.errors import Unauthorized
from common.events import Caller
from connections.logic import check_claims
from connections.model import TokenExpectations

ALGORITHM = "RS256"
Fetch = Callable[[str], Mapping[str, Any]]


class JwksUnavailable(Exception):
    """The key set could not be fetched: our fault, not the caller's (HTTP 500, not 401)."""


def fetch_json(url: str) -> Mapping[str, Any]:
    try:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        document: Mapping[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise JwksUnavailable(f"cannot fetch the JWKS: {exc}") from exc
    return document


class JwksKeys:
    """The pool's public keys by ``kid``, fetched once, refreshed when an unknown ``kid`` shows up.

    Cognito rotates keys rarely; refreshing on an unknown ``kid`` at most once per
    ``min_refresh`` stops a flood of forged tokens from hammering the JWKS endpoint.
    """

    def __init__(
        self,
        url: str,
        clock: Clock,
        fetch: Fetch = fetch_json,
        min_refresh: timedelta = timedelta(minutes=1),
    ) -> None:
        self._url = url
        self._clock = clock
        self._fetch = fetch
        self._min_refresh = min_refresh
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys and self._may_refresh():
                self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("The token was signed with an unknown key.")
        return key

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self._clock.now() - self._fetched_at >= self._min_refresh

    def _refresh(self) -> None:
        document = self._fetch(self._url)
        self._fetched_at = self._clock.now()
        keys = {}
        for entry in document.get("keys", []):
            if entry.get("kty") == "RSA" and entry.get("kid"):
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        self._keys = keys


class TokenVerifier:
    def __init__(self, keys: JwksKeys, expected: TokenExpectations, clock: Clock) -> None:
        self._keys = keys
        self._expected = expected
        self._clock = clock

    def verify(self, token: str) -> Caller:
        """The caller a Cognito token names, or ``Unauthorized``."""
        return self._checked(token)[1]

    def verified_claims(self, token: str) -> dict[str, Any]:
        """A token's claims once its signature and every claim check out, or ``Unauthorized``
        (what an HTTP API's JWT authorizer hands on to the route)."""
        return self._checked(token)[0]

    def _checked(self, token: str) -> tuple[dict[str, Any], Caller]:
        kid = self._signing_key_id(token)
        key = self._keys.key_for(kid)
        try:
            # PyJWT checks the signature and the algorithm; every claim, expiry included, is
            # checked by check_claims against the injected clock.
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidTokenError:
            raise Unauthorized("The token signature does not verify.") from None
        return claims, check_claims(claims, self._expected, self._clock.now())

    @staticmethod
    def _signing_key_id(token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("The token is not a JWT.") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"Only {ALGORITHM} tokens are accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token header has no key id.")
        return kid
