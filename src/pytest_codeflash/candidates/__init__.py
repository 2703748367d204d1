"""Candidate sources: one module per source."""
