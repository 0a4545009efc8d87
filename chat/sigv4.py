"""AWS Signature Version 4 for the fan-out's POSTs: the algorithm botocore's ``SigV4Auth``
implements, cut down to what ``@connections`` requests need (no query string; signed headers
``host``, ``x-amz-date`` and, with temporary credentials, ``x-amz-security-token``).

botocore rebuilds a header map, re-parses the URL and re-derives the signing key for every
request; a fan-out signs hundreds of POSTs that differ only in their path, so here the key is
derived once a day and the payload hashed once a message. A test checks the headers against
botocore's for the same request and time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from botocore.credentials import ReadOnlyCredentials
from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
DEFAULT_PORTS = {"http": 80, "https": 443}


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class Sigv4Signer:
    def __init__(self, credentials: ReadOnlyCredentials, region: str, service: str) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._keys: dict[str, bytes] = {}

    def headers(self, method: str, url: str, body_sha256: str, now: datetime) -> dict[str, str]:
        """The headers that sign this request at ``now`` (to send along with the body)."""
        host, canonical_uri = _canonical_target(url)
        amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = {"host": host, "x-amz-date": amz_date}
        token = self._credentials.token
        if token:
            signed["x-amz-security-token"] = token
        names = sorted(signed)
        canonical = "\n".join(
            [
                method.upper(),
                canonical_uri,
                "",  # no query string
                "".join(f"{name}:{signed[name]}\n" for name in names),
                ";".join(names),
                body_sha256,
            ]
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{payload_hash(canonical.encode())}"
        signature = hmac.new(self._key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "X-Amz-Date": amz_date,
            "Authorization": (
                f"{ALGORITHM} Credential={self._credentials.access_key}/{scope}, "
                f"SignedHeaders={';'.join(names)}, Signature={signature}"
            ),
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers

    def _key(self, day: str) -> bytes:
        if day not in self._keys:
            key = f"AWS4{self._credentials.secret_key}".encode()
            for part in (day, self._region, self._service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {day: key}  # yesterday's key is of no more use
        return self._keys[day]


@functools.lru_cache(maxsize=8192)
def _canonical_target(url: str) -> tuple[str, str]:
    """The ``host`` header and the canonical URI of a URL. Cached: a group's members get
    message after message at the same URLs."""
    parts = urlsplit(url)
    hostname, port = parts.hostname or "", parts.port
    host = (
        hostname
        if port is None or port == DEFAULT_PORTS.get(parts.scheme)
        else f"{hostname}:{port}"
    )
    return host, quote(normalize_url_path(parts.path), safe="/~")
