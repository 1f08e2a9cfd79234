"""A published exported program (.pt2) records the signature its file declares, so
`mlpm convert NAME --to onnx` needs no --input-shape."""

from __future__ import annotations

import json

from tests.conftest import needs, run_mlpm
from tests.e2e.test_code_trust import package, publish_and_install


def test_published_exported_program_has_its_signature_and_converts(registry, project,
                                                                   tmp_path):
    torch = needs("torch")
    needs("onnxscript")
    needs("onnxruntime")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)

        def forward(self, x):
            return torch.relu(self.linear(x))

    torch.manual_seed(0)
    program = torch.export.export(Net().eval(), (torch.randn(2, 4),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    (tmp_path / "build").mkdir()
    file = tmp_path / "build" / "model.pt2"
    torch.export.save(program, str(file))
    folder = package(tmp_path / "pkg", "linear-ep", ("exported-program", file),
                     kind="exported-program")
    source = publish_and_install(registry, project, folder, "linear-ep")

    result = run_mlpm("info", "linear-ep", "--json", cwd=project)
    assert result.code == 0, result.err
    text = json.dumps(json.loads(result.out))
    assert '"name": "x", "dtype": "float32", "shape": ["s' in text  # the batch symbol
    assert ", 4]" in text

    result = run_mlpm("convert", "linear-ep", "--to", "onnx", "--trust", cwd=project)
    assert result.code == 0, result.err
    assert "--input-shape" not in result.err
    assert source  # converted from a trusted source (the --trust above)
