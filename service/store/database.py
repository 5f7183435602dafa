"""Engine and sessions: SQLite (WAL, fsync on commit) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.errors import StoreError
from service.store.models import Base

logger = logging.getLogger(__name__)


class Database:
    """One engine with read and write session factories.

    Write sessions on SQLite start with ``BEGIN IMMEDIATE`` so that concurrent writers queue
    instead of failing; on PostgreSQL writers that extend the audit chain take an advisory
    lock (see :mod:`service.audit`).

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////var/lib/scanguard/scanguard.db`` or
        ``postgresql+psycopg://user@host/db``.
    pool_size : int
        Connections kept open (PostgreSQL).
    """

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(
                "SCANGUARD_DATABASE_URL is not a database URL; use e.g. "
                "sqlite:///data/scanguard.db or postgresql+psycopg://user@host/db"
            ) from exc
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30.0}
        elif self.dialect == "postgresql":
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        if self.dialect == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError) as exc:
            shown = parsed.render_as_string(hide_password=True)
            raise StoreError(f"cannot use database URL {shown}: {exc}") from exc
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
            write_engine: Engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            write_engine = self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        """Whether the backend is PostgreSQL."""
        return self.dialect == "postgresql"

    def create_schema(self) -> None:
        """Create missing tables (idempotent)."""
        try:
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot create the database schema at {self.engine.url}: {exc}"
            ) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back on exit)."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._write() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            logger.exception("database ping failed")
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    """WAL journal, full fsync on commit, foreign keys; explicit BEGIN so IMMEDIATE works."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
