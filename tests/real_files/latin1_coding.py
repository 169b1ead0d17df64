# -*- coding: latin-1 -*-
# Auteur: François (latin-1 encoded comment)
import torch.nn as nn


def build_model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))  # réseau
