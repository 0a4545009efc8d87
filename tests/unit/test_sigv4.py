"""Our SigV4 signer produces exactly the headers botocore's signer does for the same request
at the same moment: with and without a session token, for quoted connection ids."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from chat.sigv4 import Sigv4Signer, payload_hash

NOW = datetime(2026, 12, 1, 23, 59, 58, tzinfo=UTC)
URLS = [
    "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/@connections/L0SM9cOFvHcCIhw%3D",
    "http://127.0.0.1:8766/dev/@connections/a%2Fb%3D",
    "https://ws.example.com:443/@connections/plain",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE-session-token"])
def test_the_same_headers_as_botocore(
    url: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token)
    body = b'{"type":"message","seq":14}'
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="POST", url=url, data=body)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    expected = dict(request.headers.items())

    ours = Sigv4Signer(credentials, "eu-west-1", "execute-api").headers(
        "POST", url, payload_hash(body), NOW
    )

    assert ours == expected


def test_the_signing_key_follows_the_day() -> None:
    signer = Sigv4Signer(ReadOnlyCredentials("AK", "SK", None), "eu-west-1", "execute-api")
    url, body = URLS[0], payload_hash(b"{}")
    today = signer.headers("POST", url, body, NOW)["Authorization"]
    tomorrow = signer.headers("POST", url, body, NOW.replace(day=2))["Authorization"]
    assert "/20261201/" in today and "/20261202/" in tomorrow
    assert today.rsplit("=", 1)[1] != tomorrow.rsplit("=", 1)[1]
