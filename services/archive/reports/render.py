"""The weekly report as a document: one template (templates/weekly.html), HTML and the same page as PDF."""

from shared.documents import Documents

_documents = Documents("services.archive.reports")


def weekly_html(view: dict) -> str:
    return _documents.html("weekly.html", v=view)


def weekly_pdf(view: dict) -> bytes:
    return _documents.pdf("weekly.html", v=view)
