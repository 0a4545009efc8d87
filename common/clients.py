"""The one factory for AWS and Redis clients: lazily built, once per process, from Settings.

Endpoint overrides (``AWS_ENDPOINT_URL`` and the per-service variables) are the only thing that
differs between AWS, a laptop and the tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
import redis
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from common.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

T = TypeVar("T")


class Clients:
    """Builds each client on first use and reuses it; boto3 clients are thread-safe once built."""

    def __init__(self, settings: Settings, redis_client: redis.Redis | None = None) -> None:
        self.settings = settings
        self._session = boto3.session.Session(region_name=settings.region)
        self._lock = threading.Lock()
        self._built: dict[str, Any] = {} if redis_client is None else {"redis": redis_client}

    @property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self._aws("dynamodb"))

    @property
    def s3(self) -> S3Client:
        return cast("S3Client", self._aws("s3"))

    @property
    def sqs(self) -> SQSClient:
        return cast("SQSClient", self._aws("sqs"))

    @property
    def sns(self) -> SNSClient:
        return cast("SNSClient", self._aws("sns"))

    @property
    def dynamodb_streams(self) -> DynamoDBStreamsClient:
        return cast("DynamoDBStreamsClient", self._aws("dynamodbstreams"))

    @property
    def rekognition(self) -> RekognitionClient:
        return cast("RekognitionClient", self._aws("rekognition"))

    @property
    def cognito(self) -> CognitoIdentityProviderClient:
        return cast("CognitoIdentityProviderClient", self._aws("cognito-idp"))

    def credentials(self) -> ReadOnlyCredentials:
        """The process's AWS credentials as they are now (Lambda's and ECS's rotate: ask for
        each batch of signed requests)."""
        found = self._session.get_credentials()
        if found is None:
            raise NoCredentialsError
        return found.get_frozen_credentials()

    @property
    def redis(self) -> redis.Redis:
        return self._once("redis", lambda: redis_client(self.settings.require("redis_url")))

    def _aws(self, service: str) -> Any:
        endpoint = self.settings.endpoint_for(service)
        extra: dict[str, Any] = {}
        if service == "s3":
            # Presigned URLs must be SigV4; a custom endpoint (moto, MinIO) wants path-style.
            extra["signature_version"] = "s3v4"
            extra["s3"] = {"addressing_style": "path" if endpoint else "auto"}
        return self._once(
            service,
            lambda: self._session.client(service, endpoint_url=endpoint, config=_config(**extra)),  # type: ignore[call-overload]
        )

    def _once(self, key: str, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            return cast(T, self._built[key])


def _config(**extra: Any) -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=10,
        **extra,
    )


def redis_client(url: str) -> redis.Redis:
    """Fail fast: Redis is an accelerator here (presence, fan-out), never the durable path, so
    a request must not stall on it; callers fall back (direct fan-out) when it is down."""
    return redis.Redis.from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=1,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=1),
    )
