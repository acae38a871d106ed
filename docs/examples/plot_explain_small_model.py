"""
NeuroMask and Grad-CAM on a known-answer image
==============================================

An image of ``triangles_squares`` comes with the exact pixels of its shape, so an
explanation can be checked against the truth. We explain the shipped CNN's answer with
NeuroMask and with Grad-CAM, and score both maps against the evidence.
"""

import matplotlib.pyplot as plt
import torch

import neuromask
from neuromask import datasets, metrics

model = neuromask.load_model("triangles_squares-cnn")
data = datasets.generate("triangles_squares", 1, seed=3)
inputs, evidence = data.images, data.evidence  # (1, 1, 32, 32) and (1, 32, 32)

with torch.no_grad():
    probs = model.module(inputs).softmax(1)[0]
print("the model says:", model.label(int(probs.argmax())), f"(p = {probs.max():.3f})")

# %%
# Explain the top class with both methods. NeuroMask learns its mask in ``steps``
# optimisation steps; ``history_every`` keeps snapshots of the mask on the way.

mask = neuromask.explain(model, inputs, method="neuromask", steps=200, history_every=50)
cam = neuromask.explain(model, inputs, method="gradcam")
print(
    f"NeuroMask kept {mask.extras['mask_mean'][0]:.0%} of the image; "
    f"p(target) on the masked image: {mask.extras['masked_probability'][0]:.3f}"
)

# %%
# Draw the image, its evidence and the two maps.

panels = [
    ("image", inputs[0, 0], "gray", (0, 1)),
    ("evidence", evidence[0].float(), "gray", (0, 1)),
    ("NeuroMask (mask, 0 to 1)", mask.attribution[0], "jet", (0, 1)),
    ("Grad-CAM", cam.attribution[0], "jet", (None, None)),
]
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for ax, (title, picture, cmap, (low, high)) in zip(axes, panels):
    ax.imshow(picture, cmap=cmap, vmin=low, vmax=high)
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()

# %%
# How well does each map find the shape? The energy-based pointing game is the share of
# the map's mass that falls on the evidence; AUROC asks whether evidence pixels rank above
# the others.

for name, e in (("neuromask", mask), ("gradcam", cam)):
    energy = metrics.localisation.energy_pointing_game(e.attribution, evidence)
    auroc = metrics.localisation.auroc(e.attribution, evidence)
    print(f"{name:10s} energy pointing game {energy[0]:.3f}   AUROC {auroc[0]:.3f}")

# %%
# The mask while it learns: the snapshots that ``history_every=50`` kept.

history, steps = mask.extras["history"][0], mask.extras["history_steps"]
fig, axes = plt.subplots(1, len(steps), figsize=(2.2 * len(steps), 2.4))
for ax, frame, step in zip(axes, history, steps):
    ax.imshow(frame, cmap="jet", vmin=0, vmax=1)
    ax.set_title(f"step {int(step)}")
    ax.axis("off")
fig.tight_layout()
