"""The COCO dataset as the reference ``python/coco.py`` reads it (reference §2.1, §2.2).

QSL index *i* is the *i*-th kept image in the JSON order of the annotation file's "images"
(missing files skipped; with ``use_label_map`` images without annotations are skipped too),
limited to the first ``count``. Images come from one of three places:

* a pre-processed folder (``<dir>/val2017/<file>.jpg.npy``, see ``odbench.preprocess``),
  filled at start-up unless ``require_cache`` says it must already be complete;
* nothing on disk: images are pre-processed in memory when LoadGen loads them.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .coco_index import read_coco_index
from .errors import NotFoundError, UsageError
from .preprocess import PreprocessSpec, cache_path, preprocess_to_dir

log = logging.getLogger("odbench")


class CocoDataset:
    """QSL side of the benchmark: holds the loaded samples and hands batches to the SUT."""

    def __init__(
        self,
        data_path: str,
        spec: PreprocessSpec,
        image_list: str | None = None,
        name: str = "coco",
        count: int | None = None,
        use_label_map: bool = False,
        preprocessed_dir: str | None = None,
        require_cache: bool = False,
        workers: int | None = None,
    ) -> None:
        t0 = time.time()
        self.data_path = data_path
        self.spec = spec
        self.name = name
        self.index = read_coco_index(data_path, image_list, count, use_label_map)
        self.annotation_file = self.index.annotation_file
        self.image_ids = self.index.image_ids
        self.image_sizes = self.index.image_sizes
        # one entry per image: a ragged (categories, bboxes) pair; a plain list, because
        # np.array(label_list) raises on numpy >= 1.24 (reference bug, §9.4)
        self.label_list = self.index.labels
        self.preprocessed_dir = preprocessed_dir
        self.image_list_inmemory: dict[int, Any] = {}
        self.last_loaded = time.time()
        self._workers = workers or os.cpu_count() or 1
        if preprocessed_dir:
            self._prepare_cache(preprocessed_dir, require_cache)
        log.info(
            "loaded %d images, cache=%s, took=%.1fs",
            len(self.image_ids),
            preprocessed_dir or "in-memory",
            time.time() - t0,
        )

    def _prepare_cache(self, folder: str, require_cache: bool) -> None:
        if require_cache:
            missing = [
                n for n in self.index.image_names if not os.path.exists(cache_path(folder, n))
            ]
            if missing:
                raise NotFoundError(
                    f"{len(missing)} pre-processed images are missing from '{folder}' "
                    f"(first: {cache_path(folder, missing[0])})",
                    hint="run python -m odbench.preprocess with the same --profile/--count first, "
                    "or drop --use_preprocessed_dataset to pre-process now",
                )
            return
        preprocess_to_dir(
            self.index.image_names,
            self.data_path,
            folder,
            self.spec,
            workers=self._workers,
            label="preprocess",
        )

    # -- QSL interface ------------------------------------------------------------------

    def get_item_count(self) -> int:
        """Number of images in the QSL."""
        return len(self.image_ids)

    def get_item(self, nr: int) -> tuple[Any, Any]:
        """The pre-processed image ``nr`` and its label."""
        import numpy as np

        name = self.index.image_names[nr]
        if self.preprocessed_dir:
            return np.load(cache_path(self.preprocessed_dir, name)), self.label_list[nr]
        return self.spec.apply(os.path.join(self.data_path, name)), self.label_list[nr]

    def get_item_loc(self, nr: int) -> str:
        """Path of the original JPEG of sample ``nr``."""
        return os.path.join(self.data_path, self.index.image_names[nr])

    def load_query_samples(self, sample_list: list[int]) -> None:
        """LoadGen callback: replace the in-memory set by ``sample_list`` (reference semantics)."""
        self.image_list_inmemory = {}
        unique = list(dict.fromkeys(sample_list))
        if self.preprocessed_dir or len(unique) < 4:
            for s in unique:
                self.image_list_inmemory[s], _ = self.get_item(s)
        else:
            # cv2 releases the GIL: threads pre-process in parallel without copying arrays
            # between processes
            with ThreadPoolExecutor(self._workers) as pool:
                for s, (img, _) in zip(unique, pool.map(self.get_item, unique), strict=True):
                    self.image_list_inmemory[s] = img
        self.last_loaded = time.time()

    def unload_query_samples(self, sample_list: list[int] | None) -> None:
        """LoadGen callback: drop ``sample_list`` (all when empty)."""
        if sample_list:
            for s in sample_list:
                self.image_list_inmemory.pop(s, None)
        else:
            self.image_list_inmemory = {}

    def get_samples(self, id_list: list[int]) -> tuple[Any, list[Any]]:
        """A batch: images stacked on a new leading axis, and their labels."""
        import numpy as np

        try:
            data = np.array([self.image_list_inmemory[i] for i in id_list])
        except KeyError as exc:
            raise UsageError(f"sample {exc.args[0]} was issued but never loaded") from exc
        return data, [self.label_list[i] for i in id_list]
