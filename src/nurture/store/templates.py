"""SQL for templates (with their immutable versions), layouts and snippets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update

from nurture.domain.templates.model import (
    BodyFormat,
    Category,
    Content,
    Layout,
    Snippet,
    Template,
    TemplateKind,
)
from nurture.store.schema import layouts, snippets, template_versions, templates

CONTENT_COLUMNS = (
    "subject",
    "preheader",
    "from_name",
    "from_email",
    "reply_to",
    "body_format",
    "body",
    "text",
    "layout_id",
)


def _content(m: Any) -> Content:
    values = {name: m[name] for name in CONTENT_COLUMNS}
    values["body_format"] = BodyFormat(m["body_format"]) if m["body_format"] else None
    return Content(**values)


def _template(row: Any) -> Template:
    m = row._mapping
    return Template(
        id=m["id"],
        name=m["name"],
        kind=TemplateKind(m["kind"]),
        category=Category(m["category"]),
        version=m["version"],
        content=_content(m),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


_joined = select(templates, *(template_versions.c[name] for name in CONTENT_COLUMNS)).join(
    template_versions,
    (template_versions.c.workspace_id == templates.c.workspace_id)
    & (template_versions.c.template_id == templates.c.id)
    & (template_versions.c.version == templates.c.version),
)


def get_template(conn: Connection, workspace_id: str, template_id: str) -> Template | None:
    row = conn.execute(
        _joined.where(
            templates.c.workspace_id == workspace_id,
            templates.c.id == template_id,
            templates.c.deleted_at.is_(None),
        )
    ).first()
    return _template(row) if row else None


def find_template(conn: Connection, workspace_id: str, id_or_name: str) -> tuple[str, str, str] | None:
    """(id, kind, category) of the live template with this id, else the newest with this name."""
    query = (
        select(templates.c.id, templates.c.kind, templates.c.category)
        .where(
            templates.c.workspace_id == workspace_id,
            templates.c.deleted_at.is_(None),
            (templates.c.id == id_or_name) | (templates.c.name == id_or_name),
        )
        .order_by(templates.c.id != id_or_name, templates.c.created_at.desc())
    )
    row = conn.execute(query).first()
    return (row.id, row.kind, row.category) if row is not None else None


def list_templates(conn: Connection, workspace_id: str, after: str | None, limit: int) -> list[Template]:
    query = _joined.where(templates.c.workspace_id == workspace_id, templates.c.deleted_at.is_(None))
    if after:
        query = query.where(templates.c.id > after)
    return [_template(r) for r in conn.execute(query.order_by(templates.c.id).limit(limit))]


def get_version(
    conn: Connection, workspace_id: str, template_id: str, version: int
) -> tuple[TemplateKind, Content] | None:
    """One saved version, also of a deleted template (messages that used it still explain)."""
    row = conn.execute(
        select(templates.c.kind, template_versions)
        .join(
            templates,
            (templates.c.workspace_id == template_versions.c.workspace_id)
            & (templates.c.id == template_versions.c.template_id),
        )
        .where(
            template_versions.c.workspace_id == workspace_id,
            template_versions.c.template_id == template_id,
            template_versions.c.version == version,
        )
    ).first()
    return (TemplateKind(row.kind), _content(row._mapping)) if row else None


def list_versions(conn: Connection, workspace_id: str, template_id: str) -> list[tuple[int, datetime]]:
    rows = conn.execute(
        select(template_versions.c.version, template_versions.c.created_at)
        .where(
            template_versions.c.workspace_id == workspace_id,
            template_versions.c.template_id == template_id,
        )
        .order_by(template_versions.c.version)
    )
    return [(r.version, r.created_at) for r in rows]


def insert_template(conn: Connection, workspace_id: str, template: Template) -> None:
    conn.execute(
        templates.insert().values(
            workspace_id=workspace_id,
            id=template.id,
            name=template.name,
            kind=template.kind.value,
            category=template.category.value,
            version=template.version,
            created_at=template.created_at,
            updated_at=template.updated_at,
        )
    )
    insert_version(conn, workspace_id, template)


def insert_version(conn: Connection, workspace_id: str, template: Template) -> None:
    values = {name: getattr(template.content, name) for name in CONTENT_COLUMNS}
    values["body_format"] = template.content.body_format.value if template.content.body_format else None
    conn.execute(
        template_versions.insert().values(
            workspace_id=workspace_id,
            template_id=template.id,
            version=template.version,
            created_at=template.updated_at,
            **values,
        )
    )


def update_template(conn: Connection, workspace_id: str, template: Template) -> None:
    conn.execute(
        update(templates)
        .where(templates.c.workspace_id == workspace_id, templates.c.id == template.id)
        .values(
            name=template.name,
            category=template.category.value,
            version=template.version,
            updated_at=template.updated_at,
        )
    )


def mark_deleted(conn: Connection, workspace_id: str, template_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(templates)
        .where(
            templates.c.workspace_id == workspace_id,
            templates.c.id == template_id,
            templates.c.deleted_at.is_(None),
        )
        .values(deleted_at=now)
    )
    return result.rowcount > 0


def templates_using_layout(conn: Connection, workspace_id: str, layout_id: str) -> list[str]:
    """Live templates whose current version wraps its body in `layout_id`."""
    rows = conn.execute(
        _joined.with_only_columns(templates.c.id).where(
            templates.c.workspace_id == workspace_id,
            templates.c.deleted_at.is_(None),
            template_versions.c.layout_id == layout_id,
        )
    )
    return [r.id for r in rows]


# Layouts and snippets: edited in place; `version` counts edits, so caches know when to recompile.


def _layout(row: Any) -> Layout:
    m = row._mapping
    return Layout(
        id=m["id"],
        name=m["name"],
        format=BodyFormat(m["format"]),
        body=m["body"],
        version=m["version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _snippet(row: Any) -> Snippet:
    m = row._mapping
    return Snippet(
        id=m["id"],
        name=m["name"],
        body=m["body"],
        version=m["version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def get_layout(conn: Connection, workspace_id: str, layout_id: str) -> Layout | None:
    row = conn.execute(
        select(layouts).where(layouts.c.workspace_id == workspace_id, layouts.c.id == layout_id)
    ).first()
    return _layout(row) if row else None


def list_layouts(conn: Connection, workspace_id: str) -> list[Layout]:
    rows = conn.execute(select(layouts).where(layouts.c.workspace_id == workspace_id).order_by(layouts.c.id))
    return [_layout(r) for r in rows]


def get_snippet(conn: Connection, workspace_id: str, snippet_id: str) -> Snippet | None:
    row = conn.execute(
        select(snippets).where(snippets.c.workspace_id == workspace_id, snippets.c.id == snippet_id)
    ).first()
    return _snippet(row) if row else None


def list_snippets(conn: Connection, workspace_id: str) -> list[Snippet]:
    rows = conn.execute(
        select(snippets).where(snippets.c.workspace_id == workspace_id).order_by(snippets.c.name)
    )
    return [_snippet(r) for r in rows]


def snippet_versions(conn: Connection, workspace_id: str) -> tuple[tuple[str, int], ...]:
    """(name, version) of every snippet: what a render cache compares to notice an edit."""
    rows = conn.execute(
        select(snippets.c.name, snippets.c.version)
        .where(snippets.c.workspace_id == workspace_id)
        .order_by(snippets.c.name)
    )
    return tuple((r.name, r.version) for r in rows)


def name_taken(conn: Connection, table: Table, workspace_id: str, name: str, but: str | None) -> bool:
    query = select(table.c.id).where(table.c.workspace_id == workspace_id, table.c.name == name)
    if but:
        query = query.where(table.c.id != but)
    return conn.execute(query).first() is not None


def save_layout(conn: Connection, workspace_id: str, layout: Layout, *, new: bool) -> None:
    values = {
        "name": layout.name,
        "format": layout.format.value,
        "body": layout.body,
        "version": layout.version,
        "updated_at": layout.updated_at,
    }
    if new:
        conn.execute(
            layouts.insert().values(
                workspace_id=workspace_id, id=layout.id, created_at=layout.created_at, **values
            )
        )
    else:
        conn.execute(
            update(layouts)
            .where(layouts.c.workspace_id == workspace_id, layouts.c.id == layout.id)
            .values(**values)
        )


def save_snippet(conn: Connection, workspace_id: str, snippet: Snippet, *, new: bool) -> None:
    values = {
        "name": snippet.name,
        "body": snippet.body,
        "version": snippet.version,
        "updated_at": snippet.updated_at,
    }
    if new:
        conn.execute(
            snippets.insert().values(
                workspace_id=workspace_id, id=snippet.id, created_at=snippet.created_at, **values
            )
        )
    else:
        conn.execute(
            update(snippets)
            .where(snippets.c.workspace_id == workspace_id, snippets.c.id == snippet.id)
            .values(**values)
        )


def delete_row(conn: Connection, table: Table, workspace_id: str, row_id: str) -> bool:
    result = conn.execute(delete(table).where(table.c.workspace_id == workspace_id, table.c.id == row_id))
    return result.rowcount > 0


def live_template_named(conn: Connection, workspace_id: str, name: str) -> str | None:
    """The id of the oldest live template called `name`, if any."""
    found: str | None = conn.execute(
        select(templates.c.id)
        .where(
            templates.c.workspace_id == workspace_id,
            templates.c.name == name,
            templates.c.deleted_at.is_(None),
        )
        .order_by(templates.c.id)
        .limit(1)
    ).scalar()
    return found
