"""SNS platform endpoints: the only code that talks to SNS. Vendor errors become ours here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from common.errors import BadRequest, PushUnavailable
from common.logs import get_logger
from notifications.logic import existing_endpoint, sns_attributes, sns_message
from notifications.model import Platform, Push

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

log = get_logger("push")


class EndpointGone(Exception):
    """SNS reports the endpoint disabled (the platform rejected its token) or deleted: the
    device cannot be reached again, so it is forgotten rather than retried."""


class PushFailed(Exception):
    """SNS did not take a push for a reason that says nothing about the endpoint."""


class PushEndpoints:
    def __init__(self, client: SNSClient, applications: Mapping[Platform, str]) -> None:
        self._client = client
        self._applications = applications

    def ensure(self, platform: Platform, token: str, known_arn: str | None) -> str:
        """An enabled endpoint for ``token``, as AWS's guide for mobile tokens says: create it
        once, then re-enable it (same token) or update it (new token) rather than make another.
        Returns its ARN (a new one if the known endpoint was deleted meanwhile)."""
        arn = known_arn or self._create(platform, token)
        try:
            attributes = self._client.get_endpoint_attributes(EndpointArn=arn)["Attributes"]
        except self._client.exceptions.NotFoundException:
            return self._create(platform, token)
        if attributes.get("Token") != token or attributes.get("Enabled", "").lower() != "true":
            try:
                self._client.set_endpoint_attributes(
                    EndpointArn=arn, Attributes={"Token": token, "Enabled": "true"}
                )
            except self._client.exceptions.InvalidParameterException as error:
                raise _token_refused(error) from None
        return arn

    def publish(self, endpoint_arn: str, push: Push) -> None:
        """Raises EndpointGone for an endpoint that will never take a push again."""
        try:
            self._client.publish(
                TargetArn=endpoint_arn,
                Message=sns_message(push),
                MessageStructure="json",
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in sns_attributes(push).items()
                },
            )
        except self._client.exceptions.EndpointDisabledException as error:
            raise EndpointGone("disabled") from error
        except self._client.exceptions.NotFoundException as error:
            raise EndpointGone("deleted") from error
        except ClientError as error:  # after the client's own retries (throttling and the like)
            raise PushFailed(_code(error)) from error

    def is_dead(self, endpoint_arn: str) -> bool:
        """Whether SNS says the endpoint is disabled (the platform refused its token) or gone."""
        try:
            attributes = self._client.get_endpoint_attributes(EndpointArn=endpoint_arn)
        except self._client.exceptions.NotFoundException:
            return True
        return attributes["Attributes"].get("Enabled", "").lower() != "true"

    def delete(self, endpoint_arn: str) -> None:
        """Deleting an endpoint that is already gone is not an error (SNS agrees)."""
        try:
            self._client.delete_endpoint(EndpointArn=endpoint_arn)
        except ClientError as error:
            log.warning("could not delete an endpoint: %s", _code(error))

    def _create(self, platform: Platform, token: str) -> str:
        application = self._applications.get(platform)
        if not application:
            raise PushUnavailable(f"Push notifications for {platform.value} are not set up here.")
        try:
            return self._client.create_platform_endpoint(
                PlatformApplicationArn=application, Token=token
            )["EndpointArn"]
        except self._client.exceptions.InvalidParameterException as error:
            # The token has an endpoint already, made with other attributes: that one is ours.
            arn = existing_endpoint(str(error))
            if arn is None:
                raise _token_refused(error) from None
            return arn


def _token_refused(error: ClientError) -> BadRequest:
    log.info("SNS refused a device token: %s", _code(error))
    return BadRequest("The push service does not accept that device token.", field="token")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "?"))
