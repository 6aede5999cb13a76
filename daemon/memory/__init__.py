"""Insights, the curator, the review queue, decay, and Open WebUI sync."""
