import torch.nn as nn

layers = [nn.Linear(100, 128), nn.Sigmoid()]
for _ in range(11):
    layers += [nn.Linear(128, 128), nn.Sigmoid()]
model = nn.Sequential(*layers, nn.Linear(128, 10))
