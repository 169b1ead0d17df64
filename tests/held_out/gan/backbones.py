# a stand-in for torchvision's vgg19 (pretrained weights come from the network)
import torch
import torch.nn as nn

URL = "https://example.invalid/vgg19.pth"


def vgg19(pretrained=False):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
    if pretrained:
        model.load_state_dict(torch.hub.load_state_dict_from_url(URL, progress=False))
    return model
