# shape of graykode/nlp-tutorial 4-1.Seq2Seq: encoder/decoder RNNs, three inputs built in the loop
import numpy as np
import torch
import torch.nn as nn


def make_batch():
    input_batch, output_batch, target_batch = [], [], []
    for seq in seq_data:
        for i in range(2):
            seq[i] = seq[i] + 'P' * (n_step - len(seq[i]))
        inp = [num_dic[n] for n in seq[0]]
        out = [num_dic[n] for n in ('S' + seq[1])]
        target = [num_dic[n] for n in (seq[1] + 'E')]
        input_batch.append(np.eye(n_class)[inp])
        output_batch.append(np.eye(n_class)[out])
        target_batch.append(target)
    return torch.FloatTensor(np.array(input_batch)), torch.FloatTensor(np.array(output_batch)), \
        torch.LongTensor(target_batch)


class Seq2Seq(nn.Module):
    def __init__(self):
        super(Seq2Seq, self).__init__()
        self.enc_cell = nn.RNN(input_size=n_class, hidden_size=n_hidden, dropout=0.5)
        self.dec_cell = nn.RNN(input_size=n_class, hidden_size=n_hidden, dropout=0.5)
        self.fc = nn.Linear(n_hidden, n_class)

    def forward(self, enc_input, enc_hidden, dec_input):
        enc_input = enc_input.transpose(0, 1)
        dec_input = dec_input.transpose(0, 1)
        _, enc_states = self.enc_cell(enc_input, enc_hidden)
        outputs, _ = self.dec_cell(dec_input, enc_states)
        return self.fc(outputs)


if __name__ == '__main__':
    n_step = 5
    n_hidden = 128
    char_arr = [c for c in 'SEPabcdefghijklmnopqrstuvwxyz']
    num_dic = {n: i for i, n in enumerate(char_arr)}
    seq_data = [['man', 'women'], ['black', 'white'], ['king', 'queen'], ['girl', 'boy'], ['up', 'down'], ['high', 'low']]
    n_class = len(num_dic)
    batch_size = len(seq_data)

    model = Seq2Seq()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    input_batch, output_batch, target_batch = make_batch()

    for epoch in range(5000):
        hidden = torch.zeros(1, batch_size, n_hidden)
        optimizer.zero_grad()
        output = model(input_batch, hidden, output_batch)
        output = output.transpose(0, 1)
        loss = 0
        for i in range(0, len(target_batch)):
            loss += criterion(output[i], target_batch[i])
        loss.backward()
        optimizer.step()
