"""Orienta: an orientation bot for the families Progetto Integrazione serves."""
