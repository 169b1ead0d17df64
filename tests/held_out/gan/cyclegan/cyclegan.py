# shape of eriklindernoren/PyTorch-GAN implementations/cyclegan/cyclegan.py: the script imports its sibling
import argparse
import itertools
import torch
from models import *

parser = argparse.ArgumentParser()
parser.add_argument("--img_height", type=int, default=64)
parser.add_argument("--img_width", type=int, default=64)
parser.add_argument("--channels", type=int, default=3)
parser.add_argument("--n_residual_blocks", type=int, default=2)
parser.add_argument("--epoch", type=int, default=0)
opt = parser.parse_args()

input_shape = (opt.channels, opt.img_height, opt.img_width)
G_AB = GeneratorResNet(input_shape, opt.n_residual_blocks)

if opt.epoch != 0:
    G_AB.load_state_dict(torch.load("saved_models/G_AB_%d.pth" % opt.epoch))
else:
    G_AB.apply(weights_init_normal)

optimizer_G = torch.optim.Adam(itertools.chain(G_AB.parameters()), lr=0.0002, betas=(0.5, 0.999))
