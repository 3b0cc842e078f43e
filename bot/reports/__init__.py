"""The event report: who took part, what became of the questions, reminders and follow-ups."""
