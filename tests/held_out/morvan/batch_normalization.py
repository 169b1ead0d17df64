"""
shape of MorvanZhou/PyTorch-Tutorial 504_batch_normalization.py: two variants of one Net in a list,
layers created in a loop with setattr
"""
import torch
from torch import nn
import numpy as np

N_SAMPLES = 2000
BATCH_SIZE = 64
N_HIDDEN = 8
ACTIVATION = torch.tanh
B_INIT = -0.2


class Net(nn.Module):
    def __init__(self, batch_normalization=False):
        super(Net, self).__init__()
        self.do_bn = batch_normalization
        self.fcs = []
        self.bns = []
        self.bn_input = nn.BatchNorm1d(1, momentum=0.5)
        for i in range(N_HIDDEN):
            input_size = 1 if i == 0 else 10
            fc = nn.Linear(input_size, 10)
            setattr(self, 'fc%i' % i, fc)
            self._set_init(fc)
            self.fcs.append(fc)
            if self.do_bn:
                bn = nn.BatchNorm1d(10, momentum=0.5)
                setattr(self, 'bn%i' % i, bn)
                self.bns.append(bn)
        self.predict = nn.Linear(10, 1)
        self._set_init(self.predict)

    def _set_init(self, layer):
        nn.init.normal_(layer.weight, mean=0., std=.1)
        nn.init.constant_(layer.bias, B_INIT)

    def forward(self, x):
        if self.do_bn:
            x = self.bn_input(x)
        for i in range(N_HIDDEN):
            x = self.fcs[i](x)
            if self.do_bn:
                x = self.bns[i](x)
            x = ACTIVATION(x)
        return self.predict(x)


nets = [Net(batch_normalization=False), Net(batch_normalization=True)]
print(*nets)
opts = [torch.optim.Adam(net.parameters(), lr=0.03) for net in nets]
loss_func = torch.nn.MSELoss()
