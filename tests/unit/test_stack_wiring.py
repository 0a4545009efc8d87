"""The packaged stack is wired as the local stack runs: the same handlers behind the same
routes, queues, streams, schedules and triggers; every table, bucket and queue a setting
names exists with the keys the code uses; data is private and encrypted; only API Gateway
faces the internet; every function has a role of its own."""

from __future__ import annotations

import re
from typing import Any

import pytest

from common.settings import Settings
from local_gateway.provision import table_specs
from local_gateway.routes import (
    AUTHORIZER,
    COGNITO_TRIGGERS,
    HTTP_ROUTES,
    QUEUE_FUNCTIONS,
    SCHEDULED_FUNCTIONS,
    STREAM_FUNCTIONS,
    WEBSOCKET_ROUTES,
    load_function,
)
from tests.unit.stack import (
    ROOT,
    STAGES,
    by_name,
    function_by_handler,
    functions,
    handler_of,
    logical_of,
    resources,
    template,
)

PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()
SNS_FUNCTIONS = ("notifications.handlers.endpoint_events",)


def settings(stage: str) -> Settings:
    return Settings.from_env({"SOTTO_STAGE": stage})


def every_handler() -> set[str]:
    return {
        AUTHORIZER,
        *WEBSOCKET_ROUTES.values(),
        *HTTP_ROUTES.values(),
        *QUEUE_FUNCTIONS.values(),
        *COGNITO_TRIGGERS.values(),
        *STREAM_FUNCTIONS,
        *SCHEDULED_FUNCTIONS,
        *SNS_FUNCTIONS,
    }


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_one_the_local_stack_runs_and_it_imports(stage: str) -> None:
    deployed = {handler_of(f) for f in functions(stage).values()}
    assert deployed == every_handler()
    for handler in deployed:
        assert callable(load_function(handler)), handler


def _route_targets(stage: str, api: str) -> dict[str, str]:
    """Route key -> the handler its integration invokes."""
    integrations = dict(resources(stage, "AWS::ApiGatewayV2::Integration"))
    by_logical = functions(stage)
    routes = {}
    for _, route in resources(stage, "AWS::ApiGatewayV2::Route"):
        if logical_of(route["ApiId"]) != api:
            continue
        integration = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration]["IntegrationUri"]
        function = _function_in(uri)
        routes[route["RouteKey"]] = handler_of(by_logical[function])
    return routes


def _function_in(uri: Any) -> str:
    """The function logical id inside an integration URI (a Join or Sub around a GetAtt)."""
    text = repr(uri)
    [found] = set(re.findall(r"'(\w+LambdaFunction)'", text))
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_websocket_routes_are_the_gateways_and_the_protocols(stage: str) -> None:
    routes = _route_targets(stage, "WebsocketsApi")
    assert routes == dict(WEBSOCKET_ROUTES)
    actions_section = PROTOCOL.split("\n## Actions\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^### `(\w+)`", actions_section, re.MULTILINE))
    assert documented == {key for key in routes if not key.startswith("$")}
    [(_, api)] = [
        (k, p) for k, p in resources(stage, "AWS::ApiGatewayV2::Api") if k == "WebsocketsApi"
    ]
    assert api["RouteSelectionExpression"] == "$request.body.action"


@pytest.mark.parametrize("stage", STAGES)
def test_connect_is_authorized_by_the_token_in_the_query_string(stage: str) -> None:
    [(_, connect)] = [
        (k, p)
        for k, p in resources(stage, "AWS::ApiGatewayV2::Route")
        if p["RouteKey"] == "$connect"
    ]
    assert connect["AuthorizationType"] == "CUSTOM"
    authorizer = template(stage)["Resources"][logical_of(connect["AuthorizerId"])]["Properties"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    assert _function_in(authorizer["AuthorizerUri"]) == function_by_handler(stage, AUTHORIZER)[0]


@pytest.mark.parametrize("stage", STAGES)
def test_actions_answer_the_sender_through_route_responses(stage: str) -> None:
    answered = {
        logical_of(props["RouteId"])
        for _, props in resources(stage, "AWS::ApiGatewayV2::RouteResponse")
    }
    for logical, route in resources(stage, "AWS::ApiGatewayV2::Route"):
        if logical_of(route["ApiId"]) == "WebsocketsApi":
            expected = route["RouteKey"] not in ("$connect", "$disconnect")
            assert (logical in answered) == expected, route["RouteKey"]


@pytest.mark.parametrize("stage", STAGES)
def test_http_routes_are_the_gateways_behind_the_cognito_jwt_authorizer(stage: str) -> None:
    routes = _route_targets(stage, "HttpApi")
    assert routes == dict(HTTP_ROUTES)
    http_section = PROTOCOL.split("\n## HTTP API\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^### `([A-Z]+ /[^`]+)`", http_section, re.MULTILINE))
    assert documented == set(routes)
    jwt = [
        p
        for _, p in resources(stage, "AWS::ApiGatewayV2::Authorizer")
        if p["AuthorizerType"] == "JWT"
    ]
    assert len(jwt) == 1
    assert jwt[0]["JwtConfiguration"]["Audience"] == [{"Ref": "UserPoolClient"}]
    for _, route in resources(stage, "AWS::ApiGatewayV2::Route"):
        if logical_of(route["ApiId"]) == "HttpApi":
            assert route["AuthorizationType"] == "JWT", route["RouteKey"]


def _source_of(stage: str, handler: str) -> list[str]:
    """The logical ids of the event sources mapped to a handler's function."""
    logical, _ = function_by_handler(stage, handler)
    return [
        logical_of(props["EventSourceArn"])
        for _, props in resources(stage, "AWS::Lambda::EventSourceMapping")
        if logical_of(props["FunctionName"]) == logical
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_queues_and_streams_trigger_the_same_functions_as_locally(stage: str) -> None:
    s = settings(stage)
    names = {
        logical: props.get("QueueName") or props.get("TableName")
        for kind in ("AWS::SQS::Queue", "AWS::DynamoDB::Table")
        for logical, props in resources(stage, kind)
    }
    for setting, handler in QUEUE_FUNCTIONS.items():
        assert [names[q] for q in _source_of(stage, handler)] == [getattr(s, setting)]
    for handler, tables in STREAM_FUNCTIONS.items():
        assert sorted(names[t] for t in _source_of(stage, handler)) == sorted(
            getattr(s, t) for t in tables
        )


@pytest.mark.parametrize("stage", STAGES)
def test_schedules_sns_and_cognito_triggers(stage: str) -> None:
    rules = {
        logical_of(props["Targets"][0]["Arn"]): props["ScheduleExpression"]
        for _, props in resources(stage, "AWS::Events::Rule")
    }
    for handler, schedule in SCHEDULED_FUNCTIONS.items():
        assert rules[function_by_handler(stage, handler)[0]] == schedule.expression
    [(_, subscription)] = list(resources(stage, "AWS::SNS::Subscription"))
    assert logical_of(subscription["TopicArn"]) == "PushEventsTopic"
    [(_, pool)] = list(resources(stage, "AWS::Cognito::UserPool"))
    for trigger, handler in COGNITO_TRIGGERS.items():
        assert logical_of(pool["LambdaConfig"][trigger]) == function_by_handler(stage, handler)[0]
    [(_, group)] = list(resources(stage, "AWS::Cognito::UserPoolGroup"))
    assert group["GroupName"] == "moderators"


def _attribute_types(spec: Any) -> dict[str, str]:
    return {d["AttributeName"]: d["AttributeType"] for d in spec["AttributeDefinitions"]}


def _indexes(spec: Any) -> dict[str, list[tuple[str, str]]]:
    return {
        index["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]]
        for index in spec.get("GlobalSecondaryIndexes", [])
    }


@pytest.mark.parametrize("stage", STAGES)
def test_tables_have_the_keys_indexes_and_streams_the_code_uses(stage: str) -> None:
    for spec in table_specs(settings(stage)):
        _, table = by_name(stage, "AWS::DynamoDB::Table", "TableName", spec["TableName"])
        assert _attribute_types(table) == _attribute_types(spec), spec["TableName"]
        assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
            (k["AttributeName"], k["KeyType"]) for k in spec["KeySchema"]
        ]
        assert _indexes(table) == _indexes(spec), spec["TableName"]
        assert ("StreamSpecification" in table) == ("StreamSpecification" in spec)
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["SSESpecification"]["SSEType"] == "KMS"


@pytest.mark.parametrize("stage", STAGES)
def test_every_table_bucket_and_queue_a_setting_names_exists(stage: str) -> None:
    s = settings(stage)
    declared = {
        props.get("TableName") or props.get("BucketName") or props.get("QueueName")
        for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue")
        for _, props in resources(stage, kind)
    }
    named = {
        getattr(s, field) for field in vars(s) if field.endswith(("_table", "_bucket", "_queue"))
    }
    assert named <= declared, named - declared


@pytest.mark.parametrize("stage", STAGES)
def test_buckets_are_private_encrypted_and_refuse_plain_http(stage: str) -> None:
    policies = {
        logical_of(props["Bucket"]): props["PolicyDocument"]["Statement"]
        for _, props in resources(stage, "AWS::S3::BucketPolicy")
    }
    for logical, bucket in resources(stage, "AWS::S3::Bucket"):
        plain_http = (
            {"Bool": {"aws:SecureTransport": False}},
            {"Bool": {"aws:SecureTransport": "false"}},
        )
        denies = [
            s
            for s in policies[logical]
            if s["Effect"] == "Deny" and s.get("Condition") in plain_http
        ]
        assert denies, f"{logical} accepts plain HTTP"
        if logical != "ServerlessDeploymentBucket":
            assert all(bucket["PublicAccessBlockConfiguration"].values()), logical
            [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            # Data under the stack's key; the pages' static code under S3's own (CloudFront
            # reads it, and must stay out of the data key's policy).
            expected = "AES256" if logical in ("ConsoleBucket", "WebClientBucket") else "aws:kms"
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == expected, logical


@pytest.mark.parametrize("stage", STAGES)
def test_every_queue_is_encrypted_and_work_queues_have_dead_letter_queues(stage: str) -> None:
    for _, queue in resources(stage, "AWS::SQS::Queue"):
        assert "KmsMasterKeyId" in queue, queue["QueueName"]
    for setting in QUEUE_FUNCTIONS:
        _, queue = by_name(stage, "AWS::SQS::Queue", "QueueName", getattr(settings(stage), setting))
        assert queue["RedrivePolicy"]["maxReceiveCount"] >= 1


@pytest.mark.parametrize("stage", STAGES)
def test_only_api_gateway_faces_the_internet(stage: str) -> None:
    """Nothing in the VPC accepts a connection from outside: no public addresses, no open
    ingress; the private subnets go out (to the Management API) through NAT gateways only."""
    for _, group in resources(stage, "AWS::EC2::SecurityGroup"):
        for rule in group.get("SecurityGroupIngress", []):
            assert "SourceSecurityGroupId" in rule, rule  # never a CIDR, let alone 0.0.0.0/0
    for _, subnet in resources(stage, "AWS::EC2::Subnet"):
        assert subnet.get("MapPublicIpOnLaunch", False) is False
    public = {"PublicSubnetA", "PublicSubnetB"}
    nat_subnets = {logical_of(n["SubnetId"]) for _, n in resources(stage, "AWS::EC2::NatGateway")}
    assert nat_subnets == public
    for function in functions(stage).values():
        assert not public & {
            logical_of(s) for s in function.get("VpcConfig", {}).get("SubnetIds", [])
        }
    [(_, service)] = list(resources(stage, "AWS::ECS::Service"))
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    routes = [props for _, props in resources(stage, "AWS::EC2::Route")]
    private_defaults = [
        r for r in routes if r["RouteTableId"]["Ref"].startswith("PrivateRouteTable")
    ]
    assert private_defaults
    assert all("NatGatewayId" in r and "GatewayId" not in r for r in private_defaults)
    endpoints = {
        props["ServiceName"]["Fn::Sub"].split("}.", 1)[1]: props["VpcEndpointType"]
        for _, props in resources(stage, "AWS::EC2::VPCEndpoint")
    }
    assert endpoints["s3"] == endpoints["dynamodb"] == "Gateway"
    for service_name in ("sqs", "sns", "rekognition"):
        assert endpoints[service_name] == "Interface", service_name
    # An execute-api endpoint serves private APIs only, and its private DNS would capture the
    # public WebSocket API's hostname: the Management API must go through the NAT instead.
    assert "execute-api" not in endpoints
    [(_, redis)] = list(resources(stage, "AWS::ElastiCache::ReplicationGroup"))
    assert redis["TransitEncryptionEnabled"] is True
    assert redis["AtRestEncryptionEnabled"] is True
    assert "AuthToken" in redis


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_a_role_of_its_own(stage: str) -> None:
    roles = [logical_of(f["Role"]) for f in functions(stage).values()]
    assert len(set(roles)) == len(roles)
    for role in roles:
        assert template(stage)["Resources"][role]["Type"] == "AWS::IAM::Role"


@pytest.mark.parametrize("stage", STAGES)
def test_functions_that_use_redis_run_in_the_vpc_and_the_authorizer_does_not(stage: str) -> None:
    _, authorizer = function_by_handler(stage, AUTHORIZER)
    assert "VpcConfig" not in authorizer  # it fetches the user pool's keys from the internet
    _, send = function_by_handler(stage, "chat.handlers.send")
    assert send["VpcConfig"]["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]


@pytest.mark.parametrize("stage", STAGES)
def test_the_fan_out_service_runs_the_projects_image_in_the_private_subnets(stage: str) -> None:
    [(_, service)] = list(resources(stage, "AWS::ECS::Service"))
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert network["Subnets"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    [(_, task)] = list(resources(stage, "AWS::ECS::TaskDefinition"))
    [container] = task["ContainerDefinitions"]
    assert "FanoutRepository.RepositoryUri" in container["Image"]["Fn::Sub"]
    names = {variable["Name"] for variable in container["Environment"]}
    assert {"SOTTO_STAGE", "SOTTO_MANAGEMENT_ENDPOINT", "REDIS_URL"} <= names
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = re.search(r'CMD \["python", "-m", "([\w.]+)"\]', dockerfile)
    assert command is not None
    assert callable(load_function(f"{command[1]}.main"))
    for folder in re.findall(r"^COPY (\w+) \1$", dockerfile, re.MULTILINE):
        assert (ROOT / folder / "__init__.py").exists(), folder


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_watch_errors_dead_letters_and_fan_out_lag(stage: str) -> None:
    alarms = [props for _, props in resources(stage, "AWS::CloudWatch::Alarm")]
    watched_queues = {
        logical_of(d["Value"])
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        for d in a["Dimensions"]
    }
    dead_letters = {
        logical_of(props["RedrivePolicy"]["deadLetterTargetArn"])
        for _, props in resources(stage, "AWS::SQS::Queue")
        if "RedrivePolicy" in props
    }
    assert dead_letters | {"AnalyticsFailuresQueue"} <= watched_queues
    errors = {a["Dimensions"][0]["Value"] for a in alarms if a["MetricName"] == "Errors"}
    throttles = {a["Dimensions"][0]["Value"] for a in alarms if a["MetricName"] == "Throttles"}
    for handler in ("chat.handlers.send", "connections.handlers.connect", AUTHORIZER):
        name = function_by_handler(stage, handler)[1]["FunctionName"]
        assert name in errors
        assert name in throttles
    assert any(a["MetricName"] == "FanoutLag" for a in alarms)
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmsTopic"}]
    assert list(resources(stage, "AWS::CloudWatch::Dashboard"))


PAGES = {"Console": ROOT / "verification" / "console", "WebClient": ROOT / "sotto_cli" / "web"}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("page", PAGES)
def test_each_page_is_served_by_cloudfront_alone_over_https(stage: str, page: str) -> None:
    [distribution] = [
        d
        for k, d in resources(stage, "AWS::CloudFront::Distribution")
        if k == f"{page}Distribution"
    ]
    config = distribution["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert (PAGES[page] / "index.html").exists()
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    [origin] = config["Origins"]
    assert logical_of(origin["DomainName"]) == f"{page}Bucket"
    assert logical_of(origin["OriginAccessControlId"]) == f"{page}OriginAccess"
    [(_, policy)] = [
        (k, p)
        for k, p in resources(stage, "AWS::S3::BucketPolicy")
        if logical_of(p["Bucket"]) == f"{page}Bucket"
    ]
    [allow] = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert f"{page}Distribution" in repr(allow["Condition"])


@pytest.mark.parametrize("stage", STAGES)
def test_the_pages_are_published_from_their_folders_with_the_stacks_outputs(stage: str) -> None:
    script = (ROOT / "scripts" / "publish-pages").read_text()
    named = re.findall(r"output (\w+)\)", script)
    for page, folder in PAGES.items():
        assert f"publish {folder.relative_to(ROOT)} {page}BucketName {page}Url " in script
        named += [f"{page}BucketName", f"{page}Url"]
    assert set(named) <= set(template(stage)["Outputs"])
