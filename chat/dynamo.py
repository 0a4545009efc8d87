"""Small DynamoDB helpers shared by chat's stores: transaction outcomes and batched reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, KeysAndAttributesTypeDef

Item = dict[str, "AttributeValueTypeDef"]

CONDITION_FAILED = "ConditionalCheckFailed"
BATCH_GET_LIMIT = 100


def cancellation_codes(error: ClientError) -> list[str]:
    """Per item of a cancelled transaction: why it failed (``None`` when it did not)."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def is_cancelled_transaction(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "TransactionCanceledException"


def failed_at(error: ClientError, position: int) -> bool:
    """Whether the transaction item at ``position`` failed its condition."""
    codes = cancellation_codes(error)
    return len(codes) > position and codes[position] == CONDITION_FAILED


def is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def put_new(client: DynamoDBClient, table: str, item: Item, key_attribute: str) -> bool:
    """Write ``item`` unless one with its key exists: True when it was new."""
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": key_attribute},
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def batch_get(
    client: DynamoDBClient, table: str, keys: Sequence[Item], consistent: bool = True
) -> list[Item]:
    """Every item of ``keys`` that exists, in no particular order; unprocessed keys are retried."""
    found: list[Item] = []
    unique = list(
        {tuple(sorted((k, str(v)) for k, v in key.items())): key for key in keys}.values()
    )
    for start in range(0, len(unique), BATCH_GET_LIMIT):
        request: dict[str, KeysAndAttributesTypeDef] = {
            table: {"Keys": unique[start : start + BATCH_GET_LIMIT], "ConsistentRead": consistent}
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or {}  # type: ignore[assignment]
    return found
