"""Answers by voice: Russian number words and yes or no, the Vosk recogniser, the spool."""
