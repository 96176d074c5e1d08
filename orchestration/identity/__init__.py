"""The vocabulary of a property and a person, below all its users: USPS Publication 28 address
normalisation, ZIP places, e-mail and phone forms (``normalize.one`` applies a column normaliser
to one value, so an event, a command or a suppression list matches the leads' columns)."""
