# shape of znxlwm/pytorch-generative-model-collections GAN.py: lowercase model classes with defaults,
# a plain GAN(object) that builds them from args and trains
import time
import os
import pickle
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import utils


class generator(nn.Module):
    def __init__(self, input_dim=100, output_dim=1, input_size=32):
        super(generator, self).__init__()
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.input_size = input_size
        self.fc = nn.Sequential(
            nn.Linear(self.input_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
            nn.Linear(1024, 128 * (self.input_size // 4) * (self.input_size // 4)),
            nn.BatchNorm1d(128 * (self.input_size // 4) * (self.input_size // 4)), nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, self.output_dim, 4, 2, 1), nn.Tanh(),
        )
        utils.initialize_weights(self)

    def forward(self, input):
        x = self.fc(input)
        x = x.view(-1, 128, (self.input_size // 4), (self.input_size // 4))
        return self.deconv(x)


class discriminator(nn.Module):
    def __init__(self, input_dim=1, output_dim=1, input_size=32):
        super(discriminator, self).__init__()
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.input_size = input_size
        self.conv = nn.Sequential(
            nn.Conv2d(self.input_dim, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        )
        self.fc = nn.Sequential(
            nn.Linear(128 * (self.input_size // 4) * (self.input_size // 4), 1024), nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2), nn.Linear(1024, self.output_dim), nn.Sigmoid(),
        )
        utils.initialize_weights(self)

    def forward(self, input):
        x = self.conv(input)
        x = x.view(-1, 128 * (self.input_size // 4) * (self.input_size // 4))
        return self.fc(x)


class GAN(object):
    def __init__(self, args):
        self.epoch = args.epoch
        self.batch_size = args.batch_size
        self.z_dim = 62
        self.data_loader = None
        self.G = generator(input_dim=self.z_dim, output_dim=1, input_size=args.input_size)
        self.D = discriminator(input_dim=1, output_dim=1, input_size=args.input_size)
        self.G_optimizer = optim.Adam(self.G.parameters(), lr=args.lrG, betas=(args.beta1, args.beta2))
        self.BCE_loss = nn.BCELoss()

    def train(self):
        for epoch in range(self.epoch):
            self.G.train()
