"""The Gy/Ro adapter (RFC 8506, 3GPP TS 32.299): Credit-Control-Requests in, the charging
core's decisions out as Credit-Control-Answers (``messages``), and the Diameter application
that receives them and sends RAR/ASR (``application``). The Diameter base protocol it rides on
is ``ocs.diameter``."""
