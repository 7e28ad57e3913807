"""Data: containers, targets and tasks, DataFrames, split checks, preprocessing, folds, loaders."""
