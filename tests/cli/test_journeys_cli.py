"""`nurture journeys validate|apply|list|enroll` and `nurture explain`, run as the real command."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import Cli, acme, nurture  # noqa: F401  (fixtures)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "journeys"
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


def test_simulate_prints_steps_and_funnel_and_writes_nothing(nurture: Cli, acme: dict[str, str]) -> None:  # noqa: F811
    journey = str(EXAMPLES / "abandoned-cart.yaml")
    stream = str(EXAMPLES.parent / "events" / "carts.jsonl")
    result = nurture("simulate", journey, "--events", stream, "--json")
    assert result.code == 0, result.said
    simulated = result.json()
    assert {c["contact"] for c in simulated["contacts"]} == {"ann", "bob"}
    assert simulated["population"]["converted"] == 1
    readable = nurture("simulate", journey, "--events", stream, "--horizon", "2d")
    assert "reminder send: email 'Abandoned cart reminder'" in readable.said
    assert "entered 2, completed 1, exited 1, converted 1" in readable.said
    assert nurture.query("SELECT count(*) AS n FROM journey_runs")[0]["n"] == 0
    assert nurture("simulate", journey).code == 2
    bad = nurture.file("bad.jsonl", '{"type": "track", "userId": "a", "event": "X"}\n')
    refused = nurture("simulate", journey, "--events", bad)
    assert refused.code == 1
    assert "line 1.timestamp" in refused.said
