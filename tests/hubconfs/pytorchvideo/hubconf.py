# Copyright (c) Meta Platforms, Inc. and its affiliates. All Rights Reserved.
# Style of facebookresearch/pytorchvideo: one grouped re-export from a hub package that
# itself re-exports from one module per architecture.

dependencies = ["torch"]
from pytorchvideo.models.hub import (  # noqa: F401, E402
    c2d_r50,
    csn_r101,
    slow_r50,
    slowfast_r50,
    x3d_m,
    x3d_s,
)
