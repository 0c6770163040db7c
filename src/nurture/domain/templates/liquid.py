"""The Liquid environment templates render in: limits, filters, a workspace's snippets, and errors that
say where (field, line, column).

Two environments share one workspace's snippets: `html` escapes every value from the context (HTML
bodies), `text` does not (subject, preheader, sender name, plain text, SMS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from liquid import BoundTemplate, Environment
from liquid.exceptions import (
    ContextDepthError,
    LiquidError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    TemplateNotFoundError,
)
from liquid.loader import BaseLoader, TemplateSource
from liquid.parser import get_parser
from liquid.stream import TokenStream

from nurture.domain.errors import FieldError, Invalid
from nurture.domain.templates.filters import FILTERS

MAX_SOURCE = 256 * 1024  # characters per template field, snippet or layout


class LimitedEnvironment(Environment):
    """python-liquid with every resource limit set, so no template can hang or flood a worker."""

    loop_iteration_limit: ClassVar[int | None] = 10_000  # across nested loops and rendered snippets
    output_stream_limit: ClassVar[int | None] = 1_000_000  # characters one render may write
    context_depth_limit: ClassVar[int] = 10  # nested render/include
    local_namespace_limit: ClassVar[int | None] = 256 * 1024  # bytes held by assign/capture
    block_nesting_limit: ClassVar[int] = 30

    def _parse(self, source: str) -> Any:
        """As Environment._parse, but an error without a position gets the markup being parsed."""
        stream = TokenStream(self.tokenizer()(source))
        try:
            return get_parser(self).parse(stream)
        except LiquidError as err:
            if err.token is None or err.token.start_index < 0:
                current = stream.current
                if current.start_index < 0 and stream.pos > 0:
                    current = stream.tokens[stream.pos - 1]
                err.token = current if current.start_index >= 0 else err.token
            raise


class SnippetLoader(BaseLoader):
    """Finds `{% render 'name' %}` among one workspace's snippets and nowhere else; parses each once."""

    def __init__(self, sources: Mapping[str, str], transform: Callable[[str], str] | None = None) -> None:
        self.sources = dict(sources)
        self.transform = transform
        self._parsed: dict[tuple[int, str], BoundTemplate] = {}

    def get_source(self, env: Environment, template_name: str, **_kwargs: object) -> TemplateSource:
        source = self.sources.get(template_name)
        if source is None:
            raise TemplateNotFoundError(f"no snippet named {template_name!r} in this workspace", token=None)
        return TemplateSource(self.transform(source) if self.transform else source, template_name, None)

    def load(self, env: Environment, name: str, **kwargs: Any) -> BoundTemplate:
        key = (id(env), name)
        found = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = super().load(env, name, **kwargs)
        return found


class Environments:
    """The environments of one workspace's snippets: `html` escapes context values (HTML bodies),
    `text` does not (subject, preheader, sender name, written text parts, SMS), `derived` renders text
    parts derived from HTML, with snippets turned to text by `text_of`."""

    def __init__(self, snippets: Mapping[str, str], text_of: Callable[[str], str] | None = None) -> None:
        loader = SnippetLoader(snippets)
        self.html = LimitedEnvironment(loader=loader, autoescape=True)
        self.text = LimitedEnvironment(loader=loader, autoescape=False)
        self.derived = LimitedEnvironment(loader=SnippetLoader(snippets, text_of), autoescape=False)
        for env in (self.html, self.text, self.derived):
            for name, function in FILTERS.items():
                env.add_filter(name, function)

    def parse(self, field: str, source: str, *, html: bool = False, derived: bool = False) -> BoundTemplate:
        """The template for one field; a syntax error or an unknown filter is `Invalid` at `field`,
        with the line and column."""
        if len(source) > MAX_SOURCE:
            raise Invalid.one(field, f"is longer than {MAX_SOURCE} characters")
        env = self.html if html else self.derived if derived else self.text
        try:
            template = env.from_string(source, name=field)
        except LiquidError as err:
            raise Invalid([field_error(field, err, source)]) from None
        try:  # snippets it renders are loaded too: a missing one is refused now, not at send time
            analysis = template.analyze(include_partials=True)
        except LiquidError as err:
            raise Invalid([field_error(field, err, source)]) from None
        for name, spans in analysis.filters.items():
            if name not in env.filters:
                span = spans[0]
                if span.template_name == field:
                    line, column = position(source, span.index)
                    raise Invalid([FieldError(field, f"unknown filter {name!r}", line, column)])
                raise Invalid.one(field, f"unknown filter {name!r} in snippet {span.template_name!r}")
        return template


def position(source: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` in `source`."""
    before = source[: max(index, 0)]
    line = before.count("\n") + 1
    return line, index - (before.rfind("\n") + 1) + 1


def field_error(field: str, err: LiquidError, source: str | None = None) -> FieldError:
    """A Liquid error as a field error; line and column when the error knows where it happened in
    `source` (the text the user wrote)."""
    message = str(err.message) if err.message else type(err).__name__
    if isinstance(err, LoopIterationLimitError):
        message = f"loops ran more than {LimitedEnvironment.loop_iteration_limit} iterations"
    elif isinstance(err, OutputStreamLimitError):
        message = f"the output is longer than {LimitedEnvironment.output_stream_limit} characters"
    elif isinstance(err, ContextDepthError):
        message = f"snippets nest deeper than {LimitedEnvironment.context_depth_limit} levels"
    elif isinstance(err, LocalNamespaceLimitError):
        message = "assign/capture hold too much data"
    token = err.token
    if token is not None and token.start_index >= 0:
        if source is not None and token.source == source:
            line, column = position(source, token.start_index)
            return FieldError(field, message, line, column)
        if token.source:
            markup = token.source[token.start_index : token.start_index + 80].split("\n", 1)[0]
            return FieldError(field, f"{message} (at {markup!r})")
    return FieldError(field, message)


class RenderFailed(Invalid):
    """A template could not be rendered for this contact; nothing was produced."""

    title = "Template cannot be rendered"
