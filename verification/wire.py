"""The verification routes' wire format: request parsing and answers. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chat.wire import int_field, text_field
from common.errors import BadRequest, TooLarge

# What Rekognition reads: JPEG and PNG only.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})


@dataclass(frozen=True)
class SelfieRequest:
    content_type: str
    size: int


@dataclass(frozen=True)
class SelfieGrant:
    selfie_id: str
    url: str
    fields: Mapping[str, str]


def parse_selfie_request(body: Mapping[str, Any], max_bytes: int) -> SelfieRequest:
    content_type = text_field(body, "contentType", max_length=50).lower()
    if content_type not in IMAGE_TYPES:
        raise BadRequest("A selfie is a JPEG or PNG image.", field="contentType")
    size = int_field(body, "size", minimum=1)
    if size > max_bytes:
        raise TooLarge(f"A selfie may be at most {max_bytes} bytes.", maxBytes=max_bytes)
    return SelfieRequest(content_type, size)


def selfie_grant_view(grant: SelfieGrant) -> dict[str, Any]:
    return {"selfieId": grant.selfie_id, "url": grant.url, "fields": dict(grant.fields)}
