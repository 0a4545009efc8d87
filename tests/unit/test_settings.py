from __future__ import annotations

import pytest

from common.settings import Settings, SettingsError, documented_variables


def test_defaults_follow_the_stage() -> None:
    settings = Settings.from_env({"SOTTO_STAGE": "prod"})
    assert settings.messages_table == "sotto-prod-messages"
    assert settings.clips_bucket == "sotto-prod-clips"
    assert settings.max_connection_seconds == 7200
    assert settings.redis_url is None


def test_explicit_values_win_over_defaults() -> None:
    settings = Settings.from_env(
        {"SOTTO_MESSAGES_TABLE": "msgs", "SOTTO_MAX_CLIP_BYTES": "1000", "REDIS_URL": "redis://r"}
    )
    assert (settings.messages_table, settings.max_clip_bytes) == ("msgs", 1000)
    assert settings.redis_url == "redis://r"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SOTTO_MAX_CLIP_BYTES", "lots"),
        ("SOTTO_MAX_CLIP_BYTES", "0"),
        ("SOTTO_GATEWAY_WS_PORT", "70000"),
        ("SOTTO_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_names_its_key(key: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({key: value})
    assert raised.value.key == key
    assert key in str(raised.value)


def test_require_names_the_missing_key() -> None:
    with pytest.raises(SettingsError, match="SOTTO_COGNITO_CLIENT_ID"):
        Settings.from_env({}).require("cognito_client_id")


def test_region_falls_back_to_the_default_region_variable() -> None:
    assert Settings.from_env({"AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"
    both = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-north-1"}
    assert Settings.from_env(both).region == "eu-north-1"


def test_service_endpoint_overrides_the_general_one() -> None:
    settings = Settings.from_env(
        {"AWS_ENDPOINT_URL": "http://moto:5000", "AWS_ENDPOINT_URL_S3": "http://minio:9000"}
    )
    assert settings.endpoint_for("s3") == "http://minio:9000"
    assert settings.endpoint_for("dynamodb") == "http://moto:5000"


def test_jwks_url_is_aws_cognito_unless_an_endpoint_is_set() -> None:
    aws = Settings.from_env(
        {"AWS_REGION": "eu-west-1", "SOTTO_COGNITO_USER_POOL_ID": "eu-west-1_x"}
    )
    assert (
        aws.jwks_url
        == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x/.well-known/jwks.json"
    )
    assert aws.cognito_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x"
    local = Settings.from_env(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:8767", "SOTTO_COGNITO_USER_POOL_ID": "p"}
    )
    assert local.jwks_url == "http://127.0.0.1:8767/p/.well-known/jwks.json"
    # the issuer stays the AWS one: it is what Cognito (and moto) write in the token
    assert local.cognito_issuer == "https://cognito-idp.us-east-1.amazonaws.com/p"


def test_every_variable_is_documented_once() -> None:
    keys = [key for key, _ in documented_variables()]
    assert len(keys) == len(set(keys))
    assert "REDIS_URL" in keys
