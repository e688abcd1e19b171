"""Numbers of the Diameter protocol: commands, applications, result codes, flags.

Values come from RFC 6733 (base), RFC 8506 (credit control), 3GPP TS 32.299
(Ro/Gy) and TS 29.219 (Sy); ``tests/diameter/test_constants.py`` checks every
one of them against python-diameter's constants.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

VENDOR_3GPP = 10415
"""3GPP's IANA enterprise number, the Vendor-Id of all 3GPP AVPs."""

DIAMETER_VERSION = 1
HEADER_LENGTH = 20


class CommandFlag(IntFlag):
    """Bits of the header's Command Flags field (RFC 6733 section 3)."""

    REQUEST = 0x80
    PROXIABLE = 0x40
    ERROR = 0x20
    RETRANSMITTED = 0x10


class AvpFlag(IntFlag):
    """Bits of an AVP's flags field (RFC 6733 section 4.1)."""

    VENDOR = 0x80
    MANDATORY = 0x40
    PROTECTED = 0x20


class Application(IntEnum):
    """Application ids of the header and the *-Application-Id AVPs."""

    COMMON = 0
    """Base protocol messages (CER, DWR, DPR) use application 0."""
    BASE_ACCOUNTING = 3
    CREDIT_CONTROL = 4
    """RFC 8506; 3GPP Ro and Gy use it too."""
    SY = 16777302
    """3GPP TS 29.219, a vendor-specific application (Vendor-Id 10415)."""
    RELAY = 0xFFFFFFFF


class Command(IntEnum):
    """Command codes (RFC 6733 section 3.1, RFC 8506 section 3, TS 29.219)."""

    CAPABILITIES_EXCHANGE = 257
    RE_AUTH = 258
    ACCOUNTING = 271
    CREDIT_CONTROL = 272
    ABORT_SESSION = 274
    SESSION_TERMINATION = 275
    DEVICE_WATCHDOG = 280
    DISCONNECT_PEER = 282
    SPENDING_LIMIT = 8388635
    SPENDING_STATUS_NOTIFICATION = 8388636


_ABBREVIATIONS: dict[int, tuple[str, str]] = {
    Command.CAPABILITIES_EXCHANGE: ("CER", "CEA"),
    Command.RE_AUTH: ("RAR", "RAA"),
    Command.ACCOUNTING: ("ACR", "ACA"),
    Command.CREDIT_CONTROL: ("CCR", "CCA"),
    Command.ABORT_SESSION: ("ASR", "ASA"),
    Command.SESSION_TERMINATION: ("STR", "STA"),
    Command.DEVICE_WATCHDOG: ("DWR", "DWA"),
    Command.DISCONNECT_PEER: ("DPR", "DPA"),
    Command.SPENDING_LIMIT: ("SLR", "SLA"),
    Command.SPENDING_STATUS_NOTIFICATION: ("SNR", "SNA"),
}


def command_name(code: int, is_request: bool) -> str:
    """``CCR``/``CCA`` style name of a command, or its number when unknown."""
    names = _ABBREVIATIONS.get(code)
    if names is None:
        return f"{code}{'R' if is_request else 'A'}"
    return names[0] if is_request else names[1]


class ResultCode(IntEnum):
    """Result-Code values (RFC 6733 section 7.1, RFC 8506 section 9)."""

    DIAMETER_MULTI_ROUND_AUTH = 1001
    DIAMETER_SUCCESS = 2001
    DIAMETER_LIMITED_SUCCESS = 2002
    # Protocol errors: answers carry the E bit (RFC 6733 section 7.1.3).
    DIAMETER_COMMAND_UNSUPPORTED = 3001
    DIAMETER_UNABLE_TO_DELIVER = 3002
    DIAMETER_REALM_NOT_SERVED = 3003
    DIAMETER_TOO_BUSY = 3004
    DIAMETER_LOOP_DETECTED = 3005
    DIAMETER_REDIRECT_INDICATION = 3006
    DIAMETER_APPLICATION_UNSUPPORTED = 3007
    DIAMETER_INVALID_HDR_BITS = 3008
    DIAMETER_INVALID_AVP_BITS = 3009
    DIAMETER_UNKNOWN_PEER = 3010
    # Transient failures.
    DIAMETER_AUTHENTICATION_REJECTED = 4001
    DIAMETER_OUT_OF_SPACE = 4002
    DIAMETER_ELECTION_LOST = 4003
    DIAMETER_END_USER_SERVICE_DENIED = 4010
    DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE = 4011
    DIAMETER_CREDIT_LIMIT_REACHED = 4012
    # Permanent failures.
    DIAMETER_AVP_UNSUPPORTED = 5001
    DIAMETER_UNKNOWN_SESSION_ID = 5002
    DIAMETER_AUTHORIZATION_REJECTED = 5003
    DIAMETER_INVALID_AVP_VALUE = 5004
    DIAMETER_MISSING_AVP = 5005
    DIAMETER_RESOURCES_EXCEEDED = 5006
    DIAMETER_CONTRADICTING_AVPS = 5007
    DIAMETER_AVP_NOT_ALLOWED = 5008
    DIAMETER_AVP_OCCURS_TOO_MANY_TIMES = 5009
    DIAMETER_NO_COMMON_APPLICATION = 5010
    DIAMETER_UNSUPPORTED_VERSION = 5011
    DIAMETER_UNABLE_TO_COMPLY = 5012
    DIAMETER_INVALID_BIT_IN_HEADER = 5013
    DIAMETER_INVALID_AVP_LENGTH = 5014
    DIAMETER_INVALID_MESSAGE_LENGTH = 5015
    DIAMETER_INVALID_AVP_BIT_COMBO = 5016
    DIAMETER_NO_COMMON_SECURITY = 5017
    DIAMETER_USER_UNKNOWN = 5030
    DIAMETER_RATING_FAILED = 5031


def is_protocol_error(result_code: int) -> bool:
    """3xxx codes are protocol errors: their answers set the E bit (section 7.2)."""
    return 3000 <= result_code < 4000


class DisconnectCause(IntEnum):
    """Disconnect-Cause values (RFC 6733 section 5.4.3)."""

    REBOOTING = 0
    BUSY = 1
    DO_NOT_WANT_TO_TALK_TO_YOU = 2


class CcRequestType(IntEnum):
    """CC-Request-Type values (RFC 8506 section 8.3)."""

    INITIAL_REQUEST = 1
    UPDATE_REQUEST = 2
    TERMINATION_REQUEST = 3
    EVENT_REQUEST = 4


class RequestedAction(IntEnum):
    """Requested-Action values (RFC 8506 section 8.41)."""

    DIRECT_DEBITING = 0
    REFUND_ACCOUNT = 1
    CHECK_BALANCE = 2
    PRICE_ENQUIRY = 3


class SubscriptionIdType(IntEnum):
    """Subscription-Id-Type values (RFC 8506 section 8.47)."""

    END_USER_E164 = 0
    END_USER_IMSI = 1
    END_USER_SIP_URI = 2
    END_USER_NAI = 3
    END_USER_PRIVATE = 4


class FinalUnitAction(IntEnum):
    """Final-Unit-Action values (RFC 8506 section 8.35)."""

    TERMINATE = 0
    REDIRECT = 1
    RESTRICT_ACCESS = 2


class ReAuthRequestType(IntEnum):
    """Re-Auth-Request-Type values (RFC 6733 section 8.12)."""

    AUTHORIZE_ONLY = 0
    AUTHORIZE_AUTHENTICATE = 1
