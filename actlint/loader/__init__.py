"""Load a user's model file and find the models in it: the model, not the script.

The file is compiled and its top-level statements run one by one under a load plan
(:mod:`actlint.loader.plan`): definitions always, other statements only when a model
needs them; data loading, training loops, checkpoints and downloads never. User code
runs fenced (:mod:`actlint.sandbox.fence`): its own ``sys.argv``, empty stdin, output on
stderr, no network, a time limit. The file is imported under a private module name with
its folder importable while it loads; afterwards ``sys.path`` is restored and the
modules the file brought in from its own folder are dropped from ``sys.modules``, so
nothing lasts. No ``__pycache__`` is written into the user's folder. While user code runs,
every ``nn.Module``'s construction site in the user's file is recorded, so findings
inside ``nn.Sequential`` stacks can point at the line that built the layer.

Discovery without a selector: module-level ``nn.Module`` instances (wrappers such as
``nn.DataParallel`` and ``torch.compile`` unwrapped), then zero-argument factories named
build_model/make_model/create_model/get_model, then the file's root model classes (model
classes that no other model class of the file builds or derives from), built with
default instances of the config classes their parameters name
(:mod:`actlint.loader.build`). A candidate that is a submodule of another candidate is
not linted alone. Models are built for real under an allocation cap; one that passes it
is sized on the meta device, and one too large for the memory budget is linted there,
statically (:func:`actlint.loader.build.build_sized`).
"""
