# ruff: noqa
import torch


class BaseModel(torch.nn.Module):
    def load(self, path):
        """Load model from file."""
        parameters = torch.load(path, map_location=torch.device('cpu'))
        self.load_state_dict(parameters)
