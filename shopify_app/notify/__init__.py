"""Notifications: the channels that send them, their rendering, the outbox and its worker."""
