"""Reflections: what attendees say in answer to the prompts, in threads or privately."""
