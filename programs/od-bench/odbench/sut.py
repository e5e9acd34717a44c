"""The system under test: ``RunnerBase`` / ``QueueRunner`` of the reference (§1.5).

* SingleStream uses :class:`RunnerBase`: each query runs inline in LoadGen's issue thread.
* MultiStream, Server and Offline use :class:`QueueRunner`: the issuing thread builds the batch
  (``ds.get_samples``) and puts it on ``Queue(maxsize=threads*4)`` (blocking when full);
  ``threads`` daemon workers run the model.
* A query is cut into batches of at most ``max_batchsize`` samples; each batch ends with one
  ``QuerySamplesComplete`` call whose response buffers stay referenced until it returns.
* A failing batch is logged and answered with empty responses, as in the reference.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("odbench")


class Item:
    """One batch: LoadGen query ids, QSL indices, the stacked input and the labels."""

    __slots__ = ("query_id", "content_id", "img", "label", "start")

    def __init__(self, query_id: list[int], content_id: list[int], img: Any, label: Any) -> None:
        self.query_id = query_id
        self.content_id = content_id
        self.img = img
        self.label = label
        self.start = time.time()


def _default_complete(responses: list[Any]) -> None:
    import mlperf_loadgen as lg

    lg.QuerySamplesComplete(responses)


def _default_response(query_id: int, ptr: int, size: int) -> Any:
    import mlperf_loadgen as lg

    return lg.QuerySampleResponse(query_id, ptr, size)


class RunnerBase:
    """Runs each batch inline (SingleStream)."""

    def __init__(
        self,
        model: Any,
        ds: Any,
        threads: int,
        post_proc: Any = None,
        max_batchsize: int = 128,
        complete: Callable[[list[Any]], None] = _default_complete,
        make_response: Callable[[int, int, int], Any] = _default_response,
    ) -> None:
        self.model = model
        self.ds = ds
        self.threads = threads
        self.post_process = post_proc
        self.max_batchsize = max(1, int(max_batchsize))
        self.take_accuracy = False
        self.result_dict: dict[str, Any] = {}
        self.result_timing: list[float] = []
        self.errors = 0
        self._complete = complete
        self._make_response = make_response
        self._lock = threading.Lock()

    def handle_tasks(self, tasks_queue: queue.Queue) -> None:
        """Worker loop (QueueRunner only)."""

    def start_run(self, result_dict: dict[str, Any], take_accuracy: bool) -> None:
        """Reset per-run state."""
        self.result_dict = result_dict
        self.result_timing = []
        self.take_accuracy = take_accuracy
        self.errors = 0
        if self.post_process is not None:
            self.post_process.start()

    def run_one_item(self, qitem: Item) -> None:
        """Predict, post-process, and complete every sample of ``qitem``."""
        import numpy as np

        processed: Sequence[Any]
        try:
            results = self.model.predict({self.model.inputs[0]: qitem.img})
            processed = self.post_process(results, qitem.content_id, qitem.label)
            with self._lock:
                self.result_timing.append(time.time() - qitem.start)
        except Exception:  # the reference answers a failed batch with empty responses
            log.exception("thread: failed on contentid=%s", qitem.content_id)
            with self._lock:
                self.errors += 1
            processed = [None] * len(qitem.query_id)
        finally:
            buffers = []  # keep every buffer alive until QuerySamplesComplete returns
            responses = []
            for idx, qid in enumerate(qitem.query_id):
                rows = processed[idx] if processed[idx] is not None else ()
                buf = np.ascontiguousarray(rows, dtype=np.float32)
                buffers.append(buf)
                responses.append(self._make_response(qid, buf.ctypes.data, buf.nbytes))
            self._complete(responses)
            del buffers

    def enqueue(self, query_samples: Sequence[Any]) -> None:
        """LoadGen ``issue_queries`` callback."""
        idx = [q.index for q in query_samples]
        query_id = [q.id for q in query_samples]
        bs = self.max_batchsize
        for i in range(0, len(idx), bs):
            data, label = self.ds.get_samples(idx[i : i + bs])
            self.submit(Item(query_id[i : i + bs], idx[i : i + bs], data, label))

    def submit(self, qitem: Item) -> None:
        """Run ``qitem`` now."""
        self.run_one_item(qitem)

    def finish(self) -> None:
        """Nothing to stop for the inline runner."""


class QueueRunner(RunnerBase):
    """A pool of ``threads`` workers fed through ``Queue(maxsize=threads*4)``."""

    def __init__(
        self,
        model: Any,
        ds: Any,
        threads: int,
        post_proc: Any = None,
        max_batchsize: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, ds, threads, post_proc, max_batchsize, **kwargs)
        self.tasks: queue.Queue = queue.Queue(maxsize=threads * 4)
        self.workers = []
        for _ in range(self.threads):
            worker = threading.Thread(target=self.handle_tasks, args=(self.tasks,), daemon=True)
            worker.start()
            self.workers.append(worker)

    def handle_tasks(self, tasks_queue: queue.Queue) -> None:
        """Take batches until the ``None`` sentinel."""
        while True:
            qitem = tasks_queue.get()
            if qitem is None:
                tasks_queue.task_done()
                break
            try:
                self.run_one_item(qitem)
            finally:
                tasks_queue.task_done()

    def submit(self, qitem: Item) -> None:
        """Queue ``qitem`` (blocks while the queue is full)."""
        self.tasks.put(qitem)

    def finish(self) -> None:
        """Stop and join every worker."""
        for _ in self.workers:
            self.tasks.put(None)
        for worker in self.workers:
            worker.join()
