"""One key per person and kind: email lower-cased, phone numbers in E.164,
platform ids trimmed; anything else is refused with a clear error."""

from __future__ import annotations

import pytest

from cases.identities import IdentityKind, InvalidIdentity, normalize_identity

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg


@pytest.mark.parametrize(
    "address",
    [
        "maria@example.com",
        "Maria@Example.COM",
        "  MARIA@EXAMPLE.COM\t",
        "mailto:maria@example.com",
        "MAILTO:Maria@example.com",
    ],
)
def test_email_address_is_lower_cased_and_trimmed(address):
    assert normalize_identity("email", address) == "maria@example.com"


@pytest.mark.parametrize(
    ("address", "region"),
    [
        ("+34600123456", None),
        ("+34 600 123 456", None),
        ("+34-600-123-456", None),
        ("+34 (600) 12 34 56", None),
        ("whatsapp:+34600123456", None),
        ("WhatsApp:+34 600 123 456", None),
        ("tel:+34600123456", None),
        ("sms:+34600123456", None),
        (" +34600123456 ", None),
        ("0034600123456", "ES"),
        ("600 123 456", "ES"),
        ("+34600123456", "US"),  # an explicit country code wins over the region
    ],
)
def test_phone_number_is_written_in_e164(address, region):
    assert normalize_identity("phone", address, default_region=region) == "+34600123456"


def test_phone_number_of_another_country_keeps_its_code():
    assert normalize_identity("phone", "(415) 555-2671", default_region="US") == "+14155552671"
    assert normalize_identity("phone", "+44 20 7946 0958") == "+442079460958"


def test_platform_ids_are_trimmed_and_kept_as_they_are():
    assert normalize_identity("messenger", "  1234567890 ") == "1234567890"
    assert normalize_identity("external", "CRM-Abc") == "CRM-Abc"  # case matters in platform ids


@pytest.mark.parametrize(
    ("kind", "address", "says"),
    [
        ("email", "not-an-email", "not an email address: 'not-an-email'"),
        ("email", "two@@example.com", "not an email address"),
        ("email", "maria@example", "not an email address"),
        ("email", "maria smith@example.com", "not an email address"),
        ("email", "<maria@example.com>", "not an email address"),
        ("phone", "call me maybe", "not a phone number: 'call me maybe'"),
        ("phone", "0034600123456", "not a phone number: '0034600123456'"),  # no region to read it by
        ("phone", "600123456", "not a phone number"),
        ("phone", "+34 600", "not a possible phone number: '+34 600'"),
        ("phone", "+34 6001234567890123", "phone number: '+34 6001234567890123'"),
        ("external", "x" * 256, "longer than 255"),
    ],
)
def test_bad_address_is_refused_saying_why(kind, address, says):
    with pytest.raises(InvalidIdentity) as raised:
        normalize_identity(kind, address)
    assert says in str(raised.value)


@pytest.mark.parametrize("address", ["", "   ", None])
@pytest.mark.parametrize("kind", ["email", "phone", "web"])
def test_empty_address_is_refused(kind, address):
    with pytest.raises(InvalidIdentity, match=f"empty {kind} address"):
        normalize_identity(kind, address)


def test_unknown_kind_is_refused_naming_the_known_ones():
    with pytest.raises(InvalidIdentity) as raised:
        normalize_identity("fax", "+34600123456")
    assert "'fax'" in str(raised.value)
    for kind in IdentityKind.values:
        assert kind in str(raised.value)


def test_invalid_identity_is_a_value_error():
    assert issubclass(InvalidIdentity, ValueError)
