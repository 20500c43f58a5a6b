"""The five services; each is a package run with `python -m services.<name>`."""
