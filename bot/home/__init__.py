"""Home: the tab where each person finds their events, questions, follow-ups and reflections."""
