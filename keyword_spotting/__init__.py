"""Keyword spotting with FastGRNN: data, features, training, evaluation and the demo."""
