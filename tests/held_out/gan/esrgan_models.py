# shape of eriklindernoren/PyTorch-GAN implementations/esrgan/models.py: a feature extractor on pretrained VGG
import torch.nn as nn
from backbones import vgg19


class FeatureExtractor(nn.Module):
    def __init__(self):
        super(FeatureExtractor, self).__init__()
        vgg19_model = vgg19(pretrained=True)
        self.vgg19_54 = nn.Sequential(*list(vgg19_model.children())[:35])

    def forward(self, img):
        return self.vgg19_54(img)
