"""The process: its policy and stop signals, who owns a run, the stores, and every use of
another library's private state (``workarounds``)."""
