# shape of facebookresearch/dino eval_linear.py: the backbone by name from a factory, a linear probe
import argparse
import torch
from torchvision import datasets
from torch import nn
import vision_transformer as vits


class LinearClassifier(nn.Module):
    """Linear layer to train on top of frozen features"""

    def __init__(self, dim, num_labels=1000):
        super(LinearClassifier, self).__init__()
        self.num_labels = num_labels
        self.linear = nn.Linear(dim, num_labels)
        self.linear.weight.data.normal_(mean=0.0, std=0.01)
        self.linear.bias.data.zero_()

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.linear(x)


def eval_linear(args):
    model = vits.__dict__[args.arch](patch_size=args.patch_size, num_classes=0)
    embed_dim = model.embed_dim * (args.n_last_blocks + int(args.avgpool_patchtokens))
    model.eval()
    linear_classifier = LinearClassifier(embed_dim, num_labels=args.num_labels)
    train_loader = torch.utils.data.DataLoader(datasets.ImageFolder(args.data_path), batch_size=args.batch_size_per_gpu)
    optimizer = torch.optim.SGD(linear_classifier.parameters(), args.lr, momentum=0.9, weight_decay=0)
    for epoch in range(args.epochs):
        for inp, target in train_loader:
            loss = nn.CrossEntropyLoss()(linear_classifier(model(inp)), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


if __name__ == '__main__':
    parser = argparse.ArgumentParser('Evaluation with linear classification on ImageNet')
    parser.add_argument('--n_last_blocks', default=4, type=int)
    parser.add_argument('--avgpool_patchtokens', default=False, type=bool)
    parser.add_argument('--arch', default='vit_tiny', type=str)
    parser.add_argument('--patch_size', default=16, type=int)
    parser.add_argument('--lr', default=0.001, type=float)
    parser.add_argument('--batch_size_per_gpu', default=128, type=int)
    parser.add_argument('--data_path', default='/path/to/imagenet/', type=str)
    parser.add_argument('--epochs', default=100, type=int)
    parser.add_argument('--num_labels', default=1000, type=int)
    args = parser.parse_args()
    eval_linear(args)
