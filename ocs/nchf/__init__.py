"""The 5G CHF adapter: Nchf_ConvergedCharging (TS 32.290, TS 32.291) over HTTP/2.

problems.py  RFC 7807 problem details and the TS 32.291 / TS 29.500 causes
messages.py  ChargingDataRequest <-> ChargingRequest, ChargingResult -> ChargingDataResponse
records.py   request numbers, retransmissions and notifyUri of a resource, in Redis
service.py   create / update / release on the charging core
server.py    the HTTP/2 server (granian, embedded in the event loop)
notify.py    ChargingNotifyRequest to consumers (REAUTHORIZATION, ABORT_CHARGING)
nrf.py       optional NRF registration as a CHF, heartbeats
app.py       the subsystem that assembles them
"""
