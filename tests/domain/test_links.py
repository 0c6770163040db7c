"""Signed links: what a token carries, and that any change to one makes it unknown (never a redirect
to somewhere the message did not lead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.domain.errors import Invalid
from nurture.domain.messages.links import (
    BadLink,
    ClickLink,
    Links,
    MessageLink,
    PreferencesLink,
    Purpose,
    UnsubscribeLink,
    derive_key,
    parse_mailto,
)
from nurture.domain.messages.outbox import Source, send_id

WS = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
CONTACT = "01J00000000000000000000000"
SEND = send_id(WS, Source.CAMPAIGN, "spring:contact-1")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LINKS = Links("https://mail.example.com/", derive_key("s3cret"))
URL = "https://shop.example.com/sale?item=42&size=m#top"


def token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_every_kind_of_link_reads_back_what_it_was_made_with() -> None:
    click = LINKS.click_url(WS, SEND, 3, URL)
    assert click.startswith("https://mail.example.com/t/c/")
    assert LINKS.read_click(token(click)) == ClickLink(WS, SEND, 3, URL)
    opened = LINKS.open_url(WS, SEND)
    assert opened.endswith(".gif")
    assert LINKS.read_open(token(opened)) == MessageLink(WS, SEND)
    unsubscribe = LINKS.unsubscribe_url(WS, SEND, CONTACT)
    assert LINKS.read_unsubscribe(token(unsubscribe)) == UnsubscribeLink(WS, SEND, CONTACT)
    assert LINKS.read_preferences(token(LINKS.preferences_url(WS, CONTACT))) == PreferencesLink(WS, CONTACT)
    assert LINKS.read_confirm(token(LINKS.confirm_url(WS, SEND))) == MessageLink(WS, SEND)


def test_a_token_made_for_one_kind_of_link_is_refused_by_every_other() -> None:
    confirm = token(LINKS.confirm_url(WS, SEND))
    with pytest.raises(BadLink):
        LINKS.read_open(confirm)  # same fields, other purpose
    with pytest.raises(BadLink):
        LINKS.read_preferences(token(LINKS.confirm_url(WS, CONTACT)))
    with pytest.raises(BadLink):
        LINKS.read_unsubscribe(token(LINKS.click_url(WS, SEND, 0, URL)))


def test_another_key_or_another_url_in_a_click_token_is_refused() -> None:
    mine = token(LINKS.click_url(WS, SEND, 0, URL))
    theirs = Links("https://mail.example.com", derive_key("guess"))
    with pytest.raises(BadLink):
        LINKS.read_click(token(theirs.click_url(WS, SEND, 0, "https://evil.example.net/")))
    # the URL swapped for another, the MAC kept
    fields = mine.split(".")
    other = token(LINKS.click_url(WS, SEND, 0, "https://evil.example.net/"))
    fields[3] = other.split(".")[3]
    with pytest.raises(BadLink):
        LINKS.read_click(".".join(fields))
    for broken in ("", ".", mine + ".x", mine.replace(".", "", 1), "a" * 9000):
        with pytest.raises(BadLink):
            LINKS.read_click(broken)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_change_to_a_token_makes_it_unknown(data: st.DataObject) -> None:
    made = token(LINKS.click_url(WS, SEND, 7, URL))
    at = data.draw(st.integers(0, len(made) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != made[at]]))
    with pytest.raises(BadLink):
        LINKS.read_click(made[:at] + replacement + made[at + 1 :])


def test_the_mailto_address_fits_a_local_part_survives_case_folding_and_is_checked() -> None:
    address = LINKS.mailto(WS, SEND, "news.example.com")
    local = address.split("@")[0]
    assert len(local) <= 64
    assert local == local.lower()
    parsed = parse_mailto(f"<{address.upper()}>")
    assert parsed is not None
    message_id, mac = parsed
    assert message_id == SEND
    assert LINKS.mailto_matches(WS, SEND, mac)
    assert not LINKS.mailto_matches("01HOTHERWORKSPACE000000000", SEND, mac)
    assert not LINKS.mailto_matches(WS, SEND, "a" * len(mac))
    assert parse_mailto("hello@example.com") is None
    assert parse_mailto("unsubscribe+short@example.com") is None


def test_own_links_are_recognised_and_others_are_not() -> None:
    assert LINKS.is_own(LINKS.unsubscribe_url(WS, SEND, CONTACT))
    assert LINKS.is_own(LINKS.preferences_url(WS, CONTACT))
    assert not LINKS.is_own("https://mail.example.com/about")
    assert not LINKS.is_own("https://mail.example.com.evil.net/u/x")


def test_a_form_token_is_good_for_a_day_for_its_own_page_only() -> None:
    page = token(LINKS.preferences_url(WS, CONTACT))
    form = LINKS.form_token(Purpose.PREFERENCES, page, NOW)
    LINKS.check_form_token(Purpose.PREFERENCES, page, form, NOW + timedelta(hours=23))
    other_page = token(LINKS.preferences_url(WS, "01J00000000000000000000001"))
    cases = [
        (Purpose.PREFERENCES, page, form, NOW + timedelta(hours=25)),  # stale
        (Purpose.PREFERENCES, page, form, NOW - timedelta(hours=1)),  # from the future
        (Purpose.PREFERENCES, other_page, form, NOW),  # another contact's page
        (Purpose.CONFIRM, page, form, NOW),  # another kind of page
        (Purpose.PREFERENCES, page, "", NOW),
        (Purpose.PREFERENCES, page, "123.abc", NOW),
        (Purpose.PREFERENCES, page, form.replace(".", "0."), NOW),
    ]
    for purpose, page_token, value, now in cases:
        with pytest.raises(Invalid) as refused:
            LINKS.check_form_token(purpose, page_token, value, now)
        assert refused.value.errors[0].field == "form"


def test_fields_that_are_not_url_safe_cannot_be_signed_and_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        LINKS.sign(Purpose.OPEN, "a.b")
    with pytest.raises(ValueError, match="empty"):
        derive_key("")
