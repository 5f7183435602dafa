"""ScanGuard kernels package."""
