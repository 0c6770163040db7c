"""Pure domain: typed models and pure functions. No I/O, no clock, no SQL."""
