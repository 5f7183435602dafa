"""HTTP API of the station service (``/api/v1``)."""
