"""ScanGuard scanner package."""
