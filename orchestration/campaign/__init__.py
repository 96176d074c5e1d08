"""What goes out: the feeder's rules and delivery (export, POST, the Instantly push), the DLQ of
failed pushes, consent links and the consent desk, the contactable rules, the funnel's figures."""
