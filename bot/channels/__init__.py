"""Channels: each turns its platform's messages into dialog events and replies into messages."""
