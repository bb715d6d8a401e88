"""Errors a run can stop with, in a module light enough for the command line to import first."""


class PopulationError(RuntimeError):
    """A run whose startups would outgrow ``sim.model.MAX_STARTUP_ROWS`` (the message says when,
    how many and what feeds the entry)."""


class InvariantError(RuntimeError):
    """A law of :mod:`sim.invariants` failed in a month of a run (``month``, ``problems``: one line
    each; the message is the month and the first)."""

    def __init__(self, month: str, problems: list[str]):
        self.month, self.problems = month, problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{month}: {problems[0]}{more}")

    def __reduce__(self):  # (pickled from a pool's worker with its two arguments)
        return (type(self), (self.month, self.problems))
