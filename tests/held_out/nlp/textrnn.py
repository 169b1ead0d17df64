# shape of graykode/nlp-tutorial 3-1.TextRNN: the hidden state is made inside the training loop
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


def make_batch():
    input_batch, target_batch = [], []
    for sen in sentences:
        word = sen.split()
        input = [word_dict[n] for n in word[:-1]]
        input_batch.append(np.eye(n_class)[input])
        target_batch.append(word_dict[word[-1]])
    return input_batch, target_batch


class TextRNN(nn.Module):
    def __init__(self):
        super(TextRNN, self).__init__()
        self.rnn = nn.RNN(input_size=n_class, hidden_size=n_hidden)
        self.W = nn.Linear(n_hidden, n_class, bias=False)
        self.b = nn.Parameter(torch.ones([n_class]))

    def forward(self, hidden, X):
        X = X.transpose(0, 1)
        outputs, hidden = self.rnn(X, hidden)
        return self.W(outputs[-1]) + self.b


if __name__ == '__main__':
    n_step = 2
    n_hidden = 5
    sentences = ["i like dog", "i love coffee", "i hate milk"]
    word_list = list(set(" ".join(sentences).split()))
    word_dict = {w: i for i, w in enumerate(word_list)}
    n_class = len(word_dict)
    batch_size = len(sentences)

    model = TextRNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    input_batch, target_batch = make_batch()
    input_batch = torch.FloatTensor(np.array(input_batch))
    target_batch = torch.LongTensor(target_batch)

    for epoch in range(5000):
        optimizer.zero_grad()
        hidden = torch.zeros(1, batch_size, n_hidden)
        output = model(hidden, input_batch)
        loss = criterion(output, target_batch)
        loss.backward()
        optimizer.step()
