"""The click commands: parse, one library call, print."""
