"""Stage 4, source reading: what the user's file says about training, read from its AST.

In: a loaded file's source. Out: the loss each model is paired with and the training
setup (optimizer, learning rate, clipping, input scaling) its training loop builds.
"""
