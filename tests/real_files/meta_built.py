"""The user builds the model on the meta device themselves (deferred init)."""
import torch
import torch.nn as nn

with torch.device("meta"):
    model = nn.Sequential(nn.Linear(1024, 4096), nn.GELU(), nn.Linear(4096, 1024))
