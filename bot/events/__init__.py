"""Events: setting one up for a channel, finding it again, and the people in it with their roles."""
