"""Journeys as a use case: definitions (apply, version, pause), the engine worker that starts and
steps runs, and explanations of what happened to a contact."""
