__version__ = "0.1.0"

def __getattr__(name:str):
    "`findna.list_pretrained()`: the shipped networks and their cards (imported on first use)."
    if name == "list_pretrained":
        from .model import list_pretrained
        return list_pretrained
    raise AttributeError(f"module 'findna' has no attribute {name!r}")
