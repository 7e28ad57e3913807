"""Search engines: each proposes parameters and hands every trial to ``TrialRunner``."""
