# shape of graykode/nlp-tutorial 1-2.Word2Vec: two bare weight matrices, vocabulary from text in __main__
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Word2Vec(nn.Module):
    def __init__(self):
        super(Word2Vec, self).__init__()
        self.W = nn.Linear(voc_size, embedding_size, bias=False)
        self.WT = nn.Linear(embedding_size, voc_size, bias=False)

    def forward(self, X):
        hidden_layer = self.W(X)
        return self.WT(hidden_layer)


if __name__ == '__main__':
    batch_size = 2
    embedding_size = 2
    sentences = ["apple banana fruit", "banana orange fruit", "orange banana fruit",
                 "dog cat animal", "cat monkey animal", "monkey dog animal"]
    word_sequence = " ".join(sentences).split()
    word_list = list(set(word_sequence))
    word_dict = {w: i for i, w in enumerate(word_list)}
    voc_size = len(word_list)

    model = Word2Vec()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    for epoch in range(5000):
        input_batch = torch.randn(batch_size, voc_size)
        optimizer.zero_grad()
        output = model(input_batch)
        loss = criterion(output, torch.zeros(batch_size, dtype=torch.long))
        loss.backward()
        optimizer.step()
