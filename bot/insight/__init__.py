"""Province insight: the training-needs report, from the help desk's own traffic."""
