"""Logistic regression on flattened 28x28 images, plain SGD(lr=1e-3)."""

import torch
import torch.nn as nn

input_size = 784
num_classes = 10
learning_rate = 1e-3

model = nn.Linear(input_size, num_classes)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)


def train(loader, num_epochs=5):
    for epoch in range(num_epochs):
        for images, labels in loader:
            images = images.reshape(-1, input_size)
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
