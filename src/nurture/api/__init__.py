"""HTTP: tracking API (Segment-compatible), admin REST API, operations endpoints."""
