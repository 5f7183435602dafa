"""ScanGuard station service: HTTP API, DICOM receiver, scan store and audit log.

``service.main.create_app(settings=None, detector=None)`` builds the FastAPI app.
"""

from service.config import Settings, get_settings

__all__ = ["Settings", "get_settings"]
