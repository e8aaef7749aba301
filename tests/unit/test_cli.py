"""The command line's help, and README's commands: each one runs as written."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]
# How README runs the CLI: the project's environment (made by scripts/run and scripts/test), or
# the image's Python in compose.
PREFIXES = (".venv/bin/python -m service", "docker compose exec api python -m service")
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", "<", ">", ">>", "(", ")"}


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command's parser, with its path (`("migrate", "up")`)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def test_every_option_and_argument_has_help_and_its_default() -> None:
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if action.help == argparse.SUPPRESS:
                continue  # hidden on purpose (tests' --scripts-dir)
            where = f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{where} has no help"
            if action.default not in (None, False, argparse.SUPPRESS):
                text = " ".join(parser.format_help().split())
                assert f"(default: {action.default})" in text, where


def test_help_names_the_scopes_and_the_key_to_revoke() -> None:
    helps = {path: " ".join(p.format_help().split()) for path, p in parsers(build_parser())}
    assert "read: GET only" in helps[("apikey", "create")]
    assert "--name NAME the key's name" in helps[("apikey", "create")]
    assert "name the name of the key to delete" in helps[("apikey", "revoke")]
    assert "(default: 60.0)" in helps[("migrate", "up")]


def readme_commands() -> list[str]:
    """Every command line in README's unlabelled or shell code blocks (comments dropped)."""
    commands, language = [], None
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            language = line[3:].strip() if language is None else None
        elif language in ("", "sh", "bash", "shell", "console"):
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def cli_lines() -> list[str]:
    return [line for line in readme_commands() if "-m service" in line]


def test_readme_shows_the_cli() -> None:
    assert len(cli_lines()) >= 6, readme_commands()


@pytest.mark.parametrize("line", cli_lines())
def test_a_readme_cli_line_runs_as_written(line: str) -> None:
    """Through the project's environment, no shell operator, and the CLI accepts its arguments."""
    assert line.startswith(PREFIXES), f"{line!r}: run it with {PREFIXES[0]}"
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    assert not SHELL_OPERATORS & set(words), f"{line!r} has a shell operator"
    args = words[words.index("service") + 1 :]
    try:
        build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{line!r}: the CLI refuses its arguments (exit {exc.code})")


def test_readme_cli_commands_run_from_a_checkout() -> None:
    """Each README command's `--help`, run as written: the environment it names exists."""
    seen: set[tuple[str, ...]] = set()
    for line in cli_lines():
        if not line.startswith(PREFIXES[0]):
            continue
        words = shlex.split(line)
        path = words[: words.index("service") + 1]
        for word in words[len(path) :]:
            if word.startswith("-"):
                break
            path.append(word)
        if tuple(path) in seen:
            continue
        seen.add(tuple(path))
        done = subprocess.run(
            [*path, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (path, done.stderr)
        assert done.stdout.startswith("usage: python -m service"), done.stdout
    assert len(seen) >= 3


def test_readme_scripts_exist() -> None:
    for line in readme_commands():
        word = line.split()[0]
        if word.startswith("scripts/"):
            script = ROOT / word
            assert script.is_file() and os.access(script, os.X_OK), line
