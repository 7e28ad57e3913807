"""The MLflow flavor of a frame study's model and its standalone pyfunc loader."""
