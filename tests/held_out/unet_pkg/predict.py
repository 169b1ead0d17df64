# shape of milesial/Pytorch-UNet predict.py: the net is built in __main__ and loads a checkpoint
import argparse
import torch
from unet import UNet


def get_args():
    parser = argparse.ArgumentParser(description='Predict masks from input images')
    parser.add_argument('--model', '-m', default='MODEL.pth', metavar='FILE')
    parser.add_argument('--classes', '-c', type=int, default=2)
    parser.add_argument('--bilinear', action='store_true', default=False)
    return parser.parse_args()


if __name__ == '__main__':
    args = get_args()
    net = UNet(n_channels=3, n_classes=args.classes, bilinear=args.bilinear)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    net.to(device=device)
    state_dict = torch.load(args.model, map_location=device)
    mask_values = state_dict.pop('mask_values', [0, 1])
    net.load_state_dict(state_dict)
