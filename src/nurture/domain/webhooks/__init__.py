"""Outbound webhooks: endpoints and the events they subscribe to, Standard Webhooks signing, and the
retry schedule of deliveries."""
