import torch.nn as nn

layers = [nn.Linear(32, 64)]
for i in range(6):
    layers.append(nn.Linear(64, 64))
    layers.append(nn.Sigmoid())
model = nn.Sequential(*layers)
