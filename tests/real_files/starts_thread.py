"""A model whose constructor starts a (non-daemon) watchdog thread that never ends."""
import threading
import time

import torch.nn as nn


class Monitored(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(16, 2)
        self._stop = False
        self._watchdog = threading.Thread(target=self._watch)
        self._watchdog.start()

    def _watch(self):
        while not self._stop:
            time.sleep(0.05)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
