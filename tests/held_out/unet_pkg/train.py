# shape of milesial/Pytorch-UNet train.py: get_args() and the model built in the __main__ block
import argparse
import logging
import torch
import torch.nn as nn
from torch import optim
from torch.utils.data import DataLoader

from unet import UNet
from utils.data_loading import BasicDataset

dir_img = 'data/imgs/'
dir_mask = 'data/masks/'


def train_model(model, device, epochs=5, batch_size=1, learning_rate=1e-5):
    dataset = BasicDataset(dir_img, dir_mask)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    optimizer = optim.RMSprop(model.parameters(), lr=learning_rate, weight_decay=1e-8, momentum=0.999)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in loader:
            images, true_masks = batch['image'], batch['mask']
            masks_pred = model(images)
            loss = criterion(masks_pred, true_masks)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def get_args():
    parser = argparse.ArgumentParser(description='Train the UNet on images and target masks')
    parser.add_argument('--epochs', '-e', metavar='E', type=int, default=5, help='Number of epochs')
    parser.add_argument('--load', '-f', type=str, default=False, help='Load model from a .pth file')
    parser.add_argument('--bilinear', action='store_true', default=False, help='Use bilinear upsampling')
    parser.add_argument('--classes', '-c', type=int, default=2, help='Number of classes')
    return parser.parse_args()


if __name__ == '__main__':
    args = get_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s: %(message)s')
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = UNet(n_channels=3, n_classes=args.classes, bilinear=args.bilinear)
    model = model.to(memory_format=torch.channels_last)
    if args.load:
        state_dict = torch.load(args.load, map_location=device)
        model.load_state_dict(state_dict)
    model.to(device=device)
    train_model(model=model, epochs=args.epochs, device=device)
