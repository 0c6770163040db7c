"""SMS transports: `send_many(config, messages) -> results`, one result per message, in order."""
