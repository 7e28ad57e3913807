"""What a command starts: a search (one process or workers), finalize, lr-find."""
