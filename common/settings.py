"""The one typed settings object, read once from an environment mapping.

Every variable is declared once, in ``_VARIABLES``; errors name the key. Settings that only some
functions need are optional and demanded with ``Settings.require`` by the composition root that
uses them, so one function's missing key never breaks another function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

MIB = 1024 * 1024
MAX_PORT = 65535
# Keys the pseudonymous ids in analytics exports. Fine on a laptop; a deployed stage sets its
# own secret (serverless.yml reads it from SSM), and analytics refuses this one outside dev.
LOCAL_ANALYTICS_KEY = "sotto-local-analytics-key"

# Services whose endpoint can be overridden with AWS_ENDPOINT_URL_<SERVICE>, as boto3 does.
ENDPOINT_SERVICES = (
    "dynamodb",
    "dynamodbstreams",
    "s3",
    "sqs",
    "sns",
    "rekognition",
    "cognito-idp",
    "apigatewaymanagementapi",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

Kind = Literal["text", "int", "seconds", "port", "optional", "log_level"]


@dataclass(frozen=True)
class _Variable:
    key: str
    kind: Kind
    default: str | int | None = None  # text defaults may use {stage}


_VARIABLES: Mapping[str, _Variable] = {
    "region": _Variable("AWS_REGION", "text", "us-east-1"),
    "stage": _Variable("SOTTO_STAGE", "text", "dev"),
    "connections_table": _Variable("SOTTO_CONNECTIONS_TABLE", "text", "sotto-{stage}-connections"),
    "users_table": _Variable("SOTTO_USERS_TABLE", "text", "sotto-{stage}-users"),
    "conversations_table": _Variable(
        "SOTTO_CONVERSATIONS_TABLE", "text", "sotto-{stage}-conversations"
    ),
    "messages_table": _Variable("SOTTO_MESSAGES_TABLE", "text", "sotto-{stage}-messages"),
    "clips_table": _Variable("SOTTO_CLIPS_TABLE", "text", "sotto-{stage}-clips"),
    "blocks_table": _Variable("SOTTO_BLOCKS_TABLE", "text", "sotto-{stage}-blocks"),
    "reports_table": _Variable("SOTTO_REPORTS_TABLE", "text", "sotto-{stage}-reports"),
    "devices_table": _Variable("SOTTO_DEVICES_TABLE", "text", "sotto-{stage}-devices"),
    "verifications_table": _Variable(
        "SOTTO_VERIFICATIONS_TABLE", "text", "sotto-{stage}-verifications"
    ),
    "audit_table": _Variable("SOTTO_AUDIT_TABLE", "text", "sotto-{stage}-audit"),
    "clips_bucket": _Variable("SOTTO_CLIPS_BUCKET", "text", "sotto-{stage}-clips"),
    "selfies_bucket": _Variable("SOTTO_SELFIES_BUCKET", "text", "sotto-{stage}-selfies"),
    "analytics_bucket": _Variable("SOTTO_ANALYTICS_BUCKET", "text", "sotto-{stage}-analytics"),
    "analytics_key": _Variable("SOTTO_ANALYTICS_KEY", "text", LOCAL_ANALYTICS_KEY),
    "clip_archive_days": _Variable("SOTTO_CLIP_ARCHIVE_DAYS", "int", 90),
    "analytics_log_max_entries": _Variable("SOTTO_ANALYTICS_LOG_MAX_ENTRIES", "int", 1_000_000),
    "uploads_queue": _Variable("SOTTO_UPLOADS_QUEUE", "text", "sotto-{stage}-clip-uploads"),
    "push_queue": _Variable("SOTTO_PUSH_QUEUE", "text", "sotto-{stage}-pushes"),
    "selfie_uploads_queue": _Variable(
        "SOTTO_SELFIE_UPLOADS_QUEUE", "text", "sotto-{stage}-selfie-uploads"
    ),
    "push_coalesce_seconds": _Variable("SOTTO_PUSH_COALESCE_SECONDS", "seconds", 5),
    "redis_namespace": _Variable("SOTTO_REDIS_NAMESPACE", "text", "sotto"),
    "max_connection_seconds": _Variable("SOTTO_MAX_CONNECTION_SECONDS", "int", 2 * 3600),
    "max_clip_bytes": _Variable("SOTTO_MAX_CLIP_BYTES", "int", 16 * MIB),
    "max_selfie_bytes": _Variable("SOTTO_MAX_SELFIE_BYTES", "int", 5 * MIB),
    "max_clip_seconds": _Variable("SOTTO_MAX_CLIP_SECONDS", "int", 300),
    "opus_bitrate_kbps": _Variable("SOTTO_OPUS_BITRATE_KBPS", "int", 24),
    "waveform_peaks": _Variable("SOTTO_WAVEFORM_PEAKS", "int", 64),
    "ffmpeg_timeout_seconds": _Variable("SOTTO_FFMPEG_TIMEOUT_SECONDS", "int", 60),
    "upload_url_ttl_seconds": _Variable("SOTTO_UPLOAD_URL_TTL_SECONDS", "int", 300),
    "clip_url_ttl_seconds": _Variable("SOTTO_CLIP_URL_TTL_SECONDS", "int", 900),
    "send_rate_limit": _Variable("SOTTO_SEND_RATE_LIMIT", "int", 60),
    "send_rate_window_seconds": _Variable("SOTTO_SEND_RATE_WINDOW_SECONDS", "int", 60),
    "max_connections_per_user": _Variable("SOTTO_MAX_CONNECTIONS_PER_USER", "int", 10),
    "max_group_members": _Variable("SOTTO_MAX_GROUP_MEMBERS", "int", 256),
    "indicator_ttl_seconds": _Variable("SOTTO_INDICATOR_TTL_SECONDS", "int", 6),
    "member_cache_seconds": _Variable("SOTTO_MEMBER_CACHE_SECONDS", "int", 3600),
    "account_callback_rate": _Variable("SOTTO_ACCOUNT_CALLBACK_RATE", "int", 10_000),
    "callback_rate_percent": _Variable("SOTTO_CALLBACK_RATE_PERCENT", "int", 50),
    "log_level": _Variable("SOTTO_LOG_LEVEL", "log_level", "INFO"),
    "redis_url": _Variable("REDIS_URL", "optional"),
    "cognito_user_pool_id": _Variable("SOTTO_COGNITO_USER_POOL_ID", "optional"),
    "cognito_client_id": _Variable("SOTTO_COGNITO_CLIENT_ID", "optional"),
    "cognito_jwks_url": _Variable("SOTTO_COGNITO_JWKS_URL", "optional"),
    "management_endpoint": _Variable("SOTTO_MANAGEMENT_ENDPOINT", "optional"),
    "ffmpeg": _Variable("SOTTO_FFMPEG", "optional"),
    "clip_cdn_url": _Variable("SOTTO_CLIP_CDN_URL", "optional"),
    "allowed_origins": _Variable("SOTTO_ALLOWED_ORIGINS", "optional"),
    "apns_application_arn": _Variable("SOTTO_APNS_APPLICATION_ARN", "optional"),
    "apns_sandbox_application_arn": _Variable("SOTTO_APNS_SANDBOX_APPLICATION_ARN", "optional"),
    "gcm_application_arn": _Variable("SOTTO_GCM_APPLICATION_ARN", "optional"),
    "endpoint_url": _Variable("AWS_ENDPOINT_URL", "optional"),
    # The local gateway only (AWS has its own): where it listens and when it drops idle sockets.
    "gateway_host": _Variable("SOTTO_GATEWAY_HOST", "text", "127.0.0.1"),
    "gateway_ws_port": _Variable("SOTTO_GATEWAY_WS_PORT", "port", 8765),
    "gateway_http_port": _Variable("SOTTO_GATEWAY_HTTP_PORT", "port", 8766),
    "gateway_api_port": _Variable("SOTTO_GATEWAY_API_PORT", "port", 8768),
    "local_aws_port": _Variable("SOTTO_LOCAL_AWS_PORT", "port", 8767),
    "idle_timeout_seconds": _Variable("SOTTO_IDLE_TIMEOUT_SECONDS", "int", 600),
    "max_outbound_buffer_bytes": _Variable("SOTTO_MAX_OUTBOUND_BUFFER_BYTES", "int", MIB),
}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class Settings:
    region: str
    stage: str
    connections_table: str
    users_table: str
    conversations_table: str
    messages_table: str
    clips_table: str
    blocks_table: str
    reports_table: str
    devices_table: str
    verifications_table: str
    audit_table: str
    clips_bucket: str
    selfies_bucket: str
    analytics_bucket: str
    analytics_key: str
    clip_archive_days: int
    analytics_log_max_entries: int
    uploads_queue: str
    push_queue: str
    selfie_uploads_queue: str
    push_coalesce_seconds: int
    redis_namespace: str
    max_connection_seconds: int
    max_clip_bytes: int
    max_selfie_bytes: int
    max_clip_seconds: int
    opus_bitrate_kbps: int
    waveform_peaks: int
    ffmpeg_timeout_seconds: int
    upload_url_ttl_seconds: int
    clip_url_ttl_seconds: int
    send_rate_limit: int
    send_rate_window_seconds: int
    max_connections_per_user: int
    max_group_members: int
    indicator_ttl_seconds: int
    member_cache_seconds: int
    account_callback_rate: int
    callback_rate_percent: int
    log_level: str
    redis_url: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_jwks_url: str | None = None
    management_endpoint: str | None = None
    ffmpeg: str | None = None
    clip_cdn_url: str | None = None
    allowed_origins: str | None = None
    apns_application_arn: str | None = None
    apns_sandbox_application_arn: str | None = None
    gcm_application_arn: str | None = None
    endpoint_url: str | None = None
    gateway_host: str = "127.0.0.1"
    gateway_ws_port: int = 8765
    gateway_http_port: int = 8766
    gateway_api_port: int = 8768
    local_aws_port: int = 8767
    idle_timeout_seconds: int = 600
    max_outbound_buffer_bytes: int = MIB
    service_endpoints: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        stage = _read(env, _VARIABLES["stage"], stage="")
        values = {name: _read(env, var, stage=str(stage)) for name, var in _VARIABLES.items()}
        if "AWS_REGION" not in env and env.get("AWS_DEFAULT_REGION"):
            values["region"] = env["AWS_DEFAULT_REGION"]
        endpoints = {
            service: url
            for service in ENDPOINT_SERVICES
            if (url := env.get(endpoint_key(service), "").strip())
        }
        return cls(**values, service_endpoints=endpoints)  # type: ignore[arg-type]

    def require(self, name: str) -> str:
        """The value of an optional setting that the caller cannot work without."""
        value = getattr(self, name)
        if not value:
            raise SettingsError(_VARIABLES[name].key, "is required by this function but not set")
        return str(value)

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint override for one AWS service, resolved as boto3 resolves it."""
        return self.service_endpoints.get(service) or self.endpoint_url

    @property
    def cognito_issuer(self) -> str:
        pool = self.require("cognito_user_pool_id")
        return f"https://cognito-idp.{self.region}.amazonaws.com/{pool}"

    @property
    def jwks_url(self) -> str:
        """Where the pool's signing keys are published (an endpoint override serves them too)."""
        if self.cognito_jwks_url:
            return self.cognito_jwks_url
        pool = self.require("cognito_user_pool_id")
        base = (
            self.endpoint_for("cognito-idp") or f"https://cognito-idp.{self.region}.amazonaws.com"
        )
        return f"{base.rstrip('/')}/{pool}/.well-known/jwks.json"


def endpoint_key(service: str) -> str:
    return "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")


def documented_variables() -> list[tuple[str, str]]:
    """(key, default) for every variable, so the README table can be checked against the code."""
    return [
        (var.key, "" if var.default is None else str(var.default)) for var in _VARIABLES.values()
    ]


def _read(env: Mapping[str, str], var: _Variable, *, stage: str) -> str | int | None:
    raw = env.get(var.key, "").strip()
    if var.kind == "optional":
        return raw or None
    if var.kind == "int":
        return _positive_int(var.key, raw) if raw else var.default
    if var.kind == "seconds":
        return _seconds(var.key, raw) if raw else var.default
    if var.kind == "port":
        return _port(var.key, raw) if raw else var.default
    if var.kind == "log_level":
        level = (raw or str(var.default)).upper()
        if level not in LOG_LEVELS:
            raise SettingsError(var.key, f"must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
        return level
    return raw or str(var.default).format(stage=stage)


def _positive_int(key: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(key, f"must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(key, f"must be positive, got {value}")
    return value


def _seconds(key: str, raw: str) -> int:
    """A duration where 0 means "not at all"."""
    if not raw.isdigit():
        raise SettingsError(key, f"must be a whole number of seconds (0 or more), got {raw!r}")
    return int(raw)


def _port(key: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) > MAX_PORT:
        raise SettingsError(key, f"must be a port number from 0 to {MAX_PORT}, got {raw!r}")
    return int(raw)
