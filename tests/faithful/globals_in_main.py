import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(sizes[-1], N_CLASSES)

    def forward(self, x):
        return self.out(self.body(x))


if __name__ == "__main__":
    N_CLASSES = 10
    net = Net([784, 500, 500])
    loader = torch.utils.data.DataLoader(MNIST("data", download=True), batch_size=64)
    for x, y in loader:
        net(x.view(-1, 784)).sum().backward()
