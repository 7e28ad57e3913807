"""MLflow: the only package that writes to it (runs, the registry, figures), the read-only
catalog, lineage, and the flavor of frame models."""
