"""
Trains a GPT to add n-digit numbers (shape of karpathy/minGPT projects/adder/adder.py): the
vocabulary and block size come from constants, not from a file.
"""

import torch
from mingpt.model import GPT
from mingpt.utils import set_seed, CfgNode as CN

NDIGIT = 2


def get_config():
    C = CN()
    C.model = GPT.get_default_config()
    C.model.model_type = 'gpt-nano'
    return C


if __name__ == '__main__':
    config = get_config()
    set_seed(3407)
    config.model.vocab_size = 10
    config.model.block_size = 3 * NDIGIT + 1 - 1
    model = GPT(config.model)
