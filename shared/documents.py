"""Printable documents: one Jinja template per document gives both its HTML and its PDF.

    from shared.documents import Documents

    docs = Documents("services.intake")          # templates from services/intake/templates/
    page = docs.html("notice.html", v=view)      # str: a standalone HTML page
    pdf = docs.pdf("notice.html", v=view)        # bytes: the same page printed to A4 by WeasyPrint

Templates are rendered with autoescaping on (every value is HTML-escaped, whatever the file
name) and strict undefined variables (a missing value is an error, not a blank). A template
carries its own CSS; its ``@media print`` and ``@page`` rules are what the PDF uses. Beneath
them sits ``PRINT_CSS``: A4, default margins and a Chinese font, with the precedence of a
user stylesheet, so any rule of the template wins.

The PDF never touches the network: only ``data:`` URLs and files inside the templates folder
can be loaded (a stylesheet or an image beside the template); anything else is refused and
left out, with a warning in WeasyPrint's log. Fonts are the system's (fontconfig), e.g.
Debian's ``fonts-wqy-microhei``; ``scripts/bootstrap-python.sh`` and ``deploy/Dockerfile``
install them together with Pango, which WeasyPrint needs.

WeasyPrint is imported on the first PDF only (it takes about a second), so services start
fast and the HTML path never loads it.
"""

from __future__ import annotations

import threading
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

__all__ = ["PRINT_CSS", "Documents", "html_to_pdf"]

# Defaults beneath every template (user-stylesheet precedence: the template's own rules win).
PRINT_CSS = """
@page { size: A4; margin: 16mm 18mm 18mm; }
html { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif;
       font-size: 10.5pt; }
"""

ALLOWED_SCHEMES = ("file", "data")

# Pango and fontconfig are not documented as thread-safe; PDFs are rendered one at a time
# per process (a notice takes a fraction of a second), so callers may use a thread pool.
_render_lock = threading.Lock()


class Documents:
    """The templates of one package (its ``templates/`` folder), as HTML or as PDF."""

    def __init__(self, package: str, folder: str = "templates") -> None:
        self.root = Path(str(files(package) / folder)).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"no templates folder {self.root} in package {package!r}")
        self.env = Environment(
            loader=FileSystemLoader(self.root),
            autoescape=True,  # every value is escaped, whatever the file name
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def html(self, name: str, /, **context: Any) -> str:
        """The template `name` rendered with `context`: a standalone HTML page."""
        return self.env.get_template(name).render(**context)

    def pdf(self, name: str, /, **context: Any) -> bytes:
        """The same page as an A4 PDF (text kept as text, fonts embedded and subset)."""
        return html_to_pdf(self.html(name, **context), base_dir=self.root)


def html_to_pdf(html: str, *, base_dir: Path | None = None) -> bytes:
    """Print `html` to PDF bytes with WeasyPrint, A4 by default, without any network access.

    Relative URLs resolve against `base_dir`, the only folder files may be read from.
    """
    import weasyprint  # lazy: slow to import, and only the PDF path needs it

    base = Path(base_dir).resolve() if base_dir is not None else None
    document = weasyprint.HTML(
        string=html,
        base_url=(base.as_uri() + "/") if base is not None else None,
        url_fetcher=_local_fetcher(base),
    )
    with _render_lock:
        return document.write_pdf(stylesheets=[weasyprint.CSS(string=PRINT_CSS)])


def _local_fetcher(base: Path | None):
    """A WeasyPrint URL fetcher for ``data:`` URLs and files under `base`; nothing else."""
    from weasyprint.urls import URLFetcher

    class LocalOnlyFetcher(URLFetcher):
        def fetch(self, url: str, headers=None):
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme not in ALLOWED_SCHEMES:
                raise ValueError(f"refused to fetch {url!r}: documents load no remote resources")
            if scheme == "file":
                parts = urlsplit(url)
                path = Path(unquote(parts.path)).resolve()
                if base is None or parts.netloc not in ("", "localhost") or not path.is_relative_to(base):
                    raise ValueError(f"refused to read {url!r}: outside the templates folder")
            return super().fetch(url, headers)

    return LocalOnlyFetcher(allowed_protocols=ALLOWED_SCHEMES, timeout=1)
