"""A file that talks while it loads (and from C code below Python)."""
import os

import torch.nn as nn

print("loading model definitions...")


class Classifier(nn.Module):
    def __init__(self, n_in=20, n_hidden=32, n_out=4):
        super().__init__()
        print("building the classifier")
        os.system("echo from a child process")  # written to file descriptor 1, below Python
        self.body = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, x):
        print("forward!")
        return self.body(x)


model = Classifier()
print(model)
