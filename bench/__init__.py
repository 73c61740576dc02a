"""bench: measure how a hyperparameter grid of TensorFlow trainings scales out on Apache Spark."""

__version__ = "0.1.0"
