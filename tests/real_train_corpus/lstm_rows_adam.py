"""Shape of the tutorial RNN classifiers: an LSTM reads an image row by row, Adam(lr=0.01), no clipping."""

import torch
import torch.nn as nn

INPUT_SIZE = 28
LR = 0.01


class RNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=INPUT_SIZE, hidden_size=64, num_layers=1, batch_first=True)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        r_out, (h_n, h_c) = self.rnn(x, None)
        return self.out(r_out[:, -1, :])


rnn = RNN()
optimizer = torch.optim.Adam(rnn.parameters(), lr=LR)
loss_func = nn.CrossEntropyLoss()


def train(loader):
    for b_x, b_y in loader:
        output = rnn(b_x.view(-1, 28, 28))
        loss = loss_func(output, b_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
