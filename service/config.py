"""Service settings: ``SCANGUARD_*`` environment variables or ``scanguard serve`` flags."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the station service can be configured with.

    Every field is read from the environment variable ``SCANGUARD_<FIELD>`` (e.g.
    ``SCANGUARD_DICOM_PORT=0``); list fields take comma-separated values.
    """

    model_config = SettingsConfigDict(env_prefix="SCANGUARD_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./data"), description="scan originals and the SQLite database"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file <data_dir>/scanguard.db"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    dicom_port: int = Field(
        default=11112, ge=0, le=65535, description="DICOM receiver port; 0 = off"
    )
    dicom_host: str | None = Field(
        default=None, description="DICOM receiver listen address; default: the HTTP host"
    )
    dicom_ae_title: str = Field(default="SCANGUARD", min_length=1, max_length=16)
    dicom_allowed_aets: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="calling AE titles allowed to store; empty = any"
    )
    max_upload_mb: float = Field(default=64.0, gt=0, description="largest accepted scan in MiB")
    model_path: Path | None = Field(
        default=None, description="ONNX model; default: the shipped model"
    )
    manifest_path: Path | None = None
    detector_threads: int | None = Field(
        default=None, ge=1, le=64, description="onnxruntime intra-op threads (default: detector's)"
    )
    compute_slots: int | None = Field(
        default=None, ge=1, le=256, description="scans processed at once (default: CPU count)"
    )
    render_cache_size: int = Field(
        default=16, ge=0, description="decoded scans kept for re-rendering"
    )
    load_samples: bool = Field(
        default=False, description="import the sample scans into an empty store"
    )
    db_pool_size: int = Field(default=8, ge=1)

    @field_validator("dicom_allowed_aets", mode="before")
    @classmethod
    def _split_aets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("dicom_ae_title")
    @classmethod
    def _check_ae_title(cls, value: str) -> str:
        if not value.strip() or "\\" in value or not value.isascii():
            raise ValueError(
                f"dicom_ae_title {value!r} is not a valid AE title: use 1-16 ASCII characters "
                "without backslashes, e.g. SCANGUARD"
            )
        return value.strip()

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'scanguard.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """Settings read once from the environment (tests override this dependency)."""
    return Settings()
