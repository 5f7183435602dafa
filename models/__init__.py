"""ScanGuard models package."""
