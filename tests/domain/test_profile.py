"""Contact profile rules (pure): which traits are core fields, how each is normalised or rejected."""

from __future__ import annotations

import pytest

from nurture.domain.errors import Invalid
from nurture.domain.profile import (
    MAX_NAME_LENGTH,
    TraitUpdate,
    apply_attributes,
    normalize_email,
    normalize_locale,
    normalize_phone,
    normalize_timezone,
    parse_traits,
)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "alice@example.com"),
        ("  bob@example.org\t", "bob@example.org"),
        ("\nCAROL.SMITH+news@Mail.Example.co.uk ", "carol.smith+news@mail.example.co.uk"),
    ],
)
def test_email_is_stored_lower_case_without_surrounding_whitespace(given: str, stored: str) -> None:
    assert normalize_email(given) == stored


@pytest.mark.parametrize(
    "given",
    ["alice", "alice@", "@example.com", "alice@@example.com", "alice@example", "a b@example.com", " "],
)
def test_an_invalid_email_is_rejected(given: str) -> None:
    with pytest.raises(ValueError, match="not a valid email"):
        normalize_email(given)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("+14155550123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+49 30 1234567", "+49301234567"),
        ("  +44 20 7946 0958 ", "+442079460958"),
    ],
)
def test_phone_is_stored_in_e164(given: str, stored: str) -> None:
    assert normalize_phone(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "4155550123",  # no country code: which country is it?
        "0301234567",
        "+1 23",  # too short for the country
        "+49 1234567890123456789",  # too long
        "call me",
        "",
    ],
)
def test_an_invalid_phone_is_rejected(given: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        normalize_phone(given)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Asia/Kolkata"])
def test_an_iana_time_zone_is_kept(zone: str) -> None:
    assert normalize_timezone(zone) == zone


@pytest.mark.parametrize("zone", ["Europe/Atlantis", "CEST", "+02:00", "GMT+2 hours", ""])
def test_a_time_zone_that_is_not_an_iana_name_is_rejected(zone: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        normalize_timezone(zone)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("de", "de"),
        ("EN", "en"),
        ("en-us", "en-US"),
        ("pt_BR", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("ZH_HANS", "zh-Hans"),
        ("es-419", "es-419"),
        (" fr-ca ", "fr-CA"),
    ],
)
def test_locale_is_stored_in_canonical_case(given: str, stored: str) -> None:
    assert normalize_locale(given) == stored


@pytest.mark.parametrize("given", ["english", "e", "en-", "en-USA-x", "12-US", "en US", ""])
def test_a_locale_that_is_not_a_language_tag_is_rejected(given: str) -> None:
    with pytest.raises(ValueError, match="locale"):
        normalize_locale(given)


def test_segment_and_rest_spellings_reach_the_same_core_fields() -> None:
    update = parse_traits(
        {
            "email": " Ann@Example.com",
            "phone": "+1 415 555 0123",
            "firstName": " Ann ",
            "last_name": "Lee",
            "timezone": "Europe/Berlin",
            "locale": "de-de",
            "plan": "pro",
            "seats": 5,
        }
    )
    assert update.core == {
        "email": "ann@example.com",
        "phone": "+14155550123",
        "first_name": "Ann",
        "last_name": "Lee",
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
    }
    assert update.attributes == {"plan": "pro", "seats": 5}


def test_null_or_empty_core_trait_unsets_the_field_and_null_attribute_removes_it() -> None:
    update = parse_traits({"email": None, "lastName": "", "plan": None})
    assert update.core == {"email": None, "last_name": None}
    assert update.attributes == {"plan": None}


def test_a_blank_core_trait_unsets_the_field_rather_than_storing_an_empty_name() -> None:
    update = parse_traits({"firstName": "   ", "last_name": "\t", "email": " ", "locale": " "})
    assert update.core == {"first_name": None, "last_name": None, "email": None, "locale": None}


@pytest.mark.parametrize(
    ("traits", "path", "field"),
    [
        ({"email": "not-an-address"}, "traits", "traits.email"),
        ({"phone": "555-0123"}, "traits", "traits.phone"),
        ({"timezone": "Mars/Olympus"}, "batch[3].traits", "batch[3].traits.timezone"),
        ({"locale": "klingon"}, "", "locale"),
        ({"firstName": "x" * (MAX_NAME_LENGTH + 1)}, "traits", "traits.firstName"),
        ({"last_name": "y" * (MAX_NAME_LENGTH + 1)}, "", "last_name"),
        ({"email": 42}, "traits", "traits.email"),
        ({"phone": ["+14155550123"]}, "traits", "traits.phone"),
    ],
)
def test_a_bad_core_trait_is_rejected_naming_its_field(
    traits: dict[str, object], path: str, field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        parse_traits(traits, path)
    assert [e.field for e in caught.value.errors] == [field]
    assert caught.value.errors[0].message


def test_every_bad_trait_is_reported_at_once() -> None:
    with pytest.raises(Invalid) as caught:
        parse_traits({"email": "nope", "plan": "pro", "phone": "12", "locale": "de"})
    assert sorted(e.field for e in caught.value.errors) == ["traits.email", "traits.phone"]


def test_a_name_may_be_as_long_as_the_limit_and_is_trimmed() -> None:
    name = "n" * MAX_NAME_LENGTH
    assert parse_traits({"firstName": f"  {name}  "}).core == {"first_name": name}


def test_attribute_changes_merge_and_null_removes_without_touching_the_original() -> None:
    current = {"plan": "free", "seats": 1, "beta": True}
    merged = apply_attributes(current, {"plan": "pro", "beta": None, "trial_days": 14, "missing": None})
    assert merged == {"plan": "pro", "seats": 1, "trial_days": 14}
    assert current == {"plan": "free", "seats": 1, "beta": True}


def test_an_empty_trait_update_is_empty() -> None:
    assert TraitUpdate().is_empty()
    assert not parse_traits({"plan": "pro"}).is_empty()
