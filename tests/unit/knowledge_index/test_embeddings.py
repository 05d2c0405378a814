"""The Bedrock Titan v2 embedder against botocore's Stubber: no network, real request
validation by botocore against the service model."""

from __future__ import annotations

import io
import json

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from knowledge.logic import embeddings
from knowledge.logic.embeddings import BedrockTitanEmbedder, EmbeddingError


@pytest.fixture
def client():
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def titan_response(vector, tokens):
    data = json.dumps({"embedding": list(vector), "inputTextTokenCount": tokens}).encode()
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json"}


def expected(model=embeddings.TITAN_V2):
    return {
        "modelId": model,
        "body": ANY,
        "contentType": "application/json",
        "accept": "application/json",
    }


def capture_bodies(client):
    bodies = []

    def capture(params, **_):
        bodies.append(json.loads(params["body"]))

    client.meta.events.register("before-parameter-build.bedrock-runtime.InvokeModel", capture)
    return bodies


def test_request_body_shape_dims_and_token_usage(client):
    bodies = capture_bodies(client)
    embedder = BedrockTitanEmbedder(dims=256, client=client, max_concurrency=1)
    with Stubber(client) as stub:
        stub.add_response("invoke_model", titan_response(np.full(256, 2.0), 7), expected())
        stub.add_response("invoke_model", titan_response(np.arange(256.0), 5), expected())
        matrix = embedder.embed_documents(["first passage", "second passage"])
        stub.assert_no_pending_responses()

    assert bodies == [
        {"inputText": "first passage", "dimensions": 256, "normalize": True},
        {"inputText": "second passage", "dimensions": 256, "normalize": True},
    ]
    assert matrix.shape == (2, 256)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)
    assert embedder.tokens_used == 12


def test_query_embedding(client):
    embedder = BedrockTitanEmbedder(dims=512, client=client)
    with Stubber(client) as stub:
        stub.add_response("invoke_model", titan_response(np.ones(512), 3), expected())
        vector = embedder.embed_query("how do refunds work?")
    assert vector.shape == (512,)
    assert embedder.tokens_used == 3


def test_throttling_is_retried_with_backoff(client):
    sleeps = []
    embedder = BedrockTitanEmbedder(
        dims=256, client=client, max_concurrency=1, base_delay=0.5, sleep=sleeps.append
    )
    with Stubber(client) as stub:
        stub.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
        stub.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
        stub.add_response("invoke_model", titan_response(np.ones(256), 4), expected())
        matrix = embedder.embed_documents(["text"])
        stub.assert_no_pending_responses()
    assert matrix.shape == (1, 256)
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5
    assert 0 <= sleeps[1] <= 1.0  # the cap doubles per attempt


def test_throttling_gives_up_after_max_attempts_as_retryable(client):
    embedder = BedrockTitanEmbedder(
        dims=256, client=client, max_concurrency=1, max_attempts=2, sleep=lambda _: None
    )
    with Stubber(client) as stub:
        stub.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
        stub.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
        with pytest.raises(EmbeddingError) as raised:
            embedder.embed_documents(["text"])
    assert raised.value.retryable
    assert raised.value.code == "ThrottlingException"


def test_validation_errors_are_not_retried(client):
    sleeps = []
    embedder = BedrockTitanEmbedder(dims=256, client=client, sleep=sleeps.append)
    with Stubber(client) as stub:
        stub.add_client_error("invoke_model", "ValidationException", http_status_code=400)
        with pytest.raises(EmbeddingError) as raised:
            embedder.embed_query("text")
    assert not raised.value.retryable
    assert sleeps == []


def test_wrong_dimensions_in_the_response_are_an_error(client):
    embedder = BedrockTitanEmbedder(dims=256, client=client)
    with Stubber(client) as stub:
        stub.add_response("invoke_model", titan_response(np.ones(1024), 3), expected())
        with pytest.raises(EmbeddingError, match="256"):
            embedder.embed_query("text")


def test_empty_text_is_not_sent(client):
    embedder = BedrockTitanEmbedder(dims=256, client=client)
    with Stubber(client):  # no responses queued: any call would fail
        matrix = embedder.embed_documents(["   "])
    assert matrix.shape == (1, 256)
    assert not matrix.any()


class EchoClient:
    """A stand-in client that answers from the request itself (a one-hot vector at the text's
    number) after a delay that makes later texts finish first."""

    def __init__(self):
        self.calls = 0

    def invoke_model(self, *, modelId, body, contentType, accept):
        import time

        text = json.loads(body)["inputText"]
        i = int(text.split()[1])
        time.sleep(0.002 * (6 - i))
        self.calls += 1
        return titan_response(np.eye(256)[i], 2)


def test_concurrent_batches_keep_input_order():
    client = EchoClient()
    embedder = BedrockTitanEmbedder(dims=256, client=client, max_concurrency=4)
    matrix = embedder.embed_documents([f"text {i}" for i in range(6)])
    assert [int(np.argmax(row)) for row in matrix] == list(range(6))
    assert client.calls == 6
    assert embedder.tokens_used == 12


def test_factory():
    assert embeddings.embedder_from_settings("none") is None
    titan = embeddings.embedder_from_settings("bedrock", dimensions=1024)
    assert isinstance(titan, BedrockTitanEmbedder)
    assert (titan.model_id, titan.dims) == (embeddings.TITAN_V2, 1024)
    assert isinstance(titan, embeddings.Embedder)
    with pytest.raises(ValueError, match="provider"):
        embeddings.embedder_from_settings("openai")
    with pytest.raises(ValueError, match="dimensions"):
        BedrockTitanEmbedder(dims=300)
