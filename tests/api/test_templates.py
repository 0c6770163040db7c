"""Templates, layouts and snippets through the admin REST API: versions, refusals with positions,
preview for a contact, and one workspace's snippets never reaching another's templates."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from nurture.services.workspaces import NewWorkspace
from tests.api.admin import Admin

CART_EVENT = {
    "name": "Cart Abandoned",
    "timestamp": "2026-03-02T08:00:00Z",
    "properties": {"items": [{"name": "Mug", "price": 12.5}, {"name": "Tea & Co", "price": 1234.5}]},
}
HTML = (
    "<h1>Hi {{ contact.first_name | default: 'there' }}</h1>"
    "<table>{% for item in event.properties.items %}<tr><td class='item'>{{ item.name }}</td>"
    "<td>{{ item.price | money: 'EUR' }}</td></tr>{% endfor %}</table>"
    "{% render 'footer', contact: contact %}"
)
ADDRESS = "<p>{{ workspace.postal_address }}</p>"  # marketing email shows it (CAN-SPAM)
LAYOUT = "<html><head><style>.item { color: #333333 }</style></head><body>{{ content }}</body></html>"


class Templates(Admin):
    def problem(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body: dict[str, Any] = response.json()
        return body

    def preview(self, template_id: str, **body: Any) -> Any:
        return self.call("POST", f"/api/v1/templates/{template_id}/preview", json=body)


@pytest.fixture
def api(client: TestClient, workspace: NewWorkspace) -> Templates:
    return Templates(client, workspace, "/api/v1/templates")


@pytest.fixture
def ann(api: Templates) -> str:
    response = api.call(
        "POST",
        "/api/v1/contacts",
        json={"email": "ann@example.com", "first_name": "Ann", "timezone": "Europe/Paris", "locale": "de-DE"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def snippet(
    api: Templates, name: str = "footer", body: str = "<p>Acme · {{ contact.email }}</p>" + ADDRESS
) -> Any:
    response = api.call("POST", "/api/v1/snippets", json={"name": name, "body": body})
    assert response.status_code == 201, response.text
    return response.json()


def layout(api: Templates, body: str = LAYOUT, **extra: Any) -> Any:
    response = api.call("POST", "/api/v1/layouts", json={"name": "Brand", "body": body, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def cart_template(api: Templates, **extra: Any) -> dict[str, Any]:
    return api.create(
        name="Cart reminder",
        subject="{{ contact.first_name }}, {{ event.properties.items | size }} items wait",
        preheader="Since {{ event.timestamp | date: '%H:%M' }}",
        html=HTML,
        **extra,
    )


def test_preview_renders_subject_html_with_inlined_css_and_text_for_a_contact(
    api: Templates, ann: str
) -> None:
    snippet(api)
    brand = layout(api)
    template = cart_template(api, layout_id=brand["id"], from_name="{{ contact.first_name }}'s shop")
    response = api.preview(template["id"], contact_id=ann, event=CART_EVENT)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["subject"] == "Ann, 2 items wait"
    assert shown["preheader"] == "Since 09:00"  # 08:00 UTC in Ann's Paris winter time
    assert shown["from_name"] == "Ann's shop"
    assert (shown["version"], shown["layout_version"]) == (1, 1)
    assert '<td class="item" style="color: #333333;">Tea &amp; Co</td>' in shown["html"]
    assert "1.234,50\xa0€" in shown["html"]  # Ann's locale
    assert "Acme · ann@example.com" in shown["html"]
    assert shown["text"].startswith("Hi Ann\n\nMug\n12,50\xa0€")
    assert "<p>" not in shown["text"]


def test_saving_a_new_version_keeps_the_old_one_readable(api: Templates) -> None:
    snippet(api)
    first = cart_template(api)
    body = {"name": "Cart reminder", "subject": "New {{ contact.first_name }}", "html": HTML}
    saved = api.call("PUT", f"/api/v1/templates/{first['id']}", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    again = api.call("PUT", f"/api/v1/templates/{first['id']}", json={**body, "name": "Renamed"})
    assert (again.json()["version"], again.json()["name"]) == (2, "Renamed")  # content unchanged
    versions = api.call("GET", f"/api/v1/templates/{first['id']}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    old = api.get(f"{first['id']}/versions/1")
    assert old["subject"] == first["subject"]
    assert api.preview(first["id"], version=1).json()["subject"] == ", 0 items wait"  # no contact, no event
    assert api.preview(first["id"]).json()["subject"] == "New"


@pytest.mark.parametrize(
    ("body", "field", "line", "column"),
    [
        ({"html": "<p>\n{% if x %}\n  {% endfi %}"}, "html", 3, 6),
        ({"subject": "Hi {{ contact.first_name | nosuch }}"}, "subject", 1, 28),
        ({"text": "a\n{{ 'open }}"}, "text", 2, 4),
        ({"html": None, "mjml": "<mjml>\n<mj-body>\n<mj-text>a < b"}, "mjml", None, None),
        ({"html": "<p>x</p>", "mjml": "<mjml></mjml>"}, "mjml", None, None),
        ({"subject": " "}, "subject", None, None),
        ({"html": None}, "html", None, None),
        ({"from_email": "not an address"}, "from_email", None, None),
        ({"layout_id": "01NOSUCHLAYOUT000000000000"}, "layout_id", None, None),
        ({"kind": "sms"}, "subject", None, None),
        ({"kind": "fax"}, "kind", None, None),
    ],
)
def test_a_template_that_does_not_compile_is_refused_naming_the_field(
    api: Templates, body: dict[str, Any], field: str, line: int | None, column: int | None
) -> None:
    valid = {"name": "Welcome", "subject": "Hi", "html": "<p>Hi</p>" + ADDRESS}
    kept = api.create(**valid)
    for method, path in (("POST", "/api/v1/templates"), ("PUT", f"/api/v1/templates/{kept['id']}")):
        problem = api.problem(method, path, json={**valid, **body})
        error = problem["errors"][0]
        changes_kind = method == "PUT" and "kind" in body  # a template keeps its kind
        assert error["field"] == ("kind" if changes_kind else field), problem
        if line is not None and not changes_kind:
            assert (error["line"], error["column"]) == (line, column), problem
        if field == "mjml" and "mjml" in body and body.get("html") is None:
            assert error["line"] >= 1
    assert [t["id"] for t in api.all()] == [kept["id"]]
    assert api.get(kept["id"])["version"] == 1


def test_sms_templates_have_a_text_body_only(api: Templates, ann: str) -> None:
    sms = api.create(name="Code", kind="sms", text="Hi {{ contact.first_name }}, {{ run.code }}")
    assert api.preview(sms["id"], contact_id=ann, run={"code": "1234"}).json()["text"] == "Hi Ann, 1234"
    problem = api.problem("PUT", f"/api/v1/templates/{sms['id']}", json={"name": "Code", "subject": "x"})
    assert problem["errors"][0]["field"] == "kind"


def test_a_render_error_at_preview_is_a_clear_problem_not_half_a_message(api: Templates) -> None:
    bomb = api.create(
        name="Bomb",
        subject="x",
        html=ADDRESS + "{% for a in (1..1000) %}{% for b in (1..1000) %}x{% endfor %}{% endfor %}",
    )
    problem = api.problem("POST", f"/api/v1/templates/{bomb['id']}/preview", json={})
    assert problem["title"] == "Template cannot be rendered"
    assert problem["errors"][0]["field"] == "html"
    assert "iterations" in problem["errors"][0]["message"]
    assert "html" not in problem


def test_preview_for_an_unknown_contact_or_bad_sample_is_refused(api: Templates, ann: str) -> None:
    template = api.create(name="Welcome", subject="Hi", html="<p>Hi</p>" + ADDRESS)
    path = f"/api/v1/templates/{template['id']}/preview"
    assert api.problem("POST", path, json={"contact_id": "nobody"})["errors"][0]["field"] == "contact_id"
    bad = {"contact_id": ann, "event": {"properties": ["not", "an", "object"]}}
    assert api.problem("POST", path, json=bad)["errors"][0]["field"] == "event.properties"
    assert api.problem("POST", path, json={"version": 0})["errors"][0]["field"] == "version"
    assert api.call("POST", path, json={"version": 9}).status_code == 404


def test_snippet_and_layout_edits_show_in_the_next_render(api: Templates, ann: str) -> None:
    footer = snippet(api)
    brand = layout(api)
    template = cart_template(api, layout_id=brand["id"])
    assert "Acme ·" in api.preview(template["id"], contact_id=ann).json()["html"]
    changed = api.call("PUT", f"/api/v1/snippets/{footer['id']}", json={"name": "footer", "body": "New foot"})
    assert changed.json()["version"] == 2
    new_layout = LAYOUT.replace("<body>", "<body><p>Brand v2</p>")
    assert (
        api.call(
            "PUT", f"/api/v1/layouts/{brand['id']}", json={"name": "Brand", "body": new_layout}
        ).status_code
        == 200
    )
    shown = api.preview(template["id"], contact_id=ann).json()
    assert "New foot" in shown["html"]
    assert "Acme ·" not in shown["html"]
    assert "Brand v2" in shown["html"]
    assert shown["layout_version"] == 2


def test_snippets_and_layouts_refuse_bad_input(api: Templates) -> None:
    snippet(api)
    assert api.call("POST", "/api/v1/snippets", json={"name": "footer", "body": "x"}).status_code == 409
    assert (
        api.problem("POST", "/api/v1/snippets", json={"name": "Bad Name!", "body": "x"})["errors"][0]["field"]
        == "name"
    )
    error = api.problem("POST", "/api/v1/snippets", json={"name": "ok", "body": "a\n{% if %}"})["errors"][0]
    assert (error["field"], error["line"]) == ("body", 2)
    assert (
        api.problem("POST", "/api/v1/layouts", json={"name": "L", "body": "<p>no content</p>"})["errors"][0][
            "field"
        ]
        == "body"
    )
    mjml = api.problem(
        "POST", "/api/v1/layouts", json={"name": "M", "format": "mjml", "body": "<mjml>{{ content }}"}
    )
    assert mjml["errors"][0]["field"] == "body"
    html_layout = layout(api)
    mismatch = {
        "name": "T",
        "subject": "s",
        "mjml": "<mjml><mj-body></mj-body></mjml>",
        "layout_id": html_layout["id"],
    }
    assert api.problem("POST", "/api/v1/templates", json=mismatch)["errors"][0]["field"] == "layout_id"
    assert [s["name"] for s in api.call("GET", "/api/v1/snippets").json()] == ["footer"]
    assert [x["name"] for x in api.call("GET", "/api/v1/layouts").json()] == ["Brand"]


def test_a_layout_in_use_cannot_be_deleted_and_a_deleted_template_is_gone(api: Templates) -> None:
    brand = layout(api)
    template = api.create(name="T", subject="s", html="<p>x</p>" + ADDRESS, layout_id=brand["id"])
    assert api.call("DELETE", f"/api/v1/layouts/{brand['id']}").status_code == 409
    to_mjml = {"name": "Brand", "format": "mjml", "body": "<mjml><mj-body>{{ content }}</mj-body></mjml>"}
    assert (
        api.problem("PUT", f"/api/v1/layouts/{brand['id']}", json=to_mjml)["errors"][0]["field"] == "format"
    )
    assert api.get(template["id"])["layout_id"] == brand["id"]
    assert api.call("GET", f"/api/v1/layouts/{brand['id']}").json()["format"] == "html"
    assert api.call("DELETE", f"/api/v1/templates/{template['id']}").status_code == 204
    assert api.call("GET", f"/api/v1/templates/{template['id']}").status_code == 404
    assert api.call("DELETE", f"/api/v1/templates/{template['id']}").status_code == 404
    assert api.call("DELETE", f"/api/v1/layouts/{brand['id']}").status_code == 204
    assert api.call("GET", "/api/v1/layouts").json() == []


def test_a_template_never_renders_another_workspaces_snippet(
    api: Templates, client: TestClient, other_workspace: NewWorkspace
) -> None:
    snippet(api, "footer", "<p>Acme secret footer</p>" + ADDRESS)
    theirs = Templates(client, other_workspace, "/api/v1/templates")
    body = {"name": "T", "subject": "s", "html": "<div>{% render 'footer' %}</div>"}
    problem = theirs.problem("POST", "/api/v1/templates", json=body)
    assert problem["errors"] == [
        {"field": "html", "line": 1, "column": 16, "message": "no snippet named 'footer' in this workspace"}
    ]
    assert "Acme secret" not in str(problem)
    globex = snippet(theirs, "footer", "<p>Globex footer</p>" + ADDRESS)
    template = theirs.create(**body)
    assert "Globex footer" in theirs.preview(template["id"]).json()["html"]
    # a snippet deleted after the template was saved: the render fails whole, with the reason
    assert theirs.call("DELETE", f"/api/v1/snippets/{globex['id']}").status_code == 204
    failed = theirs.problem("POST", f"/api/v1/templates/{template['id']}/preview", json={})
    assert failed["title"] == "Template cannot be rendered"
    assert "no snippet named 'footer'" in failed["errors"][0]["message"]
    mine = api.create(name="Mine", subject="s", html="<div>{% render 'footer' %}</div>")
    assert "Acme secret footer" in api.preview(mine["id"]).json()["html"]
