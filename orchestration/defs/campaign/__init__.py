"""The campaign: the weekday feed of top-scored contactable leads, its job and 06:00 schedule."""
