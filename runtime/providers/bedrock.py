"""Amazon Bedrock (boto3 ``bedrock-runtime``, Nova Canvas image variation)."""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from runtime.providers.base import (
    COSTS,
    SIZES,
    PermanentProviderError,
    RenderInput,
    RenderOutput,
    TransientProviderError,
)

DEFAULT_MODEL = "amazon.nova-canvas-v1:0"
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "ServiceUnavailableException", "ModelTimeoutException",
    "InternalServerException", "ModelNotReadyException", "TooManyRequestsException",
})


class BedrockProvider:
    name = "bedrock"

    def __init__(self, client: Any, *, model: str = DEFAULT_MODEL) -> None:
        self._client = client
        self._model = model

    def estimate_cost(self, quality: str) -> float:
        return COSTS[self.name][quality]

    def render(self, request: RenderInput, *, timeout_s: float) -> RenderOutput:
        size = min(SIZES[request.quality], 1408)  # Nova Canvas' largest edge
        config = {"numberOfImages": 1, "height": size, "width": size}
        if request.preview_png:
            body = {"taskType": "IMAGE_VARIATION", "imageGenerationConfig": config,
                    "imageVariationParams": {
                        "text": request.prompt,
                        "images": [base64.b64encode(request.preview_png).decode()]}}
        else:
            body = {"taskType": "TEXT_IMAGE", "imageGenerationConfig": config,
                    "textToImageParams": {"text": request.prompt}}
        try:
            response = self._client.invoke_model(
                modelId=self._model, body=json.dumps(body),
                contentType="application/json", accept="application/json")
            data = json.loads(response["body"].read())
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
                raise TransientProviderError(self.name, code, status=status) from None
            raise PermanentProviderError(self.name, code or "request refused",
                                         status=status) from None
        except (ReadTimeoutError, ConnectTimeoutError, ConnectionError) as exc:
            raise TransientProviderError(self.name, type(exc).__name__) from None
        except BotoCoreError as exc:
            raise TransientProviderError(self.name, type(exc).__name__) from None
        images = data.get("images") or []
        if not images:
            raise PermanentProviderError(self.name, data.get("error") or "no image returned")
        return RenderOutput(provider=self.name, image=base64.b64decode(images[0]),
                            content_type="image/png",
                            cost_usd=self.estimate_cost(request.quality), model=self._model)
