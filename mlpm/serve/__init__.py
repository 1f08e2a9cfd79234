"""`mlpm serve`: one model over HTTP with the TensorFlow Serving / KServe v1 REST protocol.

A ``Runner`` holds a loaded model (ONNX Runtime session, torch module, SavedModel
signature function) and its signature; ``make_server`` puts it behind a threaded HTTP/1.1
server (keep-alive, one thread per connection); ``serve`` runs that until SIGINT/SIGTERM.

Who does what: ``runners`` loads and calls the model (one class per runtime); ``codec``
turns TF Serving / KServe v1 JSON into arrays and answers back (NaN rules included);
``http`` is the server (routes, request heads and bodies, limits, on ``mlpm.httpd``).
This module only names the public entry points.

Endpoints (JSON in, JSON out; ``/versions/VERSION`` may follow ``NAME`` in each, as in
TF Serving, and must then be the served version):

``GET /v1/models``
    ``{"models": ["NAME"]}`` (KServe v1 list models).
``GET /v1/models/NAME``
    ``{"model_version_status": [{"version": "1.2.1", "state": "AVAILABLE",
    "status": {"error_code": "OK", "error_message": ""}}]}`` (TF Serving model status).
``GET /v1/models/NAME/metadata``
    TF Serving's GetModelMetadataResponse::

        {"model_spec": {"name": "NAME", "signature_name": "", "version": "1.2.1"},
         "metadata": {"signature_def": {"signature_def": {"serving_default": {
             "inputs": {"x": {"dtype": "DT_FLOAT", "name": "x", "tensor_shape": {
                 "dim": [{"size": "-1", "name": "batch"}, {"size": "4", "name": ""}],
                 "unknown_rank": false}}},
             "outputs": {...the same for each output...},
             "method_name": "tensorflow/serving/predict"}}}}}

    (sizes are strings and -1 is a variable dimension, as protobuf's JSON mapping of
    TensorShapeProto gives them; ``name`` is the symbolic dimension's name, if any).
``POST /v1/models/NAME:predict``
    Row format ``{"instances": [...]}``: one item per instance; for a one-input model
    the item is that input's value, else an object keyed by input name. The instances
    are stacked along a new first (batch) dimension. Answer: ``{"predictions": [...]}``,
    one item per instance; with several outputs each item is an object keyed by output
    name. Columnar format ``{"inputs": TENSOR}`` or ``{"inputs": {"x": TENSOR, ...}}``
    (whole tensors, batch dimension included). Answer: ``{"outputs": TENSOR}``, or an
    object keyed by output name when the model has several outputs. An optional
    ``"signature_name"`` must name the served signature (or be "serving_default").

Errors are ``{"error": "one sentence"}`` with a 4xx status for a request the server
cannot use (400 bad JSON / tensor, NaN or Infinity included, 403 a browser preflight
from an origin ``--allow-origin`` did not name, 404 unknown path or model, 405 wrong method,
408 a body too slow, 411 no Content-Length, 413 body over the limit), 503 when busy,
and 500 when the model itself fails or answers NaN / Infinity, which JSON cannot carry;
the server keeps serving either way. What a client can hold is bounded
(docs/serving.md#connections-and-limits). Nothing here imports numpy or a framework at import
time: the runners import theirs when built.

Why not another HTTP server: ``ModelServer`` already is the standard library's
``ThreadingHTTPServer`` (through ``mlpm.httpd.LimitedServer``) and its handler a
``BaseHTTPRequestHandler``. What is written here is routing and body reading, which any
server needs, plus about 70 lines that replace two stdlib steps: ``parse_request`` (headers
without the email package, and stricter: conflicting Content-Length headers and folded
lines are refused, which the stdlib lets through) and ``_send`` (status, headers and body
in one write). The email package's header parser takes about ten times as long as the
loop that replaces it, a fifth of the ~200 µs of server CPU a small prediction costs
(benchmarks/README.md), and going back to it would lose those refusals, so the loop stays.
An ASGI server (uvicorn with h11 or httptools) would add dependencies and an event loop in
front of blocking model calls, and the limits of docs/serving.md#connections-and-limits
would have to be rebuilt on its options, for a server that already answers several times
the requests per second of Flask's (benchmarks/serve.py).
"""

from mlpm.serve.codec import (
    DATATYPES,
    TF_DTYPES,
    RequestError,
    TensorSpec,
    predict_json,
)
from mlpm.serve.codec import encode_json as _encode  # noqa: F401 (benchmarks/serve.py times it)
from mlpm.serve.http import (
    IDLE_TIMEOUT,
    MAX_BODY,
    MAX_CONCURRENT,
    MIN_BODY_RATE,
    QUEUE_WAIT,
    ModelRequestHandler,
    ModelServer,
    make_server,
    serve,
)
from mlpm.serve.runners import OnnxRunner, Runner, SavedModelRunner, TorchRunner

__all__ = [
    "DATATYPES", "IDLE_TIMEOUT", "MAX_BODY", "MAX_CONCURRENT", "MIN_BODY_RATE", "QUEUE_WAIT",
    "TF_DTYPES", "ModelRequestHandler", "ModelServer", "OnnxRunner", "RequestError", "Runner",
    "SavedModelRunner", "TensorSpec", "TorchRunner", "make_server", "predict_json", "serve",
]
