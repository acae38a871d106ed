"""``neuromask dashboard``: the command line around Streamlit (serving itself is tested in test_browser.py)."""

from __future__ import annotations

import importlib.util

import pytest

from neuromask.cli import dashboard
from neuromask.cli.main import main


def test_without_the_extra_it_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name, *a))
    assert main(["dashboard", "--port", "8599"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "pip install 'neuromask[dashboard]'" in err


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535; got 70000" in capsys.readouterr().err


def test_threads_below_one_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--threads", "0"]) == 2
    assert "--threads must be at least 1; got 0" in capsys.readouterr().err


def test_it_serves_only_on_the_loopback_address() -> None:
    cmd = dashboard.streamlit_command(8123)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8123"
