"""Help-desk chatbot for commune officials: FAQ matcher, tickets and messenger channels."""

__version__ = "0.1.0"
