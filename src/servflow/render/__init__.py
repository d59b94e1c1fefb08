"""Documents drawn from procedure files: state diagrams and standard operating procedures.

Everything here reads a validated :class:`~servflow.model.Procedure` and returns text;
nothing touches cases, storage or the clock. Diagrams are Mermaid or Graphviz dot
(:func:`render_diagram`); SOPs are Markdown rendered by jinja2 templates in a sandbox
(:func:`render_sop`), in Traditional Chinese, Simplified Chinese or English.
"""

from servflow.render.common import DEFAULT_LANGUAGE, format_duration, localized
from servflow.render.diagram import DiagramFormat, render_diagram, render_dot, render_mermaid
from servflow.render.sop import render_sop

__all__ = [
    "DEFAULT_LANGUAGE",
    "DiagramFormat",
    "format_duration",
    "localized",
    "render_diagram",
    "render_dot",
    "render_mermaid",
    "render_sop",
]
