import torch
from torch import nn


def build_model(in_dim: int = 784, n_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_dim, 256), nn.ReLU(),
        nn.Linear(256, n_classes),
    )


def fit(model, train_loader, epochs=10):
    # Hyper-parameters from the paper's appendix.
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=3e-4,
        weight_decay=5e-4,  # L2
    )
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss_fn(model(images), labels).backward()
            optimizer.step()
