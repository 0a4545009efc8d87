"""Where the client connects: the local stack's info file, or flags and variables for AWS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sotto_cli.errors import CliError

DEFAULT_INFO_FILE = Path(".sotto/local.json")


@dataclass(frozen=True)
class ClientConfig:
    ws_url: str
    client_id: str
    region: str
    cognito_endpoint: str | None  # None: AWS's own Cognito endpoint for the region


def load_config(
    env: Mapping[str, str],
    info_file: Path = DEFAULT_INFO_FILE,
    overrides: Mapping[str, str | None] | None = None,
) -> ClientConfig:
    """Flags beat variables, variables beat the info file that ``sotto dev`` writes."""
    local = read_info(info_file)
    given = {k: v for k, v in (overrides or {}).items() if v}

    def pick(flag: str, variable: str, from_file: str | None) -> str | None:
        return given.get(flag) or env.get(variable) or from_file

    ws_url = pick("ws_url", "SOTTO_WS_URL", local.get("ws_url"))
    client_id = pick("client_id", "SOTTO_COGNITO_CLIENT_ID", local.get("client_id"))
    if not ws_url or not client_id:
        raise CliError(
            "config",
            f"No local stack found ({info_file} is missing): run `make dev`, or give "
            "--ws-url and --client-id (or SOTTO_WS_URL and SOTTO_COGNITO_CLIENT_ID).",
        )
    return ClientConfig(
        ws_url=ws_url,
        client_id=client_id,
        region=pick("region", "AWS_REGION", local.get("region")) or "us-east-1",
        cognito_endpoint=pick(
            "cognito_endpoint", "SOTTO_COGNITO_ENDPOINT", local.get("aws_endpoint")
        ),
    )


def read_info(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise CliError("config", f"{path} is not valid JSON: {error}") from None
    return {k: v for k, v in data.items() if isinstance(v, str)}
