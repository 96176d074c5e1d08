"""The one HTTP app (``app.create_app``) behind all three doors: signed uploads, signed events and
consent links. ``equity serve``, the demo and the tests build it the same way."""
