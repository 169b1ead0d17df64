"""
Trains a character-level language model (shape of karpathy/minGPT projects/chargpt/chargpt.py).
"""

import os
import sys

import torch
from torch.utils.data import Dataset

from mingpt.model import GPT
from mingpt.utils import set_seed, CfgNode as CN


def get_config():
    C = CN()
    C.system = CN(seed=3407, work_dir='./out/chargpt')
    C.data = CN(block_size=128)
    C.model = GPT.get_default_config()
    C.model.model_type = 'gpt-nano'
    return C


class CharDataset(Dataset):
    def __init__(self, config, data):
        chars = sorted(list(set(data)))
        self.stoi = {ch: i for i, ch in enumerate(chars)}
        self.vocab_size = len(chars)
        self.config = config
        self.data = data

    def get_vocab_size(self):
        return self.vocab_size

    def get_block_size(self):
        return self.config.block_size


if __name__ == '__main__':
    config = get_config()
    set_seed(config.system.seed)
    text = open('input.txt', 'r').read()
    train_dataset = CharDataset(config.data, text)
    config.model.vocab_size = train_dataset.get_vocab_size()
    config.model.block_size = train_dataset.get_block_size()
    model = GPT(config.model)
