"""``sotto``: run the local stack, listen for voice messages, say one.

sotto dev
sotto listen --user bob --password ... [--save DIR]
sotto say --user alice --password ... --to bob clip.wav   (or --tone 2)
sotto group --user alice --password ... --title Band bob carol
sotto say --user alice --password ... --conversation <group id> --tone 2
sotto device --user bob --password ... [--platform ios] [--remove]
sotto analytics query "SQL" | report | compact | load   (see sotto_cli/analytics.py)
sotto smoke --sender alice:... --recipient bob:...   (see sotto_cli/smoke.py)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sotto_cli.audio import content_type_of, extension_for, tone_wav
from sotto_cli.client import SottoClient, download, sign_in, upload
from sotto_cli.config import DEFAULT_INFO_FILE, ClientConfig, load_config, read_info
from sotto_cli.errors import CliError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    standalone = {"dev": _dev, "smoke": _smoke, "analytics": _analytics}
    if args.command in standalone:
        return standalone[args.command](args)
    try:
        config = load_config(
            os.environ,
            args.info_file,
            {
                "ws_url": args.ws_url,
                "client_id": args.client_id,
                "region": args.region,
                "cognito_endpoint": args.cognito_endpoint,
            },
        )
        if args.command == "listen":
            asyncio.run(listen(config, args.user, args.password, args.save))
        elif args.command == "group":
            asyncio.run(group(config, args))
        elif args.command == "device":
            asyncio.run(device(config, args))
        else:
            asyncio.run(say(config, args))
    except CliError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


async def listen(config: ClientConfig, user: str, password: str, save: Path | None) -> None:
    client = await SottoClient.connect(config.ws_url, sign_in(config, user, password))
    names: dict[str, str] = {}
    print(f"listening as {user}; Ctrl+C to stop", flush=True)
    try:
        async for event in client.events():
            if event.get("type") == "message":
                await _show_message(client, event, names, save)
            elif event.get("type") == "error":
                print(f"error: {event.get('code')}: {event.get('message')}", flush=True)
            elif event.get("type") == "membership":
                await _show_membership(client, event, names)
            else:
                print(f"{event.get('type')}: {event}", flush=True)
    finally:
        await client.close()
    raise CliError("disconnected", f"The server closed the connection ({client.close_reason}).")


async def _show_message(
    client: SottoClient, event: dict[str, Any], names: dict[str, str], save: Path | None
) -> None:
    sender = await _name(client, str(event.get("from")), names)
    clip = event.get("clip") or {}
    duration = clip.get("durationMs")
    length = f"{duration / 1000:.1f} s" if isinstance(duration, int | float) else "length unknown"
    at = datetime.fromisoformat(str(event.get("sentAt")).replace("Z", "+00:00")).astimezone()
    print(
        f"[{at:%H:%M:%S}] {sender}: voice message #{event.get('seq')} ({length})\n"
        f"    play: {clip.get('url')}",
        flush=True,
    )
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        extension = extension_for(str(clip.get("contentType", "")))
        target = save / f"{event.get('messageId')}{extension}"
        target.write_bytes(await asyncio.to_thread(download, str(clip.get("url"))))
        print(f"    saved: {target}", flush=True)


async def _name(client: SottoClient, user_id: str, names: dict[str, str]) -> str:
    if user_id not in names:
        try:
            names[user_id] = (await client.request("lookupUser", userId=user_id))["username"]
        except CliError:
            names[user_id] = user_id
    return names[user_id]


async def _show_membership(
    client: SottoClient, event: dict[str, Any], names: dict[str, str]
) -> None:
    by = await _name(client, str(event.get("by")), names)
    who = ", ".join([await _name(client, str(u), names) for u in event.get("userIds", [])])
    detail = {
        "created": f"created {event.get('title')!r} with {who}",
        "added": f"added {who}",
        "removed": f"removed {who}",
        "left": "left",
        "role": f"made {who} {event.get('role')}",
        "renamed": f"renamed it {event.get('title')!r}",
    }.get(str(event.get("change")), str(event.get("change")))
    print(f"group {event.get('conversationId')}: {by} {detail}", flush=True)


async def group(config: ClientConfig, args: argparse.Namespace) -> None:
    client = await SottoClient.connect(config.ws_url, sign_in(config, args.user, args.password))
    try:
        members = [
            (await client.request("lookupUser", username=name))["userId"] for name in args.members
        ]
        created = await client.request("createGroup", title=args.title, members=members)
    finally:
        await client.close()
    print(f"group: {created['conversationId']} ({len(created['userIds'])} members)")


async def say(config: ClientConfig, args: argparse.Namespace) -> None:
    data, content_type, filename = _clip_to_send(args)
    client = await SottoClient.connect(config.ws_url, sign_in(config, args.user, args.password))
    try:
        target: dict[str, str]
        if args.conversation:
            target = {"conversationId": args.conversation}
        else:
            target = {"to": (await client.request("lookupUser", username=args.to))["userId"]}
        grant = await client.request("upload", contentType=content_type, size=len(data))
        await asyncio.to_thread(upload, grant, data, content_type, filename)
        ack = await client.request(
            "send", clientMessageId=str(uuid.uuid4()), clipId=grant["clipId"], **target
        )
    finally:
        await client.close()
    print(f"sent: message {ack['messageId']} is #{ack['seq']} in {ack['conversationId']}")


async def device(config: ClientConfig, args: argparse.Namespace) -> None:
    """Register (or remove) a stand-in phone: while the user has no connection, messages to
    them become pushes to it (shown in the ``make dev`` console)."""
    device_id = args.device_id or f"cli-{args.user}"
    client = await SottoClient.connect(config.ws_url, sign_in(config, args.user, args.password))
    try:
        if args.remove:
            await client.request("unregisterDevice", deviceId=device_id)
            print(f"device {device_id} removed")
            return
        answer = await client.request(
            "registerDevice",
            deviceId=device_id,
            platform=args.platform,
            token=_stand_in_token(args.user, device_id, args.platform),
            appVersion="sotto-cli",
        )
    finally:
        await client.close()
    print(
        f"device {answer['deviceId']} ({answer['platform']}) registered for {args.user}: "
        f"while {args.user} is not connected, messages become pushes to it"
    )


def _stand_in_token(user: str, device_id: str, platform: str) -> str:
    """A token shaped like the platform's (APNs: 64 hex digits), the same for the same device."""
    digest = hashlib.sha256(f"{user}/{device_id}".encode()).hexdigest()
    return digest if platform.startswith("ios") else f"cli:{digest}{digest}"


def _clip_to_send(args: argparse.Namespace) -> tuple[bytes, str, str]:
    if args.tone is not None:
        if not 0 < args.tone <= 60:  # noqa: PLR2004
            raise CliError("bad_request", "--tone takes 0 to 60 seconds.")
        return tone_wav(args.tone), "audio/wav", "tone.wav"
    if args.file is None:
        raise CliError("bad_request", "Give an audio file or --tone SECONDS.")
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CliError("bad_request", f"Cannot read {path}: {error.strerror}") from None
    return data, args.content_type or content_type_of(path, data[:16]), path.name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sotto", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run the whole stack locally")
    dev.add_argument("--info-file", type=Path, default=DEFAULT_INFO_FILE)
    for name, text in (
        ("listen", "print voice messages as they arrive"),
        ("say", "send one"),
        ("group", "start a group"),
        ("device", "register a stand-in phone for push notifications"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--user", required=True)
        command.add_argument("--password", required=True)
        command.add_argument("--info-file", type=Path, default=DEFAULT_INFO_FILE)
        command.add_argument("--ws-url", help="WebSocket URL of an AWS stage (wss://...)")
        command.add_argument("--client-id", help="Cognito app client id")
        command.add_argument("--region")
        command.add_argument("--cognito-endpoint", help=argparse.SUPPRESS)
    listen_command = commands.choices["listen"]
    listen_command.add_argument("--save", type=Path, help="also download each clip here")
    say_command = commands.choices["say"]
    recipient = say_command.add_mutually_exclusive_group(required=True)
    recipient.add_argument("--to", help="user name of the person to send to")
    recipient.add_argument("--conversation", help="conversation id")
    say_command.add_argument("file", nargs="?", help="a WAV, Ogg/Opus, MP3, M4A or WebM file")
    say_command.add_argument(
        "--tone", type=float, help="send a generated tone of this many seconds"
    )
    say_command.add_argument("--content-type", help="override the detected audio type")
    device_command = commands.choices["device"]
    device_command.add_argument(
        "--platform", choices=["ios", "ios_sandbox", "android"], default="ios"
    )
    device_command.add_argument("--device-id", help="default: cli-<user>")
    device_command.add_argument("--remove", action="store_true", help="unregister it instead")
    group_command = commands.choices["group"]
    group_command.add_argument("--title", required=True)
    group_command.add_argument("members", nargs="*", help="user names of the other members")
    _add_smoke(commands)
    _add_analytics(commands)
    return parser


def _dev(args: argparse.Namespace) -> int:
    from local_gateway.__main__ import main as run_dev  # noqa: PLC0415 (local extra only)

    return run_dev(["--info-file", str(args.info_file)])


def _analytics(args: argparse.Namespace) -> int:
    from sotto_cli import analytics  # noqa: PLC0415 (the analyst extra only)

    try:
        return analytics.run(args)
    except CliError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1


def _smoke(args: argparse.Namespace) -> int:
    from sotto_cli.smoke import Account, smoke  # noqa: PLC0415

    try:
        config = load_config(
            os.environ,
            args.info_file,
            {"ws_url": args.ws_url, "client_id": args.client_id, "region": args.region},
        )
        http_api = args.http_api or read_info(args.info_file).get("http_api_url")
        if not http_api:
            raise CliError("config", "Give --http-api (the stage's HttpApiUrl output).")
        asyncio.run(
            smoke(config, http_api, Account.parse(args.sender), Account.parse(args.recipient))
        )
    except CliError as error:
        print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1
    return 0


def _add_smoke(commands: Any) -> None:
    smoke = commands.add_parser("smoke", help="smoke-test a deployed stage (or make dev)")
    smoke.add_argument("--sender", required=True, help="user:password of a verified user")
    smoke.add_argument("--recipient", required=True, help="user:password of another")
    smoke.add_argument("--ws-url", help="the stage's WebSocketUrl output")
    smoke.add_argument("--client-id", help="the stage's UserPoolClientId output")
    smoke.add_argument("--http-api", help="the stage's HttpApiUrl output")
    smoke.add_argument("--region")
    smoke.add_argument("--info-file", type=Path, default=DEFAULT_INFO_FILE)


def _add_analytics(commands: Any) -> None:
    try:
        from sotto_cli import analytics  # noqa: PLC0415 (the analyst extra only)
    except ImportError:  # installed without DuckDB and friends
        commands.add_parser("analytics", help="needs: pip install 'sotto[analyst]'")
        return
    analytics.add_commands(commands)


if __name__ == "__main__":
    sys.exit(main())
