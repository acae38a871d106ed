"""
Deletion and insertion curves
=============================

Deletion removes the pixels a map calls most relevant first and follows the probability of
the class: a faithful map makes it fall fast (a small area under the curve). Insertion
adds them to a blurred image: a faithful map makes it rise fast (a large area). Here two
maps of the same image, and the ``random`` baseline that any method should beat.
"""

import matplotlib.pyplot as plt
import torch

import neuromask
from neuromask import datasets
from neuromask.metrics import faithfulness

model = neuromask.load_model("shapes_on_texture-cnn")
inputs = datasets.generate("shapes_on_texture", 1, seed=1).images  # (1, 1, 48, 48)

maps = {name: neuromask.explain(model, inputs, method=name) for name in ("saliency", "gradcam", "random")}
target = maps["saliency"].target

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, e in maps.items():
    for ax, curve in ((left, faithfulness.deletion_curve), (right, faithfulness.insertion_curve)):
        x, p = curve(model.module, inputs, target, e.attribution)
        # The score is the area under the curve (what faithfulness.deletion / .insertion return).
        ax.plot(x, p[0], label=f"{name} ({torch.trapezoid(p[0], x):.2f})")
left.set(title="deletion (AUC, lower is better)", xlabel="fraction of pixels deleted", ylabel="p(class)")
right.set(title="insertion (AUC, higher is better)", xlabel="fraction of pixels inserted")
left.legend()
right.legend()
fig.tight_layout()
