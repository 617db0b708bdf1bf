"""intentflow: behavioral events in, personalization out."""

__version__ = "0.1.0"
