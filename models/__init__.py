"""The bundled models, installed as `nigehbaan.models` (data only: contract.json, safetensors
weights and MODEL_CARD.md per model). Found through importlib.resources by
`nigehbaan.inference.model.bundled_model_dir`, so a checkout, an editable install and a wheel
all read them the same way."""
