"""The ``newsflow`` command line: the top layer, importing anything below it; nothing imports it."""
