"""The purchase-intent model: training, the stored model, scoring and its report."""

KIND = "intent"
"""The registry kind of intent models."""
