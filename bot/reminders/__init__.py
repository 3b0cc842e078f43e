"""Evaluation-form reminders: when and to whom, the delivery outbox, and what the DMs say."""
