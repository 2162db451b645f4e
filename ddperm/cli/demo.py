"""PLACEHOLDER: ``ddperm demo`` (written last, once every job exists)."""

from ddperm.cli import app


@app.command()
def demo() -> None:
    """A short scripted tour against the twin (or a real host)."""
