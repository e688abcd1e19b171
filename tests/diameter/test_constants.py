"""Every number in ocs.diameter.constants agrees with python-diameter's constants."""

from __future__ import annotations

from diameter.message import constants as pd

from ocs.diameter.constants import (
    VENDOR_3GPP,
    Application,
    CcRequestType,
    Command,
    DisconnectCause,
    FinalUnitAction,
    ReAuthRequestType,
    RequestedAction,
    ResultCode,
    SubscriptionIdType,
    command_name,
    is_protocol_error,
)


def test_result_codes_match_python_diameter() -> None:
    for code in ResultCode:
        assert getattr(pd, f"E_RESULT_CODE_{code.name}") == code.value, code.name


def test_commands_and_applications_match_python_diameter() -> None:
    for command in Command:
        assert getattr(pd, f"CMD_{command.name}") == command.value, command.name
    assert pd.APP_DIAMETER_COMMON_MESSAGES == Application.COMMON
    assert pd.APP_DIAMETER_BASE_ACCOUNTING == Application.BASE_ACCOUNTING
    assert pd.APP_DIAMETER_CREDIT_CONTROL_APPLICATION == Application.CREDIT_CONTROL
    assert pd.APP_3GPP_SY == Application.SY
    assert pd.APP_RELAY == Application.RELAY
    assert pd.VENDOR_TGPP == VENDOR_3GPP


def test_enumerations_match_python_diameter() -> None:
    for enum, prefix in [
        (DisconnectCause, "E_DISCONNECT_CAUSE_"),
        (CcRequestType, "E_CC_REQUEST_TYPE_"),
        (RequestedAction, "E_REQUESTED_ACTION_"),
        (SubscriptionIdType, "E_SUBSCRIPTION_ID_TYPE_"),
        (FinalUnitAction, "E_FINAL_UNIT_ACTION_"),
        (ReAuthRequestType, "E_RE_AUTH_REQUEST_TYPE_"),
    ]:
        for member in enum:
            assert getattr(pd, prefix + member.name) == member.value, prefix + member.name


def test_protocol_errors_are_the_3xxx_codes() -> None:
    assert is_protocol_error(ResultCode.DIAMETER_TOO_BUSY)
    assert not is_protocol_error(ResultCode.DIAMETER_SUCCESS)
    assert not is_protocol_error(ResultCode.DIAMETER_MISSING_AVP)


def test_command_names_for_metrics() -> None:
    assert command_name(272, True) == "CCR"
    assert command_name(272, False) == "CCA"
    assert command_name(280, True) == "DWR"
    assert command_name(123456, False) == "123456A"
