"""The staff console: the menu, its prompts, a keypad to try it and the reports, in a browser."""
