from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.services import test_identity as t

@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(requests=st.lists(st.lists(t.calls, min_size=1, max_size=6), min_size=1, max_size=6))
def test_stress(container, requests):
    t.test_every_event_lands_on_exactly_one_contact_and_every_identity_finds_at_most_one.hypothesis.inner_test(container, requests)

aliases = st.builds(lambda p, u: t.alias(p, u), st.sampled_from(t.ANONS + t.USERS), st.sampled_from(t.USERS))

@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(requests=st.lists(st.lists(st.one_of(t.calls, aliases), min_size=1, max_size=5), min_size=1, max_size=5))
def test_stress_with_alias_no_crash(container, requests):
    from sqlalchemy import select
    from nurture.store.schema import contacts, events, contact_identities
    ws = container.workspaces.create("p").id
    for n, r in enumerate(requests):
        t.ingest(container, ws, *[{**m, "messageId": f"m{n}-{i}"} for i, m in enumerate(r)])
    with container.db.read() as conn:
        existing = set(conn.execute(select(contacts.c.id).where(contacts.c.workspace_id == ws)).scalars())
        assert set(conn.execute(select(events.c.contact_id).where(events.c.workspace_id == ws)).scalars()) <= existing
        assert set(conn.execute(select(contact_identities.c.contact_id).where(contact_identities.c.workspace_id == ws)).scalars()) <= existing
