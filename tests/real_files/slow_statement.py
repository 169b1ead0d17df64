"""A statement the model needs never finishes (a stuck computation at import)."""
import torch.nn as nn


def count_features():
    n = 0
    while True:
        n += 1


n_features = count_features()
model = nn.Linear(n_features, 2)
