"""Questions: asking, voting, moderating, the queue to ask aloud, and the chair's digest."""
