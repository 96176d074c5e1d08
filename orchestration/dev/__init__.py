"""For a newcomer's first run: the demo (``equity demo``) and the sample-data generator."""
