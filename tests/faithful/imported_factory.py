# a factory imported by name (no "Net" or "models." to recognise it by)
from torch.nn import Linear as make_linear
from torch.nn import Sequential as stack
import torch.nn as nn

model = stack(make_linear(4, 8), nn.ReLU(), make_linear(8, 2))
