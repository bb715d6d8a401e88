"""Errors a run can stop with, in a module light enough for the command line to import first."""


class PopulationError(RuntimeError):
    """A run whose startups would outgrow ``sim.model.MAX_STARTUP_ROWS`` (the message says when,
    how many and what feeds the entry)."""
