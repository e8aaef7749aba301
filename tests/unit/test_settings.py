"""Bad settings: one line per bad setting, every one at once, exit 2 (never a traceback).

The bad values are derived from each setting's type and bounds (an int, float or bool setting
added later is covered without touching this file); a setting of another type needs an entry in
BAD or ANY_VALUE, which the first test enforces.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import annotated_types
import pytest
from pydantic.fields import FieldInfo

from service.config import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]

# Settings of types the generator does not know: a bad value and what the error line says.
BAD: dict[str, list[tuple[str, str]]] = {
    "mongodb_url": [
        ("postgres://x", "not a MongoDB URL"),
        ("mongodb://", "not a MongoDB URL"),
        ("localhost:27017", "not a MongoDB URL"),
    ],
    "mongodb_db": [
        ("a.b", "not a MongoDB database name"),
        ("a/b", "not a MongoDB database name"),
        ("x" * 64, "not a MongoDB database name"),
    ],
    "otel_exporter_otlp_endpoint": [
        ("collector:4318", "not an http:// or https:// URL"),
        ("grpc://collector:4317", "not an http:// or https:// URL"),
    ],
}
# Settings for which every value is valid (any text is a host name, path or secret until used).
ANY_VALUE = {"host", "data_dir", "dev_api_key_file", "page_token_secret", "otel_service_name"}


def bare(annotation: object) -> object:
    """`int` for `int | None`."""
    if typing.get_origin(annotation) is typing.Literal:
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else annotation


def generated(field: FieldInfo) -> list[tuple[str, str]]:
    """Bad values for a bool, int, float or Literal setting, from its type and bounds."""
    kind = bare(field.annotation)
    if kind is bool:
        return [("maybe", "not a boolean (true or false)"), ("2", "not a boolean")]
    if typing.get_origin(kind) is typing.Literal:
        return [("nonsense", "must be one of " + repr(typing.get_args(kind)[0]))]
    if kind is int:
        cases = [("abc", "not an integer"), ("1.5", "not an integer"), ("", "not an integer")]
    elif kind is float:
        cases = [("abc", "not a number"), ("inf", "not a finite number"), ("nan", "not a finite")]
    else:
        return []
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge):
            ge = typing.cast(float, bound.ge)
            cases.append((str(kind(ge - 1)), f"must be at least {bound.ge}"))
        elif isinstance(bound, annotated_types.Gt):
            cases.append((str(bound.gt), f"must be more than {bound.gt}"))
        elif isinstance(bound, annotated_types.Le):
            le = typing.cast(float, bound.le)
            cases.append((str(kind(le + 1)), f"must be at most {bound.le}"))
    return cases


def cases() -> list[tuple[str, str, str]]:
    return [
        (name, value, expected)
        for name, field in Settings.model_fields.items()
        for value, expected in generated(field) + BAD.get(name, [])
    ]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No setting in the environment and no .env file."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_every_setting_has_bad_values_or_takes_any() -> None:
    unchecked = {
        name
        for name, field in Settings.model_fields.items()
        if not generated(field) and name not in BAD and name not in ANY_VALUE
    }
    assert not unchecked, f"add bad values for {unchecked} to BAD, or the names to ANY_VALUE"


@pytest.mark.parametrize(("name", "value", "expected"), cases())
def test_a_bad_setting_is_one_line_naming_it(
    clean_env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    clean_env.setenv(name.upper(), value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert len(raised.value.lines) == 1, raised.value.lines
    line = raised.value.lines[0]
    assert line.startswith(f"{name.upper()}: {expected}"), line
    assert line.endswith(f": {value!r}"), line


def test_every_default_is_valid(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings() == Settings()


@pytest.mark.parametrize("name", ["MONGODB_URL", "DEV_API_KEY_FILE", "PAGE_TOKEN_SECRET"])
def test_an_empty_optional_setting_is_unset(clean_env: pytest.MonkeyPatch, name: str) -> None:
    clean_env.setenv(name, "")  # as .env.example has them
    assert getattr(load_settings(), name.lower()) is None


def test_log_level_in_any_case(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LOG_LEVEL", "warning")
    assert load_settings().log_level == "WARNING"


def test_a_url_password_is_not_echoed(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MONGODB_URL", "postgres://me:s3cret@db/x")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "s3cret" not in str(raised.value)


def test_the_cli_lists_every_bad_setting_at_once_and_exits_2(tmp_path: Path) -> None:
    """One bad value for every setting that has one: one line each, in order, exit 2."""
    first = {name: value for name, value, _ in reversed(cases())}  # each setting's first case
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env |= {name.upper(): value for name, value in first.items()}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        cwd=tmp_path,  # no .env there
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    expected = {name: text for name, _, text in reversed(cases())}
    names = [name for name in Settings.model_fields if name in first]
    assert len(names) >= 20
    lines = done.stderr.splitlines()
    assert len(lines) == len(names), done.stderr
    for line, name in zip(lines, names, strict=True):
        assert line.startswith(f"error: {name.upper()}: {expected[name]}"), line
    assert done.stdout == ""
