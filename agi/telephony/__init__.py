"""The telephone: Asterisk's AGI protocol, the `Channel` over it, the FastAGI server, the
per-call AGI script, and a private Asterisk with SIPp for real calls."""
