"""A model compiled with torch.compile at module level (PyTorch 2 style)."""
import torch
import torch.nn as nn

model = nn.Sequential(
    nn.Linear(32, 64),
    nn.ReLU(),
    nn.Linear(64, 64),
    nn.ReLU(),
    nn.Linear(64, 10),
)
model = torch.compile(model)
