"""Adapters to the outside: HTTP providers for SMS, webhook and Slack deliveries (SMTP for email)."""
