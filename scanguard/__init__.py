"""ScanGuard command-line entry point (the libraries are ``scanner``, ``kernels``, ``detect``,
``models``, ``service`` and ``validation``)."""

__all__: list[str] = []
