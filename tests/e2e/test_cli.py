"""The command-line client as a user runs it: `sotto listen` in one terminal, `sotto say` in
another."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sotto_cli.audio import tone_wav
from tests.e2e.conftest import Stack


def sotto(stack: Stack, *args: str) -> list[str]:
    return [sys.executable, "-m", "sotto_cli.main", *args, "--info-file", str(stack.info_file)]


def credentials(stack: Stack, name: str) -> list[str]:
    return ["--user", name, "--password", stack.user(name)["password"]]


class Lines:
    """Reads a process's output on a thread, so the test can wait for a line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(
            target=lambda: [self._lines.put(line) for line in stream], daemon=True
        ).start()

    def wait_for(self, text: str, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never appeared in:\n{''.join(self.seen)}")


@contextmanager
def listening(stack: Stack, user: str, *options: str) -> Iterator[Lines]:
    """``sotto listen`` running in the background, its output readable line by line."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    listener = subprocess.Popen(
        sotto(stack, "listen", *credentials(stack, user), *options),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = Lines(listener)
        lines.wait_for(f"listening as {user}")
        yield lines
    finally:
        listener.terminate()
        listener.wait(timeout=10)
        assert listener.stdout is not None
        listener.stdout.close()


def run_sotto(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sotto(stack, *args), capture_output=True, text=True, timeout=60, check=False
    )


def test_bob_hears_what_alice_says_and_can_save_it(stack: Stack, tmp_path: Path) -> None:
    clip = tmp_path / "hello.wav"
    clip.write_bytes(tone_wav(1.25))
    saved = tmp_path / "saved"
    with listening(stack, "bob", "--save", str(saved)) as lines:
        said = run_sotto(stack, "say", *credentials(stack, "alice"), "--to", "bob", str(clip))
        assert said.returncode == 0, said.stderr
        assert said.stdout.startswith("sent: message m_")
        heard = lines.wait_for("voice message")
        assert "alice:" in heard
        assert "play: http://" in lines.wait_for("play:")
        assert "(1.2 s)" in heard or "(1.3 s)" in heard  # the processed clip's duration
        saved_line = lines.wait_for("saved:")
        saved_file = Path(saved_line.split("saved:", 1)[1].strip())
        assert saved_file.suffix == ".ogg"
        assert saved_file.read_bytes().startswith(b"OggS")  # Opus in Ogg, as every clip is served


def test_a_group_started_from_the_command_line_hears_its_messages(stack: Stack) -> None:
    with listening(stack, "carol") as lines:
        alice = credentials(stack, "alice")
        started = run_sotto(stack, "group", *alice, "--title", "Trio", "bob", "carol")
        assert started.returncode == 0, started.stderr
        group = started.stdout.split()[1]
        assert group.startswith("g_") and "(3 members)" in started.stdout
        told = lines.wait_for(f"group {group}:")
        assert "alice created 'Trio' with alice, bob, carol" in told
        bob = credentials(stack, "bob")
        said = run_sotto(stack, "say", *bob, "--conversation", group, "--tone", "1")
        assert said.returncode == 0, said.stderr
        assert "bob: voice message #1" in lines.wait_for("voice message")


def test_errors_are_printed_as_code_and_message_not_tracebacks(
    stack: Stack, tmp_path: Path
) -> None:
    cases = {
        "unknown user": (
            ["say", *credentials(stack, "alice"), "--to", "nobody", "--tone", "1"],
            "error: not_found:",
        ),
        "wrong password": (
            ["say", "--user", "alice", "--password", "nope", "--to", "bob", "--tone", "1"],
            "error: sign_in_failed:",
        ),
        "not audio": (
            ["say", *credentials(stack, "alice"), "--to", "bob", str(Path(__file__))],
            "error: bad_request:",
        ),
    }
    for name, (args, expected) in cases.items():
        result = run_sotto(stack, *args)
        assert result.returncode == 1, name
        assert result.stderr.startswith(expected), (name, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, name


def test_without_a_running_stack_the_client_says_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sotto_cli.main",
            "listen",
            "--user",
            "bob",
            "--password",
            "x",
            "--info-file",
            str(tmp_path / "none.json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("SOTTO_")},
    )
    assert result.returncode == 1
    assert "make dev" in result.stderr and "Traceback" not in result.stderr


def test_the_smoke_test_passes_against_the_local_stack(stack: Stack) -> None:
    """What an operator runs against a deployed stage, run against `make dev`."""
    alice, bob = stack.user("alice"), stack.user("bob")
    done = run_sotto(
        stack,
        "smoke",
        "--sender",
        f"alice:{alice['password']}",
        "--recipient",
        f"bob:{bob['password']}",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("smoke test passed")
    assert any("heard it live" in line for line in lines)
    assert any("HTTP API: verification approved" in line for line in lines), done.stdout
