"""Keras: one place that builds, compiles and trains the MLP of a params dict; ensembles."""
