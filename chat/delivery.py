"""Delivery through API Gateway's Management API (``@connections``), as in AWS."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from common.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

log = get_logger("delivery")


class ManagementApiDelivery:
    """Posts to each connection concurrently; a 410 Gone marks the connection for deletion."""

    def __init__(self, client: ApiGatewayManagementApiClient, concurrency: int = 16) -> None:
        self._client = client
        self._concurrency = concurrency

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        data = payload.encode()
        slots = asyncio.Semaphore(self._concurrency)

        async def post(connection_id: str) -> bool:
            async with slots:
                return await asyncio.to_thread(self._post, connection_id, data)

        gone = await asyncio.gather(*(post(cid) for cid in connection_ids))
        return {cid for cid, is_gone in zip(connection_ids, gone, strict=True) if is_gone}

    def _post(self, connection_id: str, data: bytes) -> bool:
        """True when the connection is gone. GoneException is caught before ClientError,
        of which it is a subclass: the other order would never clean up a stale connection."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return True
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "?")
            log.warning("delivery to %s failed: %s", connection_id, code)
        return False
