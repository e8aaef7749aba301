"""deploy/prometheus/alerts.yaml: valid, and each alert fires on a synthetic unhealthy series and
stays quiet on a healthy one (`promtool test rules`; scripts/test installs Debian's prometheus
package, which ships promtool, when it is missing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # (no types-PyYAML in the dev group)

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    """The promtool command, or a skip saying how to get it."""
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool is missing and scripts/test could not install it: apt-get install prometheus"
        )
    return found


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", "alerts.yaml"],
        cwd=RULES, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_on_its_unhealthy_series_only() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yaml"],
        cwd=RULES, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_test_and_a_runbook() -> None:
    rules = yaml.safe_load((RULES / "alerts.yaml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((RULES / "alerts.test.yaml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    alerts = {rule["alert"] for rule in rules}
    assert alerts == fired, alerts ^ fired
    for rule in rules:
        assert rule["annotations"]["runbook"] and rule["labels"]["severity"], rule["alert"]
