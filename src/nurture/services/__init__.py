"""Use cases. Each write owns its transaction; the API, CLI and workers call these and nothing deeper."""
