"""Cognito token checks: signatures with real RSA keys, claims against an injected clock."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from common.clock import ManualClock, epoch_seconds
from common.errors import Unauthorized
from connections.logic import check_claims, token_from_query
from connections.model import TokenExpectations
from connections.tokens import JwksKeys, TokenVerifier

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
CLIENT = "app-client"
EXPECTED = TokenExpectations(issuer=ISSUER, client_id=CLIENT)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


POOL_KEY = new_key()
OTHER_KEY = new_key()


def jwks(*pairs: tuple[str, rsa.RSAPrivateKey]) -> dict[str, Any]:
    keys = []
    for kid, key in pairs:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        keys.append({**public, "kid": kid, "alg": "RS256", "use": "sig"})
    return {"keys": keys}


class CountingFetch:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.calls = 0

    def __call__(self, url: str) -> Mapping[str, Any]:
        self.calls += 1
        return self.document


def claims(clock: ManualClock, token_use: str = "id", **overrides: Any) -> dict[str, Any]:
    now = epoch_seconds(clock.now())
    base: dict[str, Any] = {
        "sub": "user-1",
        "iss": ISSUER,
        "token_use": token_use,
        "iat": now,
        "exp": now + 3600,
    }
    if token_use == "id":
        base |= {"aud": CLIENT, "cognito:username": "alice"}
    else:
        base |= {"client_id": CLIENT, "username": "alice"}
    return {**base, **overrides}


def sign(payload: Mapping[str, Any], key: rsa.RSAPrivateKey = POOL_KEY, kid: str = "k1") -> str:
    return jwt.encode(dict(payload), key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fetch() -> CountingFetch:
    return CountingFetch(jwks(("k1", POOL_KEY)))


@pytest.fixture
def verifier(clock: ManualClock, fetch: CountingFetch) -> TokenVerifier:
    return TokenVerifier(JwksKeys("https://jwks", clock, fetch), EXPECTED, clock)


@pytest.mark.parametrize("token_use", ["id", "access"])
def test_a_valid_token_names_the_caller(
    verifier: TokenVerifier, clock: ManualClock, token_use: str
) -> None:
    caller = verifier.verify(sign(claims(clock, token_use)))
    assert (caller.user_id, caller.username) == ("user-1", "alice")


def test_an_id_token_also_says_what_the_user_calls_themselves(clock: ManualClock) -> None:
    named = check_claims(claims(clock, name="Alice A."), EXPECTED, clock.now())
    assert named.display_name == "Alice A."
    assert check_claims(claims(clock, "access"), EXPECTED, clock.now()).display_name == ""
    assert check_claims(claims(clock, name=7), EXPECTED, clock.now()).display_name == ""


def test_a_token_signed_with_another_key_under_the_pools_kid_is_forged(
    verifier: TokenVerifier, clock: ManualClock
) -> None:
    with pytest.raises(Unauthorized, match="signature"):
        verifier.verify(sign(claims(clock), key=OTHER_KEY, kid="k1"))


def test_a_tampered_payload_is_refused(verifier: TokenVerifier, clock: ManualClock) -> None:
    header, _, signature = sign(claims(clock)).split(".")
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims(clock, sub="admin")).encode())
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{forged_payload.decode()}.{signature}")


def test_an_expired_token_is_refused(verifier: TokenVerifier, clock: ManualClock) -> None:
    token = sign(claims(clock))
    clock.advance(3600)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)


def test_hmac_and_unsigned_tokens_are_refused(verifier: TokenVerifier, clock: ManualClock) -> None:
    hs256 = jwt.encode(claims(clock), "s" * 32, algorithm="HS256", headers={"kid": "k1"})
    unsigned = jwt.encode(claims(clock), None, algorithm="none", headers={"kid": "k1"})
    for token in (hs256, unsigned):
        with pytest.raises(Unauthorized, match="RS256"):
            verifier.verify(token)


def test_garbage_is_not_a_jwt(verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify("not-a-token")


def test_an_unknown_kid_refreshes_the_keys_at_most_once_a_minute(
    verifier: TokenVerifier, clock: ManualClock, fetch: CountingFetch
) -> None:
    verifier.verify(sign(claims(clock)))
    assert fetch.calls == 1
    for _ in range(5):
        with pytest.raises(Unauthorized, match="unknown key"):
            verifier.verify(sign(claims(clock), kid="rotated"))
    assert fetch.calls == 1  # refreshed on first use only; the flood does not refetch
    clock.advance(61)
    fetch.document = jwks(("k1", POOL_KEY), ("rotated", OTHER_KEY))
    assert verifier.verify(sign(claims(clock), key=OTHER_KEY, kid="rotated")).user_id == "user-1"
    assert fetch.calls == 2


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"token_use": "refresh"}, "neither"),
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/other"}, "another user pool"),
        ({"aud": "other-client"}, "another app client"),
        ({"exp": None}, "no expiry"),
        ({"sub": ""}, "no subject"),
    ],
)
def test_claims_that_do_not_match_are_refused(
    clock: ManualClock, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthorized, match=reason):
        check_claims(claims(clock, **overrides), EXPECTED, clock.now())


def test_an_access_token_carries_its_client_in_client_id(clock: ManualClock) -> None:
    with pytest.raises(Unauthorized, match="another app client"):
        check_claims(claims(clock, "access", client_id="x"), EXPECTED, clock.now())
    # an access token with the right ``aud`` but no ``client_id`` is still refused
    wrong_place = claims(clock, "access", aud=CLIENT)
    del wrong_place["client_id"]
    with pytest.raises(Unauthorized):
        check_claims(wrong_place, EXPECTED, clock.now())


def test_a_token_from_the_future_is_refused(clock: ManualClock) -> None:
    future = claims(clock, iat=epoch_seconds(clock.now() + timedelta(minutes=5)))
    with pytest.raises(Unauthorized, match="not valid yet"):
        check_claims(future, EXPECTED, clock.now())


@pytest.mark.parametrize("query", [{}, {"token": ""}, {"token": "  "}, {"token": "x" * 9000}])
def test_the_token_comes_from_the_query_string(query: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        token_from_query(query)
