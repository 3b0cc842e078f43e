"""The live event: the welcome, each agenda item, the prompts and the close, at the chair's pace."""
