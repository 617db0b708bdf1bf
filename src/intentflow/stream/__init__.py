"""The stream: sources of accepted events, and the processor that keeps people's online state."""
