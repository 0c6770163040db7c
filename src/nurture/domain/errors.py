"""Domain errors; the API turns them into RFC 9457 problems in one place, the CLI into messages."""

from __future__ import annotations

from dataclasses import dataclass


class NurtureError(Exception):
    """Base of every error a user can cause."""

    title = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(NurtureError):
    title = "Not found"


class Conflict(NurtureError):
    title = "Conflict"


class Unauthorized(NurtureError):
    title = "Unauthorized"


class Forbidden(NurtureError):
    """The caller is known but the request is refused (e.g. a provider callback whose signature fails)."""

    title = "Forbidden"


@dataclass(frozen=True)
class FieldError:
    """One invalid value: `field` is a dotted/indexed path such as `batch[3].traits.email`; `line` and
    `column` (1-based) point into a multi-line text value such as a template body."""

    field: str
    message: str
    line: int | None = None
    column: int | None = None


class Invalid(NurtureError):
    """Input that breaks a rule; every error names the field it is about."""

    title = "Invalid input"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors or [FieldError("", "invalid input")]
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{first.field}: {first.message}{more}" if first.field else first.message)

    @classmethod
    def one(cls, field_path: str, message: str) -> Invalid:
        return cls([FieldError(field_path, message)])

    def prefixed(self, prefix: str) -> Invalid:
        """The same errors with their paths placed under `prefix` (e.g. `batch[2]`)."""
        return Invalid([FieldError(join_path(prefix, e.field), e.message) for e in self.errors])


def join_path(prefix: str, name: str) -> str:
    if not prefix:
        return name
    if not name:
        return prefix
    return f"{prefix}{name}" if name.startswith("[") else f"{prefix}.{name}"
