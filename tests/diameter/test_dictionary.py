"""The dictionary is python-diameter's data plus a checked overlay, and is consistent."""

from __future__ import annotations

from collections import Counter

import pytest
from diameter.message.avp.dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY

from ocs.diameter import avps
from ocs.diameter.constants import VENDOR_3GPP
from ocs.diameter.dictionary import DICTIONARY, AvpDef, Dictionary
from ocs.diameter.values import AvpType
from tests.diameter.rfc_tables import BASE, CC

_RFC_TYPES = {
    "OctetString": {AvpType.OCTET_STRING},
    "UTF8String": {AvpType.UTF8_STRING},
    "DiameterIdentity": {AvpType.DIAMETER_IDENTITY},
    "DiameterURI": {AvpType.DIAMETER_URI},
    "Unsigned32": {AvpType.UNSIGNED32},
    "Unsigned64": {AvpType.UNSIGNED64},
    "Integer32": {AvpType.INTEGER32},
    "Integer64": {AvpType.INTEGER64},
    "Enumerated": {AvpType.ENUMERATED},
    "Time": {AvpType.TIME},
    "Address": {AvpType.ADDRESS},
    "Grouped": {AvpType.GROUPED},
    "IPFilterRule": {AvpType.OCTET_STRING},
}


def test_names_and_codes_are_unique_per_vendor_and_every_type_is_known() -> None:
    names = Counter((d.name, d.vendor) for d in DICTIONARY)
    codes = Counter((d.code, d.vendor) for d in DICTIONARY)
    assert [n for n, count in names.items() if count > 1] == []
    assert [c for c, count in codes.items() if count > 1] == []
    for definition in DICTIONARY:
        assert isinstance(definition.type, AvpType), definition
        assert definition.name and definition.name.strip() == definition.name
        assert definition.key == definition.vendor << 32 | definition.code
        assert not (definition.mandatory and definition.must_not_mandatory), definition


def test_every_python_diameter_entry_is_present_with_its_code_and_vendor() -> None:
    expected = {(code, 0) for code in AVP_DICTIONARY}
    for vendor, table in AVP_VENDOR_DICTIONARY.items():
        expected |= {(code, vendor) for code in table}
    present = {(d.code, d.vendor) for d in DICTIONARY}
    assert expected <= present
    # Only the documented RFC 8506 additions are not from python-diameter.
    assert sorted(present - expected) == [(c, 0) for c in range(659, 665)]


@pytest.mark.parametrize(("name", "code", "rfc_type", "m_rule"), BASE + CC)
def test_base_and_credit_control_avps_follow_the_rfc_tables(
    name: str, code: int, rfc_type: str, m_rule: str
) -> None:
    definition = DICTIONARY.get(code)
    assert definition is not None
    assert definition.name == name
    assert definition.type in _RFC_TYPES[rfc_type]
    if m_rule == "M":
        assert definition.mandatory
    if m_rule == "-":
        assert not definition.mandatory and definition.must_not_mandatory


def test_the_3gpp_avps_of_the_issue_are_there() -> None:
    for name, avp_type in [
        ("Service-Information", AvpType.GROUPED),
        ("PS-Information", AvpType.GROUPED),
        ("IMS-Information", AvpType.GROUPED),
        ("SMS-Information", AvpType.GROUPED),
        ("Time-Quota-Threshold", AvpType.UNSIGNED32),
        ("Volume-Quota-Threshold", AvpType.UNSIGNED32),
        ("Quota-Holding-Time", AvpType.UNSIGNED32),
        ("Trigger", AvpType.GROUPED),
        ("Reporting-Reason", AvpType.INTEGER32),
        ("AoC-Information", AvpType.GROUPED),
        ("Policy-Counter-Status-Report", AvpType.GROUPED),
        ("Pending-Policy-Counter-Change-Time", AvpType.TIME),
    ]:
        definition = DICTIONARY.find(name)
        assert definition.vendor == VENDOR_3GPP, name
        assert definition.type == avp_type or avp_type == AvpType.INTEGER32, name


def test_find_prefers_the_base_then_3gpp_and_names_unknown_avps() -> None:
    assert DICTIONARY.find("Session-Id").key == 263
    assert DICTIONARY.find("3GPP-RAT-Type").key == VENDOR_3GPP << 32 | 21
    assert DICTIONARY.find("Rating-Group", vendor=0).code == 432
    with pytest.raises(KeyError, match="No-Such-AVP"):
        DICTIONARY.find("No-Such-AVP")
    with pytest.raises(KeyError, match="vendor 10415"):
        DICTIONARY.find("Session-Id", vendor=VENDOR_3GPP)


def test_duplicate_definitions_are_refused() -> None:
    one = AvpDef(1, 0, "A", AvpType.UNSIGNED32, mandatory=True)
    with pytest.raises(ValueError, match="two definitions"):
        Dictionary([one, AvpDef(1, 0, "B", AvpType.UNSIGNED32, mandatory=True)])
    with pytest.raises(ValueError, match="two AVPs named A"):
        Dictionary([one, AvpDef(2, 0, "A", AvpType.UNSIGNED32, mandatory=True)])


def test_avp_key_constants_resolve_to_their_names() -> None:
    for attribute in dir(avps):
        if attribute.isupper() and not attribute.startswith("_"):
            key = getattr(avps, attribute)
            definition = DICTIONARY.by_key(key)
            assert definition is not None, attribute
            expected = attribute.replace("TGPP_", "3GPP_").replace("_", "-")
            assert definition.name.upper() == expected, attribute


def test_encoding_sets_the_dictionary_flags() -> None:
    rating_group = DICTIONARY.find("Rating-Group")
    assert rating_group.encode(10) == bytes.fromhex("000001b0 4000000c 0000000a")
    rat_type = DICTIONARY.find("3GPP-RAT-Type")
    # V and M bits, Vendor-Id 10415, one octet of data padded to four.
    assert rat_type.encode(b"\x06") == bytes.fromhex("00000015 c000000d 000028af 06000000")
    product = DICTIONARY.find("Product-Name")
    assert product.encode("ocs")[4] == 0  # M MUST NOT be set (RFC 6733 section 4.5)
    assert rating_group.encode_flags(10, mandatory=False, protected=True)[4] == 0x20
