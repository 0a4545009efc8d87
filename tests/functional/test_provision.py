"""The launcher's provisioning creates everything once and can run again safely."""

from __future__ import annotations

from common.clients import Clients
from local_gateway.provision import (
    DEMO_USERS,
    PLATFORM_APPLICATIONS,
    ensure_demo_users,
    ensure_platform_applications,
    provision,
    table_specs,
)


def test_provisioning_twice_changes_nothing_and_breaks_nothing(aws: Clients) -> None:
    first_pool = provision(aws)
    first_users = ensure_demo_users(aws, first_pool)
    second_pool = provision(aws)
    second_users = ensure_demo_users(aws, second_pool)

    assert second_pool == first_pool
    assert [u.user_id for u in second_users] == [u.user_id for u in first_users]
    assert all(u.user_id for u in first_users)
    tables = set(aws.dynamodb.list_tables()["TableNames"])
    assert {spec["TableName"] for spec in table_specs(aws.settings)} <= tables
    ttl = aws.dynamodb.describe_time_to_live(TableName=aws.settings.connections_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    queues = aws.sqs.list_queues(QueueNamePrefix=aws.settings.uploads_queue)["QueueUrls"]
    assert sorted(q.rsplit("/", 1)[1] for q in queues) == [
        aws.settings.uploads_queue,
        f"{aws.settings.uploads_queue}-dlq",
    ]
    notifications = aws.s3.get_bucket_notification_configuration(Bucket=aws.settings.clips_bucket)
    [queue_config] = notifications["QueueConfigurations"]
    assert queue_config["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": "clips/raw/"}
    ]
    pools = aws.cognito.list_user_pools(MaxResults=60)["UserPools"]
    assert len([p for p in pools if p["Name"] == f"sotto-{aws.settings.stage}"]) == 1
    profiles = aws.dynamodb.scan(TableName=aws.settings.users_table)["Items"]
    assert sorted(p["username"]["S"] for p in profiles) == sorted(u.username for u in DEMO_USERS)


def test_push_resources_are_made_once(aws: Clients) -> None:
    provision(aws)
    first = ensure_platform_applications(aws)
    assert ensure_platform_applications(aws) == first
    assert set(first) == set(PLATFORM_APPLICATIONS)
    platforms = {
        app["PlatformApplicationArn"].split(":app/")[1].split("/")[0]
        for app in aws.sns.list_platform_applications()["PlatformApplications"]
    }
    assert platforms == {"APNS", "APNS_SANDBOX", "GCM"}
    [topic] = aws.sns.list_topics()["Topics"]
    for arn in first.values():
        attributes = aws.sns.get_platform_application_attributes(PlatformApplicationArn=arn)
        assert attributes["Attributes"]["EventEndpointUpdated"] == topic["TopicArn"]
        assert attributes["Attributes"]["EventDeliveryFailure"] == topic["TopicArn"]
    queues = aws.sqs.list_queues(QueueNamePrefix=aws.settings.push_queue)["QueueUrls"]
    assert sorted(q.rsplit("/", 1)[1] for q in queues) == [
        aws.settings.push_queue,
        f"{aws.settings.push_queue}-dlq",
    ]
    selfies = aws.settings.selfies_bucket
    [selfie_queue] = aws.s3.get_bucket_notification_configuration(Bucket=selfies)[
        "QueueConfigurations"
    ]
    assert selfie_queue["QueueArn"].endswith(f":{aws.settings.selfie_uploads_queue}")
    assert selfie_queue["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "selfies/"}]
    [rule] = aws.s3.get_bucket_lifecycle_configuration(Bucket=selfies)["Rules"]
    assert (rule["Filter"]["Prefix"], rule["Expiration"]["Days"]) == ("selfies/", 30)
    block = aws.s3.get_public_access_block(Bucket=selfies)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    users = aws.dynamodb.describe_table(TableName=aws.settings.users_table)["Table"]
    assert users["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    devices = aws.dynamodb.describe_table(TableName=aws.settings.devices_table)["Table"]
    assert [i["IndexName"] for i in devices["GlobalSecondaryIndexes"]] == ["byEndpoint"]


def test_demo_users_can_sign_in_with_the_printed_passwords(aws: Clients) -> None:
    pool = provision(aws)
    for user in ensure_demo_users(aws, pool):
        result = aws.cognito.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
        )
        assert result["AuthenticationResult"]["IdToken"]
