"""The study spec and the words tuner accepts: errors, names, the space, the study."""
