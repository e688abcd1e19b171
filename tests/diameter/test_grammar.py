"""CCF grammars parse from the standards' text and check messages the RFC's way."""

from __future__ import annotations

import pytest

from ocs.diameter import avps
from ocs.diameter.commands import default_grammars
from ocs.diameter.constants import Application, Command, ResultCode
from ocs.diameter.grammar import Grammars, parse

EXAMPLE = """
<Example-Request> ::= < Diameter Header: 9999999, REQ, PXY >
                      < Session-Id >
                      { Origin-Host }
                   1* { Route-Record }
                    * [ Proxy-Info ]
                  0*2 [ Class ]
                      [ User-Name ]
"""
SID, HOST, ROUTE, PROXY, CLASS, USER = (
    avps.SESSION_ID,
    avps.ORIGIN_HOST,
    avps.ROUTE_RECORD,
    avps.PROXY_INFO,
    25,
    avps.USER_NAME,
)


def test_parse_reads_header_flags_and_qualifiers() -> None:
    grammar = parse(EXAMPLE)
    assert (grammar.name, grammar.code, grammar.request, grammar.proxiable) == (
        "Example-Request",
        9999999,
        True,
        True,
    )
    assert not grammar.any_avp
    limits = {rule.name: (rule.kind, rule.min, rule.max) for rule in grammar.rules}
    assert limits == {
        "Session-Id": ("fixed", 1, 1),
        "Origin-Host": ("required", 1, 1),
        "Route-Record": ("required", 1, None),
        "Proxy-Info": ("optional", 0, None),
        "Class": ("optional", 0, 2),
        "User-Name": ("optional", 0, 1),
    }


def test_grouped_avp_header_with_vendor() -> None:
    grammar = parse("<Trigger> ::= < AVP Header: 1264 10415 > *[ Trigger-Type ] *[ AVP ]")
    assert (grammar.is_avp, grammar.code, grammar.vendor, grammar.any_avp) == (
        True,
        1264,
        10415,
        True,
    )


@pytest.mark.parametrize(
    ("keys", "code", "culprit"),
    [
        ([SID, HOST, ROUTE], None, None),
        ([SID, HOST, ROUTE, ROUTE, CLASS, CLASS, USER, PROXY, PROXY], None, None),
        ([HOST, ROUTE], ResultCode.DIAMETER_MISSING_AVP, SID),
        ([SID, ROUTE], ResultCode.DIAMETER_MISSING_AVP, HOST),
        ([SID, HOST], ResultCode.DIAMETER_MISSING_AVP, ROUTE),
        ([HOST, SID, ROUTE], ResultCode.DIAMETER_MISSING_AVP, SID),
        ([SID, HOST, HOST, ROUTE], ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, HOST),
        (
            [SID, HOST, ROUTE, CLASS, CLASS, CLASS],
            ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
            CLASS,
        ),
        (
            [SID, HOST, ROUTE, avps.RESULT_CODE],
            ResultCode.DIAMETER_AVP_NOT_ALLOWED,
            avps.RESULT_CODE,
        ),
    ],
)
def test_check_reports_the_first_violation(
    keys: list[int], code: int | None, culprit: int | None
) -> None:
    violation = parse(EXAMPLE).check(keys)
    if code is None:
        assert violation is None
    else:
        assert violation is not None
        assert (violation.result_code, violation.key) == (code, culprit)


def test_too_many_points_at_the_first_extra_occurrence() -> None:
    violation = parse(EXAMPLE).check([SID, HOST, ROUTE, CLASS, USER, CLASS, CLASS])
    assert violation is not None and violation.occurrence == 6


def test_a_zero_maximum_forbids_the_avp() -> None:
    grammar = parse(
        "<X> ::= < Diameter Header: 1, REQ > { Origin-Host } 0*0 [ Result-Code ] *[ AVP ]"
    )
    violation = grammar.check([HOST, avps.RESULT_CODE])
    assert violation is not None and violation.result_code == ResultCode.DIAMETER_AVP_NOT_ALLOWED


def test_unbalanced_rules_and_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        parse("<X> ::= < Diameter Header: 1 > { Origin-Host ]")
    with pytest.raises(KeyError, match="No-Such"):
        parse("<X> ::= < Diameter Header: 1 > { No-Such }")
    with pytest.raises(ValueError, match="no CCF header"):
        parse("{ Origin-Host }")


def test_shipped_grammars_cover_the_commands_the_adapters_need() -> None:
    grammars = default_grammars()
    for application, command in [
        (Application.COMMON, Command.CAPABILITIES_EXCHANGE),
        (Application.COMMON, Command.DEVICE_WATCHDOG),
        (Application.COMMON, Command.DISCONNECT_PEER),
        (Application.CREDIT_CONTROL, Command.CREDIT_CONTROL),
        (Application.CREDIT_CONTROL, Command.RE_AUTH),
        (Application.CREDIT_CONTROL, Command.ABORT_SESSION),
        (Application.SY, Command.SPENDING_LIMIT),
        (Application.SY, Command.SPENDING_STATUS_NOTIFICATION),
    ]:
        for request in (True, False):
            assert grammars.command(application, command, request) is not None
    ccr = grammars.command(Application.CREDIT_CONTROL, Command.CREDIT_CONTROL, True)
    assert ccr is not None and ccr.proxiable and ccr.any_avp
    assert ccr.values[avps.CC_REQUEST_TYPE] == frozenset({1, 2, 3, 4})
    assert grammars.avp(avps.MULTIPLE_SERVICES_CREDIT_CONTROL) is not None
    cer = grammars.command(Application.COMMON, Command.CAPABILITIES_EXCHANGE, True)
    assert cer is not None and not cer.proxiable


def test_registry_versions_change_on_registration() -> None:
    grammars = Grammars()
    before = grammars.version
    grammars.add_command(0, parse(EXAMPLE))
    assert grammars.version == before + 1
    with pytest.raises(ValueError):
        grammars.add_avp(parse(EXAMPLE))
