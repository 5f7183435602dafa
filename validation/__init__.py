"""ScanGuard validation package."""
