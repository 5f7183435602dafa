"""ScanGuard service package."""
