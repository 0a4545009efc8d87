"""``python -m local_gateway``: run the local stack (see ``local_gateway.launcher``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from common.logs import configure
from common.settings import Settings, SettingsError
from local_gateway.launcher import PortInUse, serve

DEFAULT_INFO_FILE = Path(".sotto/local.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sotto dev", description="Run Sotto locally.")
    parser.add_argument(
        "--info-file",
        type=Path,
        default=DEFAULT_INFO_FILE,
        help=f"where to write client settings (default {DEFAULT_INFO_FILE})",
    )
    args = parser.parse_args(argv)
    try:
        configure(Settings.from_env(os.environ).log_level, human=True)
        asyncio.run(serve(os.environ, args.info_file))
    except (SettingsError, PortInUse) as error:
        print(f"sotto: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
