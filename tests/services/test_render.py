"""The render service's memory of rendering attributes is bounded."""

from __future__ import annotations

from pathlib import Path

from dicomstore.blobs import MemoryBlobStore
from dicomstore.index import Index
from dicomstore.services.frame_cache import FrameCache
from dicomstore.services.render import RenderService


def test_rendering_attributes_are_kept_for_a_bounded_number_of_instances(tmp_path: Path) -> None:
    index = Index.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    try:
        service = RenderService(index, MemoryBlobStore(), FrameCache(0))
        # No such rows: nothing to render by range, and the answer is remembered by blob key.
        for number in range(100):
            assert service._attributes(f"key/{number}", number) is None
        info = service._attributes.cache_info()
        assert info.maxsize == 64
        assert info.currsize == 64
        assert service._attributes("key/99", 99) is None
        assert service._attributes.cache_info().hits == 1
    finally:
        index.close()
