"""Content-addressed store of original scan files (durable: temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from service.errors import NotFoundError, StoreError

logger = logging.getLogger(__name__)

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Files named by their sha256 under ``root/ab/cd/<sha256>``.

    Parameters
    ----------
    root : Path
        Directory of the store (created when missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (the digest is validated first)."""
        if not _SHA256_RE.match(sha256):
            raise ValueError(f"blob id {sha256!r} is not a lowercase hex sha256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its sha256 (existing content is not rewritten).

        Raises
        ------
        StoreError
            When the file cannot be written (disk full, permissions).
        """
        digest = hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        if final.exists() and final.stat().st_size == len(data):
            return digest
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp_name, final)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
            _fsync_dir(final.parent)
        except OSError as exc:
            raise StoreError(
                f"could not write the scan to {self.root}: {exc}; check free space and "
                "permissions of SCANGUARD_DATA_DIR"
            ) from exc
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes of a blob.

        Raises
        ------
        NotFoundError
            When no blob has this digest.
        """
        path = self.path(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"the original file {sha256} is missing from {self.root}; restore the data "
                "directory from backup"
            ) from exc

    def exists(self, sha256: str) -> bool:
        """Whether a blob with this digest is stored."""
        return self.path(sha256).exists()


def _fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename inside it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        logger.debug("fsync of directory %s not supported", directory)
    finally:
        os.close(fd)
