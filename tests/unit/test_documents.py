"""shared.documents: one template per document, HTML and PDF, no network, A4 by default."""

import http.server
import io
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from pypdf import PdfReader

from shared.documents import Documents, _local_fetcher, html_to_pdf

A4 = (595.28, 841.89)
A5 = (419.53, 595.28)


@pytest.fixture
def package(tmp_path, monkeypatch) -> tuple[str, Path]:
    """A throwaway package with a templates folder, importable from sys.path."""
    name = f"docpkg_{uuid.uuid4().hex[:8]}"
    root = tmp_path / name
    (root / "templates").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, root / "templates"


def page_size(pdf: bytes) -> tuple[float, float]:
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    return float(box.width), float(box.height)


def test_html_escapes_every_value_and_refuses_missing_ones(package):
    name, templates = package
    (templates / "t.txt").write_text("<p>{{ who }}</p>")  # escaped whatever the file name
    docs = Documents(name)
    assert docs.html("t.txt", who="<script>x</script> & co") == "<p>&lt;script&gt;x&lt;/script&gt; &amp; co</p>"
    with pytest.raises(UndefinedError):
        docs.html("t.txt")


def test_pdf_is_the_same_template_printed_on_a4_with_chinese_text(package):
    name, templates = package
    (templates / "doc.html").write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title></head>'
        "<body><h1>{{ title }}</h1><p>编号 {{ no }}</p></body></html>"
    )
    docs = Documents(name)
    html = docs.html("doc.html", title="服务记录单", no="2026-000001")
    pdf = docs.pdf("doc.html", title="服务记录单", no="2026-000001")
    assert "<h1>服务记录单</h1>" in html
    assert page_size(pdf) == pytest.approx(A4, abs=0.5)  # A4 although the template says nothing
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "服务记录单" in text and "编号 2026-000001" in text
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "服务记录单"


def test_the_templates_own_page_rules_win(package):
    name, templates = package
    (templates / "a5.html").write_text("<style>@page { size: A5 }</style><p>周报</p>")
    assert page_size(Documents(name).pdf("a5.html")) == pytest.approx(A5, abs=0.5)


def test_a_local_stylesheet_beside_the_template_is_used(package):
    name, templates = package
    (templates / "print.css").write_text("@page { size: A5 }")
    (templates / "linked.html").write_text('<link rel="stylesheet" href="print.css"><p>档案</p>')
    assert page_size(Documents(name).pdf("linked.html")) == pytest.approx(A5, abs=0.5)


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"@page { size: A5 }")

    def log_message(self, *args):
        pass


def test_pdf_never_fetches_from_the_network(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        html = (
            f'<link rel="stylesheet" href="{url}/a.css"><style>@import url("{url}/b.css");</style>'
            f'<img src="{url}/c.png"><p style="background: url({url}/d.png)">受理</p>'
        )
        pdf = html_to_pdf(html, base_dir=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert _Counter.hits == []
    assert page_size(pdf) == pytest.approx(A4, abs=0.5)  # the remote A5 stylesheet was not applied


def test_the_fetcher_reads_data_urls_and_files_in_the_templates_folder_only(tmp_path):
    inside = tmp_path / "print.css"
    inside.write_text("p {}")
    outside = tmp_path.parent / "secret.txt"
    fetch = _local_fetcher(tmp_path.resolve())
    assert fetch("data:text/css,p%7B%7D").read() == b"p{}"
    assert fetch(inside.as_uri()).read() == b"p {}"
    for refused in (
        "http://127.0.0.1:9/x.css",
        "https://example.com/x.png",
        "ftp://example.com/x",
        outside.as_uri(),
        (tmp_path / ".." / "secret.txt").as_uri(),
        "file://example.com" + str(inside),
    ):
        with pytest.raises(ValueError, match="refused"):
            fetch(refused)
    with pytest.raises(ValueError, match="refused"):
        _local_fetcher(None)(inside.as_uri())  # no folder: no files


def test_importing_and_rendering_html_does_not_load_weasyprint():
    code = (
        "import sys; from services.intake.notice import render_html; "
        "from tests.unit.test_notice import make_notice; render_html(make_notice()); "
        "assert 'weasyprint' not in sys.modules, 'weasyprint imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2], timeout=60)
