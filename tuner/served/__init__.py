"""Code that travels inside logged models: it imports nothing of tuner's."""
