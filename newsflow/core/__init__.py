"""The bottom layer: the article contract, identity, dead letters, settings, client configs and
Arabic text handling. It imports nothing of ours above it."""
