"""The BSS schema, one numbered migration at a time (applied once, in order, in one
transaction each; see :class:`ocs.bss.database.BssDatabase`). Never edit a released one:
add the next. Times are epoch milliseconds, money integer minor units."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "directory, activity, portal users, payments, bills, tickets, hub, outbox",
        [
            "CREATE TABLE bss_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            # where the event feed has read each partition stream to
            "CREATE TABLE feed_positions (partition INTEGER PRIMARY KEY, stream_id TEXT NOT NULL)",
            # the directory: a search index of the balance engine's records (rebuilt from them)
            """CREATE TABLE directory_customers (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL,
                email TEXT NOT NULL, segment TEXT NOT NULL, updated_ms BIGINT NOT NULL)""",
            "CREATE INDEX directory_customers_name ON directory_customers (name_key)",
            """CREATE TABLE directory_accounts (
                id TEXT PRIMARY KEY, customer TEXT NOT NULL, postpaid INTEGER NOT NULL,
                updated_ms BIGINT NOT NULL)""",
            "CREATE INDEX directory_accounts_customer ON directory_accounts (customer)",
            """CREATE TABLE directory_subscribers (
                id TEXT PRIMARY KEY, account TEXT NOT NULL, customer TEXT NOT NULL,
                msisdn TEXT NOT NULL, imsi TEXT NOT NULL, status TEXT NOT NULL,
                updated_ms BIGINT NOT NULL)""",
            "CREATE INDEX directory_subscribers_msisdn ON directory_subscribers (msisdn)",
            "CREATE INDEX directory_subscribers_imsi ON directory_subscribers (imsi)",
            "CREATE INDEX directory_subscribers_customer ON directory_subscribers (customer)",
            # what happened to a customer: agent actions (audit) and workflow steps (dunning,
            # payments, tickets), one row each
            """CREATE TABLE activity (
                id TEXT PRIMARY KEY, ts BIGINT NOT NULL, actor TEXT NOT NULL,
                customer TEXT NOT NULL, account TEXT NOT NULL, subscriber TEXT NOT NULL,
                action TEXT NOT NULL, detail TEXT NOT NULL)""",
            "CREATE INDEX activity_customer ON activity (customer, ts)",
            "CREATE INDEX activity_account ON activity (account, ts)",
            # people who sign in to the portal
            """CREATE TABLE portal_users (
                id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                name TEXT NOT NULL, customer TEXT NOT NULL, account TEXT NOT NULL,
                password_hash TEXT NOT NULL, activation_hash TEXT NOT NULL,
                activation_expires BIGINT NOT NULL, created_ms BIGINT NOT NULL)""",
            """CREATE TABLE portal_sessions (
                id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf TEXT NOT NULL,
                created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL)""",
            # bills (the ledger's issued documents) and what was paid of them
            """CREATE TABLE bills (
                number TEXT PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL,
                customer TEXT NOT NULL, period TEXT NOT NULL, currency TEXT NOT NULL,
                total BIGINT NOT NULL, issued_ms BIGINT NOT NULL, due_ms BIGINT NOT NULL,
                paid BIGINT NOT NULL, credited BIGINT NOT NULL, reference TEXT NOT NULL,
                state TEXT NOT NULL, dunning_step INTEGER NOT NULL, settled_ms BIGINT NOT NULL)""",
            "CREATE INDEX bills_reference ON bills (reference)",
            # subscribers that dunning barred (restored when the account has paid)
            """CREATE TABLE dunning_bars (
                subscriber TEXT PRIMARY KEY, account TEXT NOT NULL, bill TEXT NOT NULL,
                ts BIGINT NOT NULL)""",
            "CREATE INDEX bills_account ON bills (account, issued_ms)",
            "CREATE INDEX bills_state ON bills (state, due_ms)",
            # checkouts we started with a provider, and the payments it confirmed
            """CREATE TABLE payment_intents (
                id TEXT PRIMARY KEY, account TEXT NOT NULL, bill TEXT NOT NULL,
                amount BIGINT NOT NULL, currency TEXT NOT NULL, state TEXT NOT NULL,
                created_by TEXT NOT NULL, created_ms BIGINT NOT NULL)""",
            """CREATE TABLE payments (
                provider_id TEXT PRIMARY KEY, intent TEXT NOT NULL, account TEXT NOT NULL,
                bill TEXT NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,
                source TEXT NOT NULL, reference TEXT NOT NULL, received_ms BIGINT NOT NULL,
                digest TEXT NOT NULL)""",
            "CREATE INDEX payments_account ON payments (account, received_ms)",
            "CREATE INDEX payments_received ON payments (received_ms)",
            # webhook nonces seen (replay protection inside the tolerance window)
            """CREATE TABLE webhook_nonces (
                signature TEXT PRIMARY KEY, received_ms BIGINT NOT NULL)""",
            # trouble tickets
            """CREATE TABLE tickets (
                id TEXT PRIMARY KEY, customer TEXT NOT NULL, account TEXT NOT NULL,
                category TEXT NOT NULL, severity TEXT NOT NULL, name TEXT NOT NULL,
                description TEXT NOT NULL, state TEXT NOT NULL, assignee TEXT NOT NULL,
                bill TEXT NOT NULL, created_by TEXT NOT NULL, created_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL, due_ms BIGINT NOT NULL, resolved_ms BIGINT NOT NULL,
                resolution TEXT NOT NULL)""",
            "CREATE INDEX tickets_customer ON tickets (customer, created_ms)",
            "CREATE INDEX tickets_state ON tickets (state, due_ms)",
            """CREATE TABLE ticket_notes (
                id TEXT PRIMARY KEY, ticket TEXT NOT NULL, ts BIGINT NOT NULL,
                author TEXT NOT NULL, text TEXT NOT NULL)""",
            "CREATE INDEX ticket_notes_ticket ON ticket_notes (ticket, ts)",
            """CREATE TABLE ticket_attachments (
                id TEXT PRIMARY KEY, ticket TEXT NOT NULL, name TEXT NOT NULL,
                mime TEXT NOT NULL, size BIGINT NOT NULL, content {blob} NOT NULL,
                author TEXT NOT NULL, ts BIGINT NOT NULL)""",
            "CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket)",
            # credit notes asked for (four eyes above the configured amount)
            """CREATE TABLE credit_requests (
                id TEXT PRIMARY KEY, ticket TEXT NOT NULL, account TEXT NOT NULL,
                bill TEXT NOT NULL, amount BIGINT NOT NULL, reason TEXT NOT NULL,
                state TEXT NOT NULL, requested_by TEXT NOT NULL, approved_by TEXT NOT NULL,
                created_ms BIGINT NOT NULL, decided_ms BIGINT NOT NULL,
                document TEXT NOT NULL)""",
            "CREATE INDEX credit_requests_state ON credit_requests (state, created_ms)",
            # TMF event subscriptions (POST /hub)
            """CREATE TABLE hub_subscriptions (
                id TEXT PRIMARY KEY, api TEXT NOT NULL, callback TEXT NOT NULL,
                query TEXT NOT NULL, secret TEXT NOT NULL, owner TEXT NOT NULL,
                created_ms BIGINT NOT NULL)""",
            # what is to be delivered (webhooks, e-mails), at least once, with retries
            """CREATE TABLE outbox (
                id TEXT PRIMARY KEY, channel TEXT NOT NULL, target TEXT NOT NULL,
                event_id TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL,
                next_ms BIGINT NOT NULL, state TEXT NOT NULL, last_error TEXT NOT NULL,
                created_ms BIGINT NOT NULL, UNIQUE (channel, target, event_id))""",
            "CREATE INDEX outbox_due ON outbox (state, next_ms)",
        ],
    ),
]
