"""GAN training script: data at top level, G and D built, then weights_init applied."""
import os

import torch
import torch.nn as nn

latent_size = 64
hidden_size = 256
image_size = 784
num_epochs = 200
batch_size = 100
sample_dir = "samples"
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

if not os.path.exists(sample_dir):
    os.makedirs(sample_dir)

mnist = torch.utils.data.TensorDataset(torch.randn(1000, image_size))
data_loader = torch.utils.data.DataLoader(dataset=mnist, batch_size=batch_size, shuffle=True)

D = nn.Sequential(
    nn.Linear(image_size, hidden_size), nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, hidden_size), nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, 1))

G = nn.Sequential(
    nn.Linear(latent_size, hidden_size), nn.ReLU(),
    nn.Linear(hidden_size, hidden_size), nn.ReLU(),
    nn.Linear(hidden_size, image_size), nn.Tanh())


def weights_init(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)


D = D.to(device)
G = G.to(device)
G.apply(weights_init)

criterion = nn.BCEWithLogitsLoss()
d_optimizer = torch.optim.Adam(D.parameters(), lr=0.0002)
g_optimizer = torch.optim.Adam(G.parameters(), lr=0.0002)

for epoch in range(num_epochs):
    for i, (images,) in enumerate(data_loader):
        outputs = D(images)
        d_loss = criterion(outputs, torch.ones(batch_size, 1))
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()
