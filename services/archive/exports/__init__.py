"""Exports of the archive (issue 11): the service record form, the dossier as one PDF, books, background jobs."""
