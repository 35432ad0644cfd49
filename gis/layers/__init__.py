"""The canonical asset layers: schemas, loaders, validation and column mappings."""

from gis.layers.schema import LAYERS, NETWORK_LAYERS, WGS84, LayerSpec

__all__ = ["LAYERS", "NETWORK_LAYERS", "WGS84", "LayerSpec"]
