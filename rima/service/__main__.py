"""`python -m rima.service > docs/openapi.json` writes the committed API description."""

import json

from rima.service import openapi_document

print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
