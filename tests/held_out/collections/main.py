# shape of znxlwm/pytorch-generative-model-collections main.py: the models live inside a plain trainer object
import argparse
import os
import torch
from GAN import GAN


def parse_args():
    desc = "Pytorch implementation of GAN collections"
    parser = argparse.ArgumentParser(description=desc)
    parser.add_argument('--gan_type', type=str, default='GAN')
    parser.add_argument('--epoch', type=int, default=50)
    parser.add_argument('--batch_size', type=int, default=64)
    parser.add_argument('--input_size', type=int, default=28)
    parser.add_argument('--lrG', type=float, default=0.0002)
    parser.add_argument('--beta1', type=float, default=0.5)
    parser.add_argument('--beta2', type=float, default=0.999)
    return parser.parse_args()


def main():
    args = parse_args()
    if args is None:
        exit()
    gan = GAN(args)
    gan.train()
    print(" [*] Training finished!")


if __name__ == '__main__':
    main()
