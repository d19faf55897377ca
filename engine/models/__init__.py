"""Models: from-scratch builders with chosen initializers, and pretrained backbones."""
