"""Back-office services around the charging server (BSS): the directory of customers, care
operations and their audit trail, bills and their payment state, reports. The TM Forum REST
APIs (:mod:`ocs.tmf`), the portal (:mod:`ocs.portal`) and the CLI call these, with the same
roles as the gRPC APIs; none of them touches Redis."""
