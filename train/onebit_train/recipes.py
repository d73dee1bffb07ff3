"""Training recipes, sized for 2 CPU cores in under 30 minutes each (the full run), and the
tiny variants the parity test trains for a few steps."""

RECIPES = {
    # BiNeal classifier on Fashion-MNIST, width 1.5x.
    "classify": dict(model="classify", data="fashion", model_args=dict(m=1.5), epochs=4,
                     batch=128, lr=2e-3),
    # The same with sparse kernel selection on every binary 3x3 conv (tau 5: 32 codewords).
    "classify_sks": dict(model="classify", data="fashion", model_args=dict(m=1.5, tau=5),
                         epochs=4, batch=128, lr=2e-3),
    # BiNeal classifier on MNIST digits.
    "classify_mnist": dict(model="classify", data="mnist", model_args=dict(m=1.5), epochs=2,
                           batch=128, lr=2e-3),
    # The 8-bit twin of "classify": same widths and strides, int8 QAT (int8_twin.py).
    "classify_int8": dict(model="classify_int8", data="fashion", model_args=dict(m=1.5),
                          epochs=4, batch=128, lr=2e-3),
}
