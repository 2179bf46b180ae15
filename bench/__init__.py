"""The gateway's benchmark (run `python -m bench.bench`); not part of the installed package."""
