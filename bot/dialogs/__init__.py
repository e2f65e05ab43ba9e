"""The conversation, as pure functions: no I/O, no asyncio, no channel imports."""
