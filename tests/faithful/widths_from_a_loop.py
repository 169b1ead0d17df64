import torch.nn as nn

widths = [784]
for i in range(3):
    widths.append(widths[-1] // 2)
layers = []
for n_in, n_out in zip(widths[:-1], widths[1:]):
    layers += [nn.Linear(n_in, n_out), nn.ReLU()]
model = nn.Sequential(*layers, nn.Linear(widths[-1], 10))
