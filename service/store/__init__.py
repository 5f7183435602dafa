"""Persistent state of the station service: database rows and original files."""

from service.store.blobs import BlobStore
from service.store.database import Database
from service.store.repository import ScanFilter, Store, scan_public

__all__ = ["BlobStore", "Database", "ScanFilter", "Store", "scan_public"]
