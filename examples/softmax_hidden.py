"""A classifier with a softmax between hidden layers (ACT101) and a biased conv before BatchNorm."""

import torch.nn as nn


class SoftmaxClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.hidden = nn.Linear(16, 64)
        self.squash = nn.Softmax(dim=1)  # the bug: softmax in a hidden layer
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.squash(self.hidden(self.features(x))))
