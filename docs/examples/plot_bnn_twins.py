"""
A CNN and its binarized twin
============================

Every known-answer dataset has a full-precision CNN and a binarized one (sign activations
and weights inside), trained the same way. Do they look at the same pixels? One image of
``counting``, explained on both twins with Grad-CAM and integrated gradients. The BNN
study (``neuromask study bnn``) asks the question over many images, with statistics.
"""

import matplotlib.pyplot as plt

import neuromask
from neuromask import datasets, metrics

data = datasets.generate("counting", 1, seed=2)
inputs, evidence = data.images, data.evidence
methods = ("gradcam", "integrated_gradients")

fig, axes = plt.subplots(2, 1 + len(methods), figsize=(8, 5.4))
for row, arch in zip(axes, ("cnn", "bnn")):
    model = neuromask.load_model(f"counting-{arch}")
    row[0].imshow(inputs[0, 0], cmap="gray")
    row[0].set_title(f"counting-{arch}")
    for ax, method in zip(row[1:], methods):
        e = neuromask.explain(model, inputs, method=method)
        auroc = metrics.localisation.auroc(e.attribution, evidence)[0]
        ax.imshow(e.attribution[0], cmap="jet")
        ax.set_title(f"{method}\nAUROC {auroc:.2f}", fontsize=9)
    for ax in row:
        ax.axis("off")
fig.tight_layout()
