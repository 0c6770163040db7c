"""Adapters to the database: the only code that knows SQL."""
