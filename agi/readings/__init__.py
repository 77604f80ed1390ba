"""Meter readings: the business rules, the one service every channel submits through, the
phone's actions, and the billing files."""
