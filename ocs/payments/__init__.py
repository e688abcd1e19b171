"""Electronic bill presentment and payment: the payment provider interface (a signed
webhook), ISO 20022 camt.053 bank statement import, and dunning."""
