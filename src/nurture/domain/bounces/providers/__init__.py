"""Delivery-event webhooks of email providers, each parsed into `DeliveryReport`s and verified by the
provider's own signature scheme."""
