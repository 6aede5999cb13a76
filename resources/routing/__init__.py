"""Routing data: labeled examples and their shipped embeddings."""
