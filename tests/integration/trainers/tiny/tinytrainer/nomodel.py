"""Exits 0 without saving a model."""

print("trained, and forgot to save the model")
