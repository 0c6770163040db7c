"""`nurture journeys validate|apply|list|enroll` and `nurture explain`, run as the real command."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import Cli, acme, nurture  # noqa: F401  (fixtures)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "journeys"
TAGGER = """
name: Tag everyone
trigger: {type: manual}
nodes:
  - {id: tag, type: update_contact, add_tags: [welcomed]}
"""


def test_validate_names_the_file_node_and_field_and_the_yaml_line(nurture: Cli) -> None:  # noqa: F811
    good = nurture("journeys", "validate", str(EXAMPLES / "abandoned-cart.yaml"))
    assert good.code == 0, good.said
    assert "journey 'Abandoned cart' is valid (6 nodes)" in good.said
    bad = nurture.file("bad.yaml", TAGGER.replace("add_tags: [welcomed]", "add_tags: []"))
    refused = nurture("journeys", "validate", bad)
    assert refused.code == 1
    assert "bad.yaml: nodes[tag]: give at least one change" in refused.said
    broken = nurture.file("broken.yaml", "name: x\nnodes: [\n  {id: a\n")
    syntax = nurture("journeys", "validate", broken)
    assert syntax.code == 1
    assert "broken.yaml: line 4, column 1" in syntax.said


def test_apply_list_enrol_and_explain(nurture: Cli, acme: dict[str, str]) -> None:  # noqa: F811
    path = nurture.file("tagger.yaml", TAGGER)
    created = nurture("journeys", "apply", path)
    assert created.code == 0, created.said
    assert "created journey" in created.said
    assert "unchanged (version 1)" in nurture("journeys", "apply", path).said
    [listed] = nurture("journeys", "list", "--json").json()
    assert (listed["name"], listed["status"], listed["version"]) == ("Tag everyone", "active", 1)
    with nurture.api() as client:
        headers = {"Authorization": f"Bearer {acme['secret_key']}"}
        contact = client.post("/api/v1/contacts", headers=headers, json={"email": "ann@example.com"}).json()
    assert nurture("journeys", "enroll", "Tag everyone", contact["id"]).code == 0
    assert nurture("worker", "--once").code == 0
    explained = nurture("explain", contact["id"], "--json").json()
    assert [(r["journey"], r["status"]) for r in explained] == [("Tag everyone", "completed")]
    assert [line["action"] for line in explained[0]["trace"]] == ["entered", "updated", "completed"]
    readable = nurture("explain", contact["id"])
    assert "Tag everyone" in readable.said
    assert "tag updated: contact updated" in readable.said
    unknown = nurture("explain", "nobody")
    assert unknown.code == 1
    assert "no contact nobody" in unknown.said
