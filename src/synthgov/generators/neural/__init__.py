"""Neural generators (PyTorch): the autoregressive flagship, a conditional GAN, a VAE and a diffusion model.

They share the pipeline of :class:`~synthgov.generators.base.TabularSynthesizer` (marginals on the uniform
scale, derived columns, side columns) and, from this package: :mod:`.encoding` (columns -> tokens or normal
scores), :mod:`.torch_utils` (device, seeding, safetensors), :mod:`.training` (epochs, time budget, early
stopping, progress) and :mod:`.base` (the shared fit / save / load of every neural generator).
PyTorch is imported only when one of them is used.
"""
