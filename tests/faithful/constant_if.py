import torch.nn as nn

arch = "wide"
if arch == "deep":
    model = nn.Sequential(*[nn.Linear(8, 8) for _ in range(8)])
elif arch == "wide":
    model = nn.Sequential(nn.Linear(8, 256), nn.ReLU(), nn.Linear(256, 8))
else:
    state = torch.load("model.pt")
