"""Development tools: the `make run` process supervisor (`devtools.run`) and its demo data (`devtools.demo`).

Not part of the distribution (pyproject.toml packages only `shared*` and `services*`) nor of the Docker image
(.dockerignore): production code never imports this package.
"""
