"""The console's HTML, from the Jinja2 templates shipped in `agi/console/templates`, every
value escaped."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


class Templates:
    def __init__(self) -> None:
        self.environment = Environment(
            loader=PackageLoader("agi.console", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.environment.get_template(name).render(context)


def trusted(html: str) -> Markup:
    """HTML the console made itself (a drawn SVG), to be put into a page as it is."""
    return Markup(html)
