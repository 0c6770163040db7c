"""Messages: the outbox row's vocabulary, the dispatch policies, and what comes back from channels."""
