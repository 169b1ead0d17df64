# a stand-in for torchvision's resnet101 (pretrained weights come from the network)
import torch
import torch.nn as nn

URL = "https://example.invalid/resnet101.pth"


def resnet101(pretrained=False):
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(256, 10))
    if pretrained:
        model.load_state_dict(torch.hub.load_state_dict_from_url(URL, progress=False))
    return model
