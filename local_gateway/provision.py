"""Creates what the handlers expect to exist, idempotently: tables, bucket, queues, user pool,
demo users. Runs against moto's server locally; the AWS stack is ``serverless.yml``'s job."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from analytics.archive import clips_rule, exports_rules
from chat.model import UserProfile
from chat.store import UserDirectory
from common.clients import Clients
from common.logs import get_logger
from common.settings import Settings
from verification.model import Case, CaseState
from verification.store import CaseStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef

log = get_logger("provision")

UPLOAD_PREFIX = "clips/raw/"
SELFIE_PREFIX = "selfies/"
SELFIE_MAX_AGE_DAYS = 30
# A clip's processing must end well within this, or the message is handed out again.
QUEUE_VISIBILITY_SECONDS = 180
# A push job is a few SNS calls; a flush that fails comes back this much later.
PUSH_VISIBILITY_SECONDS = 60
# Screening a selfie is a read, one Rekognition call and two writes.
SELFIE_VISIBILITY_SECONDS = 60


MODERATORS_GROUP = "moderators"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    password: str
    user_id: str = ""
    groups: tuple[str, ...] = ()


DEMO_USERS: Sequence[DemoUser] = (
    DemoUser("alice", "Alice", "Alice-pass-1"),
    DemoUser("bob", "Bob", "Bob-pass-1"),
    DemoUser("carol", "Carol", "Carol-pass-1"),
    DemoUser("mona", "Mona", "Mona-pass-1", groups=(MODERATORS_GROUP,)),
)


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str


def table_specs(s: Settings) -> list[CreateTableInputTypeDef]:
    """Every table with its keys and indexes: on demand, encrypted."""
    return [
        # Streams feed analytics (analytics.handlers.export_changes) and, for the users
        # table, the welcome push (notifications.handlers.welcome).
        _table(
            s.connections_table,
            {"connectionId": "S"},
            {"byUser": ("userId", "connectionId")},
            stream=True,
        ),
        _table(
            s.users_table,
            {"userId": "S"},
            {"byUsername": ("username", None)},
            stream=True,
        ),
        _table(
            s.conversations_table,
            {"conversationId": "S", "sk": "S"},
            {"byUser": ("userId", "conversationId")},
        ),
        _table(s.messages_table, {"conversationId": "S", "seq": "N"}, stream=True),
        _table(s.clips_table, {"clipId": "S"}, stream=True),
        _table(
            s.blocks_table,
            {"blockerId": "S", "blockedId": "S"},
            {"byBlocked": ("blockedId", "blockerId")},
        ),
        _table(s.reports_table, {"reportId": "S"}, {"byStatus": ("status", "createdAt")}),
        _table(s.devices_table, {"userId": "S", "sk": "S"}, {"byEndpoint": ("endpointArn", None)}),
        _table(s.verifications_table, {"userId": "S"}, {"byState": ("state", "submittedAt")}),
        _table(s.audit_table, {"userId": "S", "sk": "S"}, stream=True),
    ]


def _table(
    name: str,
    keys: dict[str, str],
    indexes: dict[str, tuple[str, str | None]] | None = None,
    *,
    stream: bool = False,
) -> CreateTableInputTypeDef:
    """``keys``: attribute -> type, hash key first; ``indexes``: name -> (hash, range);
    ``stream``: the table has a stream of new and old images."""
    types = dict(keys)
    for hash_key, range_key in (indexes or {}).values():
        types.setdefault(hash_key, "S")
        if range_key:
            types.setdefault(range_key, "S")
    spec: CreateTableInputTypeDef = {
        "TableName": name,
        "KeySchema": _key_schema(*keys),
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": kind}  # type: ignore[typeddict-item]
            for attribute, kind in types.items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
    }
    if stream:
        spec["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    if indexes:
        spec["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": _key_schema(hash_key, *([range_key] if range_key else [])),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in indexes.items()
        ]
    return spec


def _key_schema(*names: str) -> Any:
    return [
        {"AttributeName": name, "KeyType": "HASH" if i == 0 else "RANGE"}
        for i, name in enumerate(names)
    ]


TTL_ATTRIBUTES = {"connections_table": "expiresAt"}


def provision(clients: Clients) -> UserPool:
    """Everything, in dependency order; safe to run again against the same endpoint."""
    create_tables(clients)
    create_buckets(clients)
    create_queues(clients)
    pool = ensure_user_pool(clients)
    log.info("local resources ready")
    return pool


def create_tables(clients: Clients) -> None:
    existing = set(clients.dynamodb.list_tables()["TableNames"])
    for spec in table_specs(clients.settings):
        if spec["TableName"] in existing:
            continue
        clients.dynamodb.create_table(**spec)
    for setting, attribute in TTL_ATTRIBUTES.items():
        clients.dynamodb.update_time_to_live(
            TableName=getattr(clients.settings, setting),
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )


def create_buckets(clients: Clients) -> None:
    """The clips, selfies and analytics buckets: private, each on its own, with the lifecycle
    rules serverless.yml gives them."""
    settings = clients.settings
    _private_bucket(clients, settings.clips_bucket)
    _private_bucket(clients, settings.selfies_bucket)
    _private_bucket(clients, settings.analytics_bucket, browsers=False)
    clients.s3.put_bucket_lifecycle_configuration(
        Bucket=settings.clips_bucket,
        LifecycleConfiguration={"Rules": [clips_rule(settings.clip_archive_days)]},  # type: ignore[list-item]
    )
    clients.s3.put_bucket_lifecycle_configuration(
        Bucket=settings.analytics_bucket,
        LifecycleConfiguration={"Rules": exports_rules()},  # type: ignore[typeddict-item]
    )
    # Selfies are biometric data: deleted once a decision is final, and by this rule after 30
    # days whatever happened (a backstop; moto stores the rule but never applies it).
    clients.s3.put_bucket_lifecycle_configuration(
        Bucket=settings.selfies_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "selfies-expire",
                    "Filter": {"Prefix": SELFIE_PREFIX},
                    "Status": "Enabled",
                    "Expiration": {"Days": SELFIE_MAX_AGE_DAYS},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )


def _private_bucket(clients: Clients, bucket: str, *, browsers: bool = True) -> None:
    try:
        clients.s3.head_bucket(Bucket=bucket)
    except ClientError:
        clients.s3.create_bucket(Bucket=bucket)
    clients.s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    if not browsers:
        return
    # Browsers upload with the presigned POST and read with the presigned GET.
    clients.s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET", "POST"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )


def create_queues(clients: Clients) -> None:
    """The queues, each with its dead-letter queue: raw clip uploads and selfies (fed by their
    bucket's notifications), and pushes."""
    settings = clients.settings
    clips = _queue_with_dlq(clients, settings.uploads_queue, QUEUE_VISIBILITY_SECONDS)
    _notify_on_upload(clients, settings.clips_bucket, UPLOAD_PREFIX, clips)
    selfies = _queue_with_dlq(clients, settings.selfie_uploads_queue, SELFIE_VISIBILITY_SECONDS)
    _notify_on_upload(clients, settings.selfies_bucket, SELFIE_PREFIX, selfies)
    _queue_with_dlq(clients, settings.push_queue, PUSH_VISIBILITY_SECONDS)


def _notify_on_upload(clients: Clients, bucket: str, prefix: str, queue_arn: str) -> None:
    clients.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                }
            ]
        },
    )


def _queue_with_dlq(clients: Clients, name: str, visibility_seconds: int) -> str:
    """Creates (or finds) the queue and ``<name>-dlq``; returns the queue's ARN."""
    dlq_url = clients.sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    queue_url = clients.sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": _queue_arn(clients, dlq_url), "maxReceiveCount": "3"}
            ),
        },
    )["QueueUrl"]
    return _queue_arn(clients, queue_url)


def _queue_arn(clients: Clients, url: str) -> str:
    attributes = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


# Local stand-ins for the platform applications an operator creates in AWS with real APNs and
# FCM credentials (see the README); the setting that names each application's ARN.
PLATFORM_APPLICATIONS: Mapping[str, tuple[str, str]] = {
    "SOTTO_APNS_APPLICATION_ARN": ("APNS", "apns"),
    "SOTTO_APNS_SANDBOX_APPLICATION_ARN": ("APNS_SANDBOX", "apns-sandbox"),
    "SOTTO_GCM_APPLICATION_ARN": ("GCM", "fcm"),
}


ENDPOINT_EVENTS = ("EventEndpointUpdated", "EventEndpointDeleted", "EventDeliveryFailure")


def ensure_platform_applications(clients: Clients) -> dict[str, str]:
    """SNS platform applications (moto takes any credentials): setting -> application ARN."""
    sns = clients.sns
    stage = clients.settings.stage
    existing = {
        app["PlatformApplicationArn"].rsplit("/", 1)[-1]: app["PlatformApplicationArn"]
        for page in sns.get_paginator("list_platform_applications").paginate()
        for app in page.get("PlatformApplications", [])
    }
    # SNS reports endpoints it disabled, deleted or could not deliver to on this topic, which
    # notifications.handlers.endpoint_events follows (in AWS, through its Lambda subscription).
    events = sns.create_topic(Name=f"sotto-{stage}-push-events")["TopicArn"]
    arns = {}
    for setting, (platform, suffix) in PLATFORM_APPLICATIONS.items():
        name = f"sotto-{stage}-{suffix}"
        arn = (
            existing.get(name)
            or sns.create_platform_application(
                Name=name,
                Platform=platform,
                Attributes={"PlatformCredential": "local", "PlatformPrincipal": "local"},
            )["PlatformApplicationArn"]
        )
        sns.set_platform_application_attributes(
            PlatformApplicationArn=arn, Attributes=dict.fromkeys(ENDPOINT_EVENTS, events)
        )
        arns[setting] = arn
    return arns


def ensure_user_pool(clients: Clients) -> UserPool:
    cognito = clients.cognito
    name = f"sotto-{clients.settings.stage}"
    pools = cognito.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 60})
    pool_id = next(
        (p["Id"] for page in pools for p in page["UserPools"] if p["Name"] == name), None
    )
    if pool_id is None:
        pool_id = cognito.create_user_pool(
            PoolName=name,
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 8,
                    "RequireUppercase": True,
                    "RequireLowercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": False,
                }
            },
        )["UserPool"]["Id"]
    client_name = f"{name}-app"
    apps = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((a["ClientId"] for a in apps if a["ClientName"] == client_name), None)
    if client_id is None:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=client_name,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            # As AWS's default: the ID token carries them (moto adds only what is listed here).
            ReadAttributes=["name", "email"],
        )["UserPoolClient"]["ClientId"]
    with contextlib.suppress(cognito.exceptions.GroupExistsException):
        cognito.create_group(
            GroupName=MODERATORS_GROUP,
            UserPoolId=pool_id,
            Description="May review verification cases",
        )
    return UserPool(pool_id=pool_id, client_id=client_id)


def ensure_demo_users(
    clients: Clients, pool: UserPool, users: Sequence[DemoUser] = DEMO_USERS
) -> list[DemoUser]:
    """Confirmed users with permanent passwords, and their profiles in the users table."""
    directory = UserDirectory(clients.dynamodb, clients.settings.users_table)
    return [_ensure_user(clients, pool, directory, user) for user in users]


def _ensure_user(
    clients: Clients, pool: UserPool, directory: UserDirectory, user: DemoUser
) -> DemoUser:
    cognito = clients.cognito
    with contextlib.suppress(cognito.exceptions.UsernameExistsException):
        cognito.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=user.username,
            UserAttributes=[{"Name": "name", "Value": user.display_name}],
            TemporaryPassword=user.password,
            MessageAction="SUPPRESS",
        )
    cognito.admin_set_user_password(
        UserPoolId=pool.pool_id, Username=user.username, Password=user.password, Permanent=True
    )
    attributes = cognito.admin_get_user(UserPoolId=pool.pool_id, Username=user.username)[
        "UserAttributes"
    ]
    user_id = next(a["Value"] for a in attributes if a["Name"] == "sub")
    for group in user.groups:
        cognito.admin_add_user_to_group(
            UserPoolId=pool.pool_id, Username=user.username, GroupName=group
        )
    # Demo users are verified, as if a moderator had approved them: they can chat at once, and
    # their case says so (GET /verification), so an app does not ask them for a selfie.
    now = datetime.now(UTC)
    profile = UserProfile(user_id, user.username, user.display_name, verified=True)
    directory.put(profile, now)
    s = clients.settings
    cases = CaseStore(clients.dynamodb, s.verifications_table, s.audit_table, s.users_table)
    cases.open(Case(user_id, CaseState.APPROVED, now, decided_by="demo"))
    return DemoUser(user.username, user.display_name, user.password, user_id, user.groups)
