"""Shape of the WGAN-GP scripts: an MLP generator and critic, the Wasserstein estimate as the loss
with a gradient penalty, Adam(lr=1e-4, betas=(0.5, 0.9)), five critic steps per generator step."""

import torch
import torch.nn as nn

latent_dim, img_size = 64, 28
lambda_gp = 10


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, img_size * img_size), nn.Tanh(),
        )

    def forward(self, z):
        return self.model(z).view(z.size(0), 1, img_size, img_size)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(img_size * img_size, 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1),
        )

    def forward(self, img):
        return self.model(img.view(img.size(0), -1))


generator = Generator()
critic = Critic()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
optimizer_D = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))


def gradient_penalty(real, fake):
    alpha = torch.rand(real.size(0), 1, 1, 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grads = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)[0]
    return ((grads.view(grads.size(0), -1).norm(2, dim=1) - 1) ** 2).mean()


def train(dataloader, epochs=5, n_critic=5):
    for epoch in range(epochs):
        for i, (real, _) in enumerate(dataloader):
            optimizer_D.zero_grad()
            fake = generator(torch.randn(real.size(0), latent_dim))
            d_loss = -critic(real).mean() + critic(fake.detach()).mean() + lambda_gp * gradient_penalty(real, fake)
            d_loss.backward()
            optimizer_D.step()
            if i % n_critic == 0:
                optimizer_G.zero_grad()
                g_loss = -critic(generator(torch.randn(real.size(0), latent_dim))).mean()
                g_loss.backward()
                optimizer_G.step()
