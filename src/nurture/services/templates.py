"""Templates, layouts and snippets: save (checked and compiled), read, preview; and the per-process
cache of compiled templates that previews and sends render from."""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nurture.domain.contacts import Page
from nurture.domain.errors import Conflict, Invalid, NotFound
from nurture.domain.templates.compile import check_layout, mjml_to_html, wrap
from nurture.domain.templates.compliance import check_postal_address
from nurture.domain.templates.context import account_data, contact_data, message_context
from nurture.domain.templates.liquid import Environments, RenderFailed
from nurture.domain.templates.model import (
    BodyFormat,
    Category,
    Content,
    Layout,
    Snippet,
    Template,
    TemplateKind,
    check_content,
    check_name,
    check_snippet_name,
)
from nurture.domain.templates.render import CompiledTemplate, RenderedMessage, compile_template, environments
from nurture.services.clock import Clock
from nurture.services.paging import decode_id_cursor, encode_id_cursor
from nurture.store import accounts as account_store
from nurture.store import contacts as contact_store
from nurture.store import templates as store
from nurture.store.db import Database
from nurture.store.ids import new_id
from nurture.store.schema import contacts, layouts, snippets
from nurture.store.tracking import settings_document
from nurture.store.workspaces import get_workspace

MAX_PAGE = 500


@dataclass(frozen=True)
class TemplateInput:
    name: str
    kind: TemplateKind
    category: Category
    content: Content


@dataclass(frozen=True)
class Preview:
    template: Template
    version: int
    layout_version: int | None
    message: RenderedMessage


class TemplateCache:
    """Compiled templates of this process, keyed by what they were compiled from: template version,
    layout version and the workspace's snippet versions. Entries never go stale, they fall out (LRU)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._envs: dict[str, tuple[tuple[tuple[str, int], ...], Environments]] = {}
        self._compiled: OrderedDict[tuple[Any, ...], CompiledTemplate] = OrderedDict()
        self._contents: OrderedDict[tuple[str, str, int], tuple[TemplateKind, Content]] = OrderedDict()

    def environments(self, conn: Connection, workspace_id: str) -> tuple[Any, Environments]:
        versions = store.snippet_versions(conn, workspace_id)
        with self._lock:
            found = self._envs.get(workspace_id)
        if found is not None and found[0] == versions:
            return versions, found[1]
        envs = environments({s.name: s.body for s in store.list_snippets(conn, workspace_id)})
        with self._lock:
            self._envs[workspace_id] = (versions, envs)
        return versions, envs

    def content(
        self, conn: Connection, workspace_id: str, template_id: str, version: int
    ) -> tuple[TemplateKind, Content]:
        """What a template version says (its sender fields, too), read once per process."""
        version_key = (workspace_id, template_id, version)
        found = self._contents.get(version_key)  # versions never change: read each once
        if found is None:
            found = store.get_version(conn, workspace_id, template_id, version)
            if found is None:
                raise NotFound(f"no template {template_id} version {version} in this workspace")
            with self._lock:
                self._contents[version_key] = found
                while len(self._contents) > self.size:
                    self._contents.popitem(last=False)
        return found

    def compiled(
        self, conn: Connection, workspace_id: str, template_id: str, version: int
    ) -> tuple[CompiledTemplate, int | None]:
        """The compiled version and the layout version it wraps (for the message's record)."""
        kind, content = self.content(conn, workspace_id, template_id, version)
        layout = store.get_layout(conn, workspace_id, content.layout_id) if content.layout_id else None
        if content.layout_id and layout is None:
            raise Invalid.one("layout_id", f"layout {content.layout_id} no longer exists")
        versions, envs = self.environments(conn, workspace_id)
        key = (workspace_id, template_id, version, layout.version if layout else None, versions)
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is not None:
                self._compiled.move_to_end(key)
                return compiled, key[3]
        try:
            compiled = compile_template(envs, kind, content, layout)
        except Invalid as err:  # it compiled when saved; a snippet or layout changed since
            raise RenderFailed(err.errors) from None
        with self._lock:
            self._compiled[key] = compiled
            while len(self._compiled) > self.size:
                self._compiled.popitem(last=False)
        return compiled, key[3]


class TemplateService:
    def __init__(self, db: Database, clock: Clock, cache: TemplateCache | None = None) -> None:
        self.db = db
        self.clock = clock
        self.cache = cache or TemplateCache()

    # templates

    def _check(self, conn: Connection, workspace_id: str, data: TemplateInput) -> Content:
        content = check_content(data.kind, data.content)
        layout = None
        if content.layout_id:
            layout = store.get_layout(conn, workspace_id, content.layout_id)
            if layout is None:
                raise Invalid.one("layout_id", f"no layout {content.layout_id} in this workspace")
        _versions, envs = self.cache.environments(conn, workspace_id)
        compiled = compile_template(envs, data.kind, content, layout)
        if data.kind is TemplateKind.EMAIL and data.category is Category.MARKETING:
            sources = [layout.body] if layout else []
            sources += [s.body for s in store.list_snippets(conn, workspace_id)]
            check_postal_address(compiled, content, self.clock.now(), sources)
        return content

    def create(self, workspace_id: str, data: TemplateInput) -> Template:
        now = self.clock.now()
        with self.db.write() as conn:
            content = self._check(conn, workspace_id, data)
            template = Template(
                new_id(), check_name(data.name), data.kind, data.category, 1, content, now, now
            )
            store.insert_template(conn, workspace_id, template)
        return template

    def get(self, workspace_id: str, template_id: str) -> Template:
        with self.db.read() as conn:
            return self._get(conn, workspace_id, template_id)

    @staticmethod
    def _get(conn: Connection, workspace_id: str, template_id: str) -> Template:
        found = store.get_template(conn, workspace_id, template_id)
        if found is None:
            raise NotFound(f"no template {template_id} in this workspace")
        return found

    def list(self, workspace_id: str, cursor: str | None, limit: int = 50) -> Page[Template]:
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid.one("limit", f"must be between 1 and {MAX_PAGE}")
        with self.db.read() as conn:
            found = store.list_templates(conn, workspace_id, decode_id_cursor(cursor), limit + 1)
        items = found[:limit]
        return Page(items, encode_id_cursor(items[-1].id) if len(found) > limit else None)

    def replace(self, workspace_id: str, template_id: str, data: TemplateInput) -> Template:
        """Saves a new version when the content changed (older versions stay readable)."""
        now = self.clock.now()
        with self.db.write() as conn:
            current = self._get(conn, workspace_id, template_id)
            if data.kind is not current.kind:
                raise Invalid.one("kind", f"is {current.kind}; a template's kind cannot change")
            content = self._check(conn, workspace_id, data)
            changed = content != current.content
            template = replace(
                current,
                name=check_name(data.name),
                category=data.category,
                content=content,
                version=current.version + 1 if changed else current.version,
                updated_at=now,
            )
            store.update_template(conn, workspace_id, template)
            if changed:
                store.insert_version(conn, workspace_id, template)
        return template

    def delete(self, workspace_id: str, template_id: str) -> None:
        with self.db.write() as conn:
            if not store.mark_deleted(conn, workspace_id, template_id, self.clock.now()):
                raise NotFound(f"no template {template_id} in this workspace")

    def versions(self, workspace_id: str, template_id: str) -> builtins.list[tuple[int, datetime]]:
        with self.db.read() as conn:
            self._get(conn, workspace_id, template_id)
            return store.list_versions(conn, workspace_id, template_id)

    def version(self, workspace_id: str, template_id: str, version: int) -> Template:
        with self.db.read() as conn:
            current = self._get(conn, workspace_id, template_id)
            found = store.get_version(conn, workspace_id, template_id, version)
        if found is None:
            raise NotFound(f"template {template_id} has no version {version}")
        return replace(current, version=version, content=found[1])

    def preview(
        self,
        workspace_id: str,
        template_id: str,
        *,
        contact_id: str | None = None,
        event: Mapping[str, Any] | None = None,
        run: Mapping[str, Any] | None = None,
        version: int | None = None,
    ) -> Preview:
        """The message as it would be sent to `contact_id` (with a sample triggering `event` and journey
        `run` data), rendered from the current version or the given one."""
        with self.db.read() as conn:
            template = self._get(conn, workspace_id, template_id)
            chosen = version or template.version
            compiled, layout_version = self.cache.compiled(conn, workspace_id, template_id, chosen)
            context = message_context(
                now=self.clock.now(),
                **self._people(conn, workspace_id, contact_id),
                event=_event(event),
                run=run,
                workspace=_workspace(conn, workspace_id),
            )
        return Preview(template, chosen, layout_version, compiled.render(context))

    @staticmethod
    def _people(conn: Connection, workspace_id: str, contact_id: str | None) -> dict[str, Any]:
        if contact_id is None:
            return {}
        contact = contact_store.load_contacts(conn, workspace_id, [contact_id]).get(contact_id)
        if contact is None:
            raise Invalid.one("contact_id", f"no contact {contact_id} in this workspace")
        stage = conn.execute(
            contacts.select()
            .with_only_columns(contacts.c.lifecycle_stage)
            .where(contacts.c.workspace_id == workspace_id, contacts.c.id == contact_id)
        ).scalar()
        accounts = account_store.accounts_of(conn, workspace_id, contact_id)
        return {
            "contact": contact_data(contact, stage),
            "account": account_data(accounts[0]) if accounts else None,
        }

    # layouts

    def save_layout(
        self, workspace_id: str, layout_id: str | None, name: str, format_: BodyFormat, body: str
    ) -> Layout:
        now = self.clock.now()
        check_layout("body", body)
        if format_ is BodyFormat.MJML:
            mjml_to_html("body", wrap(body, ""))
        with self.db.write() as conn:
            _versions, envs = self.cache.environments(conn, workspace_id)
            envs.parse("body", body, html=True)
            name = check_name(name)
            current = None if layout_id is None else self._layout(conn, workspace_id, layout_id)
            if store.name_taken(conn, layouts, workspace_id, name, layout_id):
                raise Conflict(f"a layout named {name!r} exists already")
            if current is None:
                layout = Layout(new_id(), name, format_, body, 1, now, now)
            else:
                used = store.templates_using_layout(conn, workspace_id, current.id)
                if format_ is not current.format and used:
                    raise Invalid.one("format", "cannot change while templates use this layout")
                layout = replace(
                    current, name=name, format=format_, body=body, version=current.version + 1, updated_at=now
                )
            store.save_layout(conn, workspace_id, layout, new=current is None)
        return layout

    def layout(self, workspace_id: str, layout_id: str) -> Layout:
        with self.db.read() as conn:
            return self._layout(conn, workspace_id, layout_id)

    @staticmethod
    def _layout(conn: Connection, workspace_id: str, layout_id: str) -> Layout:
        found = store.get_layout(conn, workspace_id, layout_id)
        if found is None:
            raise NotFound(f"no layout {layout_id} in this workspace")
        return found

    def layouts(self, workspace_id: str) -> builtins.list[Layout]:
        with self.db.read() as conn:
            return store.list_layouts(conn, workspace_id)

    def delete_layout(self, workspace_id: str, layout_id: str) -> None:
        with self.db.write() as conn:
            self._layout(conn, workspace_id, layout_id)
            users = store.templates_using_layout(conn, workspace_id, layout_id)
            if users:
                raise Conflict(f"templates {', '.join(users[:5])} use this layout")
            store.delete_row(conn, layouts, workspace_id, layout_id)

    # snippets

    def save_snippet(self, workspace_id: str, snippet_id: str | None, name: str, body: str) -> Snippet:
        now = self.clock.now()
        name = check_snippet_name(name)
        with self.db.write() as conn:
            _versions, envs = self.cache.environments(conn, workspace_id)
            envs.parse("body", body)
            current = None if snippet_id is None else self._snippet(conn, workspace_id, snippet_id)
            if store.name_taken(conn, snippets, workspace_id, name, snippet_id):
                raise Conflict(f"a snippet named {name!r} exists already")
            if current is None:
                snippet = Snippet(new_id(), name, body, 1, now, now)
            else:
                snippet = replace(current, name=name, body=body, version=current.version + 1, updated_at=now)
            store.save_snippet(conn, workspace_id, snippet, new=current is None)
        return snippet

    def snippet(self, workspace_id: str, snippet_id: str) -> Snippet:
        with self.db.read() as conn:
            return self._snippet(conn, workspace_id, snippet_id)

    @staticmethod
    def _snippet(conn: Connection, workspace_id: str, snippet_id: str) -> Snippet:
        found = store.get_snippet(conn, workspace_id, snippet_id)
        if found is None:
            raise NotFound(f"no snippet {snippet_id} in this workspace")
        return found

    def snippets(self, workspace_id: str) -> builtins.list[Snippet]:
        with self.db.read() as conn:
            return store.list_snippets(conn, workspace_id)

    def delete_snippet(self, workspace_id: str, snippet_id: str) -> None:
        """Templates that still render it fail at send time with a clear error, never half-rendered."""
        with self.db.write() as conn:
            if not store.delete_row(conn, snippets, workspace_id, snippet_id):
                raise NotFound(f"no snippet {snippet_id} in this workspace")


def _event(event: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    if not isinstance(event.get("properties", {}), Mapping):
        raise Invalid.one("event.properties", "must be an object")
    return {
        "name": event.get("name"),
        "type": event.get("type", "track"),
        "timestamp": event.get("timestamp"),
        "properties": dict(event.get("properties") or {}),
    }


def _workspace(conn: Connection, workspace_id: str) -> dict[str, Any]:
    """The `workspace` part of the render context: id, name and the postal address of the messaging
    settings (CAN-SPAM footers)."""
    found = get_workspace(conn, workspace_id)
    address = settings_document(conn, workspace_id).get("postal_address")
    return {
        "id": workspace_id,
        "name": found.name if found else None,
        "postal_address": address if isinstance(address, str) else None,
    }
