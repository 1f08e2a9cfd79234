# ruff: noqa
class Resize(object):
    """Resize sample to given size (width, height)."""

    def __init__(self, width, height, resize_target=True, keep_aspect_ratio=False, ensure_multiple_of=1):
        self.width, self.height = width, height
