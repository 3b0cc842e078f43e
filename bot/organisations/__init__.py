"""Organisations: who each person counts for at an event, and whose voices are heard."""
