"""``scanguard token`` and ``scanguard serve`` argument handling."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from scanguard.cli import build_parser, main
from service._cli import RedactTokenFilter, settings_from_args
from service.store import Store


def test_token_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A created token is printed once, listed without its secret, and revocable."""
    data = str(tmp_path)
    assert (
        main(["token", "create", "--role", "validator", "--name", "bench", "--data-dir", data]) == 0
    )
    plain = capsys.readouterr().out.strip().splitlines()[-1]
    assert plain.startswith("sg_")
    store = Store(f"sqlite:///{tmp_path / 'scanguard.db'}", tmp_path / "blobs")
    principal = store.authenticate(plain)
    assert principal is not None and principal.role.value == "validator"
    assert main(["token", "list", "--data-dir", data]) == 0
    listing = capsys.readouterr().out
    assert principal.token_id in listing and "bench" in listing
    assert plain.split("_", 2)[2] not in listing
    assert main(["token", "revoke", principal.token_id, "--data-dir", data]) == 0
    assert store.authenticate(plain) is None
    assert main(["token", "revoke", "ffffffffffffffff", "--data-dir", data]) == 1
    assert "no token has id" in capsys.readouterr().err
    store.close()


def test_unknown_role_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown role is refused by the parser with the valid choices."""
    with pytest.raises(SystemExit):
        main(["token", "create", "--role", "root"])
    assert "invalid choice: 'root'" in capsys.readouterr().err


def test_serve_flags_override_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flags win over SCANGUARD_* variables; unset flags keep the environment's values."""
    monkeypatch.setenv("SCANGUARD_PORT", "9001")
    monkeypatch.setenv("SCANGUARD_DICOM_PORT", "11113")
    monkeypatch.setenv("SCANGUARD_DICOM_ALLOWED_AETS", "GATE1, GATE2")
    args = build_parser().parse_args(
        ["serve", "--port", "9100", "--data-dir", str(tmp_path), "--load-samples"]
    )
    settings = settings_from_args(args)
    assert settings.port == 9100
    assert settings.dicom_port == 11113
    assert settings.dicom_allowed_aets == ["GATE1", "GATE2"]
    assert settings.data_dir == tmp_path
    assert settings.load_samples is True


def test_bad_setting_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid setting stops serve with a message instead of a traceback."""
    assert main(["serve", "--port", "70000", "--data-dir", str(tmp_path)]) == 2
    assert "port" in capsys.readouterr().err


def test_settings_namespace_without_flags(tmp_path: Path) -> None:
    """A namespace lacking the serve flags falls back on the defaults."""
    settings = settings_from_args(argparse.Namespace(data_dir=tmp_path))
    assert settings.port == 8000 and settings.dicom_ae_title == "SCANGUARD"


def test_access_log_hides_query_tokens() -> None:
    """Tokens passed as ?token= never reach the access log."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/events?token=sg_abc_secret&x=1", "1.1", 200),
        None,
    )
    assert RedactTokenFilter().filter(record)
    message = record.getMessage()
    assert "secret" not in message
    assert "/api/v1/events?token=***&x=1" in message


def test_serve_prints_console_url_and_operator_token(
    tmp_path: Path,
    tiny_model: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """serve --operator-token prints the console URL and a working operator token."""
    started: dict[str, object] = {}

    def fake_run(app: object, **kwargs: object) -> None:
        started.update(kwargs, app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    port = _free_port()
    code = main(
        [
            "serve",
            "--port",
            str(port),
            "--dicom-port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--model",
            str(tiny_model[0]),
            "--manifest",
            str(tiny_model[1]),
            "--operator-token",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"ScanGuard console: http://127.0.0.1:{port}/" in out
    token = out.split("Operator token (shown once): ")[1].split()[0]
    store = Store(f"sqlite:///{tmp_path / 'scanguard.db'}", tmp_path / "blobs")
    principal = store.authenticate(token)
    store.close()
    assert principal is not None and principal.role.value == "operator"
    assert started["host"] == "127.0.0.1" and started["port"] == port


def test_serve_without_model_says_how_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing model stops serve with exit 2 and the settings to use, before printing a URL."""
    code = main(
        [
            "serve",
            "--port",
            str(_free_port()),
            "--data-dir",
            str(tmp_path),
            "--model",
            str(tmp_path / "absent.onnx"),
            "--manifest",
            str(tmp_path / "absent.json"),
        ]
    )
    assert code == 2
    captured = capsys.readouterr()
    assert "cannot load the detector" in captured.err
    assert "SCANGUARD_MODEL_PATH" in captured.err
    assert "ScanGuard console" not in captured.out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
