"""Diameter (RFC 6733): sans-I/O codec, dictionary, peer state machine, dispatch, asyncio transport.

One job per module (see docs/diameter.md):

    constants     command codes, application ids, Result-Codes, flags
    values        the AVP data types: Python values to bytes and back
    dictionary    AVP definitions (python-diameter's data plus a checked overlay)
    avps          keys (vendor << 32 | code) of the AVPs ocs reads and writes
    grammar       CCF grammars parsed from the standards' text, and their checks
    commands      the grammars shipped: base, CCR/CCA, RAR/RAA, ASR/ASA, STR/STA, Sy
    validation    RFC 6733 section 7 walk of a message, producing its layout
    codec         Message/Group: decode, read by key, answer, encode; layout cache
    framing       splits the byte stream into messages (frame before parsing)
    capabilities  CER/CEA: what we advertise, what a peer did, common applications
    peer          one connection's state machine: bytes in, events out, ``now`` in
    duplicates    answers kept per Origin-Host and End-to-End id
    traffic       dispatch of received requests: duplicates, admission, handlers, error answers
    transport     the asyncio Protocol: bytes between a socket and a peer, one timer
    server        DiameterServer: listeners, peer table, admission, shutdown
    metrics       ocs_diameter_* Prometheus metrics
    errors        the exception tree
"""
