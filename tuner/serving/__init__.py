"""After the search: predict, export, and the servers (MLflow UI, optuna-dashboard, the
model server)."""
