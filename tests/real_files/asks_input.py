"""A script that asks a question while it loads."""
import torch.nn as nn

try:
    answer = input("hidden width [64]? ")
except EOFError:
    answer = ""
hidden = int(answer) if answer else 64

model = nn.Sequential(nn.Linear(16, hidden), nn.ReLU(), nn.Linear(hidden, 2))
