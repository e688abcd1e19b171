"""The grammars ocs ships, in the standards' own CCF text.

Base protocol (RFC 6733): CER/CEA, DWR/DWA, DPR/DPA for application 0, and
RAR/RAA, ASR/ASA, STR/STA; credit control (RFC 8506 section 3, with the 3GPP
TS 32.299 section 6.4 additions for Ro/Gy) for application 4; Sy (TS 29.219
section 5.6) for application 16777302; and the grammars of the grouped AVPs
these use. ``*[ AVP ]`` keeps every grammar open to extensions, so the 3GPP
additions mainly bound how often an AVP may occur.

:func:`default_grammars` returns a fresh registry holding all of them;
applications may add or replace grammars on their own registry.
"""

from __future__ import annotations

from ocs.diameter.constants import (
    Application,
    CcRequestType,
    DisconnectCause,
    ReAuthRequestType,
    RequestedAction,
    SubscriptionIdType,
)
from ocs.diameter.grammar import Grammar, Grammars, parse

BASE_COMMANDS = """
<CER> ::= < Diameter Header: 257, REQ >
    { Origin-Host } { Origin-Realm } 1* { Host-IP-Address } { Vendor-Id } { Product-Name }
    [ Origin-State-Id ] * [ Supported-Vendor-Id ] * [ Auth-Application-Id ]
    * [ Inband-Security-Id ] * [ Acct-Application-Id ] * [ Vendor-Specific-Application-Id ]
    [ Firmware-Revision ] * [ AVP ]
;
<CEA> ::= < Diameter Header: 257 >
    { Result-Code } { Origin-Host } { Origin-Realm } 1* { Host-IP-Address } { Vendor-Id }
    { Product-Name } [ Origin-State-Id ] [ Error-Message ] [ Failed-AVP ]
    * [ Supported-Vendor-Id ] * [ Auth-Application-Id ] * [ Inband-Security-Id ]
    * [ Acct-Application-Id ] * [ Vendor-Specific-Application-Id ] [ Firmware-Revision ]
    * [ AVP ]
;
<DWR> ::= < Diameter Header: 280, REQ >
    { Origin-Host } { Origin-Realm } [ Origin-State-Id ] * [ AVP ]
;
<DWA> ::= < Diameter Header: 280 >
    { Result-Code } { Origin-Host } { Origin-Realm } [ Error-Message ] [ Failed-AVP ]
    [ Origin-State-Id ] * [ AVP ]
;
<DPR> ::= < Diameter Header: 282, REQ >
    { Origin-Host } { Origin-Realm } { Disconnect-Cause } * [ AVP ]
;
<DPA> ::= < Diameter Header: 282 >
    { Result-Code } { Origin-Host } { Origin-Realm } [ Error-Message ] [ Failed-AVP ] * [ AVP ]
"""

SESSION_COMMANDS = """
<RAR> ::= < Diameter Header: 258, REQ, PXY >
    < Session-Id > [ DRMP ] { Origin-Host } { Origin-Realm } { Destination-Realm }
    { Destination-Host } { Auth-Application-Id } { Re-Auth-Request-Type } [ User-Name ]
    [ Origin-State-Id ] * [ Proxy-Info ] * [ Route-Record ] * [ AVP ]
;
<RAA> ::= < Diameter Header: 258, PXY >
    < Session-Id > [ DRMP ] { Result-Code } { Origin-Host } { Origin-Realm } [ User-Name ]
    [ Origin-State-Id ] [ Error-Message ] [ Error-Reporting-Host ] [ Failed-AVP ]
    * [ Redirect-Host ] [ Redirect-Host-Usage ] [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ] * [ AVP ]
;
<ASR> ::= < Diameter Header: 274, REQ, PXY >
    < Session-Id > [ DRMP ] { Origin-Host } { Origin-Realm } { Destination-Realm }
    { Destination-Host } { Auth-Application-Id } [ User-Name ] [ Origin-State-Id ]
    * [ Proxy-Info ] * [ Route-Record ] * [ AVP ]
;
<ASA> ::= < Diameter Header: 274, PXY >
    < Session-Id > [ DRMP ] { Result-Code } { Origin-Host } { Origin-Realm } [ User-Name ]
    [ Origin-State-Id ] [ Error-Message ] [ Error-Reporting-Host ] [ Failed-AVP ]
    * [ Redirect-Host ] [ Redirect-Host-Usage ] [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ] * [ AVP ]
;
<STR> ::= < Diameter Header: 275, REQ, PXY >
    < Session-Id > [ DRMP ] { Origin-Host } { Origin-Realm } { Destination-Realm }
    { Auth-Application-Id } { Termination-Cause } [ User-Name ] [ Destination-Host ]
    * [ Class ] [ Origin-State-Id ] * [ Proxy-Info ] * [ Route-Record ] * [ AVP ]
;
<STA> ::= < Diameter Header: 275, PXY >
    < Session-Id > [ DRMP ] { Result-Code } { Origin-Host } { Origin-Realm } [ User-Name ]
    * [ Class ] [ Error-Message ] [ Error-Reporting-Host ] [ Failed-AVP ] [ Origin-State-Id ]
    * [ Redirect-Host ] [ Redirect-Host-Usage ] [ Redirect-Max-Cache-Time ]
    * [ Proxy-Info ] * [ AVP ]
"""

CREDIT_CONTROL_COMMANDS = """
<Credit-Control-Request> ::= < Diameter Header: 272, REQ, PXY >
    < Session-Id > [ DRMP ] { Origin-Host } { Origin-Realm } { Destination-Realm }
    { Auth-Application-Id } { Service-Context-Id } { CC-Request-Type } { CC-Request-Number }
    [ Destination-Host ] [ User-Name ] [ CC-Sub-Session-Id ] [ Acct-Multi-Session-Id ]
    [ Origin-State-Id ] [ Event-Timestamp ] *[ Subscription-Id ] *[ Subscription-Id-Extension ]
    [ Service-Identifier ] [ Termination-Cause ] [ Requested-Service-Unit ]
    [ Requested-Action ] [ AoC-Request-Type ] *[ Used-Service-Unit ]
    [ Multiple-Services-Indicator ] *[ Multiple-Services-Credit-Control ]
    *[ Service-Parameter-Info ] [ CC-Correlation-Id ] [ User-Equipment-Info ]
    [ User-Equipment-Info-Extension ] [ OC-Supported-Features ] *[ Proxy-Info ]
    *[ Route-Record ] [ Service-Information ] *[ AVP ]
;
<Credit-Control-Answer> ::= < Diameter Header: 272, PXY >
    < Session-Id > [ DRMP ] { Result-Code } { Origin-Host } { Origin-Realm }
    { Auth-Application-Id } { CC-Request-Type } { CC-Request-Number } [ User-Name ]
    [ CC-Session-Failover ] [ CC-Sub-Session-Id ] [ Acct-Multi-Session-Id ]
    [ Origin-State-Id ] [ Event-Timestamp ] [ Granted-Service-Unit ]
    *[ Multiple-Services-Credit-Control ] [ Cost-Information ] [ Final-Unit-Indication ]
    [ QoS-Final-Unit-Indication ] [ Check-Balance-Result ]
    [ Credit-Control-Failure-Handling ] [ Direct-Debiting-Failure-Handling ]
    [ Validity-Time ] *[ Redirect-Host ] [ Redirect-Host-Usage ] [ Redirect-Max-Cache-Time ]
    [ OC-Supported-Features ] *[ Proxy-Info ] *[ Route-Record ] *[ Failed-AVP ]
    [ Service-Information ] *[ AVP ]
"""

SY_COMMANDS = """
<Spending-Limit-Request> ::= < Diameter Header: 8388635, REQ, PXY >
    < Session-Id > [ DRMP ] { Auth-Application-Id } { Origin-Host } { Origin-Realm }
    { Destination-Realm } { SL-Request-Type } [ Destination-Host ] [ Origin-State-Id ]
    *[ Subscription-Id ] *[ Policy-Counter-Identifier ] *[ Supported-Features ]
    *[ Proxy-Info ] *[ Route-Record ] *[ AVP ]
;
<Spending-Limit-Answer> ::= < Diameter Header: 8388635, PXY >
    < Session-Id > [ DRMP ] { Origin-Host } { Origin-Realm } [ Result-Code ]
    [ Experimental-Result ] *[ Policy-Counter-Status-Report ] [ Error-Message ]
    [ Error-Reporting-Host ] [ Failed-AVP ] *[ Supported-Features ] *[ Proxy-Info ]
    *[ Route-Record ] *[ AVP ]
;
<Spending-Status-Notification-Request> ::= < Diameter Header: 8388636, REQ, PXY >
    < Session-Id > [ DRMP ] { Auth-Application-Id } { Origin-Host } { Origin-Realm }
    { Destination-Realm } { Destination-Host } [ Origin-State-Id ] [ SN-Request-Type ]
    *[ Policy-Counter-Status-Report ] *[ Supported-Features ] *[ Proxy-Info ]
    *[ Route-Record ] *[ AVP ]
;
<Spending-Status-Notification-Answer> ::= < Diameter Header: 8388636, PXY >
    < Session-Id > [ DRMP ] { Origin-Host } { Origin-Realm } [ Result-Code ]
    [ Experimental-Result ] [ Error-Message ] [ Error-Reporting-Host ] [ Failed-AVP ]
    *[ Supported-Features ] [ Origin-State-Id ] *[ Redirect-Host ] [ Redirect-Host-Usage ]
    [ Redirect-Max-Cache-Time ] *[ Proxy-Info ] *[ AVP ]
"""

GROUPED_AVPS = """
<Vendor-Specific-Application-Id> ::= < AVP Header: 260 >
    { Vendor-Id } [ Auth-Application-Id ] [ Acct-Application-Id ]
;
<Proxy-Info> ::= < AVP Header: 284 > { Proxy-Host } { Proxy-State } * [ AVP ]
;
<Experimental-Result> ::= < AVP Header: 297 > { Vendor-Id } { Experimental-Result-Code }
;
<Subscription-Id> ::= < AVP Header: 443 > { Subscription-Id-Type } { Subscription-Id-Data }
;
<User-Equipment-Info> ::= < AVP Header: 458 >
    { User-Equipment-Info-Type } { User-Equipment-Info-Value }
;
<Service-Parameter-Info> ::= < AVP Header: 440 >
    { Service-Parameter-Type } { Service-Parameter-Value }
;
<Multiple-Services-Credit-Control> ::= < AVP Header: 456 >
    [ Granted-Service-Unit ] [ Requested-Service-Unit ] *[ Used-Service-Unit ]
    [ Tariff-Change-Usage ] *[ Service-Identifier ] [ Rating-Group ]
    *[ G-S-U-Pool-Reference ] [ Validity-Time ] [ Result-Code ] [ Final-Unit-Indication ]
    [ QoS-Final-Unit-Indication ] [ Time-Quota-Threshold ] [ Volume-Quota-Threshold ]
    [ Unit-Quota-Threshold ] [ Quota-Holding-Time ] [ Quota-Consumption-Time ]
    *[ Reporting-Reason ] [ Trigger ] *[ Envelope ] *[ Service-Specific-Info ]
    [ 3GPP-RAT-Type ] *[ AVP ]
;
<Granted-Service-Unit> ::= < AVP Header: 431 >
    [ Tariff-Time-Change ] [ CC-Time ] [ CC-Money ] [ CC-Total-Octets ] [ CC-Input-Octets ]
    [ CC-Output-Octets ] [ CC-Service-Specific-Units ] *[ AVP ]
;
<Requested-Service-Unit> ::= < AVP Header: 437 >
    [ CC-Time ] [ CC-Money ] [ CC-Total-Octets ] [ CC-Input-Octets ] [ CC-Output-Octets ]
    [ CC-Service-Specific-Units ] *[ AVP ]
;
<Used-Service-Unit> ::= < AVP Header: 446 >
    [ Tariff-Change-Usage ] [ CC-Time ] [ CC-Money ] [ CC-Total-Octets ] [ CC-Input-Octets ]
    [ CC-Output-Octets ] [ CC-Service-Specific-Units ] [ Reporting-Reason ]
    *[ Event-Charging-TimeStamp ] *[ AVP ]
;
<CC-Money> ::= < AVP Header: 413 > { Unit-Value } [ Currency-Code ]
;
<Unit-Value> ::= < AVP Header: 445 > { Value-Digits } [ Exponent ]
;
<Cost-Information> ::= < AVP Header: 423 > { Unit-Value } { Currency-Code } [ Cost-Unit ]
;
<G-S-U-Pool-Reference> ::= < AVP Header: 457 >
    { G-S-U-Pool-Identifier } { CC-Unit-Type } { Unit-Value }
;
<Final-Unit-Indication> ::= < AVP Header: 430 >
    { Final-Unit-Action } *[ Restriction-Filter-Rule ] *[ Filter-Id ] [ Redirect-Server ]
;
<Redirect-Server> ::= < AVP Header: 434 > { Redirect-Address-Type } { Redirect-Server-Address }
;
<Trigger> ::= < AVP Header: 1264 10415 > *[ Trigger-Type ] *[ AVP ]
;
<Service-Information> ::= < AVP Header: 873 10415 >
    *[ Subscription-Id ] [ AoC-Information ] [ PS-Information ] [ IMS-Information ]
    [ MMS-Information ] [ LCS-Information ] [ PoC-Information ] [ MBMS-Information ]
    [ SMS-Information ] [ MMTel-Information ] [ ProSe-Information ] *[ AVP ]
;
<Policy-Counter-Status-Report> ::= < AVP Header: 2903 10415 >
    { Policy-Counter-Identifier } { Policy-Counter-Status }
    *[ Pending-Policy-Counter-Information ] *[ AVP ]
;
<Pending-Policy-Counter-Information> ::= < AVP Header: 2905 10415 >
    { Policy-Counter-Status } { Pending-Policy-Counter-Change-Time } *[ AVP ]
"""

_VALUES: dict[str, dict[str, list[int]]] = {
    "Credit-Control-Request": {
        "CC-Request-Type": list(CcRequestType),
        "Requested-Action": list(RequestedAction),
        "Multiple-Services-Indicator": [0, 1],
    },
    "Subscription-Id": {"Subscription-Id-Type": list(SubscriptionIdType)},
    "DPR": {"Disconnect-Cause": list(DisconnectCause)},
    "RAR": {"Re-Auth-Request-Type": list(ReAuthRequestType)},
}
"""Enumerated values the grammars accept (DIAMETER_INVALID_AVP_VALUE otherwise)."""


def _parse_all(text: str) -> list[Grammar]:
    grammars = []
    for definition in text.split(";"):
        if definition.strip():
            name = definition.split(">", 1)[0].split("<", 1)[1].strip()
            grammars.append(parse(definition, values=_VALUES.get(name)))
    return grammars


def default_grammars() -> Grammars:
    """A new registry with every grammar above."""
    grammars = Grammars()
    for grammar in _parse_all(BASE_COMMANDS):
        grammars.add_command(Application.COMMON, grammar)
    for application in (Application.CREDIT_CONTROL, Application.SY):
        for grammar in _parse_all(SESSION_COMMANDS):
            grammars.add_command(application, grammar)
    for grammar in _parse_all(CREDIT_CONTROL_COMMANDS):
        grammars.add_command(Application.CREDIT_CONTROL, grammar)
    for grammar in _parse_all(SY_COMMANDS):
        grammars.add_command(Application.SY, grammar)
    for grammar in _parse_all(GROUPED_AVPS):
        grammars.add_avp(grammar)
    return grammars
