"""Sound: the prompt audio, numbers as Asterisk says them, and a simulated call as audio."""
