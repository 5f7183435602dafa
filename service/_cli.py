"""``scanguard serve``, ``scanguard token create|list|revoke`` and ``scanguard audit verify``."""

from __future__ import annotations

import argparse
import logging
import re
import socket
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.auth import Role
from service.config import Settings
from service.errors import AuditChainError, ServiceError

logger = logging.getLogger(__name__)

CLI_ACTOR = "cli"


class RedactTokenFilter(logging.Filter):
    """Hides ``token=`` query values (image and event URLs) in access log lines."""

    _pattern = re.compile(r"([?&]token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._pattern.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = self._pattern.sub(r"\1***", record.msg)
        return True


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="data directory (SCANGUARD_DATA_DIR, default ./data)"
    )
    parser.add_argument(
        "--database-url", help="SQLAlchemy URL (SCANGUARD_DATABASE_URL; default SQLite)"
    )


def register(subparsers: Any) -> None:
    """Add the service's sub-commands to the ``scanguard`` parser."""
    serve = subparsers.add_parser(
        "serve",
        help="run the station service (HTTP API, console, DICOM receiver)",
        description="Run the station service. Every flag defaults to its SCANGUARD_* variable.",
    )
    _add_store_options(serve)
    serve.add_argument("--host", help="listen address (SCANGUARD_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (SCANGUARD_PORT, default 8000)")
    serve.add_argument(
        "--dicom-port", type=int, help="DICOM port, 0 = off (SCANGUARD_DICOM_PORT, default 11112)"
    )
    serve.add_argument(
        "--dicom-host", help="DICOM listen address (SCANGUARD_DICOM_HOST, default: --host)"
    )
    serve.add_argument("--dicom-ae-title", help="receiver AE title (default SCANGUARD)")
    serve.add_argument(
        "--allow-aet",
        action="append",
        dest="dicom_allowed_aets",
        metavar="AET",
        help="calling AE title allowed to store (repeat; default: any)",
    )
    serve.add_argument("--max-upload-mb", type=float, help="largest accepted scan in MiB")
    serve.add_argument("--model", type=Path, dest="model_path", help="ONNX model file")
    serve.add_argument("--manifest", type=Path, dest="manifest_path", help="model manifest")
    serve.add_argument(
        "--compute-slots", type=int, help="scans processed at once (default: CPU count)"
    )
    serve.add_argument(
        "--detector-threads", type=int, help="onnxruntime intra-op threads per inference"
    )
    serve.add_argument(
        "--load-samples",
        action="store_const",
        const=True,
        help="import the sample scans when the store is empty",
    )
    serve.add_argument(
        "--operator-token",
        action="store_true",
        help="create an operator token and print it with the console URL before starting",
    )
    serve.set_defaults(func=_serve)

    token = subparsers.add_parser("token", help="create, list or revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION")
    token_sub.required = True
    create = token_sub.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--name", help="who or what uses it (default: the role)")
    _add_store_options(create)
    create.set_defaults(func=_token_create)
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    _add_store_options(listing)
    listing.set_defaults(func=_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id", help="id shown by 'scanguard token list'")
    _add_store_options(revoke)
    revoke.set_defaults(func=_token_revoke)

    audit = subparsers.add_parser("audit", help="check the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_sub.required = True
    verify = audit_sub.add_parser(
        "verify", help="verify the hash chain (exit 1 naming the first broken row)"
    )
    _add_store_options(verify)
    verify.set_defaults(func=_audit_verify)


_SETTING_FLAGS = (
    "data_dir",
    "database_url",
    "host",
    "port",
    "dicom_port",
    "dicom_host",
    "dicom_ae_title",
    "dicom_allowed_aets",
    "max_upload_mb",
    "model_path",
    "manifest_path",
    "detector_threads",
    "compute_slots",
    "load_samples",
)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the flags that were given."""
    overrides = {
        name: getattr(args, name)
        for name in _SETTING_FLAGS
        if getattr(args, name, None) is not None
    }
    return Settings(**overrides)


def _open_store(args: argparse.Namespace) -> Any:
    from service.store import Store

    settings = settings_from_args(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url, settings.data_dir / "blobs")
    store.open()
    return store


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    logging.captureWarnings(True)  # scan conformance warnings go to the log
    logging.getLogger("uvicorn.access").addFilter(RedactTokenFilter())

    from service.main import create_app, load_configured_detector

    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        return _fail(f"invalid setting: {exc}")
    url = f"http://{settings.host}:{settings.port}/"
    try:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((settings.host, settings.port))
    except OSError as exc:
        return _fail(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror}); pick another "
            "port with --port or SCANGUARD_PORT"
        )
    try:
        detector = load_configured_detector(settings)
        plain = None
        if args.operator_token:
            store = _open_store(args)
            _, plain = store.create_token(Role.OPERATOR, "console", actor=CLI_ACTOR)
            store.close()
    except ServiceError as exc:
        return _fail(exc.message)
    print(f"ScanGuard console: {url}", flush=True)
    if plain is not None:
        print(f"Operator token (shown once): {plain}", flush=True)
    app = create_app(settings, detector=detector)
    # Open console event streams never end by themselves: give them 3 s, then stop anyway.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=3,
    )
    return 0


def _token_create(args: argparse.Namespace) -> int:
    try:
        store = _open_store(args)
        public, plain = store.create_token(Role(args.role), args.name or args.role, actor=CLI_ACTOR)
        store.close()
    except ServiceError as exc:
        return _fail(exc.message)
    print(f"created {public.role.value} token {public.id} ({public.name}); it is shown only once:")
    print(plain)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    try:
        store = _open_store(args)
        tokens = store.list_tokens()
        store.close()
    except ServiceError as exc:
        return _fail(exc.message)
    print(f"{'ID':16}  {'ROLE':9}  {'CREATED':25}  {'REVOKED':25}  NAME")
    for token in tokens:
        revoked = token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else "-"
        created = token.created_at.isoformat(timespec="seconds")
        print(f"{token.id:16}  {token.role.value:9}  {created:25}  {revoked:25}  {token.name}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    try:
        store = _open_store(args)
        public = store.revoke_token(args.token_id, actor=CLI_ACTOR)
        store.close()
    except ServiceError as exc:
        return _fail(exc.message)
    if public is None:
        print(
            f"error: no token has id {args.token_id!r}; see 'scanguard token list'",
            file=sys.stderr,
        )
        return 1
    print(f"revoked token {public.id} ({public.role.value}, {public.name})")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    try:
        store = _open_store(args)
    except ServiceError as exc:
        return _fail(exc.message)
    try:
        report = store.verify_audit()
    except AuditChainError as exc:
        print(f"audit log BROKEN at row {exc.seq}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"audit log OK: {report.rows} rows, head {report.head}")
    return 0
